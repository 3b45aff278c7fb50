//! Mutual TLS: the node's credentials and the quinn configurations built
//! from them.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};

use crate::binding::{named_addresses, names_address};
use crate::error::Error;
use crate::options::TransportOptions;

/// ALPN protocol identifier of this transport: both sides must offer it.
pub const ALPN: &[u8] = b"swim/1";

/// What a node proves its membership and its address with, and what it
/// trusts.
///
/// Every node of a cluster presents a certificate signed by the cluster CA,
/// both as a server (to nodes that connect to it) and as a client (to the
/// nodes it connects to), and accepts only peers whose certificate chains
/// to one of the `ca` certificates. The node certificate must
///
/// * name the node's address, the one other members know it by (its bound
///   address, or [`NodeOptions::advertise`](crate::NodeOptions::advertise)),
///   as a URI subject alternative name `swim://IP:PORT`
///   ([`address_uri`](crate::address_uri)); a peer accepts a connection
///   only from or to an address its certificate names, and
///   [`Node::start`](crate::Node::start) refuses credentials that do not
///   name the node's own address;
/// * carry the cluster's server name ([`TransportOptions::server_name`],
///   `"swim"` by default) as a DNS subject alternative name;
/// * allow both the server and the client extended key usages (or carry no
///   extended key usage at all).
///
/// With the `cert-gen` feature, `ClusterCa` generates a throwaway CA and
/// such node certificates.
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

/// Certificates refused because they do not name the peer's address,
/// counted by the verifiers and by the node task.
#[derive(Debug, Default)]
pub(crate) struct AddressRefusals {
    /// Incoming connections: the client certificate names no node address,
    /// or not the connection's remote address.
    pub incoming: AtomicU64,
    /// Outgoing connections: the server certificate does not name the
    /// dialed address.
    pub outgoing: AtomicU64,
}

/// The TLS side of a node's endpoint.
pub(crate) struct Tls {
    /// Configuration of incoming connections.
    pub server: quinn::ServerConfig,
    /// Configuration of each outgoing connection.
    pub client: ClientConfigs,
    /// What the verifiers refused.
    pub refusals: Arc<AddressRefusals>,
}

/// Makes the client configuration of one outgoing connection, whose
/// verifier requires the server certificate to name the dialed address.
pub(crate) struct ClientConfigs {
    /// Everything but the verifier, which is set per connection.
    base: rustls::ClientConfig,
    webpki: Arc<WebPkiServerVerifier>,
    transport: Arc<quinn::TransportConfig>,
    refusals: Arc<AddressRefusals>,
}

impl ClientConfigs {
    /// The configuration to dial `addr` with: the server must present a
    /// certificate that chains to the cluster CA, carries the cluster
    /// server name, and names `addr`. `None` only if the provider lost the
    /// initial cipher suite, which [`configure`] checked.
    pub(crate) fn for_peer(&self, addr: SocketAddr) -> Option<quinn::ClientConfig> {
        let mut tls = self.base.clone();
        tls.dangerous()
            .set_certificate_verifier(Arc::new(ServerAddressVerifier {
                inner: self.webpki.clone(),
                expected: Some(addr),
                refusals: self.refusals.clone(),
            }));
        let crypto = QuicClientConfig::try_from(tls).ok()?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(self.transport.clone());
        Some(config)
    }
}

/// The server configuration and the client configurations of the node's
/// endpoint.
pub(crate) fn configure(
    credentials: &Credentials,
    options: &TransportOptions,
) -> Result<Tls, Error> {
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
    let refusals = Arc::new(AddressRefusals::default());

    // Server side: a client certificate is mandatory, must chain to the CA
    // and must name a node address (which one is checked by the node task,
    // against the connection's remote address, before the connection is
    // used: the verifier does not know that address).
    let client_verifier = Arc::new(ClientAddressVerifier {
        inner: WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()?,
        refusals: refusals.clone(),
    });
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
    // cluster's server name that names the dialed address, and we present
    // ours. The base configuration's verifier refuses everything; each
    // connection gets one that knows the address it dials.
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build()?;
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ServerAddressVerifier {
            inner: webpki.clone(),
            expected: None,
            refusals: refusals.clone(),
        }))
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

    let client = ClientConfigs {
        base: client,
        webpki,
        transport,
        refusals: refusals.clone(),
    };
    // Fails now rather than at the first connection.
    let probe = SocketAddr::from(([127, 0, 0, 1], 1));
    if client.for_peer(probe).is_none() {
        return Err(Error::NoInitialCipherSuite);
    }
    Ok(Tls {
        server: server_config,
        client,
        refusals,
    })
}

/// The server-side verifier: WebPKI's client verification against the
/// cluster CA, then the client certificate must name at least one node
/// address.
#[derive(Debug)]
struct ClientAddressVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    refusals: Arc<AddressRefusals>,
}

impl ClientCertVerifier for ClientAddressVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if named_addresses(end_entity)?.is_empty() {
            self.refusals.incoming.fetch_add(1, Ordering::Relaxed);
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }
}

/// The client-side verifier of one connection: WebPKI's server
/// verification against the cluster CA and server name, then the server
/// certificate must name `expected`, the dialed address (`None` refuses
/// every certificate).
#[derive(Debug)]
struct ServerAddressVerifier {
    inner: Arc<WebPkiServerVerifier>,
    expected: Option<SocketAddr>,
    refusals: Arc<AddressRefusals>,
}

impl ServerCertVerifier for ServerAddressVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        match self.expected {
            Some(addr) if names_address(end_entity, addr) => Ok(verified),
            _ => {
                self.refusals.outgoing.fetch_add(1, Ordering::Relaxed);
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName,
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// The end-entity certificate a verified connection's peer presented, if
/// it presented one.
pub(crate) fn peer_certificate(conn: &quinn::Connection) -> Option<CertificateDer<'static>> {
    let identity = conn.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    chain.into_iter().next()
}

/// Datagrams only: no streams, bounded datagram buffers; keep-alives every
/// third of the idle timeout when connections are kept warm (the node task
/// closes those it no longer uses), none otherwise.
fn transport_config(options: &TransportOptions) -> Result<quinn::TransportConfig, Error> {
    let mut transport = quinn::TransportConfig::default();
    let idle_duration = options.idle_timeout.max(Duration::from_millis(100));
    let idle = quinn::IdleTimeout::try_from(idle_duration).map_err(|_| Error::InvalidTimeout)?;
    transport
        .max_idle_timeout(Some(idle))
        .max_concurrent_bidi_streams(0u32.into())
        .max_concurrent_uni_streams(0u32.into())
        .datagram_receive_buffer_size(Some(DATAGRAM_BUFFER))
        .datagram_send_buffer_size(DATAGRAM_BUFFER)
        .keep_alive_interval(options.keep_warm.then(|| idle_duration / 3));
    Ok(transport)
}

/// Bytes of datagrams buffered per connection in each direction.
const DATAGRAM_BUFFER: usize = 128 * 1024;

#[cfg(all(test, feature = "cert-gen"))]
mod tests {
    use super::*;
    use crate::cert::ClusterCa;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("a socket address")
    }

    #[test]
    fn issued_credentials_make_configs() {
        let ca = ClusterCa::generate("unit").expect("CA");
        let creds = ca.issue(addr("127.0.0.1:7946")).expect("cert");
        assert!(configure(&creds, &TransportOptions::default()).is_ok());
        assert!(!format!("{creds:?}").contains("BEGIN"), "key never printed");
    }

    #[test]
    fn issued_certificates_name_their_address() {
        let ca = ClusterCa::generate("unit").expect("CA");
        for a in ["127.0.0.1:7946", "[2001:db8::7]:1", "[::ffff:10.0.0.1]:9"] {
            let creds = ca.issue(addr(a)).expect("cert");
            let named = crate::certificate_addresses(&creds.cert_chain[0]).expect("parses");
            assert_eq!(named, vec![crate::peers::canonical(addr(a))]);
        }
    }

    #[test]
    fn pem_round_trip() {
        let ca = ClusterCa::generate("unit").expect("CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["swim".to_owned()]).expect("params");
        params.subject_alt_names.push(rcgen::SanType::URI(
            rcgen::string::Ia5String::try_from("swim://127.0.0.1:7946").expect("ascii"),
        ));
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, ca.issuer()).expect("signed");
        let creds = Credentials::from_pem(&cert.pem(), &key.serialize_pem(), &ca.certificate_pem())
            .expect("PEM parses");
        assert_eq!(creds.cert_chain, vec![cert.der().clone()]);
        assert_eq!(creds.ca, vec![ca.certificate().clone()]);
        assert_eq!(
            crate::certificate_addresses(&creds.cert_chain[0]).expect("parses"),
            vec![addr("127.0.0.1:7946")]
        );
        assert!(configure(&creds, &TransportOptions::default()).is_ok());

        let broken = Credentials::from_pem(&cert.pem(), "not a key", &ca.certificate_pem());
        assert!(matches!(broken, Err(Error::Pem(_))));
    }

    #[test]
    fn unusable_credentials_are_typed_errors() {
        let ca = ClusterCa::generate("unit").expect("CA");
        let options = TransportOptions::default();
        let issue = || ca.issue(addr("127.0.0.1:7946")).expect("cert");

        let mut no_ca = issue();
        no_ca.ca.clear();
        assert!(matches!(
            configure(&no_ca, &options),
            Err(Error::NoTrustAnchors)
        ));

        let mut no_cert = issue();
        no_cert.cert_chain.clear();
        assert!(matches!(
            configure(&no_cert, &options),
            Err(Error::NoCertificate)
        ));

        let mut wrong_key = issue();
        wrong_key.key = issue().key;
        assert!(matches!(
            configure(&wrong_key, &options),
            Err(Error::Tls(_))
        ));

        let bad_name = TransportOptions {
            server_name: "not a name!".to_owned(),
            ..TransportOptions::default()
        };
        assert!(matches!(
            configure(&issue(), &bad_name),
            Err(Error::InvalidServerName(_))
        ));
    }

    /// An endpoint on a loopback socket, with its TLS configuration.
    struct TestEndpoint {
        endpoint: quinn::Endpoint,
        addr: SocketAddr,
        client: ClientConfigs,
        refusals: Arc<AddressRefusals>,
    }

    /// An endpoint on a fresh loopback socket, with the credentials `creds`
    /// makes for its address.
    fn endpoint(creds: impl FnOnce(SocketAddr) -> Credentials) -> TestEndpoint {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = socket.local_addr().expect("bound");
        let Tls {
            server,
            client,
            refusals,
        } = configure(&creds(addr), &TransportOptions::default()).expect("configs");
        let endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(server),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .expect("endpoint");
        TestEndpoint {
            endpoint,
            addr,
            client,
            refusals,
        }
    }

    /// Connects `from` to `to`, expecting `to` to be certified for `dial`;
    /// true if both sides complete the handshake.
    async fn handshake(from: &TestEndpoint, to: &TestEndpoint, dial: SocketAddr) -> bool {
        let config = from.client.for_peer(dial).expect("config");
        let connecting = from
            .endpoint
            .connect_with(config, to.addr, "swim")
            .expect("connect");
        let accept = async {
            let incoming = to.endpoint.accept().await.expect("incoming");
            incoming.await.is_ok()
        };
        let (client, server) = tokio::join!(connecting, accept);
        client.is_ok() && server
    }

    #[tokio::test]
    async fn verifiers_require_the_address() {
        let ca = ClusterCa::generate("unit").expect("CA");
        let server = endpoint(|a| ca.issue(a).expect("cert"));
        let client = endpoint(|a| ca.issue(a).expect("cert"));
        assert!(handshake(&client, &server, server.addr).await);

        // The server certificate does not name the address dialed (here:
        // the certificate is right, but the client expects another
        // address, as it would from a node answering at an address it has
        // no certificate for).
        let elsewhere = addr("127.0.0.1:9");
        assert!(!handshake(&client, &server, elsewhere).await);
        assert_eq!(client.refusals.outgoing.load(Ordering::Relaxed), 1);

        // A client certificate from the cluster CA that names no address.
        let unbound = endpoint(|_| {
            let key = rcgen::KeyPair::generate().expect("key");
            let mut params =
                rcgen::CertificateParams::new(vec!["swim".to_owned()]).expect("params");
            params.extended_key_usages = vec![
                rcgen::ExtendedKeyUsagePurpose::ServerAuth,
                rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let cert = params.signed_by(&key, ca.issuer()).expect("signed");
            Credentials::new(
                vec![cert.der().clone()],
                PrivateKeyDer::try_from(key.serialize_der()).expect("key"),
                vec![ca.certificate().clone()],
            )
        });
        assert!(!handshake(&unbound, &server, server.addr).await);
        assert_eq!(server.refusals.incoming.load(Ordering::Relaxed), 1);
    }
}
