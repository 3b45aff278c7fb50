//! Owned snapshots of the node's state, returned by the node handle.

use swim_core::Counters;

use crate::socket::TransportCounters;

pub use swim_node::{LocalInfo, Member};

/// Protocol and socket counters together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// What the protocol counted (datagrams, drops by reason, probes...).
    pub protocol: Counters,
    /// What the socket layer counted (send and receive errors...).
    pub transport: TransportCounters,
}
