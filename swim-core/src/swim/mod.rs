//! The state machine: one [`Swim`] per node.

mod admission;
mod checks;
mod import;
mod merge;
mod receive;
mod timers;
mod transmit;
mod view;

use core::time::Duration;

use heapless::Vec as FixedVec;
use rand_core::Rng;

use crate::address::{Address, Identity};
use crate::amplification::{Ledger, SyncReplyLimiter};
use crate::broadcasts::{BroadcastQueue, Queued, QueuedBroadcast};
use crate::config::Config;
use crate::counters::Counters;
use crate::dedup::DedupTable;
use crate::digest::ViewDigest;
use crate::error::{CommandError, ConfigError};
use crate::event::Event;
use crate::gossip_queue::{Entry, GossipQueue, RecordOf, Tracked, SELF_SLOT};
use crate::members::{MemberTable, Slot};
use crate::rtt::RttEstimate;
use crate::state::MemberState;
use crate::storage::{BoundedDeque, BoundedVec, Payload};
use crate::time::Instant;

pub use admission::{AdmissionPolicy, MAX_REFUSED};
pub use import::KnownMember;
use view::view;
pub use view::{LocalNode, LocalStatus, MemberView, QueueLengths, Transmit};

/// Most seeds `join` accepts at once.
pub const MAX_SEEDS: usize = 16;
/// Ping-reqs this node serves for others at once; more are dropped.
const MAX_RELAYS: usize = 32;
/// Push-pull exchange slots (the config can only lower it).
const MAX_SYNC_SLOTS: usize = 16;
/// Digests (sent or answered) a node computes per probe interval at most.
const MAX_DIGESTS_PER_INTERVAL: u8 = 16;

/// Digest requests awaiting an answer at once.
const MAX_DIGEST_REQUESTS: usize = 4;

/// Distinct accusers remembered per suspicion.
const MAX_ACCUSERS: usize = 8;
/// Last-chance pings whose acks are awaited at once.
const MAX_LAST_CHANCE: usize = 16;
/// Members corrected in one reply to a sender of stale accusations.
const MAX_CORRECTIONS: usize = 8;
/// Outgoing messages queued at once with `alloc` (without, the capacity `N`).
const OUTGOING_LIMIT: usize = 4096;

#[derive(Debug)]
struct Local<A, const B: usize> {
    id: Identity<A>,
    incarnation: u32,
    status: LocalStatus,
    meta: Payload<B>,
    meta_version: u32,
    state_gossip: Tracked,
    meta_gossip: Tracked,
    broadcast_epoch: u32,
    broadcast_seq: u32,
}

/// The probe of the current protocol period.
#[derive(Clone, Debug)]
struct Probe<A> {
    slot: Slot,
    target: Identity<A>,
    seq: u32,
    /// When the ping went out (round-trip samples).
    sent_at: Instant,
    direct_deadline: Instant,
    period_end: Instant,
    acked: bool,
    indirect_sent: bool,
    nacks_expected: u8,
    nacks_received: u8,
}

/// A ping-req this node serves for another member.
#[derive(Clone, Debug)]
struct Relay<A> {
    seq: u32,
    requester: A,
    requester_seq: u32,
    nack_at: Instant,
    expires: Instant,
    nack_sent: bool,
}

/// A suspicion this node times, whoever raised it (Lifeguard: every node
/// that learns a suspicion runs its own timer).
#[derive(Clone, Debug)]
struct Suspicion<A> {
    slot: Slot,
    incarnation: u32,
    started: Instant,
    deadline: Instant,
    accusers: FixedVec<A, MAX_ACCUSERS>,
    /// Lifeguard: the last-chance ping (carrying the suspicion) went out.
    last_chance_sent: bool,
    /// When to tell the suspect of the suspicion next (see
    /// `send_suspicion_notice`); `None` without Lifeguard.
    next_notice: Option<Instant>,
}

impl<A> Suspicion<A> {
    /// When this suspicion next needs attention: a notice to the suspect,
    /// the last-chance ping one probe timeout before the deadline, the
    /// deadline.
    fn next_step(&self, probe_timeout: Duration, lifeguard: bool) -> Instant {
        let step = if lifeguard && !self.last_chance_sent {
            self.deadline - probe_timeout
        } else {
            self.deadline
        };
        self.next_notice.map_or(step, |at| step.min(at))
    }
}

/// One direction of a push-pull exchange: the local table sent in chunks.
#[derive(Clone, Debug)]
struct SyncJob<A> {
    peer: A,
    flags: u8,
    /// Only the local node's own records (to a peer not yet verified).
    self_only: bool,
    /// An answer to the peer rather than this node's own initiative: held
    /// to the anti-amplification limit while the peer is not verified.
    reply: bool,
    /// Next slot index to send; `None` until the local node's own records
    /// went out.
    cursor: Option<u32>,
    /// Digest buckets covered (bit i: bucket i); `u32::MAX` for the whole
    /// table (a plain push-pull).
    buckets: u32,
}

/// What a ping carries besides the piggybacked records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Carry {
    /// The suspicion about the target, if any (Lifeguard's buddy system),
    /// then piggybacked records.
    Buddy,
    /// An accusation about the target, so that it refutes it, then
    /// piggybacked records.
    Accusation {
        state: MemberState,
        incarnation: u32,
    },
    /// Nothing: a bare ping to an address nobody verified.
    Nothing,
}

/// A message waiting for `poll_transmit`.
#[derive(Clone, Debug)]
enum Outgoing<A, const B: usize> {
    Ping {
        to: A,
        seq: u32,
        target: Identity<A>,
        slot: Slot,
        carry: Carry,
    },
    Ack {
        to: A,
        seq: u32,
    },
    PingReq {
        to: A,
        seq: u32,
        target: Identity<A>,
    },
    Nack {
        to: A,
        seq: u32,
    },
    Gossip {
        to: A,
    },
    /// Records the receiver holds an outdated accusation about, sent first.
    Correction {
        to: A,
        slots: FixedVec<Slot, MAX_CORRECTIONS>,
    },
    Direct {
        to: A,
        payload: Payload<B>,
    },
    /// The local node's own record, to a node that pinged another
    /// generation of this address.
    Announce {
        to: A,
    },
    /// A digest of the local view (anti-entropy), computed when written:
    /// `flags` say whether it asks for the peer's root
    /// (`DIGEST_WANT_REPLY`) or carries the bucket hashes
    /// (`DIGEST_BUCKETS`).
    Digest {
        to: A,
        flags: u8,
    },
}

#[derive(Clone, Copy, Debug)]
struct JoinState {
    next_attempt: Instant,
    backoff: Duration,
    /// Index of the seed the next attempt starts with.
    next_seed: usize,
}

/// A SWIM + Lifeguard node, sans-IO.
///
/// * `A`: the address type ([`Address`]).
/// * `R`: the random number generator (`rand_core::Rng`); seed it for
///   deterministic runs.
/// * `N`: the capacity of the member table and of every queue (events,
///   gossip, broadcasts, outgoing messages), in every build.
/// * `B`: the largest metadata, broadcast or message blob held, in bytes.
///
/// The runtime limits of the [`Config`] bound every table and queue
/// further. Without `alloc` the storage is inline; with it, on the heap,
/// and `N` and `B` may be [`UNBOUNDED`](crate::UNBOUNDED) to leave the
/// bounds to the `Config` alone.
///
/// See the [crate documentation](crate) for the run loop.
#[derive(Debug)]
pub struct Swim<A, R, const N: usize = 64, const B: usize = 64> {
    config: Config,
    rng: R,
    me: Local<A, B>,
    members: MemberTable<A, N, B>,
    gossip: GossipQueue<N>,
    broadcasts: BroadcastQueue<A, N, B>,
    dedup: DedupTable<A, N>,
    suspicions: BoundedVec<Suspicion<A>, N>,
    probe: Option<Probe<A>>,
    relays: BoundedVec<Relay<A>, MAX_RELAYS>,
    outgoing: BoundedDeque<Outgoing<A, B>, N>,
    syncs: BoundedVec<SyncJob<A>, MAX_SYNC_SLOTS>,
    events: BoundedDeque<Event<A, B>, N>,
    reap_queue: BoundedDeque<(Slot, Instant), N>,
    /// Unverified members waiting for their admission ping, with the time
    /// they were added (to recognise stale entries).
    admissions: BoundedDeque<(Slot, Instant), N>,
    /// Pings in flight whose answers decide claims (`checks` module).
    checks: FixedVec<checks::Check<A>, { checks::MAX_CHECKS }>,
    /// Anti-amplification credit of addresses not verified.
    ledger: Ledger<A>,
    /// Rate limit of push-pull replies.
    sync_limiter: SyncReplyLimiter<A>,
    seeds: FixedVec<A, MAX_SEEDS>,
    join: Option<JoinState>,
    /// A push-pull due with this node after the join completed.
    resync: Option<(Instant, A)>,
    /// Members the sender of the datagram being handled holds outdated
    /// accusations about (filled while merging, then answered).
    corrections: FixedVec<Slot, MAX_CORRECTIONS>,
    /// A member that said itself, in the datagram being handled, that it
    /// leaves (believed if the datagram answers a check of that member).
    declared_left: Option<Slot>,
    /// Sequence numbers of last-chance pings to suspects, so that their
    /// acks are recognised.
    last_chance_seqs: FixedVec<u32, MAX_LAST_CHANCE>,
    leave_done_at: Option<Instant>,
    health: u8,
    /// Round trips measured by this node's probes: how long to wait for acks.
    rtt: RttEstimate,
    /// Start of the current digest allowance window and digests computed
    /// in it (see `digest_budget`).
    digest_window: (Instant, u8),
    /// When a member held dead was last asked for its digest because it
    /// spoke again (at most one such exchange per quarter probe interval).
    last_reappearance: Option<Instant>,
    /// Digest requests this node sent, awaiting the peer's root: only
    /// those answers are followed up (a forged answer cannot make this
    /// node send its bucket hashes anywhere).
    digest_requests: FixedVec<(A, Instant), MAX_DIGEST_REQUESTS>,
    /// When a refutation last raised `health` (see `merge_about_self`).
    last_refutation_penalty: Option<Instant>,
    last_now: Instant,
    next_probe_at: Instant,
    next_gossip_at: Instant,
    next_sync_at: Instant,
    /// The embedder's admission rule and refused identities.
    admission: admission::Admission<A>,
    counters: Counters,
}

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// A node with `identity`, not yet part of any cluster: call
    /// [`Swim::join`], or wait for others to join through it.
    ///
    /// Fails if `config` does not [validate](Config::validate).
    pub fn new(
        identity: Identity<A>,
        config: Config,
        mut rng: R,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let members_limit = config.max_members as usize;
        let broadcast_epoch = rng.next_u32();
        let hash_key = rng.next_u64();
        let first_probe = now + jitter(&mut rng, config.probe_interval);
        let first_sync =
            now + config.push_pull_interval + jitter(&mut rng, config.push_pull_interval);
        let swim = Swim {
            me: Local {
                id: identity,
                incarnation: 0,
                status: LocalStatus::Idle,
                meta: Payload::new(),
                meta_version: 0,
                state_gossip: Tracked::default(),
                meta_gossip: Tracked::default(),
                broadcast_epoch,
                broadcast_seq: 0,
            },
            members: MemberTable::new(members_limit, hash_key),
            gossip: GossipQueue::new(members_limit.saturating_mul(4)),
            broadcasts: BroadcastQueue::new(usize::from(config.broadcast_queue_len)),
            dedup: DedupTable::new(usize::from(config.max_broadcast_origins)),
            suspicions: BoundedVec::new(),
            probe: None,
            relays: BoundedVec::new(),
            outgoing: BoundedDeque::new(),
            syncs: BoundedVec::new(),
            events: BoundedDeque::new(),
            reap_queue: BoundedDeque::new(),
            admissions: BoundedDeque::new(),
            checks: FixedVec::new(),
            ledger: Ledger::new(),
            sync_limiter: SyncReplyLimiter::new(config.sync_reply_rate, now),
            seeds: FixedVec::new(),
            join: None,
            resync: None,
            corrections: FixedVec::new(),
            declared_left: None,
            last_chance_seqs: FixedVec::new(),
            leave_done_at: None,
            health: 0,
            rtt: RttEstimate::default(),
            digest_window: (now, 0),
            last_reappearance: None,
            digest_requests: FixedVec::new(),
            last_refutation_penalty: None,
            last_now: now,
            next_probe_at: first_probe,
            next_gossip_at: now + config.gossip_interval,
            next_sync_at: first_sync,
            admission: admission::Admission::new(),
            counters: Counters::default(),
            config,
            rng,
        };
        Ok(swim)
    }

    /// Bytes of table storage each remembered member takes: its entry, its
    /// place in the probe order and its address index entry (with `alloc`,
    /// B-tree node overhead and metadata bytes come on top). Use it to size
    /// `N` on small targets.
    pub fn storage_bytes_per_member() -> usize {
        MemberTable::<A, N, B>::bytes_per_member()
    }

    /// Starts with `incarnation` instead of 0: for a node that persisted its
    /// last incarnation and restarts with the same identity.
    pub fn with_incarnation(mut self, incarnation: u32) -> Self {
        self.me.incarnation = incarnation;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Everything counted so far.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        c.health_score = self.health;
        c
    }

    /// How full each table and queue is, with its cap.
    pub fn queue_lengths(&self) -> QueueLengths {
        let cap = |limit: usize| BoundedVec::<(), N>::capacity_for(limit);
        QueueLengths {
            members: self.members.len(),
            members_cap: cap(self.config.max_members as usize),
            gossip: self.gossip.len(),
            gossip_cap: cap((self.config.max_members as usize).saturating_mul(4)),
            broadcasts: self.broadcasts.len(),
            broadcasts_cap: cap(usize::from(self.config.broadcast_queue_len)),
            events: self.events.len(),
            events_cap: cap(usize::from(self.config.event_queue_len)),
            outgoing: self.outgoing.len(),
            outgoing_cap: cap(OUTGOING_LIMIT),
            syncs: self.syncs.len(),
            syncs_cap: usize::from(self.config.max_concurrent_syncs).min(MAX_SYNC_SLOTS),
            suspicions: self.suspicions.len(),
            unverified: self.members.len() - self.members.verified_len(),
            admissions: self.admissions.len(),
            checks: self.checks.len(),
            checks_cap: checks::MAX_CHECKS,
        }
    }

    /// The local node.
    pub fn local(&self) -> LocalNode<'_, A> {
        LocalNode {
            identity: &self.me.id,
            incarnation: self.me.incarnation,
            status: self.me.status,
            health: self.health,
            metadata: &self.me.meta,
        }
    }

    /// Every remembered remote member (alive, suspect, dead or left), in no
    /// particular order. Members only claimed by others and not yet verified
    /// (they answer a ping naming them first) are not listed.
    pub fn members(&self) -> impl Iterator<Item = MemberView<'_, A>> + '_ {
        self.members.iter().filter(|m| m.verified).map(view)
    }

    /// The member at `addr`, if remembered and verified.
    pub fn member(&self, addr: &A) -> Option<MemberView<'_, A>> {
        self.members
            .get(self.members.find(addr)?)
            .filter(|m| m.verified)
            .map(view)
    }

    /// Remote members that are alive or suspect.
    pub fn active_members(&self) -> usize {
        self.members.active()
    }

    /// Cluster size as seen here: active remote members plus the local node.
    pub fn cluster_size(&self) -> usize {
        self.members.active() + 1
    }

    /// Joins the cluster through `seeds` (addresses of any members). Sends a
    /// push-pull request to each seed now, and again with exponential
    /// backoff (`join_retry_initial` up to `join_retry_max`) until one of
    /// them answers. The local node's own address is ignored; of more
    /// than [`MAX_SEEDS`] seeds, a random sample of `MAX_SEEDS` distinct
    /// ones is kept (uniform when the list has no repeats), so that a long
    /// list, such as every member of a saved table, costs no more than
    /// `MAX_SEEDS` exchanges.
    pub fn join(&mut self, now: Instant, seeds: &[A]) -> Result<(), CommandError> {
        let now = self.clamp(now);
        self.check_not_left()?;
        let mut list: FixedVec<A, MAX_SEEDS> = FixedVec::new();
        let mut offered = 0u32;
        for seed in seeds {
            if *seed == self.me.id.addr || list.contains(seed) {
                continue;
            }
            offered = offered.saturating_add(1);
            // Reservoir sampling: the k-th seed offered replaces a kept one
            // with probability MAX_SEEDS / k.
            if list.push(seed.clone()).is_err() {
                let pick = crate::members::bounded_random(&mut self.rng, offered) as usize;
                if let Some(kept) = list.get_mut(pick) {
                    *kept = seed.clone();
                }
            }
        }
        if list.is_empty() {
            return Err(CommandError::NoSeeds);
        }
        self.seeds = list;
        if self.me.status == LocalStatus::Idle {
            self.me.status = LocalStatus::Joining;
        }
        self.join = Some(JoinState {
            next_attempt: now,
            backoff: self.config.join_retry_initial,
            next_seed: 0,
        });
        self.attempt_join(now);
        Ok(())
    }

    /// Exchanges full membership state with the node at `peer` now (one
    /// push-pull), whether or not it is a known member: to heal a view the
    /// application knows to be incomplete, without changing the seed list.
    /// Refused with [`CommandError::SyncSlotsBusy`] while every push-pull
    /// slot is busy.
    pub fn sync_with(&mut self, now: Instant, peer: &A) -> Result<(), CommandError> {
        self.clamp(now);
        self.check_not_left()?;
        let busy =
            self.syncs.len() >= usize::from(self.config.max_concurrent_syncs).min(MAX_SYNC_SLOTS);
        if busy {
            return Err(CommandError::SyncSlotsBusy);
        }
        self.counters.syncs_started += 1;
        self.start_sync(peer.clone(), crate::wire::SYNC_WANT_REPLY);
        Ok(())
    }

    /// Leaves gracefully: gossips a "left" record about the local node for
    /// `leave_propagate_time`, then goes silent and reports
    /// [`LocalEvent::Left`](crate::LocalEvent::Left). Keep driving the run
    /// loop until then.
    pub fn leave(&mut self, now: Instant) -> Result<(), CommandError> {
        let now = self.clamp(now);
        self.check_not_left()?;
        if self.me.status == LocalStatus::Leaving {
            return Ok(());
        }
        self.me.status = LocalStatus::Leaving;
        self.join = None;
        self.resync = None;
        self.probe = None;
        self.requeue_self_state();
        self.leave_done_at = Some(now + self.config.leave_propagate_time);
        self.gossip_to_random_members(now);
        Ok(())
    }

    /// Publishes new metadata for the local node; every member receives it
    /// and reports [`Event::MemberUpdated`]. The metadata is one blob: this
    /// replaces all of it, key-value state set with
    /// [`Swim::set_local_state`] included.
    pub fn set_metadata(&mut self, now: Instant, metadata: &[u8]) -> Result<(), CommandError> {
        self.clamp(now);
        self.check_not_left()?;
        if metadata.len() > usize::from(self.config.max_metadata_len) {
            return Err(CommandError::MetadataTooLarge);
        }
        self.me.meta = Payload::from_slice(metadata).ok_or(CommandError::MetadataTooLarge)?;
        self.me.meta_version = self.me.meta_version.wrapping_add(1);
        self.requeue(SELF_SLOT, RecordOf::Meta);
        Ok(())
    }

    /// Sets `key` to `value` in the local node's key-value state, stored in
    /// its metadata (see [`kv`](crate::kv)): every member receives it and
    /// reports [`Event::MemberUpdated`]; read it with [`MemberView::state_value`].
    /// Replaces metadata set by [`Swim::set_metadata`] that is not in the
    /// key-value format.
    pub fn set_local_state(
        &mut self,
        now: Instant,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), CommandError> {
        self.rewrite_local_state(now, key, Some(value))
    }

    /// Removes `key` from the local node's key-value state.
    pub fn remove_local_state(&mut self, now: Instant, key: &[u8]) -> Result<(), CommandError> {
        self.rewrite_local_state(now, key, None)
    }

    fn rewrite_local_state(
        &mut self,
        now: Instant,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), CommandError> {
        let len = crate::kv::size_after(&self.me.meta, key, value);
        if len > usize::from(self.config.max_metadata_len) {
            return Err(CommandError::MetadataTooLarge);
        }
        let old = &self.me.meta;
        let meta = Payload::<B>::build(len, |buf| {
            crate::kv::rewrite(old, key, value, &mut crate::wire::codec::Writer::new(buf))
        })
        .ok_or(CommandError::MetadataTooLarge)?;
        self.set_metadata(now, &meta)
    }

    /// Sends `payload` to every member, piggybacked like membership updates.
    /// Each member reports it once as [`Event::Broadcast`]. A later broadcast
    /// with the same `key` replaces this one wherever it is still queued.
    ///
    /// Fails with [`CommandError::BroadcastQueueFull`] when
    /// `broadcast_queue_len` broadcasts are still being disseminated: retry
    /// after a few gossip intervals.
    pub fn broadcast(
        &mut self,
        now: Instant,
        key: Option<u64>,
        payload: &[u8],
    ) -> Result<(), CommandError> {
        self.clamp(now);
        self.check_not_left()?;
        if payload.len() > usize::from(self.config.max_payload_len) {
            return Err(CommandError::PayloadTooLarge);
        }
        let payload = Payload::from_slice(payload).ok_or(CommandError::PayloadTooLarge)?;
        let item = QueuedBroadcast {
            origin: self.me.id.clone(),
            epoch: self.me.broadcast_epoch,
            seq: self.me.broadcast_seq,
            key,
            payload,
            sent: 0,
            local: true,
        };
        match self.broadcasts.push(item) {
            Queued::Full => Err(CommandError::BroadcastQueueFull),
            _ => {
                self.me.broadcast_seq = self.me.broadcast_seq.wrapping_add(1);
                Ok(())
            }
        }
    }

    /// Sends `payload` to the live member at `to`, best effort (one datagram,
    /// no retry); it reports [`Event::Message`].
    pub fn send_message(
        &mut self,
        now: Instant,
        to: &A,
        payload: &[u8],
    ) -> Result<(), CommandError> {
        self.clamp(now);
        self.check_not_left()?;
        if payload.len() > usize::from(self.config.max_payload_len) {
            return Err(CommandError::PayloadTooLarge);
        }
        let known = self.members.find(to).and_then(|s| self.members.get(s));
        if !known.is_some_and(|m| m.is_full_active()) {
            return Err(CommandError::UnknownMember);
        }
        let payload = Payload::from_slice(payload).ok_or(CommandError::PayloadTooLarge)?;
        self.outgoing
            .push_back(
                Outgoing::Direct {
                    to: to.clone(),
                    payload,
                },
                OUTGOING_LIMIT,
            )
            .map_err(|_| CommandError::TransmitQueueFull)
    }

    /// The next event, if any. Poll until `None` after every input
    /// (`handle_*`, commands); events are produced only by inputs.
    pub fn poll_event(&mut self) -> Option<Event<A, B>> {
        self.events.pop_front()
    }

    /// When [`Swim::handle_timeout`] must be called next; `None` when the
    /// node has left. Ask again after every input, since inputs move it.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.me.status == LocalStatus::Left {
            return None;
        }
        let mut next = Instant::MAX;
        // A probe in flight runs to its end before the next one starts.
        if self.me.status != LocalStatus::Leaving && self.probe.is_none() {
            next = self.next_probe_at;
        }
        if let Some(p) = &self.probe {
            next = next.min(if p.acked || p.indirect_sent {
                p.period_end
            } else {
                p.direct_deadline
            });
        }
        for r in self.relays.iter() {
            next = next.min(if r.nack_sent { r.expires } else { r.nack_at });
        }
        let leaving = self.me.status == LocalStatus::Leaving;
        if (leaving || self.has_pending_gossip()) && !self.config.gossip_interval.is_zero() {
            next = next.min(self.next_gossip_at);
        }
        if !self.config.push_pull_interval.is_zero() {
            next = next.min(self.next_sync_at);
        }
        for s in self.suspicions.iter() {
            next = next.min(s.next_step(self.ack_timeout(), self.config.lifeguard));
        }
        if let Some(&(_, at)) = self.reap_queue.front() {
            next = next.min(at + self.config.dead_member_retention);
        }
        if let Some(j) = &self.join {
            next = next.min(j.next_attempt);
        }
        if let Some((at, _)) = &self.resync {
            next = next.min(*at);
        }
        if let Some(at) = self.leave_done_at {
            next = next.min(at);
        }
        for c in self.checks.iter() {
            next = next.min(c.deadline());
        }
        Some(next.max(self.last_now))
    }

    // ----- shared helpers -----

    fn check_not_left(&self) -> Result<(), CommandError> {
        if self.me.status == LocalStatus::Left {
            Err(CommandError::HasLeft)
        } else {
            Ok(())
        }
    }

    /// Clamps a `now` that went backwards to the last one, counting it.
    fn clamp(&mut self, now: Instant) -> Instant {
        if now < self.last_now {
            self.counters.clock_regressions += 1;
            self.last_now
        } else {
            self.last_now = now;
            now
        }
    }

    /// A fresh sequence number: random, so that nobody who does not see the
    /// ping can answer it.
    fn next_seq(&mut self) -> u32 {
        self.rng.next_u32()
    }

    /// Whether `addr` proved that it receives traffic there: it is a member
    /// that answered a ping naming it. Replies to other addresses are held
    /// to three times the bytes received from them.
    fn is_validated(&self, addr: &A) -> bool {
        self.members
            .find(addr)
            .and_then(|s| self.members.get(s))
            .is_some_and(|m| m.verified)
    }

    /// Queues an event for the application. When the queue is full but
    /// for one place, the newest event is dropped instead and counted, and
    /// the last place holds an [`Event::Lagged`] saying how many were:
    /// the application sees every event up to the gap, then the gap.
    fn emit(&mut self, event: Event<A, B>) {
        let limit = usize::from(self.config.event_queue_len);
        let room = BoundedVec::<Event<A, B>, N>::capacity_for(limit);
        if self.events.len() + 1 < room {
            let _ = self.events.push_back(event, limit);
            return;
        }
        self.counters.events_dropped += 1;
        match self.events.back_mut() {
            Some(Event::Lagged { dropped }) => *dropped = dropped.saturating_add(1),
            _ => {
                let _ = self.events.push_back(Event::Lagged { dropped: 1 }, limit);
            }
        }
    }

    fn send(&mut self, message: Outgoing<A, B>) {
        if self.outgoing.push_back(message, OUTGOING_LIMIT).is_err() {
            self.counters
                .drops
                .count(crate::counters::DropReason::TransmitQueueFull);
        }
    }

    /// The digest of the local view: active verified members and the local
    /// node itself (see the `digest` module). O(1): the member table keeps
    /// its members' share up to date; debug builds check it against a
    /// scan of the table.
    fn view_digest(&self) -> ViewDigest {
        let mut digest = *self.members.digest();
        self.add_self_to(&mut digest);
        #[cfg(debug_assertions)]
        assert_eq!(
            digest,
            self.view_digest_by_scan(),
            "digest kept by the table"
        );
        digest
    }

    /// Adds the local node to `digest` while it is active.
    fn add_self_to(&self, digest: &mut ViewDigest) {
        if self.self_state().is_active() {
            let me = &self.me;
            digest.add(
                &me.id.addr,
                me.id.generation,
                me.incarnation,
                me.meta_version,
            );
        }
    }

    /// The digest of the local view, computed from scratch: O(members).
    #[cfg(debug_assertions)]
    fn view_digest_by_scan(&self) -> ViewDigest {
        let mut digest = ViewDigest::default();
        self.add_self_to(&mut digest);
        for m in self.members.iter() {
            if m.is_full_active() {
                digest.add(&m.id.addr, m.id.generation, m.incarnation, m.meta_version);
            }
        }
        digest
    }

    /// Takes one digest computation from this probe interval's allowance;
    /// false (counted) when it is spent, so that digests sent to this node
    /// cannot make it compare and answer without bound.
    fn digest_budget(&mut self, now: Instant) -> bool {
        let (start, used) = self.digest_window;
        if now >= start + self.config.probe_interval {
            self.digest_window = (now, 1);
            return true;
        }
        if used >= MAX_DIGESTS_PER_INTERVAL {
            self.counters.digests_refused += 1;
            return false;
        }
        self.digest_window = (start, used + 1);
        true
    }

    /// How long to wait for an ack: adapted to the measured round trips,
    /// within `probe_timeout_min..=probe_timeout` (before Lifeguard's health
    /// multiplier, which probes apply on top).
    fn ack_timeout(&self) -> Duration {
        self.rtt
            .timeout(self.config.probe_timeout_min, self.config.probe_timeout)
    }

    /// Transmissions of each membership update. Counted over every member
    /// remembered, dead and left ones too (as memberlist does): when part
    /// of the cluster becomes unreachable, news must still reach every
    /// member of the rest, though some of the sends go to members that
    /// cannot receive them.
    fn retransmit_limit(&self) -> u8 {
        crate::math::retransmit_limit(self.config.retransmit_mult, self.members.verified_len() + 1)
    }

    fn has_pending_gossip(&self) -> bool {
        !self.gossip.is_empty() || !self.broadcasts.is_empty()
    }

    /// Queues a record for dissemination from scratch (it was new or
    /// changed); any older queue entry for it becomes stale.
    fn requeue(&mut self, slot: Slot, record: RecordOf) {
        let stamp = self.gossip.stamp();
        let Some(tracked) = tracked_mut(&mut self.members, &mut self.me, slot, record) else {
            return;
        };
        *tracked = Tracked { sent: 0, stamp };
        let (members, me) = (&self.members, &self.me);
        let current = |e: &Entry| {
            tracked_of(members, me, e.slot, e.record).is_some_and(|t| t.stamp == e.stamp)
        };
        if !self.gossip.push_new(
            Entry {
                slot,
                record,
                stamp,
            },
            current,
        ) {
            // The most transmitted record lost its remaining sends; push-pull
            // still carries it.
            self.counters.gossip_queue_overflow += 1;
        }
    }

    /// Queues the local node's state record for dissemination from scratch.
    fn requeue_self_state(&mut self) {
        self.requeue(SELF_SLOT, RecordOf::State);
    }

    /// Queues a member's state record for dissemination from scratch.
    fn requeue_member_state(&mut self, slot: Slot) {
        self.requeue(slot, RecordOf::State);
    }

    fn self_state(&self) -> MemberState {
        match self.me.status {
            LocalStatus::Leaving | LocalStatus::Left => MemberState::Left,
            _ => MemberState::Alive,
        }
    }
}

/// Dissemination progress of a record of the local node (`SELF_SLOT`) or of
/// a member.
fn tracked_of<'a, A: Address, const N: usize, const B: usize>(
    members: &'a MemberTable<A, N, B>,
    me: &'a Local<A, B>,
    slot: Slot,
    record: RecordOf,
) -> Option<&'a Tracked> {
    let (state, meta) = if slot == SELF_SLOT {
        (&me.state_gossip, &me.meta_gossip)
    } else {
        let m = members.get(slot)?;
        (&m.state_gossip, &m.meta_gossip)
    };
    Some(match record {
        RecordOf::State => state,
        RecordOf::Meta => meta,
    })
}

/// Mutable form of [`tracked_of`].
fn tracked_mut<'a, A: Address, const N: usize, const B: usize>(
    members: &'a mut MemberTable<A, N, B>,
    me: &'a mut Local<A, B>,
    slot: Slot,
    record: RecordOf,
) -> Option<&'a mut Tracked> {
    let (state, meta) = if slot == SELF_SLOT {
        (&mut me.state_gossip, &mut me.meta_gossip)
    } else {
        let m = members.get_mut(slot)?;
        (&mut m.state_gossip, &mut m.meta_gossip)
    };
    Some(match record {
        RecordOf::State => state,
        RecordOf::Meta => meta,
    })
}

/// A random duration in `0..d`, to spread periodic timers across nodes.
fn jitter(rng: &mut impl Rng, d: Duration) -> Duration {
    let micros = crate::time::duration_micros(d);
    if micros == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(rng.next_u64() % micros)
}

#[cfg(test)]
mod queue_length_tests {
    use super::QueueLengths;

    #[test]
    fn over_caps_names_each_full_queue() {
        let within = QueueLengths {
            members: 3,
            members_cap: 3,
            gossip_cap: 12,
            broadcasts_cap: 4,
            events_cap: 8,
            outgoing_cap: 16,
            syncs: 2,
            syncs_cap: 2,
            ..QueueLengths::default()
        };
        assert_eq!(within.over_caps().count(), 0);
        let over = QueueLengths {
            gossip: 13,
            outgoing: 17,
            suspicions: 4,
            ..within
        };
        let names = over.over_caps().map(|(n, ..)| n);
        assert!(names.eq(["gossip", "outgoing", "suspicions"]), "{over:?}");
    }
}
