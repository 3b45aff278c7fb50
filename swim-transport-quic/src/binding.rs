//! How a node certificate names the address its holder may speak for: a
//! URI subject alternative name `swim://IP:PORT`.

use std::net::{IpAddr, SocketAddr};

use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, Error as TlsError};

use crate::peers::canonical;

/// Scheme of the URI subject alternative name that binds a certificate to a
/// node address: `swim://203.0.113.7:7946`, `swim://[2001:db8::7]:7946`.
pub const ADDRESS_URI_SCHEME: &str = "swim";

/// The URI subject alternative name that names `addr` in a node certificate:
/// `swim://IP:PORT`, with IPv6 addresses in brackets. An IPv4-mapped IPv6
/// address is written as the IPv4 address it maps (the form peers are
/// compared in); scope and flow information are left out.
///
/// ```
/// use swim_transport_quic::address_uri;
///
/// assert_eq!(address_uri("203.0.113.7:7946".parse()?), "swim://203.0.113.7:7946");
/// assert_eq!(address_uri("[2001:db8::7]:7946".parse()?), "swim://[2001:db8::7]:7946");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn address_uri(addr: SocketAddr) -> String {
    let addr = canonical(addr);
    match addr.ip() {
        IpAddr::V4(ip) => format!("{ADDRESS_URI_SCHEME}://{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("{ADDRESS_URI_SCHEME}://[{ip}]:{}", addr.port()),
    }
}

/// The node addresses a certificate names: every URI subject alternative
/// name of the form `swim://IP:PORT` (scheme compared without regard to
/// case), as socket addresses, IPv4-mapped IPv6 addresses as IPv4. Other
/// names (DNS, IP without a port, other URIs) name no node address.
///
/// This only reads the certificate; it does not verify it. The transport
/// calls it on certificates that rustls verified against the cluster CA.
///
/// Fails with [`Error::Tls`](crate::Error::Tls) if `cert` is not a
/// well-formed X.509 certificate.
pub fn certificate_addresses(cert: &CertificateDer<'_>) -> Result<Vec<SocketAddr>, crate::Error> {
    Ok(named_addresses(cert)?)
}

/// [`certificate_addresses`] with rustls' error type, for the verifiers.
pub(crate) fn named_addresses(cert: &CertificateDer<'_>) -> Result<Vec<SocketAddr>, TlsError> {
    let parsed = webpki::EndEntityCert::try_from(cert)
        .map_err(|_| TlsError::InvalidCertificate(CertificateError::BadEncoding))?;
    Ok(parsed.valid_uri_names().filter_map(parse_uri).collect())
}

/// True if `cert` names `addr` (IP and port; scope and flow information
/// of IPv6 addresses are ignored).
pub(crate) fn names_address(cert: &CertificateDer<'_>, addr: SocketAddr) -> bool {
    named_addresses(cert).is_ok_and(|named| named.iter().any(|n| same_address(*n, addr)))
}

/// `swim://IP:PORT` as a canonical socket address.
fn parse_uri(uri: &str) -> Option<SocketAddr> {
    let (scheme, rest) = uri.split_once("://")?;
    if !scheme.eq_ignore_ascii_case(ADDRESS_URI_SCHEME) {
        return None;
    }
    rest.parse::<SocketAddr>().ok().map(canonical)
}

/// The same IP and port, once IPv4-mapped IPv6 addresses are made IPv4.
pub(crate) fn same_address(a: SocketAddr, b: SocketAddr) -> bool {
    let (a, b) = (canonical(a), canonical(b));
    a.ip() == b.ip() && a.port() == b.port()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("a socket address")
    }

    #[test]
    fn uris_round_trip() {
        for a in [
            "203.0.113.7:7946",
            "[2001:db8::7]:7946",
            "[::1]:1",
            "127.0.0.1:65535",
        ] {
            assert_eq!(parse_uri(&address_uri(addr(a))), Some(addr(a)));
        }
        // Mapped addresses are named as IPv4.
        assert_eq!(
            address_uri(addr("[::ffff:10.0.0.1]:7946")),
            "swim://10.0.0.1:7946"
        );
        assert_eq!(
            parse_uri("swim://[::ffff:10.0.0.1]:7946"),
            Some(addr("10.0.0.1:7946"))
        );
        assert_eq!(
            parse_uri("SWIM://10.0.0.1:7946"),
            Some(addr("10.0.0.1:7946"))
        );
    }

    #[test]
    fn other_uris_name_no_address() {
        for uri in [
            "https://10.0.0.1:7946",
            "swim://10.0.0.1",
            "swim://node-a:7946",
            "swim://10.0.0.1:7946/path",
            "swim:10.0.0.1:7946",
            "swim://2001:db8::7:7946",
            "",
        ] {
            assert_eq!(parse_uri(uri), None, "{uri}");
        }
    }

    #[test]
    fn addresses_compare_by_ip_and_port() {
        assert!(same_address(
            addr("[::ffff:127.0.0.1]:9"),
            addr("127.0.0.1:9")
        ));
        assert!(!same_address(addr("127.0.0.1:9"), addr("127.0.0.1:10")));
        assert!(!same_address(addr("127.0.0.1:9"), addr("127.0.0.2:9")));
        let scoped = SocketAddr::V6(std::net::SocketAddrV6::new(
            "fe80::1".parse().expect("ip"),
            9,
            0,
            3,
        ));
        assert!(same_address(scoped, addr("[fe80::1]:9")));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let junk = CertificateDer::from(vec![1u8, 2, 3]);
        assert!(certificate_addresses(&junk).is_err());
        assert!(!names_address(&junk, addr("127.0.0.1:1")));
    }
}
