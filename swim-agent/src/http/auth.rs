//! Who may use the control endpoints (join, leave, broadcast, message,
//! decommission).
//!
//! The rule: without a token, only clients on a loopback address (the
//! machine itself); with a token (`--http-token-file`), only requests
//! carrying `Authorization: Bearer TOKEN`, from any address, loopback
//! included (a token protects against other users of the machine too).
//! Read-only endpoints are open to every client that reaches the HTTP
//! address, which is loopback by default.

use std::net::IpAddr;

/// The control rule of one agent.
#[derive(Clone, Default)]
pub struct ControlAuth {
    token: Option<String>,
}

impl std::fmt::Debug for ControlAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("ControlAuth")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Why a control request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No token is configured and the client is not on loopback.
    NotLoopback,
    /// A token is configured and the request carries none or another.
    BadToken,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NotLoopback => "control requests are taken from loopback clients only; start the agent with --http-token-file to allow others with a bearer token",
            Refusal::BadToken => "missing or wrong bearer token (Authorization: Bearer TOKEN)",
        })
    }
}

impl ControlAuth {
    /// The rule with `token` (`None`: loopback clients only). A token is
    /// trimmed of surrounding whitespace; an empty one counts as none.
    pub fn new(token: Option<String>) -> Self {
        let token = token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        ControlAuth { token }
    }

    /// True if a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Checks one control request from `client` with the value of its
    /// `Authorization` header.
    pub fn check(&self, client: IpAddr, authorization: Option<&str>) -> Result<(), Refusal> {
        match &self.token {
            None if is_loopback(client) => Ok(()),
            None => Err(Refusal::NotLoopback),
            Some(token) => {
                let given = authorization
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .map(str::trim)
                    .unwrap_or("");
                if constant_time_eq(given.as_bytes(), token.as_bytes()) {
                    Ok(())
                } else {
                    Err(Refusal::BadToken)
                }
            }
        }
    }
}

/// Loopback, IPv4-mapped IPv6 loopback included.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_token_loopback_only() {
        let auth = ControlAuth::new(None);
        assert_eq!(auth.check(ip("127.0.0.1"), None), Ok(()));
        assert_eq!(auth.check(ip("::1"), None), Ok(()));
        assert_eq!(auth.check(ip("::ffff:127.0.0.1"), None), Ok(()));
        assert_eq!(auth.check(ip("10.0.0.5"), None), Err(Refusal::NotLoopback));
        assert_eq!(
            auth.check(ip("192.168.1.2"), Some("Bearer x")),
            Err(Refusal::NotLoopback)
        );
        assert_eq!(
            auth.check(ip("2001:db8::1"), None),
            Err(Refusal::NotLoopback)
        );
    }

    #[test]
    fn with_token_the_token_from_anywhere_and_only_it() {
        let auth = ControlAuth::new(Some("s3cret\n".into()));
        assert_eq!(auth.check(ip("10.0.0.5"), Some("Bearer s3cret")), Ok(()));
        assert_eq!(auth.check(ip("127.0.0.1"), Some("Bearer s3cret")), Ok(()));
        assert_eq!(auth.check(ip("127.0.0.1"), None), Err(Refusal::BadToken));
        assert_eq!(
            auth.check(ip("10.0.0.5"), Some("Bearer s3cre")),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            auth.check(ip("10.0.0.5"), Some("s3cret")),
            Err(Refusal::BadToken)
        );
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn an_empty_token_file_means_no_token() {
        let auth = ControlAuth::new(Some(" \n".into()));
        assert!(!auth.has_token());
        assert_eq!(auth.check(ip("10.0.0.5"), None), Err(Refusal::NotLoopback));
    }
}
