//! A member's state and the precedence rules between updates.

use crate::address::Identity;
use crate::storage::Payload;
use crate::time::Instant;
use crate::wire::RecordKind;

/// What the local node believes about a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum MemberState {
    /// Answering probes.
    Alive,
    /// Failed a probe; will be declared dead unless it refutes.
    Suspect,
    /// Declared dead after its suspicion timed out.
    Dead,
    /// Left gracefully.
    Left,
}

impl MemberState {
    /// Alive or suspect: still part of the cluster.
    pub fn is_active(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }

    pub(crate) fn record_kind(self) -> RecordKind {
        match self {
            MemberState::Alive => RecordKind::Alive,
            MemberState::Suspect => RecordKind::Suspect,
            MemberState::Dead => RecordKind::Dead,
            MemberState::Left => RecordKind::Left,
        }
    }
}

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
    pub meta_version: u32,
    pub meta: Payload<N>,
    /// Times the current state record was piggybacked, and its queue stamp.
    pub state_sent: u8,
    pub state_stamp: u32,
    /// Same for the metadata record.
    pub meta_sent: u8,
    pub meta_stamp: u32,
    /// Highest broadcast sequence seen from this member and the bitmap of
    /// the 64 below it (duplicate suppression).
    pub broadcast_epoch: u32,
    pub broadcast_high: u32,
    pub broadcast_window: u64,
    pub broadcast_seen_any: bool,
}

impl<A, const N: usize> Member<A, N> {
    pub fn new(id: Identity<A>, incarnation: u32, state: MemberState, now: Instant) -> Self {
        Member {
            id,
            incarnation,
            state,
            since: now,
            meta_version: 0,
            meta: Payload::new(),
            state_sent: 0,
            state_stamp: 0,
            meta_sent: 0,
            meta_stamp: 0,
            broadcast_epoch: 0,
            broadcast_high: 0,
            broadcast_window: 0,
            broadcast_seen_any: false,
        }
    }

    pub fn precedence(&self) -> Precedence {
        Precedence {
            generation: self.id.generation,
            incarnation: self.incarnation,
            state: self.state,
        }
    }

    /// Records broadcast `seq` of the sender's `epoch` (a random number the
    /// sender draws at start, so a restarted process starts a fresh
    /// sequence); false if it was already seen, or is too old to tell.
    pub fn first_sight_of_broadcast(&mut self, epoch: u32, seq: u32) -> bool {
        const WINDOW: u32 = 64;
        if !self.broadcast_seen_any || epoch != self.broadcast_epoch {
            self.broadcast_seen_any = true;
            self.broadcast_epoch = epoch;
            self.broadcast_high = seq;
            self.broadcast_window = 1;
            return true;
        }
        let ahead = seq.wrapping_sub(self.broadcast_high);
        let behind = self.broadcast_high.wrapping_sub(seq);
        if ahead == 0 {
            return false;
        }
        if ahead < (1 << 30) {
            // Newer: slide the window.
            self.broadcast_window = if ahead >= WINDOW {
                0
            } else {
                self.broadcast_window << ahead
            };
            self.broadcast_window |= 1;
            self.broadcast_high = seq;
            return true;
        }
        if behind < WINDOW {
            let bit = 1u64 << behind;
            let fresh = self.broadcast_window & bit == 0;
            self.broadcast_window |= bit;
            return fresh;
        }
        false // older than the window: assume it was delivered
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

    #[test]
    fn broadcast_window_suppresses_duplicates() {
        let mut m: Member<u32, 8> = Member::new(
            Identity {
                addr: 1,
                generation: 0,
            },
            0,
            MemberState::Alive,
            Instant::ZERO,
        );
        assert!(m.first_sight_of_broadcast(7, 10));
        assert!(!m.first_sight_of_broadcast(7, 10));
        assert!(m.first_sight_of_broadcast(7, 12));
        assert!(m.first_sight_of_broadcast(7, 11));
        assert!(!m.first_sight_of_broadcast(7, 11));
        assert!(m.first_sight_of_broadcast(7, 100));
        assert!(!m.first_sight_of_broadcast(7, 12)); // fell out of the window
        assert!(m.first_sight_of_broadcast(8, 12)); // restarted sender: new epoch
        assert!(!m.first_sight_of_broadcast(8, 12));
    }
}
