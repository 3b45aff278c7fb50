//! What every node starts with, whatever its transport.

use std::net::SocketAddr;
use std::path::PathBuf;

use swim_core::Config;

/// Events buffered for the application by default.
pub const DEFAULT_EVENT_CAPACITY: usize = 4096;

/// The options every transport's node has. Transports embed it in their
/// own options (as a public `core` field) and forward their builder
/// methods to it.
///
/// ```
/// use swim_driver::CoreOptions;
///
/// let options = CoreOptions::new()
///     .seed("127.0.0.1:7946".parse().unwrap())
///     .metadata(b"zone=a".to_vec())
///     .event_capacity(0);
/// assert_eq!(options.seeds.len(), 1);
/// assert_eq!(options.event_capacity, 1); // at least one
/// ```
#[derive(Clone, Debug)]
pub struct CoreOptions {
    /// Protocol settings (start from [`Config::lan`], [`Config::local`]...).
    pub config: Config,
    /// Address other members know this node by, when it differs from the
    /// bound one (NAT, containers, a wildcard bind). Port 0 stands for the
    /// bound port. How a transport derives it when unset is up to it.
    pub advertise: Option<SocketAddr>,
    /// Members to join through; empty to start a new cluster and wait for
    /// others to join.
    pub seeds: Vec<SocketAddr>,
    /// Initial metadata of the local node.
    pub metadata: Vec<u8>,
    /// Events buffered for the application (at least 1); when it does not
    /// keep up, newer events are dropped and counted in
    /// [`CoreCounters::events_dropped`](crate::CoreCounters).
    pub event_capacity: usize,
    /// Directory holding the node's identity file ([`IDENTITY_FILE`](crate::IDENTITY_FILE)):
    /// each start then takes a higher generation and incarnation than the
    /// previous life, and every new incarnation is written as it happens.
    /// See [`IdentityStore`](crate::IdentityStore).
    pub data_dir: Option<PathBuf>,
    /// Lowest generation to start with. Without a data directory, the
    /// generation is this, or [`clock_generation`](crate::clock_generation)
    /// when unset; with one, the stored generation plus one, never below
    /// this nor the clock.
    pub generation: Option<u32>,
    /// Lowest incarnation to start with. Without a data directory, the
    /// incarnation is this; with one, the stored incarnation plus one,
    /// never below this.
    pub incarnation: u32,
}

impl Default for CoreOptions {
    fn default() -> Self {
        CoreOptions::new()
    }
}

impl CoreOptions {
    /// The [`Config::lan`] preset, no seeds, no metadata, no data directory,
    /// [`DEFAULT_EVENT_CAPACITY`] events.
    pub fn new() -> Self {
        CoreOptions {
            config: Config::lan(),
            advertise: None,
            seeds: Vec::new(),
            metadata: Vec::new(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
            data_dir: None,
            generation: None,
            incarnation: 0,
        }
    }

    /// Sets the protocol configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the address announced to other members.
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// Adds a seed to join through.
    pub fn seed(mut self, addr: SocketAddr) -> Self {
        self.seeds.push(addr);
        self
    }

    /// Adds several seeds.
    pub fn seeds(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.seeds.extend(addrs);
        self
    }

    /// Sets the initial metadata.
    pub fn metadata(mut self, metadata: impl Into<Vec<u8>>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// Sets how many events are buffered for the application (at least 1).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Persists the identity in `dir` (created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Sets the lowest generation to start with.
    pub fn generation(mut self, generation: u32) -> Self {
        self.generation = Some(generation);
        self
    }

    /// Sets the lowest incarnation to start with.
    pub fn incarnation(mut self, incarnation: u32) -> Self {
        self.incarnation = incarnation;
        self
    }
}
