//! Owned snapshots of the node's state, returned by the node handle.

use swim_core::Counters;
use swim_driver::CoreCounters;

use crate::socket::TransportCounters;

pub use swim_driver::{LocalInfo, Member};

/// Protocol, socket and driver counters together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// What the protocol counted (datagrams, drops by reason, probes...).
    pub protocol: Counters,
    /// What the socket layer counted (send and receive errors...).
    pub transport: TransportCounters,
    /// What the driver kit counted (events dropped, timer runs, identity
    /// writes).
    pub driver: CoreCounters,
}
