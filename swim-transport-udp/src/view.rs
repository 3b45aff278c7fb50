//! Owned snapshots of the node's state, returned by the node handle.

use std::net::SocketAddr;
use std::time::Instant;

use swim_core::{Counters, Identity, LocalStatus, MemberState};

use crate::socket::TransportCounters;

/// One remote member as the local node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its address and generation.
    pub identity: Identity<SocketAddr>,
    /// Its incarnation as known here.
    pub incarnation: u32,
    /// Alive, suspect, dead or left.
    pub state: MemberState,
    /// When the state last changed, by this process's clock.
    pub since: Instant,
    /// Its metadata as known here.
    pub metadata: Vec<u8>,
}

impl Member {
    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.identity.addr
    }

    /// True if alive or suspect.
    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }
}

/// The local node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalInfo {
    /// Its advertised address and generation.
    pub identity: Identity<SocketAddr>,
    /// Its current incarnation.
    pub incarnation: u32,
    /// Where it stands (joining, joined, leaving...).
    pub status: LocalStatus,
    /// Lifeguard's local health multiplier (0 = healthy).
    pub health: u8,
    /// Its metadata.
    pub metadata: Vec<u8>,
}

/// Protocol and socket counters together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// What the protocol counted (datagrams, drops by reason, probes...).
    pub protocol: Counters,
    /// What the socket layer counted (send and receive errors...).
    pub transport: TransportCounters,
}
