//! The crate's error type.

use std::io;
use std::net::SocketAddr;

use swim_core::{CommandError, ConfigError};
use swim_driver::StartError;

/// Why starting a node or one of its commands failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Binding the endpoint failed, reading or writing the data directory
    /// failed, or no tokio runtime was running.
    Io(io::Error),
    /// The protocol configuration was rejected.
    Config(ConfigError),
    /// The protocol refused the command (see [`CommandError`]).
    Command(CommandError),
    /// The TLS configuration was rejected (bad certificate or key).
    Tls(rustls::Error),
    /// A certificate verifier could not be built from the CA.
    Verifier(rustls::server::VerifierBuilderError),
    /// The credentials hold no trusted CA certificate.
    NoTrustAnchors,
    /// The credentials hold no node certificate.
    NoCertificate,
    /// PEM input could not be parsed.
    Pem(String),
    /// The configured server name is not a valid DNS name or IP address.
    InvalidServerName(String),
    /// The idle timeout is out of QUIC's range.
    InvalidTimeout,
    /// The crypto provider lacks the cipher suite QUIC needs for its
    /// initial packets (`TLS13_AES_128_GCM_SHA256`).
    NoInitialCipherSuite,
    /// The endpoint is bound to an unspecified address (`0.0.0.0` or `::`)
    /// and no advertise address was given: set
    /// [`NodeOptions::advertise`](crate::NodeOptions::advertise).
    NoAdvertiseAddress,
    /// The node's certificate does not name the address other members know
    /// the node by (its advertised address, or its bound one): every peer
    /// would refuse it. See [`Credentials`](crate::Credentials).
    CertificateAddress {
        /// The address the node would be known by.
        advertise: SocketAddr,
        /// The node addresses the certificate names (`swim://` URIs).
        named: Vec<SocketAddr>,
    },
    /// The data directory holds an identity file that cannot be parsed.
    CorruptIdentity(String),
    /// The node's task has stopped (after a shutdown, or if it panicked).
    Stopped,
    /// A graceful leave did not finish in time.
    Timeout,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::Command(e) => write!(f, "command refused: {e}"),
            Error::Tls(e) => write!(f, "tls configuration: {e}"),
            Error::Verifier(e) => write!(f, "certificate verifier: {e}"),
            Error::NoTrustAnchors => f.write_str("no trusted CA certificate"),
            Error::NoCertificate => f.write_str("no node certificate"),
            Error::Pem(e) => write!(f, "unreadable PEM: {e}"),
            Error::InvalidServerName(name) => write!(f, "invalid server name {name:?}"),
            Error::InvalidTimeout => f.write_str("idle timeout out of range"),
            Error::NoInitialCipherSuite => {
                f.write_str("crypto provider lacks TLS13_AES_128_GCM_SHA256")
            }
            Error::NoAdvertiseAddress => {
                f.write_str("bound to an unspecified address and no advertise address given")
            }
            Error::CertificateAddress { advertise, named } => write!(
                f,
                "the node certificate does not name the node's address {advertise} (it names {named:?})"
            ),
            Error::CorruptIdentity(why) => write!(f, "unreadable identity file: {why}"),
            Error::Stopped => f.write_str("the node has stopped"),
            Error::Timeout => f.write_str("the graceful leave did not finish in time"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Config(e) => Some(e),
            Error::Command(e) => Some(e),
            Error::Tls(e) => Some(e),
            Error::Verifier(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        Error::Command(e)
    }
}

impl From<StartError> for Error {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Config(e) => Error::Config(e),
            StartError::Command(e) => Error::Command(e),
            StartError::Io(e) => Error::Io(e),
            StartError::CorruptIdentity(why) => Error::CorruptIdentity(why),
            // A future start error: reported as I/O, with its message.
            other => Error::Io(io::Error::other(other.to_string())),
        }
    }
}

impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}

impl From<rustls::server::VerifierBuilderError> for Error {
    fn from(e: rustls::server::VerifierBuilderError) -> Self {
        Error::Verifier(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_sources() {
        let e = Error::from(CommandError::HasLeft);
        assert!(matches!(e, Error::Command(CommandError::HasLeft)));
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(Error::Stopped.to_string(), "the node has stopped");
        assert_eq!(Error::Pem("eof".into()).to_string(), "unreadable PEM: eof");
        let e = Error::from(StartError::CorruptIdentity("x".into()));
        assert!(matches!(e, Error::CorruptIdentity(_)));
    }
}
