//! Mutual TLS: the node's credentials and the quinn configurations built
//! from them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::RootCertStore;

use crate::error::Error;
use crate::options::TransportOptions;

/// ALPN protocol identifier of this transport: both sides must offer it.
pub const ALPN: &[u8] = b"swim/1";

/// What a node proves its membership with, and what it trusts.
///
/// Every node of a cluster presents a certificate signed by the cluster CA,
/// both as a server (to nodes that connect to it) and as a client (to the
/// nodes it connects to), and accepts only peers whose certificate chains
/// to one of the `ca` certificates. The certificate must name the cluster's
/// server name ([`TransportOptions::server_name`], `"swim"` by default) as
/// a DNS subject alternative name and allow both the server and the client
/// extended key usages (or carry no extended key usage at all).
///
/// With the `cert-gen` feature, `ClusterCa` generates a
/// throwaway CA and such node certificates.
pub struct Credentials {
    /// The node's certificate, then any intermediate certificates.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The private key of the node's certificate.
    pub key: PrivateKeyDer<'static>,
    /// Trusted cluster CA certificates (usually exactly one).
    pub ca: Vec<CertificateDer<'static>>,
}

impl Credentials {
    /// Credentials from a certificate chain, its key and the trusted CAs.
    pub fn new(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        ca: Vec<CertificateDer<'static>>,
    ) -> Self {
        Credentials {
            cert_chain,
            key,
            ca,
        }
    }

    /// Credentials from PEM text: the node's certificate chain, its private
    /// key (PKCS#8, PKCS#1 or SEC1) and the trusted CA certificates.
    pub fn from_pem(cert_chain_pem: &str, key_pem: &str, ca_pem: &str) -> Result<Self, Error> {
        use rustls::pki_types::pem::PemObject;
        let certs = |pem: &str| {
            CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Pem(e.to_string()))
        };
        let cert_chain = certs(cert_chain_pem)?;
        let ca = certs(ca_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| Error::Pem(e.to_string()))?;
        Ok(Credentials::new(cert_chain, key, ca))
    }
}

impl Clone for Credentials {
    fn clone(&self) -> Self {
        Credentials {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
            ca: self.ca.clone(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "cert_chain",
                &format_args!("{} certificate(s)", self.cert_chain.len()),
            )
            .field("key", &"<private>")
            .field("ca", &format_args!("{} certificate(s)", self.ca.len()))
            .finish()
    }
}

/// The server and client configurations of the node's endpoint.
pub(crate) fn quinn_configs(
    credentials: &Credentials,
    options: &TransportOptions,
) -> Result<(quinn::ServerConfig, quinn::ClientConfig), Error> {
    if ServerName::try_from(options.server_name.as_str()).is_err() {
        return Err(Error::InvalidServerName(options.server_name.clone()));
    }
    if credentials.cert_chain.is_empty() {
        return Err(Error::NoCertificate);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in &credentials.ca {
        roots.add(ca.clone())?;
    }
    if roots.is_empty() {
        return Err(Error::NoTrustAnchors);
    }
    let roots = Arc::new(roots);

    // Server side: a client certificate is mandatory and must chain to the CA.
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(credentials.cert_chain.clone(), credentials.key.clone_key())?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    // Every connection runs a full mutual handshake: no tickets, no
    // resumption, no 0-RTT (max_early_data_size stays 0).
    server.send_tls13_tickets = 0;
    server.session_storage = Arc::new(NoServerSessionStorage {});

    // Client side: the server must present a CA-signed certificate for the
    // cluster's server name, and we present ours.
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(credentials.cert_chain.clone(), credentials.key.clone_key())?;
    client.alpn_protocols = vec![ALPN.to_vec()];
    client.resumption = Resumption::disabled();
    client.enable_early_data = false;

    let transport = Arc::new(transport_config(options)?);
    let server_crypto =
        QuicServerConfig::try_from(server).map_err(|_| Error::NoInitialCipherSuite)?;
    let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
    server_config.transport_config(transport.clone());
    // A connection stays on the address it was verified from: the address
    // is the peer's identity in the protocol.
    server_config.migration(false);

    let client_crypto =
        QuicClientConfig::try_from(client).map_err(|_| Error::NoInitialCipherSuite)?;
    let mut client_config = quinn::ClientConfig::new(Arc::new(client_crypto));
    client_config.transport_config(transport);
    Ok((server_config, client_config))
}

/// Datagrams only: no streams, bounded datagram buffers, no keep-alives
/// (SWIM's own traffic keeps connections to live members busy).
fn transport_config(options: &TransportOptions) -> Result<quinn::TransportConfig, Error> {
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(options.idle_timeout.max(Duration::from_millis(100)))
        .map_err(|_| Error::InvalidTimeout)?;
    transport
        .max_idle_timeout(Some(idle))
        .max_concurrent_bidi_streams(0u32.into())
        .max_concurrent_uni_streams(0u32.into())
        .datagram_receive_buffer_size(Some(DATAGRAM_BUFFER))
        .datagram_send_buffer_size(DATAGRAM_BUFFER)
        .keep_alive_interval(None);
    Ok(transport)
}

/// Bytes of datagrams buffered per connection in each direction.
const DATAGRAM_BUFFER: usize = 128 * 1024;

#[cfg(all(test, feature = "cert-gen"))]
mod tests {
    use super::*;
    use crate::cert::ClusterCa;

    #[test]
    fn issued_credentials_make_configs() {
        let ca = ClusterCa::generate("unit").expect("CA");
        let creds = ca.issue("swim").expect("cert");
        assert!(quinn_configs(&creds, &TransportOptions::default()).is_ok());
        assert!(!format!("{creds:?}").contains("BEGIN"), "key never printed");
    }

    #[test]
    fn pem_round_trip() {
        let ca = ClusterCa::generate("unit").expect("CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["swim".to_owned()]).expect("params");
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, ca.issuer()).expect("signed");
        let creds = Credentials::from_pem(&cert.pem(), &key.serialize_pem(), &ca.certificate_pem())
            .expect("PEM parses");
        assert_eq!(creds.cert_chain, vec![cert.der().clone()]);
        assert_eq!(creds.ca, vec![ca.certificate().clone()]);
        assert!(quinn_configs(&creds, &TransportOptions::default()).is_ok());

        let broken = Credentials::from_pem(&cert.pem(), "not a key", &ca.certificate_pem());
        assert!(matches!(broken, Err(Error::Pem(_))));
    }

    #[test]
    fn unusable_credentials_are_typed_errors() {
        let ca = ClusterCa::generate("unit").expect("CA");
        let options = TransportOptions::default();

        let mut no_ca = ca.issue("swim").expect("cert");
        no_ca.ca.clear();
        assert!(matches!(
            quinn_configs(&no_ca, &options),
            Err(Error::NoTrustAnchors)
        ));

        let mut no_cert = ca.issue("swim").expect("cert");
        no_cert.cert_chain.clear();
        assert!(matches!(
            quinn_configs(&no_cert, &options),
            Err(Error::NoCertificate)
        ));

        let mut wrong_key = ca.issue("swim").expect("cert");
        wrong_key.key = ca.issue("swim").expect("cert").key;
        assert!(matches!(
            quinn_configs(&wrong_key, &options),
            Err(Error::Tls(_))
        ));

        let bad_name = TransportOptions {
            server_name: "not a name!".to_owned(),
            ..TransportOptions::default()
        };
        let creds = ca.issue("swim").expect("cert");
        assert!(matches!(
            quinn_configs(&creds, &bad_name),
            Err(Error::InvalidServerName(_))
        ));
    }
}
