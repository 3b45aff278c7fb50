//! What a node is started with.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use swim_core::Config;

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
    /// Address other members know this node by, when it differs from the
    /// bound one. Required for a wildcard bind (`0.0.0.0`, `::`). Port 0
    /// here stands for the bound port. Peers identify a node by the source
    /// address of its QUIC connections, so this must be the address they
    /// see (see the [crate documentation](crate#addresses)), and the node
    /// certificate must name it.
    pub advertise: Option<SocketAddr>,
    /// The node's certificate and key, and the cluster CA. The certificate
    /// must name the node's address (the advertised one if set, else the
    /// bound one); see [`Credentials`].
    pub credentials: Credentials,
    /// Protocol settings (start from [`Config::lan`], [`Config::local`]...).
    /// `packet_budget` is lowered to [`MAX_PACKET_BUDGET`](crate::MAX_PACKET_BUDGET)
    /// so that every datagram fits a QUIC datagram frame.
    pub config: Config,
    /// Members to join through; empty to start a new cluster and wait for
    /// others to join.
    pub seeds: Vec<SocketAddr>,
    /// Initial metadata of the local node.
    pub metadata: Vec<u8>,
    /// Generation of the local identity; default: seconds since
    /// 2025-01-01 UTC, which grows across restarts a second or more apart.
    pub generation: Option<u32>,
    /// Incarnation to start with (for a node that persisted its last one).
    pub incarnation: u32,
    /// Events buffered for the application; when it does not keep up, newer
    /// events are dropped and counted in
    /// [`TransportCounters::events_dropped`](crate::TransportCounters).
    pub event_capacity: usize,
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
            advertise: None,
            credentials,
            config: Config::lan(),
            seeds: Vec::new(),
            metadata: Vec::new(),
            generation: None,
            incarnation: 0,
            event_capacity: swim_node::DEFAULT_EVENT_CAPACITY,
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

    swim_node::options_setters!();

    /// Sets the generation of the local identity.
    pub fn generation(mut self, generation: u32) -> Self {
        self.generation = Some(generation);
        self
    }

    /// Sets the incarnation to start with.
    pub fn incarnation(mut self, incarnation: u32) -> Self {
        self.incarnation = incarnation;
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
    /// A connection that carried nothing for this long is closed (QUIC idle
    /// timeout; the smaller of both sides' values applies). Default 15 s.
    pub idle_timeout: Duration,
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
            reconnect_backoff: Duration::from_secs(1),
            max_pending_connects: 32,
            max_pending_handshakes: 64,
            max_connections: 1024,
            peer_queue_len: 16,
        }
    }
}
