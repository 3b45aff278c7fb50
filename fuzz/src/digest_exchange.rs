//! The property behind the `digest_exchange` fuzz target: a hostile member
//! drives swim-core's digest anti-entropy (wire types 8 `Digest` and 9
//! `SyncBuckets`, docs/wire-format.md, "Anti-entropy") and cannot make an
//! honest node do unbounded work, nor corrupt what the honest nodes end up
//! agreeing on.
//!
//! Two or three honest nodes (addresses `0..n`) and the hostile peer's own
//! node (address `n`, so that it is a verified member whose digests are
//! answered) join on a lossless network (every datagram arrives at once,
//! every timer fires on time). Then the input's steps let time pass and
//! deliver forged datagrams to the honest nodes: digest requests, root
//! answers (also to requests the honest node really sent), bucket hashes,
//! SyncBuckets chunks with membership and metadata records, bursts, and
//! byte-level mutations of digests seen on the wire, claimed from the
//! hostile peer, from an honest node or from an address where nobody runs
//! (`OUTSIDER..`). Checked after every forged datagram and every step:
//!
//! 1. **Accounting.** A datagram that does not decode is counted as a
//!    drop and answered with nothing. A digest has exactly one counted
//!    outcome: answered with a root, refused by the digest budget
//!    (`digests_refused`), dropped as not from a member or as an
//!    unexpected answer, found equal, answered with bucket hashes, refused
//!    by the push-pull reply rate limit, or a repair / full sync started.
//! 2. **No amplification.** A root answer is no larger than the digest it
//!    answers; bucket hashes go only to a peer this node asked within the
//!    last probe interval; Sync and SyncBuckets chunks drawn by forged
//!    input carry at most one table (`members + 2` chunks) and go to a
//!    member at most once per quarter probe interval.
//! 3. **Bounded work.** A node sends at most 2 x 16 digests in any probe
//!    interval (16 digest computations per interval, two windows
//!    overlapping); every table and queue stays within its cap; members
//!    at most `max_members`; everything queued goes out in one drain.
//! 4. **No corruption.** No node ever reports a running node failed or
//!    left; no node lists an address where nobody runs as active.
//! 5. **Convergence.** Once the forged input stops, within
//!    [`QUIET_SECS`] virtual seconds every node holds every other node
//!    alive at its current generation and incarnation, and a further
//!    three anti-entropy rounds find the views equal (no repair, no full
//!    sync), metadata and its version included (a member refutes forged
//!    Meta records about itself; emptied metadata travels in repairs).
//!
//! Like `checks.rs`, this file is also compiled into swim-core's
//! `tests/corpus_replay.rs` by path, so it only uses `std`, `swim_core`,
//! `arbitrary`, `rand_core` and `rand_pcg`, and every configured limit stays
//! within the storage capacities, so that builds with and without swim-core's
//! `alloc` feature behave the same.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::wire::codec::Writer;
use swim_core::wire::{
    encode_packet_start, encode_record, Message, Packet, Record, DIGEST_BUCKETS,
    DIGEST_BUCKETS_LEN, DIGEST_WANT_REPLY, SYNC_WANT_REPLY,
};
use swim_core::{Config, Counters, Event, Identity, Instant, MemberState, Swim};

/// Member table and queue capacity without `alloc`.
const CAP: usize = 64;
/// Blob capacity without `alloc`.
const BLOB: usize = 256;
/// Most steps of one input.
pub const MAX_STEPS: usize = 96;
/// First address where nobody runs.
const OUTSIDER: u32 = 100;
/// Addresses where nobody runs: `OUTSIDER..OUTSIDER + OUTSIDERS`.
const OUTSIDERS: u32 = 16;
/// Digest computations a node allows itself per probe interval
/// (docs/wire-format.md, "Anti-entropy").
const DIGESTS_PER_INTERVAL: usize = 16;
/// Virtual seconds the honest nodes get to converge after the forged input.
pub const QUIET_SECS: u64 = 60;
/// Timer rounds one `Advance` step may take (keeps executions fast).
const ROUNDS_PER_STEP: usize = 512;
/// Rounds of datagrams answering each other at one instant before the
/// harness gives up (the nodes would be looping).
const FLUSH_ROUNDS: usize = 64;

type Node = Swim<u32, Pcg32, CAP, BLOB>;

thread_local! {
    /// What the forged datagrams of the inputs run on this thread drew.
    static TALLY: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// Counts one outcome in the tally.
fn note(outcome: &'static str) {
    TALLY.with(|t| *t.borrow_mut().entry(outcome).or_default() += 1);
}

/// Takes the tally of outcomes of the inputs run on this thread since the
/// last call: how often forged datagrams were dropped undecoded, digests
/// answered, refused, found equal, repairs started, tables sent, and how
/// many inputs converged afterwards. The corpus replay test checks that
/// the seed corpus reaches every one of them.
pub fn take_tally() -> BTreeMap<&'static str, u64> {
    TALLY.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// Every outcome [`take_tally`] can report.
pub const OUTCOMES: &[&str] = &[
    "undecodable: dropped",
    "digest: not from a member",
    "digest: root answered",
    "digest: refused by the budget",
    "digest: unexpected answer",
    "digest: views equal",
    "digest: bucket hashes sent",
    "digest: reply rate limited",
    "digest: bucket repair started",
    "digest: full sync started",
    "forged input: table chunks sent",
    "converged after forged input",
];

/// The structured input.
#[derive(Arbitrary, Debug)]
pub struct DigestExchangeInput {
    seed: u64,
    /// 2 or 3 honest nodes.
    honest: u8,
    /// Packet budget 1400 instead of 512.
    large_budget: bool,
    /// Anti-entropy every second instead of the LAN preset's 5 s.
    fast_rounds: bool,
    /// A push-pull reply rate of 600 B/s instead of the default.
    low_reply_rate: bool,
    /// `max_members`: 8, 16 or 32.
    members: u8,
    steps: Vec<DStep>,
}

/// Who a forged datagram claims to come from.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FFrom {
    /// The hostile peer's address: a verified member.
    Hostile,
    /// An honest node's address (spoofed): also a verified member.
    Honest(u8),
    /// An address where nobody runs.
    Outsider(u8),
}

/// A root hash: a real one seen on the wire, or any value.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FRoot {
    Seen(u8),
    Value(u64),
}

/// Bucket hashes: seen on the wire (one bucket changed, perhaps), all
/// zero, or bytes of the input.
#[derive(Arbitrary, Debug, Clone)]
pub enum FBuckets {
    Seen { nth: u8, flip: Option<u8> },
    Zero,
    Bytes(Vec<u8>),
}

/// A member a forged record is about.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FAbout {
    /// A running node (honest or the hostile peer's).
    Node(u8),
    Outsider(u8),
}

/// A record of a forged SyncBuckets chunk. Generations and incarnations are
/// near the real ones (other magnitudes are the `state_machine` target's).
#[derive(Arbitrary, Debug, Clone)]
pub enum FRecord {
    Member {
        state: u8,
        about: FAbout,
        /// -1, 0 or +1 around the real generation.
        generation: i8,
        /// -3 to +4 around the real incarnation.
        incarnation: i8,
        accuser: FAbout,
    },
    Meta {
        about: FAbout,
        version: u8,
        len: u8,
    },
}

/// One step of the input.
#[derive(Arbitrary, Debug, Clone)]
pub enum DStep {
    /// Lets time pass, every timer firing on time.
    Advance { ms: u16 },
    /// A digest: flags `flags & 3`, or the raw byte `bad_flags`.
    Digest {
        to: u8,
        from: FFrom,
        flags: u8,
        bad_flags: Option<u8>,
        root: FRoot,
        count: Option<u32>,
        buckets: FBuckets,
    },
    /// Waits (at most three anti-entropy intervals) until node `to` asks
    /// the hostile peer for its digest, then answers at once with `root`.
    AnswerRequest {
        to: u8,
        root: FRoot,
        count: Option<u32>,
    },
    /// `copies` (up to 64) digest requests at one instant.
    Burst { to: u8, copies: u8, root: FRoot },
    /// A SyncBuckets chunk with records: flags `flags & 1`, or the raw
    /// byte `bad_flags`.
    SyncBuckets {
        to: u8,
        from: FFrom,
        flags: u8,
        bad_flags: Option<u8>,
        buckets: u32,
        records: Vec<FRecord>,
    },
    /// A digest or SyncBuckets datagram seen on the wire, with one byte
    /// changed and perhaps cut short.
    Mutate {
        nth: u8,
        to: u8,
        from: FFrom,
        at: u16,
        xor: u8,
        cut: Option<u16>,
    },
}

/// A datagram between two addresses.
#[derive(Debug, Clone)]
struct Wire {
    from: u32,
    to: u32,
    bytes: Vec<u8>,
}

/// What the checks remember about one node.
#[derive(Default)]
struct Books {
    /// Digest requests this node sent: (peer, time).
    requests: Vec<(u32, Instant)>,
    /// Times of the digests this node sent, oldest first (recent ones).
    digests: Vec<Instant>,
    /// Last time forged input drew Sync or SyncBuckets chunks to a peer.
    drawn_sync: BTreeMap<u32, Instant>,
}

struct Harness {
    config: Config,
    nodes: Vec<Node>,
    books: Vec<Books>,
    honest: usize,
    now: Instant,
    in_flight: Vec<Wire>,
    /// Recent digest and SyncBuckets datagrams between nodes.
    seen: Vec<Wire>,
    /// The honest node whose next digest request to the hostile peer is
    /// held back (the hostile peer's node never sees it), so that a forged
    /// answer comes first; set to `None` once one was.
    intercept: Option<usize>,
}

fn structured<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}

fn decode(bytes: &[u8], tag: u32) -> Option<Message<'_, u32>> {
    Packet::<u32>::decode(bytes, tag).ok().map(|p| p.message)
}

fn is_sync(m: &Message<'_, u32>) -> bool {
    matches!(m, Message::Sync { .. } | Message::SyncBuckets { .. })
}

/// Reads one counter.
type Counter = fn(&Counters) -> u64;

/// The counters that tell what became of a digest.
fn digest_outcomes(c: &Counters) -> u64 {
    c.digests_refused
        + c.drops.not_member
        + c.drops.unexpected_ack
        + c.digests_equal
        + c.sync_replies_limited
        + c.digest_repairs
        + c.syncs_started
}

impl Harness {
    fn total(&self) -> u32 {
        self.nodes.len() as u32
    }

    fn hostile(&self) -> u32 {
        self.honest as u32
    }

    fn honest_index(&self, n: u8) -> usize {
        usize::from(n) % self.honest
    }

    fn source(&self, from: FFrom, to: usize) -> u32 {
        match from {
            FFrom::Hostile => self.hostile(),
            FFrom::Honest(n) => {
                let i = usize::from(n) % self.honest;
                if i == to {
                    self.hostile()
                } else {
                    i as u32
                }
            }
            FFrom::Outsider(n) => OUTSIDER + u32::from(n) % OUTSIDERS,
        }
    }

    fn about(&self, a: FAbout) -> u32 {
        match a {
            FAbout::Node(n) => u32::from(n) % self.total(),
            FAbout::Outsider(n) => OUTSIDER + u32::from(n) % OUTSIDERS,
        }
    }

    /// Drains node `i` after an input: checks every datagram and the
    /// bounds, books what it sent, queues it for delivery, checks the
    /// events. Returns what it sent.
    fn drain(&mut self, i: usize) -> Vec<Wire> {
        let now = self.now;
        let tag = self.config.cluster_tag;
        let budget = usize::from(self.config.packet_budget);
        let interval = self.config.probe_interval;
        let mut buf = vec![0u8; budget];
        let mut sent = Vec::new();
        let node = &mut self.nodes[i];
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            assert!(sent.len() < 10_000, "poll_transmit never returns None");
            assert!(t.len <= budget, "a datagram exceeds the packet budget");
            let bytes = buf[..t.len].to_vec();
            let message = decode(&bytes, tag)
                .unwrap_or_else(|| panic!("node {i} sent a datagram it cannot decode"));
            let books = &mut self.books[i];
            if let Message::Digest { flags, .. } = message {
                if flags & DIGEST_WANT_REPLY != 0 {
                    books.requests.push((t.destination, now));
                }
                books.digests.retain(|&at| now < at + interval);
                books.digests.push(now);
                assert!(
                    books.digests.len() <= 2 * DIGESTS_PER_INTERVAL,
                    "node {i} sent {} digests within one probe interval",
                    books.digests.len()
                );
            }
            books.requests.retain(|&(_, at)| now < at + interval);
            if matches!(message, Message::Digest { .. }) || is_sync(&message) {
                if self.seen.len() == 64 {
                    self.seen.remove(0);
                }
                self.seen.push(Wire {
                    from: i as u32,
                    to: t.destination,
                    bytes: bytes.clone(),
                });
            }
            let held = self.intercept == Some(i)
                && t.destination == self.honest as u32
                && matches!(message, Message::Digest { flags, .. } if flags & DIGEST_WANT_REPLY != 0);
            if held {
                self.intercept = None;
                continue;
            }
            sent.push(Wire {
                from: i as u32,
                to: t.destination,
                bytes,
            });
        }
        let total = self.nodes.len() as u32;
        let node = &mut self.nodes[i];
        while let Some(event) = node.poll_event() {
            if let Event::MemberFailed(id) | Event::MemberLeft(id) = &event {
                assert!(
                    id.addr >= total,
                    "node {i} reported running node {} gone: {event:?}",
                    id.addr
                );
            }
        }
        let q = node.queue_lengths();
        if let Some((name, len, cap)) = q.over_caps().next() {
            panic!("node {i}: {name} holds {len}, over its cap {cap}");
        }
        assert_eq!(
            (q.outgoing, q.syncs),
            (0, 0),
            "node {i}: drained, yet something is pending"
        );
        let listed = node.members().count();
        assert!(
            listed <= self.config.max_members as usize,
            "node {i} lists {listed} members, more than max_members"
        );
        for m in node.members() {
            assert!(
                m.identity.addr < total || !m.state.is_active(),
                "node {i} lists {} active, where nobody runs",
                m.identity.addr
            );
        }
        self.in_flight.extend(sent.iter().cloned());
        sent
    }

    /// Delivers every datagram in flight (to running nodes) until none is.
    fn flush(&mut self) {
        for _ in 0..FLUSH_ROUNDS {
            if self.in_flight.is_empty() {
                return;
            }
            for w in std::mem::take(&mut self.in_flight) {
                if let Some(i) = (w.to < self.total()).then_some(w.to as usize) {
                    let now = self.now;
                    self.nodes[i].handle_datagram(now, w.from, &w.bytes);
                    self.drain(i);
                }
            }
        }
        panic!("the nodes keep answering each other at one instant");
    }

    /// Lets `span` pass with every timer firing when due, at most `rounds`
    /// timer rounds (then the clock stays where it got). False if the
    /// rounds ran out.
    fn run(&mut self, span: Duration, rounds: usize) -> bool {
        let end = self.now + span;
        for _ in 0..rounds {
            self.flush();
            let now = self.now;
            for i in 0..self.nodes.len() {
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= now) {
                    self.nodes[i].handle_timeout(now);
                    self.drain(i);
                }
            }
            self.flush();
            if now >= end {
                return true;
            }
            let next = self
                .nodes
                .iter()
                .filter_map(|n| n.poll_timeout())
                .min()
                .unwrap_or(end);
            self.now = next.max(now + Duration::from_micros(1)).min(end);
        }
        false
    }

    /// A root seen on the wire (the `nth` newest digest), or `value`.
    fn root(&self, r: FRoot) -> (u64, u32) {
        let tag = self.config.cluster_tag;
        match r {
            FRoot::Value(v) => (v, (v % 97) as u32),
            FRoot::Seen(nth) => self
                .seen
                .iter()
                .rev()
                .filter_map(|w| match decode(&w.bytes, tag) {
                    Some(Message::Digest { root, count, .. }) => Some((root, count)),
                    _ => None,
                })
                .nth(usize::from(nth) % 8)
                .unwrap_or((0, 0)),
        }
    }

    fn buckets(&self, b: &FBuckets) -> Vec<u8> {
        let tag = self.config.cluster_tag;
        match b {
            FBuckets::Zero => vec![0; DIGEST_BUCKETS_LEN],
            FBuckets::Bytes(bytes) => {
                let mut v = bytes.clone();
                v.resize(DIGEST_BUCKETS_LEN, 0);
                v
            }
            FBuckets::Seen { nth, flip } => {
                let mut v = self
                    .seen
                    .iter()
                    .rev()
                    .filter_map(|w| match decode(&w.bytes, tag) {
                        Some(Message::Digest { buckets, .. }) if !buckets.is_empty() => {
                            Some(buckets.to_vec())
                        }
                        _ => None,
                    })
                    .nth(usize::from(*nth) % 4)
                    .unwrap_or_else(|| vec![0; DIGEST_BUCKETS_LEN]);
                if let Some(f) = flip {
                    v[usize::from(*f) % DIGEST_BUCKETS_LEN] ^= 0x5a;
                }
                v
            }
        }
    }

    /// A digest with `flags` (valid bits) or the raw flags byte `bad`.
    fn digest_bytes(
        &self,
        flags: u8,
        bad: Option<u8>,
        root: (u64, u32),
        buckets: &[u8],
    ) -> Vec<u8> {
        let valid = flags & (DIGEST_WANT_REPLY | DIGEST_BUCKETS);
        let buckets = if valid & DIGEST_BUCKETS != 0 {
            buckets
        } else {
            &[]
        };
        let message: Message<'_, u32> = Message::Digest {
            flags: valid,
            root: root.0,
            count: root.1,
            buckets,
        };
        let mut buf = vec![0u8; 512];
        let mut w = Writer::new(&mut buf);
        encode_packet_start(&mut w, self.config.cluster_tag, &message).expect("a digest fits");
        let len = w.len();
        buf.truncate(len);
        // Bits that are not allowed: written over the flags byte (after
        // version, cluster tag and message type).
        if let Some(bad) = bad {
            buf[6] = bad;
        }
        buf
    }

    fn sync_bytes(&self, flags: u8, buckets: u32, records: &[FRecord]) -> Vec<u8> {
        let mut buf = vec![0u8; usize::from(self.config.packet_budget)];
        let mut w = Writer::new(&mut buf);
        let message: Message<'_, u32> = Message::SyncBuckets {
            flags: flags & SYNC_WANT_REPLY,
            buckets,
        };
        encode_packet_start(&mut w, self.config.cluster_tag, &message).expect("fits");
        let data = [0x6b; BLOB];
        for r in records {
            let record = match r {
                FRecord::Member {
                    state,
                    about,
                    generation,
                    incarnation,
                    accuser,
                } => {
                    let addr = self.about(*about);
                    let (g, inc) = self.real(addr);
                    let g = g.saturating_add_signed(i32::from(*generation % 2));
                    let inc = inc.saturating_add_signed(i32::from(*incarnation % 4));
                    let state = match state % 4 {
                        0 => MemberState::Alive,
                        1 => MemberState::Suspect,
                        2 => MemberState::Dead,
                        _ => MemberState::Left,
                    };
                    Record::Member {
                        state,
                        id: Identity::new(addr, g),
                        incarnation: inc,
                        accuser: (state == MemberState::Suspect).then(|| self.about(*accuser)),
                        suspicion_age_ms: 0,
                    }
                }
                FRecord::Meta {
                    about,
                    version,
                    len,
                } => {
                    let addr = self.about(*about);
                    Record::Meta {
                        id: Identity::new(addr, self.real(addr).0),
                        version: u32::from(*version),
                        data: &data[..usize::from(*len) % 64],
                    }
                }
            };
            if encode_record(&mut w, &record).is_none() {
                break;
            }
        }
        let len = w.len();
        buf.truncate(len);
        buf
    }

    /// The generation and incarnation of the node at `addr` (1, 0 for an
    /// outsider).
    fn real(&self, addr: u32) -> (u32, u32) {
        self.nodes.get(addr as usize).map_or((1, 0), |n| {
            let l = n.local();
            (l.identity.generation, l.incarnation)
        })
    }

    /// Delivers a forged datagram to honest node `i` and checks what it
    /// drew (properties 1 and 2).
    fn forge(&mut self, i: usize, from: u32, bytes: &[u8]) {
        let now = self.now;
        let tag = self.config.cluster_tag;
        let interval = self.config.probe_interval;
        let before = self.nodes[i].counters();
        let asked = self.books[i]
            .requests
            .iter()
            .any(|&(peer, at)| peer == from && now < at + interval);
        self.nodes[i].handle_datagram(now, from, bytes);
        let sent = self.drain(i);
        let after = self.nodes[i].counters();
        let to_source: Vec<Message<'_, u32>> = sent
            .iter()
            .filter(|w| w.to == from)
            .filter_map(|w| decode(&w.bytes, tag))
            .collect();
        let Some(message) = decode(bytes, tag) else {
            assert_eq!(
                after.drops.total(),
                before.drops.total() + 1,
                "node {i}: an undecodable datagram was not counted as one drop"
            );
            assert!(
                to_source.is_empty(),
                "node {i} answered an undecodable datagram"
            );
            note("undecodable: dropped");
            return;
        };
        let answers: Vec<&Message<'_, u32>> = to_source
            .iter()
            .filter(
                |m| matches!(m, Message::Digest { flags, .. } if flags & DIGEST_WANT_REPLY == 0),
            )
            .collect();
        let chunks = to_source.iter().filter(|m| is_sync(m)).count();
        if let Message::Digest { .. } = message {
            let outcomes = digest_outcomes(&after) - digest_outcomes(&before);
            assert_eq!(
                outcomes + answers.len() as u64,
                1,
                "node {i}: a digest must have exactly one counted outcome \
                 ({outcomes} counted, {} digests sent back)",
                answers.len()
            );
            let counted: [(&str, Counter); 7] = [
                ("digest: not from a member", |c| c.drops.not_member),
                ("digest: refused by the budget", |c| c.digests_refused),
                ("digest: unexpected answer", |c| c.drops.unexpected_ack),
                ("digest: views equal", |c| c.digests_equal),
                ("digest: reply rate limited", |c| c.sync_replies_limited),
                ("digest: bucket repair started", |c| c.digest_repairs),
                ("digest: full sync started", |c| c.syncs_started),
            ];
            for (outcome, counted) in counted {
                if counted(&after) > counted(&before) {
                    note(outcome);
                }
            }
            for a in &answers {
                let Message::Digest { flags, .. } = a else {
                    unreachable!()
                };
                if flags & DIGEST_BUCKETS != 0 {
                    assert!(
                        asked,
                        "node {i} sent bucket hashes to a peer it did not ask"
                    );
                    note("digest: bucket hashes sent");
                } else {
                    note("digest: root answered");
                }
            }
            let answer_len = sent
                .iter()
                .filter(|w| w.to == from)
                .filter(|w| {
                    matches!(decode(&w.bytes, tag), Some(Message::Digest { flags, .. }) if flags == 0)
                })
                .map(|w| w.bytes.len())
                .max();
            if let Some(len) = answer_len {
                assert!(
                    len <= bytes.len(),
                    "node {i} answered a {} byte digest with a {len} byte root",
                    bytes.len()
                );
            }
        }
        if chunks > 0 {
            note("forged input: table chunks sent");
            let members = self.nodes[i].members().count();
            assert!(
                chunks <= members + 2,
                "node {i} sent {chunks} chunks for a table of {members} members"
            );
            // Tables for members pass the push-pull reply limiter; other
            // sources get only the node's own records (anti-amplification).
            if from < self.total() {
                let spacing = interval / 4;
                if let Some(&last) = self.books[i].drawn_sync.get(&from) {
                    assert!(
                        now >= last + spacing,
                        "node {i} sent its table to {from} twice within a quarter probe interval"
                    );
                }
                self.books[i].drawn_sync.insert(from, now);
            }
        }
    }

    /// Every node holds every other node alive at its current identity.
    fn converged(&self) -> bool {
        self.nodes.iter().enumerate().all(|(i, n)| {
            self.nodes.iter().enumerate().all(|(j, other)| {
                let l = other.local();
                i == j
                    || n.member(&(j as u32)).is_some_and(|m| {
                        m.state == MemberState::Alive
                            && *m.identity == *l.identity
                            && m.incarnation == l.incarnation
                    })
            })
        })
    }

    /// Every node's own identity and incarnation and its view of the
    /// others, for failure messages.
    fn dump(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let l = n.local();
            out += &format!(
                "node {i}: generation {} incarnation {} metadata {:?}\n",
                l.identity.generation, l.incarnation, l.metadata
            );
            for m in n.members() {
                out += &format!(
                    "  {} g{} i{} {:?} meta v{} {:?}\n",
                    m.identity.addr,
                    m.identity.generation,
                    m.incarnation,
                    m.state,
                    m.metadata_version,
                    m.metadata
                );
            }
        }
        out
    }

    /// A node `i` holding metadata of node `j` other than `j`'s own.
    fn forged_metadata(&self) -> Option<(usize, usize)> {
        self.nodes.iter().enumerate().find_map(|(i, n)| {
            n.members()
                .filter(|m| (m.identity.addr as usize) < self.nodes.len())
                .find(|m| {
                    let owner = &self.nodes[m.identity.addr as usize];
                    m.metadata != owner.local().metadata
                })
                .map(|m| (i, m.identity.addr as usize))
        })
    }

    fn step(&mut self, step: DStep) {
        let now = self.now;
        match step {
            DStep::Advance { ms } => {
                self.run(Duration::from_millis(u64::from(ms) * 8), ROUNDS_PER_STEP);
            }
            DStep::Digest {
                to,
                from,
                flags,
                bad_flags,
                root,
                count,
                buckets,
            } => {
                let i = self.honest_index(to);
                let src = self.source(from, i);
                let mut r = self.root(root);
                if let Some(c) = count {
                    r.1 = c;
                }
                let bytes = self.digest_bytes(flags, bad_flags, r, &self.buckets(&buckets));
                self.forge(i, src, &bytes);
            }
            DStep::AnswerRequest { to, root, count } => {
                let i = self.honest_index(to);
                let hostile = self.hostile();
                let end = now + self.config.push_pull_interval * 3;
                self.intercept = Some(i);
                while self.now < end && self.intercept.is_some() {
                    if !self.run(Duration::from_millis(100), 64) {
                        break;
                    }
                }
                if self.intercept.take().is_some() {
                    return; // no request within the wait
                }
                let mut r = self.root(root);
                if let Some(c) = count {
                    r.1 = c;
                }
                let bytes = self.digest_bytes(0, None, r, &[]);
                self.forge(i, hostile, &bytes);
            }
            DStep::Burst { to, copies, root } => {
                let i = self.honest_index(to);
                let bytes = self.digest_bytes(DIGEST_WANT_REPLY, None, self.root(root), &[]);
                for _ in 0..copies % 65 {
                    self.forge(i, self.hostile(), &bytes);
                }
            }
            DStep::SyncBuckets {
                to,
                from,
                flags,
                bad_flags,
                buckets,
                records,
            } => {
                let i = self.honest_index(to);
                let src = self.source(from, i);
                let mut bytes = self.sync_bytes(flags, buckets, &records);
                if let Some(bad) = bad_flags {
                    bytes[6] = bad;
                }
                self.forge(i, src, &bytes);
            }
            DStep::Mutate {
                nth,
                to,
                from,
                at,
                xor,
                cut,
            } => {
                if self.seen.is_empty() {
                    return;
                }
                let mut bytes = self.seen[usize::from(nth) % self.seen.len()].bytes.clone();
                let at = usize::from(at) % bytes.len();
                bytes[at] ^= xor;
                if let Some(c) = cut {
                    bytes.truncate(usize::from(c) % (bytes.len() + 1));
                }
                let i = self.honest_index(to);
                let src = self.source(from, i);
                self.forge(i, src, &bytes);
            }
        }
        self.flush();
    }
}

fn config(input: &DigestExchangeInput) -> Config {
    let mut c = Config::lan();
    c.packet_budget = if input.large_budget { 1400 } else { 512 };
    c.max_members = [8, 16, 32][usize::from(input.members % 3)];
    c.event_queue_len = CAP as u16;
    c.broadcast_queue_len = 16;
    c.max_broadcast_origins = 16;
    c.max_concurrent_syncs = 4;
    c.max_metadata_len = 64;
    c.max_payload_len = 64;
    if input.fast_rounds {
        c.push_pull_interval = Duration::from_secs(1);
    }
    if input.low_reply_rate {
        c.sync_reply_rate = 600;
    }
    c.validate().expect("fuzz configurations are valid");
    c
}

/// The `digest_exchange` property (see the module documentation).
pub fn digest_exchange(data: &[u8]) {
    let Some(input) = structured::<DigestExchangeInput>(data) else {
        return;
    };
    let config = config(&input);
    let honest = 2 + usize::from(input.honest % 2);
    let mut h = Harness {
        config: config.clone(),
        nodes: Vec::new(),
        books: Vec::new(),
        honest,
        now: Instant::from_secs(1),
        in_flight: Vec::new(),
        seen: Vec::new(),
        intercept: None,
    };
    for addr in 0..=honest as u32 {
        let rng = Pcg32::seed_from_u64(input.seed ^ u64::from(addr));
        let mut node =
            Node::new(Identity::new(addr, 1), config.clone(), rng, h.now).expect("valid config");
        if addr > 0 {
            node.join(h.now, &[0]).expect("join");
        }
        h.nodes.push(node);
        h.books.push(Books::default());
        h.drain(addr as usize);
    }
    h.run(Duration::from_secs(20), 100_000);
    assert!(h.converged(), "the nodes did not converge before the input");
    for step in input.steps.into_iter().take(MAX_STEPS) {
        h.step(step);
    }
    // The forged input stops: the views must converge, and then agree.
    let quiet = Duration::from_secs(QUIET_SECS);
    h.run(quiet, 1_000_000);
    assert!(
        h.converged(),
        "the views did not converge within {QUIET_SECS} s after the forged input"
    );
    // Metadata included: a member refutes what others say of its own.
    if let Some((i, j)) = h.forged_metadata() {
        panic!("node {i} holds metadata of node {j} that node {j} does not have");
    }
    let before: Vec<Counters> = h.nodes.iter().map(Node::counters).collect();
    h.run(config.push_pull_interval * 3, 1_000_000);
    assert!(h.converged(), "the views diverged again");
    for (i, (b, n)) in before.iter().zip(&h.nodes).enumerate() {
        let a = n.counters();
        assert_eq!(
            (a.digest_repairs, a.syncs_started),
            (b.digest_repairs, b.syncs_started),
            "node {i}: converged views still differ in their digests\n{}",
            h.dump()
        );
        assert!(
            a.digests_equal > b.digests_equal || a.digests_started == b.digests_started,
            "node {i}: its digest rounds no longer find equal views"
        );
    }
    note("converged after forged input");
}

/// The structured form of an input, for reports.
pub fn describe(data: &[u8]) -> String {
    format!("{:#?}", structured::<DigestExchangeInput>(data))
}
