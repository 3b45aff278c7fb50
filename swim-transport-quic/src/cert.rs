//! A throwaway cluster CA and node certificates, generated with `rcgen`
//! (feature `cert-gen`): for tests, examples and development clusters.
//! Production clusters usually issue certificates with their own PKI and
//! load them with [`Credentials::from_pem`].

use std::net::SocketAddr;

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::binding::address_uri;
use crate::peers::canonical;
use crate::tls::Credentials;

pub use rcgen;
pub use rcgen::Error as CertError;

/// The default cluster server name, as in [`TransportOptions::default`](crate::TransportOptions).
const DEFAULT_SERVER_NAME: &str = "swim";

/// A cluster certificate authority whose key stays in memory.
///
/// ```
/// use swim_transport_quic::cert::ClusterCa;
/// use swim_transport_quic::certificate_addresses;
///
/// let ca = ClusterCa::generate("my cluster")?;
/// let addr = "203.0.113.7:7946".parse()?;
/// let node = ca.issue(addr)?; // signed node certificate, key and CA
/// assert_eq!(node.ca, vec![ca.certificate().clone()]);
/// assert_eq!(certificate_addresses(&node.cert_chain[0])?, vec![addr]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClusterCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl ClusterCa {
    /// Generates a CA (ECDSA P-256 key) whose subject common name is `name`.
    pub fn generate(name: &str) -> Result<Self, CertError> {
        let issuer = CertifiedIssuer::self_signed(ca_params(name)?, KeyPair::generate()?)?;
        Ok(ClusterCa { issuer })
    }

    /// The CA certificate (DER), to give every node as its trust anchor.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        self.issuer.der()
    }

    /// The CA as an `rcgen` issuer, to sign certificates with other
    /// parameters than [`ClusterCa::issue`] uses.
    pub fn issuer(&self) -> &rcgen::Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// The CA certificate in PEM.
    pub fn certificate_pem(&self) -> String {
        self.issuer.pem()
    }

    /// Issues a node certificate for the node at `addr`, the address other
    /// members know it by (its bound address, or its advertised one), valid
    /// for both server and client authentication, with a fresh key. The
    /// certificate names:
    ///
    /// * `addr` as a URI subject alternative name `swim://IP:PORT`
    ///   ([`address_uri`]): the only address its
    ///   holder can speak for;
    /// * the IP address of `addr` as an IP subject alternative name, for
    ///   other tools (the transport checks the URI, which carries the port);
    /// * the default cluster server name `"swim"`
    ///   ([`TransportOptions::server_name`](crate::TransportOptions::server_name))
    ///   as a DNS subject alternative name; use
    ///   [`ClusterCa::issue_with_server_name`] for another one.
    ///
    /// IPv4-mapped IPv6 addresses are named as the IPv4 address. The
    /// returned credentials trust this CA only.
    pub fn issue(&self, addr: SocketAddr) -> Result<Credentials, CertError> {
        self.issue_with_server_name(addr, DEFAULT_SERVER_NAME)
    }

    /// [`ClusterCa::issue`] with the cluster server name `server_name`
    /// instead of `"swim"`.
    pub fn issue_with_server_name(
        &self,
        addr: SocketAddr,
        server_name: &str,
    ) -> Result<Credentials, CertError> {
        let key = KeyPair::generate()?;
        let cert = node_params(addr, server_name)?.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(Credentials::new(
            vec![cert.der().clone()],
            key,
            vec![self.certificate().clone()],
        ))
    }
}

/// The parameters of a cluster CA certificate, as [`ClusterCa::generate`]
/// uses them: subject common name `name`, a CA without path length limit,
/// allowed to sign certificates and revocation lists. For a CA whose key
/// is kept elsewhere than in memory (in a file, say): sign them with
/// [`CertificateParams::self_signed`](rcgen::CertificateParams::self_signed)
/// and a key of your own.
///
/// ```
/// use swim_transport_quic::cert::{ca_params, rcgen::KeyPair};
///
/// let key = KeyPair::generate()?;
/// let ca = ca_params("my cluster")?.self_signed(&key)?;
/// assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// # Ok::<(), swim_transport_quic::cert::CertError>(())
/// ```
pub fn ca_params(name: &str) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// The parameters of a node certificate for the node at `addr`, as
/// [`ClusterCa::issue_with_server_name`] uses them (see
/// [`ClusterCa::issue`] for what they name): the URI `swim://IP:PORT`
/// ([`address_uri`]), the IP address (IPv4-mapped IPv6 addresses as
/// IPv4), `server_name` as a DNS name, the common name the URI, server
/// and client authentication, not a CA. For a CA whose key is kept
/// elsewhere than in memory: sign them with
/// [`CertificateParams::signed_by`](rcgen::CertificateParams::signed_by),
/// a fresh node key and an [`rcgen::Issuer`] of that CA.
///
/// ```
/// use swim_transport_quic::cert::{node_params, rcgen::KeyPair, ClusterCa};
/// use swim_transport_quic::{certificate_addresses, Credentials};
///
/// let ca = ClusterCa::generate("my cluster")?;
/// let addr = "203.0.113.7:7946".parse()?;
/// let key = KeyPair::generate()?;
/// let cert = node_params(addr, "swim")?.signed_by(&key, ca.issuer())?;
/// let node = Credentials::from_pem(&cert.pem(), &key.serialize_pem(), &ca.certificate_pem())?;
/// assert_eq!(certificate_addresses(&node.cert_chain[0])?, vec![addr]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn node_params(addr: SocketAddr, server_name: &str) -> Result<CertificateParams, CertError> {
    let uri = address_uri(addr);
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![
        SanType::URI(Ia5String::try_from(uri.as_str())?),
        SanType::IpAddress(canonical(addr).ip()),
        SanType::DnsName(Ia5String::try_from(server_name)?),
    ];
    params.distinguished_name.push(DnType::CommonName, uri);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}
