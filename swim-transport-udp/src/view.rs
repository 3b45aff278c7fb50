//! Owned snapshots of the node's state, returned by the node handle.

use std::net::SocketAddr;
use std::time::Instant;

use swim_core::Counters;

use crate::socket::TransportCounters;

/// One remote member as the local node sees it (`since` by this
/// process's clock).
pub type Member = swim_core::MemberSnapshot<SocketAddr, Instant>;

/// The local node.
pub type LocalInfo = swim_core::LocalSnapshot<SocketAddr>;

/// Protocol and socket counters together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// What the protocol counted (datagrams, drops by reason, probes...).
    pub protocol: Counters,
    /// What the socket layer counted (send and receive errors...).
    pub transport: TransportCounters,
}
