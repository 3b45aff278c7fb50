//! QUIC certificates: `swim ca init` (a cluster CA whose key is kept in a
//! file), `swim ca issue` (a node certificate naming the node's address)
//! and loading a node's credentials for `swim agent --quic`.
//!
//! The certificates have the transport's parameters
//! (`swim_transport_quic::cert::ca_params` and `node_params`, the ones its
//! own throwaway `ClusterCa` signs): a node certificate carries what the
//! QUIC transport checks (see `swim_transport_quic::Credentials`): the URI
//! `swim://IP:PORT` naming the one address its holder may speak as, the IP
//! address, the cluster server name `swim` as a DNS name, and both server
//! and client usages. Here the CA's key lives in a file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{Issuer, KeyPair};
use swim_transport_quic::{cert, Credentials};

use crate::exit::Failure;
use crate::secret_file;

/// File names inside a CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key (owner-only).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The cluster server name every node certificate carries (the transport's
/// default).
pub const SERVER_NAME: &str = "swim";

/// The files `swim ca issue` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedFiles {
    /// The node certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, owner-only).
    pub key: PathBuf,
}

fn cert_failure(what: &str, e: rcgen::Error) -> Failure {
    Failure::internal(format!("{what}: {e}"))
}

/// `swim ca init DIR`: a new CA (ECDSA P-256) named `name`, written as
/// `DIR/ca.pem` and `DIR/ca-key.pem` (owner-only); refuses to overwrite.
pub fn init_ca(dir: &Path, name: &str) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::input(format!("{}: {e}", dir.display())))?;
    let params = cert::ca_params(name).map_err(|e| cert_failure("CA parameters", e))?;
    let key = KeyPair::generate().map_err(|e| cert_failure("CA key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| cert_failure("CA certificate", e))?;
    // The key first: a CA certificate without its key is useless, the
    // reverse would leave a key nobody knows the certificate of.
    secret_file::write_new(&dir.join(CA_KEY_FILE), key.serialize_pem().as_bytes())?;
    secret_file::write_new(&dir.join(CA_CERT_FILE), cert.pem().as_bytes())
}

/// `swim ca issue`: a certificate for the node at `addr` (the address
/// other members know it by), signed by the CA in `ca_dir`, written into
/// `out_dir` as `node-IP-PORT.pem` and `node-IP-PORT-key.pem`.
pub fn issue(ca_dir: &Path, addr: SocketAddr, out_dir: &Path) -> Result<IssuedFiles, Failure> {
    let ca_pem = std::fs::read_to_string(ca_dir.join(CA_CERT_FILE))
        .map_err(|e| Failure::input(format!("{}: {e}", ca_dir.join(CA_CERT_FILE).display())))?;
    let key_pem = secret_file::read_private(&ca_dir.join(CA_KEY_FILE), "CA key")?;
    let ca_key = KeyPair::from_pem(&key_pem).map_err(|e| {
        Failure::input(format!(
            "{}: not a private key ({e})",
            ca_dir.join(CA_KEY_FILE).display()
        ))
    })?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(|e| {
        Failure::input(format!(
            "{}: not a CA certificate ({e})",
            ca_dir.join(CA_CERT_FILE).display()
        ))
    })?;
    let params = cert::node_params(addr, SERVER_NAME)
        .map_err(|e| cert_failure("node certificate parameters", e))?;
    let key = KeyPair::generate().map_err(|e| cert_failure("node key", e))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| cert_failure("node certificate", e))?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| Failure::input(format!("{}: {e}", out_dir.display())))?;
    let stem = format!("node-{}-{}", addr.ip(), addr.port()).replace([':', '[', ']'], "_");
    let files = IssuedFiles {
        cert: out_dir.join(format!("{stem}.pem")),
        key: out_dir.join(format!("{stem}-key.pem")),
    };
    secret_file::write_new(&files.key, key.serialize_pem().as_bytes())?;
    secret_file::write_new(&files.cert, cert.pem().as_bytes())?;
    Ok(files)
}

/// Loads a node's credentials: its certificate (chain), its private key
/// (owner-only) and the cluster CA.
pub fn load_credentials(ca: &Path, cert: &Path, key: &Path) -> Result<Credentials, Failure> {
    let read = |path: &Path, what: &str| {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("{what} {}: {e}", path.display())))
    };
    let ca_pem = read(ca, "CA certificate")?;
    let cert_pem = read(cert, "certificate")?;
    let key_pem = secret_file::read_private(key, "certificate key")?;
    Credentials::from_pem(&cert_pem, &key_pem, &ca_pem).map_err(|e| {
        Failure::input(format!(
            "QUIC credentials ({}, {}, {}): {e}",
            cert.display(),
            key.display(),
            ca.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_certificate_names_its_address_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        init_ca(&ca_dir, "test cluster").unwrap();
        assert!(init_ca(&ca_dir, "again").is_err(), "never overwrites a CA");
        let addr: SocketAddr = "127.0.0.1:7946".parse().unwrap();
        let files = issue(&ca_dir, addr, dir.path()).unwrap();
        let creds = load_credentials(&ca_dir.join(CA_CERT_FILE), &files.cert, &files.key).unwrap();
        assert_eq!(
            swim_transport_quic::certificate_addresses(&creds.cert_chain[0]).unwrap(),
            vec![addr]
        );
    }
}
