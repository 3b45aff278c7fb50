//! What a node is started with.

use std::net::SocketAddr;
use std::path::PathBuf;

use swim_core::Config;

use crate::keyring::Keyring;
use crate::replay::ReplayConfig;

/// Everything [`Node::start`](crate::Node::start) needs. Build it with
/// [`NodeOptions::new`] and the chained setters.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Address the UDP socket binds to; port 0 picks a free port
    /// (read it back with [`Node::local_addr`](crate::Node::local_addr)).
    pub bind: SocketAddr,
    /// Address other members send datagrams to, when it differs from the
    /// bound one (NAT, containers, a wildcard bind). Default: the bound
    /// address; for a wildcard bind, the local address the system routes
    /// towards the first seed. Port 0 here stands for the bound port.
    pub advertise: Option<SocketAddr>,
    /// Protocol settings (start from [`Config::lan`], [`Config::local`]...).
    pub config: Config,
    /// Members to join through; empty to start a new cluster and wait for
    /// others to join.
    pub seeds: Vec<SocketAddr>,
    /// Initial metadata of the local node.
    pub metadata: Vec<u8>,
    /// Directory holding the node's persistent identity (generation and
    /// last incarnation); see the [crate documentation](crate#identity).
    pub data_dir: Option<PathBuf>,
    /// Events buffered for the application; when it does not keep up, newer
    /// events are dropped and counted in
    /// [`TransportCounters::events_dropped`](crate::TransportCounters).
    pub event_capacity: usize,
    /// Keys to seal and open every datagram with; `None` (the default)
    /// sends plaintext. With a keyring, `config.packet_budget` still bounds
    /// the datagrams on the wire: the swim packet inside each envelope gets
    /// [`ENVELOPE_OVERHEAD`](crate::ENVELOPE_OVERHEAD) bytes less.
    pub keyring: Option<Keyring>,
    /// With a keyring: the freshness window and the bound on the senders
    /// the replay filter remembers (see [`ReplayConfig`]). Ignored
    /// without a keyring.
    pub replay: ReplayConfig,
}

impl NodeOptions {
    /// Options to bind `bind`, with the [`Config::lan`] preset, no seeds, no
    /// metadata and no data directory.
    pub fn new(bind: SocketAddr) -> Self {
        NodeOptions {
            bind,
            advertise: None,
            config: Config::lan(),
            seeds: Vec::new(),
            metadata: Vec::new(),
            data_dir: None,
            event_capacity: swim_node::DEFAULT_EVENT_CAPACITY,
            keyring: None,
            replay: ReplayConfig::default(),
        }
    }

    swim_node::options_setters!();

    /// Persists the identity in `dir` (created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Encrypts and authenticates every datagram with `keyring` (see the
    /// [crate documentation](crate#encryption)). Every member of the
    /// cluster needs a key in common with the others.
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Sets the replay protection's freshness window and sender bound
    /// (only used with a [keyring](NodeOptions::keyring)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use swim_transport_udp::{NodeOptions, ReplayConfig};
    ///
    /// let options = NodeOptions::new("127.0.0.1:0".parse().unwrap())
    ///     .replay(ReplayConfig::default().with_freshness(Duration::from_secs(30)));
    /// assert_eq!(options.replay.freshness, Duration::from_secs(30));
    /// ```
    pub fn replay(mut self, replay: ReplayConfig) -> Self {
        self.replay = replay;
        self
    }
}
