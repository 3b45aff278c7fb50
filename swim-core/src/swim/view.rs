//! What the state machine shows of itself: the views of the local node and
//! of members, the datagrams it hands out, and the fill of its queues.

use core::time::Duration;

use crate::address::Identity;
use crate::state::MemberState;
use crate::time::Instant;

/// A datagram to send, written by [`Swim::poll_transmit`](crate::Swim::poll_transmit) into the caller's
/// buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit<A> {
    /// Where to send it.
    pub destination: A,
    /// How many bytes of the buffer to send.
    pub len: usize,
}

/// How full each table and queue is, against its cap: for monitoring and
/// for checking that every queue stays bounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueLengths {
    /// Remembered remote members, of any state.
    pub members: usize,
    /// Cap of `members`.
    pub members_cap: usize,
    /// Entries in the membership/metadata dissemination queue.
    pub gossip: usize,
    /// Cap of `gossip`.
    pub gossip_cap: usize,
    /// Broadcasts awaiting dissemination.
    pub broadcasts: usize,
    /// Cap of `broadcasts`.
    pub broadcasts_cap: usize,
    /// Events not yet polled.
    pub events: usize,
    /// Cap of `events`.
    pub events_cap: usize,
    /// Messages waiting for `poll_transmit`.
    pub outgoing: usize,
    /// Cap of `outgoing`.
    pub outgoing_cap: usize,
    /// Push-pull exchanges in progress.
    pub syncs: usize,
    /// Cap of `syncs`.
    pub syncs_cap: usize,
    /// Suspicion timers running.
    pub suspicions: usize,
    /// Remembered members not yet verified (included in `members`).
    pub unverified: usize,
    /// Unverified members waiting for their admission ping (entries may be
    /// stale; cap: twice `members_cap`).
    pub admissions: usize,
    /// Checks (admission, generation, accusation pings) in flight.
    pub checks: usize,
    /// Cap of `checks`.
    pub checks_cap: usize,
}

impl QueueLengths {
    /// Every table or queue over its cap, as `(name, length, cap)`; none
    /// in a healthy node. Suspicions have no cap of their own: there is at
    /// most one per remembered member, so `members_cap` bounds them.
    pub fn over_caps(&self) -> impl Iterator<Item = (&'static str, usize, usize)> {
        [
            ("members", self.members, self.members_cap),
            ("gossip", self.gossip, self.gossip_cap),
            ("broadcasts", self.broadcasts, self.broadcasts_cap),
            ("events", self.events, self.events_cap),
            ("outgoing", self.outgoing, self.outgoing_cap),
            ("syncs", self.syncs, self.syncs_cap),
            ("suspicions", self.suspicions, self.members_cap),
            ("unverified", self.unverified, self.members_cap),
            (
                "admissions",
                self.admissions,
                self.members_cap.saturating_mul(2),
            ),
            ("checks", self.checks, self.checks_cap),
        ]
        .into_iter()
        .filter(|&(_, len, cap)| len > cap)
    }
}

/// The local node's place in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalStatus {
    /// Not joined and not trying: no seeds were given and nobody contacted it.
    Idle,
    /// Contacting seeds, with retries, until one answers.
    Joining,
    /// Part of a cluster.
    Joined,
    /// `leave` was called; the departure is being gossiped.
    Leaving,
    /// Gone: the node no longer sends or handles anything.
    Left,
}

/// A read-only view of the local node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalNode<'a, A> {
    /// Its identity.
    pub identity: &'a Identity<A>,
    /// Its current incarnation.
    pub incarnation: u32,
    /// Where it stands.
    pub status: LocalStatus,
    /// Lifeguard's local health multiplier (0 = healthy).
    pub health: u8,
    /// Its metadata.
    pub metadata: &'a [u8],
}

impl<A> LocalNode<'_, A> {
    /// The value of `key` in the node's key-value state (see
    /// [`kv`](crate::kv)).
    pub fn state_value(&self, key: &[u8]) -> Option<&[u8]> {
        crate::kv::get(self.metadata, key)
    }
}

/// A read-only view of one remote member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView<'a, A> {
    /// Its identity.
    pub identity: &'a Identity<A>,
    /// Its incarnation as known here.
    pub incarnation: u32,
    /// Its state as known here.
    pub state: MemberState,
    /// When the state last changed, by the local clock.
    pub since: Instant,
    /// Its metadata as known here.
    pub metadata: &'a [u8],
    /// The version of that metadata (raised by the member at each change).
    pub metadata_version: u32,
    /// The round trip of this node's last probe of the member that was
    /// answered directly; `None` until one was.
    pub rtt: Option<Duration>,
}

impl<A> MemberView<'_, A> {
    /// The value of `key` in the member's key-value state (see
    /// [`kv`](crate::kv)); `state` is the member's liveness.
    pub fn state_value(&self, key: &[u8]) -> Option<&[u8]> {
        crate::kv::get(self.metadata, key)
    }
}

/// The view of a remembered member.
pub(super) fn view<A, const B: usize>(m: &crate::member::Member<A, B>) -> MemberView<'_, A> {
    MemberView {
        identity: &m.id,
        incarnation: m.incarnation,
        state: m.state,
        since: m.since,
        metadata: &m.meta,
        metadata_version: m.meta_version,
        rtt: (m.rtt_micros != 0).then(|| Duration::from_micros(u64::from(m.rtt_micros))),
    }
}
