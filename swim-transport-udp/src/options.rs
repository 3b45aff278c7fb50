//! What a node is started with.

use std::net::SocketAddr;
use std::path::PathBuf;

use swim_core::Config;
use swim_driver::CoreOptions;

use crate::keyring::Keyring;
use crate::replay::ReplayConfig;

/// Everything [`Node::start`](crate::Node::start) (or the tokio node's
/// `start`) needs. Build it with [`NodeOptions::new`] and the chained
/// setters.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Address the UDP socket binds to; port 0 picks a free port
    /// (read it back with [`Node::local_addr`](crate::Node::local_addr)).
    pub bind: SocketAddr,
    /// What every transport's node has: protocol settings, advertised
    /// address, seeds, metadata, event capacity, data directory, starting
    /// generation and incarnation (see [`CoreOptions`]). Without an
    /// advertised address the node advertises its bound one; for a
    /// wildcard bind, the local address the system routes towards the
    /// first seed.
    pub core: CoreOptions,
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
            core: CoreOptions::new(),
            keyring: None,
            replay: ReplayConfig::default(),
        }
    }

    /// Sets the protocol configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.core.config = config;
        self
    }

    /// Sets the address announced to other members (NAT, containers, a
    /// wildcard bind); port 0 stands for the bound port.
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

    /// Persists the identity in `dir` (created if missing); see the
    /// [crate documentation](crate#identity).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.core.data_dir = Some(dir.into());
        self
    }

    /// Sets the lowest generation to start with (see
    /// [`CoreOptions::generation`]).
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
