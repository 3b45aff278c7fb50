//! The crate's error type.

use std::io;
use std::net::SocketAddr;

use swim_core::{CommandError, ConfigError};

/// Why starting a node or one of its commands failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Binding the endpoint failed, or no tokio runtime was running.
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
    /// The node's task has stopped (after a shutdown, or if it panicked).
    Stopped,
    /// A graceful leave did not finish in time.
    Timeout,
}

swim_node::error_impls! {
    Error, f;
    display {
        Error::Tls(e) => write!(f, "tls configuration: {e}"),
        Error::Verifier(e) => write!(f, "certificate verifier: {e}"),
        Error::NoTrustAnchors => f.write_str("no trusted CA certificate"),
        Error::NoCertificate => f.write_str("no node certificate"),
        Error::Pem(e) => write!(f, "unreadable PEM: {e}"),
        Error::InvalidServerName(name) => write!(f, "invalid server name {name:?}"),
        Error::InvalidTimeout => f.write_str("idle timeout out of range"),
        Error::NoInitialCipherSuite => f.write_str("crypto provider lacks TLS13_AES_128_GCM_SHA256"),
        Error::CertificateAddress { advertise, named } => write!(
            f,
            "the node certificate does not name the node's address {advertise} (it names {named:?})"
        ),
        Error::NoAdvertiseAddress => {
            f.write_str("bound to an unspecified address and no advertise address given")
        },
    }
    source {
        Error::Tls(e) => Some(e),
        Error::Verifier(e) => Some(e),
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
