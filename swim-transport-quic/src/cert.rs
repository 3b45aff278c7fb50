//! A throwaway cluster CA and node certificates, generated with `rcgen`
//! (feature `cert-gen`): for tests, examples and development clusters.
//! Production clusters usually issue certificates with their own PKI and
//! load them with [`Credentials::from_pem`].

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::tls::Credentials;

pub use rcgen;
pub use rcgen::Error as CertError;

/// A cluster certificate authority whose key stays in memory.
///
/// ```
/// use swim_transport_quic::cert::ClusterCa;
///
/// let ca = ClusterCa::generate("my cluster")?;
/// let node = ca.issue("swim")?; // signed node certificate, key and CA
/// assert_eq!(node.ca, vec![ca.certificate().clone()]);
/// # Ok::<(), swim_transport_quic::cert::CertError>(())
/// ```
pub struct ClusterCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl ClusterCa {
    /// Generates a CA (ECDSA P-256 key) whose subject common name is `name`.
    pub fn generate(name: &str) -> Result<Self, CertError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
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

    /// Issues a node certificate for the cluster server name `server_name`
    /// (usually `"swim"`, see
    /// [`TransportOptions::server_name`](crate::TransportOptions::server_name)),
    /// valid for both server and client authentication, with a fresh key.
    /// The returned credentials trust this CA only.
    pub fn issue(&self, server_name: &str) -> Result<Credentials, CertError> {
        let mut params = CertificateParams::new(vec![server_name.to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, server_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(Credentials::new(
            vec![cert.der().clone()],
            key,
            vec![self.certificate().clone()],
        ))
    }
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}
