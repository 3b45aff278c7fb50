//! Owned copies of the read-only views (feature `alloc`), for drivers that
//! hand the node's state to other threads or tasks.

extern crate alloc;

use alloc::vec::Vec;

use crate::address::Identity;
use crate::state::MemberState;
use core::time::Duration;

use crate::swim::{KnownMember, LocalNode, LocalStatus, MemberView};
use crate::time::Instant;

/// An owned copy of a [`MemberView`]. `T` is the clock type of `since`: the
/// core's [`Instant`], or the driver's own after [`MemberSnapshot::map_since`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSnapshot<A, T = Instant> {
    /// Its address and generation.
    pub identity: Identity<A>,
    /// Its incarnation as known here.
    pub incarnation: u32,
    /// Alive, suspect, dead or left.
    pub state: MemberState,
    /// When the state last changed, by the local clock.
    pub since: T,
    /// Its metadata as known here.
    pub metadata: Vec<u8>,
    /// The version of that metadata.
    pub metadata_version: u32,
    /// The round trip of the last directly answered probe, if any.
    pub rtt: Option<Duration>,
}

impl<A: Clone, T> MemberSnapshot<A, T> {
    /// Its address.
    pub fn addr(&self) -> A {
        self.identity.addr.clone()
    }

    /// True if alive or suspect.
    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }

    /// The value of `key` in the member's key-value state (see [`crate::kv`]).
    pub fn state_value(&self, key: &[u8]) -> Option<&[u8]> {
        crate::kv::get(&self.metadata, key)
    }

    /// The same snapshot with `since` converted to another clock.
    pub fn map_since<U>(self, convert: impl FnOnce(T) -> U) -> MemberSnapshot<A, U> {
        MemberSnapshot {
            identity: self.identity,
            incarnation: self.incarnation,
            state: self.state,
            since: convert(self.since),
            metadata: self.metadata,
            metadata_version: self.metadata_version,
            rtt: self.rtt,
        }
    }

    /// The snapshot as a member to load with
    /// [`Swim::import_member`](crate::Swim::import_member) after a restart.
    pub fn as_known(&self) -> KnownMember<'_, A> {
        KnownMember {
            identity: &self.identity,
            incarnation: self.incarnation,
            state: self.state,
            metadata: &self.metadata,
            metadata_version: self.metadata_version,
        }
    }
}

impl<A: Clone> MemberView<'_, A> {
    /// An owned copy.
    pub fn to_snapshot(&self) -> MemberSnapshot<A> {
        MemberSnapshot {
            identity: self.identity.clone(),
            incarnation: self.incarnation,
            state: self.state,
            since: self.since,
            metadata: self.metadata.to_vec(),
            metadata_version: self.metadata_version,
            rtt: self.rtt,
        }
    }
}

/// An owned copy of a [`LocalNode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSnapshot<A> {
    /// Its advertised address and generation.
    pub identity: Identity<A>,
    /// Its current incarnation.
    pub incarnation: u32,
    /// Where it stands (joining, joined, leaving...).
    pub status: LocalStatus,
    /// Lifeguard's local health multiplier (0 = healthy).
    pub health: u8,
    /// Its metadata.
    pub metadata: Vec<u8>,
}

impl<A> LocalSnapshot<A> {
    /// The value of `key` in the node's key-value state (see [`crate::kv`]).
    pub fn state_value(&self, key: &[u8]) -> Option<&[u8]> {
        crate::kv::get(&self.metadata, key)
    }
}

impl<A: Clone> LocalNode<'_, A> {
    /// An owned copy.
    pub fn to_snapshot(&self) -> LocalSnapshot<A> {
        LocalSnapshot {
            identity: self.identity.clone(),
            incarnation: self.incarnation,
            status: self.status,
            health: self.health,
            metadata: self.metadata.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Identity, Instant, Swim};
    use rand_core::SeedableRng;

    #[test]
    fn snapshots_copy_the_views() {
        let mut node: Swim<u32, rand_pcg::Pcg32> = Swim::new(
            Identity::new(1, 2),
            Config::lan(),
            rand_pcg::Pcg32::seed_from_u64(1),
            Instant::ZERO,
        )
        .unwrap();
        node.set_local_state(Instant::ZERO, b"zone", b"a").unwrap();
        let local = node.local().to_snapshot();
        assert_eq!(local.identity, Identity::new(1, 2));
        assert_eq!(local.state_value(b"zone"), Some(&b"a"[..]));
    }
}
