//! Turning `swim agent`'s options into a running node, with clean errors
//! (each with its context and exit code) for every bad input.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use swim_transport_udp::Config;

use crate::certs;
use crate::cli::{AgentArgs, Preset};
use crate::exit::{Failure, FailureKind};
use crate::keyfile;
use crate::node::AgentNode;

/// Resolves `IP:PORT` or `host:port`.
pub fn resolve(what: &str, text: &str) -> Result<SocketAddr, Failure> {
    text.to_socket_addrs()
        .map_err(|e| Failure::input(format!("{what} {text}: {e}")))?
        .next()
        .ok_or_else(|| Failure::input(format!("{what} {text}: no address")))
}

/// The protocol configuration of the options: preset and label.
pub fn config(args: &AgentArgs) -> Config {
    let config = match args.preset {
        Preset::Local => Config::local(),
        Preset::Lan => Config::lan(),
        Preset::Wan => Config::wan(),
    };
    match &args.label {
        Some(label) => config.with_label(label),
        None => config,
    }
}

/// `--meta KEY=VALUE` entries as the node's metadata (one entry a line),
/// within the configuration's limit.
pub fn metadata(entries: &[String], limit: u16) -> Result<Vec<u8>, Failure> {
    let mut lines = Vec::new();
    for entry in entries {
        match entry.split_once('=') {
            Some((key, _)) if !key.is_empty() && !entry.contains('\n') => {
                lines.push(entry.as_str())
            }
            _ => {
                return Err(Failure::input(format!(
                    "--meta {entry:?}: expected KEY=VALUE on one line"
                )))
            }
        }
    }
    let metadata = lines.join("\n").into_bytes();
    if metadata.len() > usize::from(limit) {
        return Err(Failure::input(format!(
            "--meta: the metadata is {} bytes, more than the limit of {limit} bytes (max_metadata_len)",
            metadata.len()
        )));
    }
    Ok(metadata)
}

/// What went wrong binding `addr`, for people.
pub fn bind_failure(what: &str, addr: SocketAddr, e: &io::Error) -> Failure {
    let why = match e.kind() {
        io::ErrorKind::AddrInUse => {
            "address in use (another agent or program listens there?)".to_string()
        }
        io::ErrorKind::AddrNotAvailable => "not an address of this machine".to_string(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_string()
        }
        _ => e.to_string(),
    };
    Failure::new(
        FailureKind::Bind,
        format!("cannot bind {what} {addr}: {why}"),
    )
}

fn udp_failure(bind: SocketAddr, args: &AgentArgs, e: swim_transport_udp::Error) -> Failure {
    use swim_transport_udp::Error as E;
    match e {
        E::Io(io) if matches!(io.kind(), io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable | io::ErrorKind::PermissionDenied) => {
            bind_failure("--bind", bind, &io)
        }
        E::Io(io) => Failure::internal(format!("starting the node on {bind}: {io}")),
        E::CorruptIdentity(why) => Failure::input(format!(
            "--data-dir {}: unreadable identity file: {why}",
            args.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default()
        )),
        E::NoAdvertiseAddress => Failure::input(format!(
            "--bind {bind} is a wildcard address: give --advertise with the address others reach this node at"
        )),
        other => Failure::input(other.to_string()),
    }
}

fn quic_failure(bind: SocketAddr, e: swim_transport_quic::Error) -> Failure {
    use swim_transport_quic::Error as E;
    match e {
        E::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::AddrInUse
                    | io::ErrorKind::AddrNotAvailable
                    | io::ErrorKind::PermissionDenied
            ) =>
        {
            bind_failure("--bind", bind, &io)
        }
        E::Io(io) => Failure::internal(format!("starting the node on {bind}: {io}")),
        other => Failure::input(format!("starting the QUIC node on {bind}: {other}")),
    }
}

/// Starts the node the options describe.
pub async fn start_node(args: &AgentArgs) -> Result<AgentNode, Failure> {
    let config = config(args);
    let metadata = metadata(&args.meta, config.max_metadata_len)?;
    let bind = resolve("--bind", &args.bind)?;
    let seeds = args
        .join
        .iter()
        .map(|s| resolve("--join", s))
        .collect::<Result<Vec<_>, _>>()?;
    let advertise = args
        .advertise
        .as_deref()
        .map(|a| resolve("--advertise", a))
        .transpose()?;
    let mut core = swim_transport_udp::CoreOptions::new();
    core.config = config;
    core.seeds = seeds;
    core.advertise = advertise;
    core.metadata = metadata;
    core.data_dir = args.data_dir.clone();
    if args.quic {
        let (Some(ca), Some(cert), Some(key)) = (&args.ca, &args.cert, &args.cert_key) else {
            return Err(Failure::input("--quic needs --ca, --cert and --cert-key"));
        };
        let credentials = certs::load_credentials(ca, cert, key)?;
        let mut options = swim_transport_quic::NodeOptions::new(bind, credentials);
        options.core = core;
        let node = swim_transport_quic::Node::start(options)
            .await
            .map_err(|e| quic_failure(bind, e))?;
        return Ok(AgentNode::Quic(node));
    }
    let mut options = swim_transport_udp::NodeOptions::new(bind);
    options.core = core;
    let keyed = match &args.key_file {
        Some(path) => {
            options.keyring = Some(keyfile::load(path)?);
            true
        }
        None => false,
    };
    let node = swim_transport_udp::tokio::Node::start(options)
        .await
        .map_err(|e| udp_failure(bind, args, e))?;
    Ok(AgentNode::Udp { node, keyed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_over_the_limit_names_both_sizes() {
        let big = format!("k={}", "v".repeat(600));
        let e = metadata(&[big], 512).unwrap_err();
        assert_eq!(e.kind, FailureKind::Input);
        assert!(
            e.message.contains("602 bytes") && e.message.contains("limit of 512"),
            "{e}"
        );
        assert!(metadata(&["novalue".into()], 512).is_err());
        assert_eq!(
            metadata(&["a=1".into(), "b=2".into()], 512).unwrap(),
            b"a=1\nb=2"
        );
    }

    #[test]
    fn an_address_in_use_says_so() {
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = std::net::UdpSocket::bind(addr).unwrap_err();
        let f = bind_failure("--bind", addr, &e);
        assert_eq!(f.kind, FailureKind::Bind);
        assert!(f.message.contains("address in use"), "{f}");
    }
}
