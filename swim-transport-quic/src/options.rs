//! What a node is started with.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use swim_core::Config;
use swim_driver::CoreOptions;

use crate::tls::Credentials;

/// Everything [`Node::start`](crate::Node::start) needs. Build it with
/// [`NodeOptions::new`] and the chained setters.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Address the QUIC endpoint binds to (unless [`NodeOptions::socket`]
    /// is set). The node certificate must name the address the node is
    /// known by, so the port must be known before the certificate is
    /// issued: to let the system pick a free port, bind a socket first and
    /// use [`NodeOptions::with_socket`].
    pub bind: SocketAddr,
    /// An already bound UDP socket for the endpoint, used instead of
    /// binding `bind` (set by [`NodeOptions::with_socket`]). Clones of the
    /// options share it: start at most one node from them.
    pub socket: Option<Arc<UdpSocket>>,
    /// The node's certificate and key, and the cluster CA. The certificate
    /// must name the node's address (the advertised one if set, else the
    /// bound one); see [`Credentials`].
    pub credentials: Credentials,
    /// What every transport's node has: protocol settings, advertised
    /// address, seeds, metadata, event capacity, data directory, starting
    /// generation and incarnation (see [`CoreOptions`]). The advertised
    /// address is required for a wildcard bind (`0.0.0.0`, `::`); peers
    /// identify a node by the source address of its QUIC connections, so
    /// it must be the address they see (see the
    /// [crate documentation](crate#addresses)), and the node certificate
    /// must name it. `config.packet_budget` is lowered to
    /// [`MAX_PACKET_BUDGET`](crate::MAX_PACKET_BUDGET) so that every
    /// datagram fits a QUIC datagram frame.
    pub core: CoreOptions,
    /// QUIC connection management.
    pub transport: TransportOptions,
}

impl NodeOptions {
    /// Options to bind `bind` with `credentials` (whose certificate must
    /// name `bind`, or the advertised address if one is set later), the
    /// [`Config::lan`] preset, no seeds, no metadata and default
    /// [`TransportOptions`].
    pub fn new(bind: SocketAddr, credentials: Credentials) -> Self {
        NodeOptions {
            bind,
            socket: None,
            credentials,
            core: CoreOptions::new(),
            transport: TransportOptions::default(),
        }
    }

    /// Options to run on `socket`, already bound, with `credentials`:
    /// `bind` is set to the socket's address. Binding first is how a node
    /// gets a free port and a certificate for it:
    ///
    /// ```
    /// use swim_transport_quic::cert::ClusterCa;
    /// use swim_transport_quic::NodeOptions;
    ///
    /// let ca = ClusterCa::generate("my cluster")?;
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = socket.local_addr()?;
    /// let options = NodeOptions::with_socket(socket, ca.issue(addr)?)?;
    /// assert_eq!(options.bind, addr);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Fails only if the socket's address cannot be read.
    pub fn with_socket(socket: UdpSocket, credentials: Credentials) -> std::io::Result<Self> {
        let mut options = NodeOptions::new(socket.local_addr()?, credentials);
        options.socket = Some(Arc::new(socket));
        Ok(options)
    }

    /// Sets the protocol configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.core.config = config;
        self
    }

    /// Sets the address other members know this node by (the node
    /// certificate must name it); port 0 stands for the bound port.
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.core.advertise = Some(addr);
        self
    }

    /// Adds a seed to join through.
    pub fn seed(mut self, addr: SocketAddr) -> Self {
        self.core.seeds.push(addr);
        self
    }

    /// Adds several seeds.
    pub fn seeds(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.core.seeds.extend(addrs);
        self
    }

    /// Sets the initial metadata.
    pub fn metadata(mut self, metadata: impl Into<Vec<u8>>) -> Self {
        self.core.metadata = metadata.into();
        self
    }

    /// Sets how many events are buffered for the application (at least 1);
    /// beyond it, the newest events are dropped and counted in
    /// [`CoreCounters::events_dropped`](swim_driver::CoreCounters).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.core.event_capacity = capacity.max(1);
        self
    }

    /// Persists the identity in `dir` (created if missing): each start
    /// takes a higher generation and a higher incarnation than the
    /// previous life, and every new incarnation is written as it happens
    /// (off the node task). See [`swim_driver::IdentityStore`].
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.core.data_dir = Some(dir.into());
        self
    }

    /// Sets the lowest generation of the local identity (see
    /// [`CoreOptions::generation`]); default: seconds since 2025-01-01
    /// UTC, which grows across restarts a second or more apart.
    pub fn generation(mut self, generation: u32) -> Self {
        self.core.generation = Some(generation);
        self
    }

    /// Sets the lowest incarnation to start with (see
    /// [`CoreOptions::incarnation`]).
    pub fn incarnation(mut self, incarnation: u32) -> Self {
        self.core.incarnation = incarnation;
        self
    }

    /// Sets the QUIC connection management options.
    pub fn transport(mut self, transport: TransportOptions) -> Self {
        self.transport = transport;
        self
    }
}

/// How the node manages its QUIC connections.
///
/// A connection to a peer is opened on the first datagram for it and kept
/// while it is in use; datagrams for a peer whose connection is still being
/// established wait in a small queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportOptions {
    /// TLS server name every node's certificate carries (as a DNS subject
    /// alternative name) and every client checks, besides the address the
    /// certificate names: one name for the whole cluster. Default `"swim"`.
    pub server_name: String,
    /// Longest time a handshake (outgoing or incoming) may take. Default 5 s.
    pub connect_timeout: Duration,
    /// A connection that received nothing for this long is closed (QUIC
    /// idle timeout; the smaller of both sides' values applies): a crashed
    /// peer's connection goes after this long. Default 15 s.
    pub idle_timeout: Duration,
    /// Keeps the connections to the members the node talks to open between
    /// probes: QUIC keep-alives every third of `idle_timeout`, and a
    /// connection is closed only once nothing was sent to or received from
    /// its peer for two probe rounds (the number of members times the
    /// probe interval, twice; at least `idle_timeout`). Without it, a
    /// connection closes after `idle_timeout` without traffic, and in a
    /// cluster of more than about `idle_timeout / probe_interval` members
    /// most probes wait for a new handshake. Default true.
    pub keep_warm: bool,
    /// After a failed connection attempt, datagrams for that peer are
    /// dropped (and counted) for this long before the next attempt.
    /// Default 1 s.
    pub reconnect_backoff: Duration,
    /// Outgoing handshakes in flight at once; a datagram that would need
    /// one more is dropped and counted. Default 32. Zero makes a passive
    /// node that only talks over connections others open to it.
    pub max_pending_connects: usize,
    /// Incoming handshakes in flight at once; more are refused. Default 64.
    pub max_pending_handshakes: usize,
    /// Open connections (plus incoming handshakes) beyond which incoming
    /// connections are refused. Default 1024.
    pub max_connections: usize,
    /// Datagrams queued per peer while its connection is being established;
    /// beyond it they are dropped and counted. Default 16.
    pub peer_queue_len: usize,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            server_name: "swim".to_owned(),
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            keep_warm: true,
            reconnect_backoff: Duration::from_secs(1),
            max_pending_connects: 32,
            max_pending_handshakes: 64,
            max_connections: 1024,
            peer_queue_len: 16,
        }
    }
}
