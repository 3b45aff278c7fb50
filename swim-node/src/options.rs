//! The builder methods both transports' `NodeOptions` have.

/// Events buffered for the application by default.
pub const DEFAULT_EVENT_CAPACITY: usize = 4096;

/// Generates the builder methods common to both transports' `NodeOptions`
/// (`config`, `advertise`, `seed`, `seeds`, `metadata`, `event_capacity`)
/// as inherent methods of the options type.
///
/// Invoke it inside an `impl` block of a struct with the public fields
/// `config: swim_core::Config`, `advertise: Option<SocketAddr>`,
/// `seeds: Vec<SocketAddr>`, `metadata: Vec<u8>` and
/// `event_capacity: usize`:
///
/// ```
/// use std::net::SocketAddr;
///
/// struct NodeOptions {
///     config: swim_core::Config,
///     advertise: Option<SocketAddr>,
///     seeds: Vec<SocketAddr>,
///     metadata: Vec<u8>,
///     event_capacity: usize,
/// }
///
/// impl NodeOptions {
///     swim_node::options_setters!();
/// }
///
/// let options = NodeOptions {
///     config: swim_core::Config::lan(),
///     advertise: None,
///     seeds: Vec::new(),
///     metadata: Vec::new(),
///     event_capacity: swim_node::DEFAULT_EVENT_CAPACITY,
/// }
/// .seed("127.0.0.1:7946".parse().unwrap())
/// .event_capacity(0);
/// assert_eq!(options.seeds.len(), 1);
/// assert_eq!(options.event_capacity, 1);
/// ```
#[macro_export]
macro_rules! options_setters {
    () => {
        /// Sets the protocol configuration.
        pub fn config(mut self, config: $crate::__swim_core::Config) -> Self {
            self.config = config;
            self
        }

        /// Sets the address announced to other members.
        pub fn advertise(mut self, addr: ::std::net::SocketAddr) -> Self {
            self.advertise = ::core::option::Option::Some(addr);
            self
        }

        /// Adds a seed to join through.
        pub fn seed(mut self, addr: ::std::net::SocketAddr) -> Self {
            self.seeds.push(addr);
            self
        }

        /// Adds several seeds.
        pub fn seeds(
            mut self,
            addrs: impl ::core::iter::IntoIterator<Item = ::std::net::SocketAddr>,
        ) -> Self {
            self.seeds.extend(addrs);
            self
        }

        /// Sets the initial metadata.
        pub fn metadata(
            mut self,
            metadata: impl ::core::convert::Into<::std::vec::Vec<u8>>,
        ) -> Self {
            self.metadata = metadata.into();
            self
        }

        /// Sets how many events are buffered for the application (at least 1).
        pub fn event_capacity(mut self, capacity: usize) -> Self {
            self.event_capacity = capacity.max(1);
            self
        }
    };
}
