//! A member's state and the precedence rules between updates.

use crate::address::Identity;
use crate::gossip_queue::Tracked;
use crate::storage::Payload;
use crate::time::Instant;

use crate::state::MemberState;

/// The version of a member's state: updates with a larger key replace
/// smaller ones. Order: generation, then incarnation, then
/// Alive < Suspect < Dead < Left (SWIM's precedence, Left final for its
/// incarnation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Precedence {
    pub generation: u32,
    pub incarnation: u32,
    pub state: MemberState,
}

/// One remembered member.
#[derive(Clone, Debug)]
pub(crate) struct Member<A, const N: usize> {
    pub id: Identity<A>,
    pub incarnation: u32,
    pub state: MemberState,
    /// When `state` last changed.
    pub since: Instant,
    /// When a datagram last came from its address.
    pub last_heard: Instant,
    pub meta_version: u32,
    pub meta: Payload<N>,
    /// Dissemination progress of the state record and of the metadata record.
    pub state_gossip: Tracked,
    pub meta_gossip: Tracked,
    /// Round trip of the last directly answered probe, in microseconds
    /// (saturated; 0 = none yet).
    pub rtt_micros: u32,
    /// Answered a ping naming its identity: a full member. Until then it was
    /// only claimed by a record (or heard from once) and takes no part in
    /// the protocol: not probed, relayed, counted or shown.
    pub verified: bool,
    /// Unverified and heard from first-hand: its admission ping goes first.
    pub urgent: bool,
    /// Asked for a push-pull reply before it was verified: the table goes
    /// to it once it is.
    pub wants_table: bool,
    /// The hash of its share of the member table's digest while it is
    /// active and verified, else 0 (kept by the table: see
    /// `MemberTable::refresh_digest`).
    pub digest_hash: u64,
}

impl<A, const N: usize> Member<A, N> {
    pub fn new(id: Identity<A>, incarnation: u32, state: MemberState, now: Instant) -> Self {
        Member {
            id,
            incarnation,
            state,
            since: now,
            last_heard: now,
            meta_version: 0,
            meta: Payload::new(),
            state_gossip: Tracked::default(),
            meta_gossip: Tracked::default(),
            rtt_micros: 0,
            verified: false,
            urgent: false,
            wants_table: false,
            digest_hash: 0,
        }
    }

    /// A member that already answered a ping naming its identity.
    pub fn verified(id: Identity<A>, incarnation: u32, state: MemberState, now: Instant) -> Self {
        Member {
            verified: true,
            ..Member::new(id, incarnation, state, now)
        }
    }

    /// Alive or suspect, and verified: takes part in the protocol.
    pub fn is_full_active(&self) -> bool {
        self.verified && self.state.is_active()
    }

    pub fn precedence(&self) -> Precedence {
        Precedence {
            generation: self.id.generation,
            incarnation: self.incarnation,
            state: self.state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_the_paper() {
        let p = |incarnation, state| Precedence {
            generation: 0,
            incarnation,
            state,
        };
        use MemberState::*;
        assert!(p(0, Alive) < p(0, Suspect));
        assert!(p(0, Suspect) < p(0, Dead));
        assert!(p(0, Dead) < p(0, Left));
        assert!(p(0, Left) < p(1, Alive));
        assert!(p(1, Alive) > p(0, Dead));
        let newer_generation = Precedence {
            generation: 1,
            incarnation: 0,
            state: Alive,
        };
        assert!(newer_generation > p(u32::MAX, Left));
    }
}
