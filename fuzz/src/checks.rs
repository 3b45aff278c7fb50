//! The property behind each fuzz target, as a plain function of the input
//! bytes. A broken property panics.
//!
//! This file is compiled twice: into the `swim-fuzz` library that the
//! cargo-fuzz targets call, and by path into swim-core's
//! `tests/corpus_replay.rs`, which replays the committed corpus on stable
//! with or without swim-core's `alloc` feature. It may therefore only use
//! `std`, `swim_core`, `arbitrary`, `rand_core` and `rand_pcg`, and every
//! limit it configures stays within the storage capacities below, so that
//! both builds behave the same.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::wire::codec::{Reader, Writer};
use swim_core::wire::{encode_packet_start, encode_record, Message, Packet, Record};
use swim_core::{
    Address, Config, Counters, Event, Identity, Instant, LocalEvent, LocalStatus, MemberState,
    QueueLengths, Swim,
};

/// Member table and queue capacity without `alloc` (every configured limit
/// stays at or below it).
pub const CAP: usize = 64;
/// Blob capacity without `alloc` (configured blob limits stay below it).
pub const BLOB: usize = 256;
/// Most steps of one state-machine input (keeps executions fast).
pub const MAX_STEPS: usize = 256;

type Node = Swim<u32, Pcg32, CAP, BLOB>;

thread_local! {
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Turns fuzzer bytes into a structured input exactly like
/// `libfuzzer_sys::fuzz_target!(|input: T| ..)` does.
fn structured<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}

// ---------------------------------------------------------------------------
// 1. The decoder
// ---------------------------------------------------------------------------

/// Arbitrary bytes never make the decoder panic; whatever decodes encodes
/// back to the very same bytes (the encoding is canonical) and decodes to
/// the same message and records again. Checked for three address types.
pub fn decode(data: &[u8]) {
    // Take the cluster tag from the input, so that the fuzzer need not
    // guess it to get past the header.
    let tag = data
        .get(1..5)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    decode_as::<u32>(data, tag);
    decode_as::<u16>(data, tag);
    decode_as::<SocketAddr>(data, tag);
    // A wrong tag is always refused.
    assert!(Packet::<u32>::decode(data, tag.wrapping_add(1)).is_err());
}

fn decode_as<A: Address>(data: &[u8], tag: u32) {
    skip_agrees_with_decode::<A>(data);
    let Ok(packet) = Packet::<A>::decode(data, tag) else {
        return;
    };
    let records: Vec<Record<'_, A>> = packet
        .records()
        .map(|r| r.expect("decode validated every record"))
        .collect();
    for r in &records {
        if let Record::Member { state, accuser, .. } = r {
            assert_eq!(
                accuser.is_some(),
                *state == MemberState::Suspect,
                "accuser only on suspicions: {r:?}"
            );
        }
    }
    let mut buf = vec![0u8; data.len()];
    let mut w = Writer::new(&mut buf);
    encode_packet_start(&mut w, tag, &packet.message).expect("the message fits where it came from");
    for r in &records {
        encode_record(&mut w, r).expect("the record fits where it came from");
    }
    let len = w.len();
    assert_eq!(
        &buf[..len],
        data,
        "decode then encode is not the identity for {:?} {records:?}",
        packet.message
    );
    let again = Packet::<A>::decode(&buf[..len], tag).expect("re-encoded packet decodes");
    assert_eq!(again.message, packet.message);
    let again: Vec<Record<'_, A>> = again.records().map(Result::unwrap).collect();
    assert_eq!(again, records);
}

// ---------------------------------------------------------------------------
// Structured datagrams shared by the two other targets
// ---------------------------------------------------------------------------

/// Addresses of the identities datagrams may come from or talk about: the
/// nodes under test use the first ones, the rest are phantoms.
pub const IDENTITIES: u8 = 6;

/// A small incarnation, or one near the top of the range.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Inc {
    Small(u8),
    Top(u8),
}

impl Inc {
    fn get(self) -> u32 {
        match self {
            Inc::Small(i) => u32::from(i % 8),
            Inc::Top(i) => u32::MAX - u32::from(i % 3),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct FIdentity {
    addr: u8,
    generation: u8,
}

impl FIdentity {
    fn get(&self) -> Identity<u32> {
        Identity::new(
            u32::from(self.addr % IDENTITIES),
            u32::from(self.generation % 3),
        )
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FMessage {
    Ping { seq: u8, target: FIdentity },
    Ack { seq: u32 },
    PingReq { seq: u8, target: FIdentity },
    Nack { seq: u32 },
    Gossip,
    Sync { flags: u8 },
    Direct { len: u16 },
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FRecord {
    Member {
        /// Alive, suspect, dead, left (modulo 4). Not `MemberState`: its
        /// `Arbitrary` derive needs swim-core's `arbitrary` feature, which
        /// the corpus replay test runs without.
        state: u8,
        id: FIdentity,
        incarnation: Inc,
        accuser: u8,
    },
    Meta {
        id: FIdentity,
        version: u8,
        len: u16,
    },
    Broadcast {
        origin: FIdentity,
        epoch: u8,
        seq: u8,
        key: Option<u8>,
        len: u16,
    },
}

#[derive(Arbitrary, Debug, Clone)]
pub struct FDatagram {
    message: FMessage,
    records: Vec<FRecord>,
}

/// `Record::skip` (the validation pass of `Packet::decode`) and
/// `Record::decode` give the same verdict, drop reason and end position for
/// a record starting at any offset of `data`.
fn skip_agrees_with_decode<A: Address>(data: &[u8]) {
    for start in 0..data.len() {
        let mut skipped = Reader::new(&data[start..]);
        let mut decoded = Reader::new(&data[start..]);
        let skip = Record::<A>::skip(&mut skipped);
        let decode = Record::<A>::decode(&mut decoded).map(drop);
        assert_eq!(skip, decode, "verdicts differ at offset {start}");
        if skip.is_ok() {
            assert_eq!(
                skipped.remaining(),
                decoded.remaining(),
                "end positions differ at offset {start}"
            );
        }
    }
}

fn fill(len: u16, max: usize) -> Vec<u8> {
    (0..usize::from(len) % (max + 1)).map(|i| i as u8).collect()
}

/// Encodes `d` into at most `budget` bytes; records that do not fit are left
/// out. Sequence numbers of pings and acks are taken from `seq_base` so
/// that some of them match what the nodes sent.
fn encode_datagram(d: &FDatagram, tag: u32, budget: usize, seq_hint: u32) -> Vec<u8> {
    let mut buf = vec![0u8; budget];
    let mut w = Writer::new(&mut buf);
    let payload;
    let message = match &d.message {
        FMessage::Ping { seq, target } => Message::Ping {
            seq: seq_hint.wrapping_add(u32::from(*seq % 4)),
            target: target.get(),
        },
        FMessage::Ack { seq } => Message::Ack {
            seq: if seq % 2 == 0 {
                seq_hint.wrapping_sub(seq % 8)
            } else {
                *seq
            },
        },
        FMessage::PingReq { seq, target } => Message::PingReq {
            seq: u32::from(*seq),
            target: target.get(),
        },
        FMessage::Nack { seq } => Message::Nack {
            seq: if seq % 2 == 0 {
                seq_hint.wrapping_sub(seq % 8)
            } else {
                *seq
            },
        },
        FMessage::Gossip => Message::Gossip,
        FMessage::Sync { flags } => Message::Sync {
            flags: flags & 0b11,
        },
        FMessage::Direct { len } => {
            payload = fill(*len, BLOB + 8);
            Message::Direct { payload: &payload }
        }
    };
    if encode_packet_start(&mut w, tag, &message).is_none() {
        return Vec::new();
    }
    for r in &d.records {
        let data;
        let record = match r {
            FRecord::Member {
                state,
                id,
                incarnation,
                accuser,
            } => {
                let state = member_state(*state);
                Record::Member {
                    state,
                    id: id.get(),
                    incarnation: incarnation.get(),
                    accuser: (state == MemberState::Suspect)
                        .then_some(u32::from(accuser % IDENTITIES)),
                }
            }
            FRecord::Meta { id, version, len } => {
                data = fill(*len, BLOB + 8);
                Record::Meta {
                    id: id.get(),
                    version: u32::from(*version),
                    data: &data,
                }
            }
            FRecord::Broadcast {
                origin,
                epoch,
                seq,
                key,
                len,
            } => {
                data = fill(*len, BLOB + 8);
                Record::Broadcast {
                    origin: origin.get(),
                    epoch: u32::from(epoch % 2),
                    seq: u32::from(*seq),
                    key: key.map(u64::from),
                    payload: &data,
                }
            }
        };
        let _ = encode_record(&mut w, &record);
    }
    let len = w.len();
    buf.truncate(len);
    buf
}

/// A configuration drawn from the input, always valid and within
/// [`CAP`] and [`BLOB`].
#[derive(Arbitrary, Debug, Clone)]
pub struct FConfig {
    preset: u8,
    lifeguard: bool,
    budget: u8,
    max_members: u8,
    event_queue_len: u8,
    broadcast_queue_len: u8,
    indirect_checks: u8,
    retransmit_mult: u8,
    gossip_nodes: u8,
    awareness_max: u8,
    suspicion_mult: u8,
    share: u8,
    syncs: u8,
    blob: u8,
}

impl FConfig {
    fn get(&self) -> Config {
        let mut c = match self.preset % 3 {
            0 => Config::local(),
            1 => Config::lan(),
            _ => Config::wan(),
        };
        c.lifeguard = self.lifeguard;
        c.packet_budget = [512, 576, 1400, 9000][usize::from(self.budget % 4)];
        c.max_members = 2 + u32::from(self.max_members) % (CAP as u32 / 4 - 1);
        c.event_queue_len = 1 + u16::from(self.event_queue_len) % CAP as u16;
        c.broadcast_queue_len = 1 + u16::from(self.broadcast_queue_len) % 16;
        c.indirect_checks = self.indirect_checks % 5;
        c.retransmit_mult = 1 + self.retransmit_mult % 5;
        c.gossip_nodes = self.gossip_nodes % 5;
        c.awareness_max = self.awareness_max % 10;
        c.suspicion_mult = 1 + self.suspicion_mult % 6;
        c.broadcast_share_percent = self.share % 91;
        c.max_concurrent_syncs = 1 + self.syncs % 4;
        let blob = (64 + usize::from(self.blob) * 4)
            .min(BLOB)
            .min(usize::from(c.packet_budget) - 64);
        c.max_metadata_len = blob as u16;
        c.max_payload_len = blob as u16;
        c.validate().expect("fuzz configurations are valid");
        c
    }
}

// ---------------------------------------------------------------------------
// Invariants over one node, checked after every input
// ---------------------------------------------------------------------------

/// What the checker remembers about a node between inputs.
struct Watch {
    addr: u32,
    generation: u32,
    incarnation: u32,
    /// (generation, incarnation, state) of each remembered member.
    views: BTreeMap<u32, (u32, u32, MemberState)>,
    counters: Counters,
    status: LocalStatus,
}

impl Watch {
    fn new(node: &Node) -> Self {
        let mut w = Watch {
            addr: node.local().identity.addr,
            generation: node.local().identity.generation,
            incarnation: node.local().incarnation,
            views: BTreeMap::new(),
            counters: node.counters(),
            status: node.local().status,
        };
        w.views = views(node);
        w
    }
}

fn views(node: &Node) -> BTreeMap<u32, (u32, u32, MemberState)> {
    node.members()
        .map(|m| {
            (
                m.identity.addr,
                (m.identity.generation, m.incarnation, m.state),
            )
        })
        .collect()
}

/// A datagram a node sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub from: u32,
    pub to: u32,
    pub bytes: Vec<u8>,
}

fn member_state(rank: u8) -> MemberState {
    match rank % 4 {
        0 => MemberState::Alive,
        1 => MemberState::Suspect,
        2 => MemberState::Dead,
        _ => MemberState::Left,
    }
}

fn state_rank(s: MemberState) -> u8 {
    match s {
        MemberState::Alive => 0,
        MemberState::Suspect => 1,
        MemberState::Dead => 2,
        MemberState::Left => 3,
    }
}

/// Drains the node's transmits and events after an input and checks every
/// invariant. Returns the datagrams sent and the events.
/// [`settle`], then every ping sent is answered by its destination (every
/// member is alive and admitted once it answers), until nothing more goes
/// out; returns everything sent.
fn settle_answering(
    node: &mut Node,
    watch: &mut Watch,
    now: Instant,
    buf_extra: usize,
) -> Vec<Sent> {
    let tag = node.config().cluster_tag;
    let mut all = Vec::new();
    for _ in 0..16 {
        let (sent, _) = settle(node, watch, now, buf_extra);
        let mut answered = false;
        for s in &sent {
            if let Ok(Packet {
                message: Message::Ping { seq, .. },
                ..
            }) = Packet::<u32>::decode(&s.bytes, tag)
            {
                let mut buf = [0u8; 64];
                let mut w = Writer::new(&mut buf);
                encode_packet_start::<u32>(&mut w, tag, &Message::Ack { seq }).expect("fits");
                let len = w.len();
                node.handle_datagram(now, s.to, &buf[..len]);
                answered = true;
            }
        }
        all.extend(sent);
        if !answered {
            break;
        }
    }
    all
}

fn settle(
    node: &mut Node,
    watch: &mut Watch,
    now: Instant,
    buf_extra: usize,
) -> (Vec<Sent>, Vec<Event<u32, BLOB>>) {
    let config = node.config().clone();
    check_queues(node, &config);
    let budget = usize::from(config.packet_budget);
    // One transmit buffer per thread: allocating it per call dominated.
    let mut buf = BUF.with(|b| b.take());
    buf.resize(budget + buf_extra, 0);
    let mut sent = Vec::new();
    let mut guard = 0;
    while let Some(t) = node.poll_transmit(now, &mut buf) {
        guard += 1;
        assert!(guard <= 100_000, "poll_transmit never returns None");
        assert!(
            t.len <= budget,
            "a datagram of {} bytes exceeds the {budget} byte budget",
            t.len
        );
        assert_ne!(t.destination, watch.addr, "a node sends to itself");
        let bytes = buf[..t.len].to_vec();
        if let Err(e) = Packet::<u32>::decode(&bytes, config.cluster_tag) {
            panic!("a node sent a datagram it cannot decode ({e:?}): {bytes:?}");
        }
        sent.push(Sent {
            from: watch.addr,
            to: t.destination,
            bytes,
        });
    }
    BUF.with(|b| b.replace(buf));
    let cap = usize::from(config.event_queue_len).min(CAP);
    let mut events = Vec::new();
    while let Some(e) = node.poll_event() {
        events.push(e);
        assert!(events.len() <= cap, "more than {cap} events pending");
    }
    let q = check_queues(node, &config);
    assert_eq!(
        (q.events, q.outgoing, q.syncs),
        (0, 0, 0),
        "drained, yet something is pending: {q:?}"
    );
    let local = node.local();
    let counters = node.counters();
    assert_eq!(local.identity.addr, watch.addr);
    // The incarnation never decreases, except when an exhausted incarnation
    // moves the node to its next generation (at incarnation 0).
    let before = (watch.generation, watch.incarnation);
    let after = (local.identity.generation, local.incarnation);
    assert!(
        after >= before,
        "(generation, incarnation) went down from {before:?} to {after:?}"
    );
    assert!(
        local.health <= config.awareness_max,
        "health {} above awareness_max",
        local.health
    );
    // Status only moves forward: a node never un-joins, and Left is final.
    let rank = |s: LocalStatus| match s {
        LocalStatus::Idle => 0,
        LocalStatus::Joining => 1,
        LocalStatus::Joined => 2,
        LocalStatus::Leaving => 3,
        LocalStatus::Left => 4,
    };
    assert!(
        rank(local.status) >= rank(watch.status),
        "status went back from {:?} to {:?}",
        watch.status,
        local.status
    );
    if local.status == LocalStatus::Left {
        assert!(sent.is_empty(), "a node that left still sends");
        assert!(
            node.poll_timeout().is_none(),
            "a node that left still wants timeouts"
        );
    } else {
        assert!(node.poll_timeout().is_some(), "no timeout while running");
    }
    // The member table: never the local node, within its cap, consistent.
    let now_views = views(node);
    assert_eq!(
        now_views.len(),
        node.members().count(),
        "two entries for one address"
    );
    assert!(
        !now_views.contains_key(&watch.addr),
        "the local node is in its own member table"
    );
    let max_members = (config.max_members as usize).min(CAP);
    assert!(
        now_views.len() <= max_members,
        "{} members above the cap of {max_members}",
        now_views.len()
    );
    let active = now_views
        .values()
        .filter(|v| v.2 == MemberState::Alive || v.2 == MemberState::Suspect)
        .count();
    assert_eq!(node.active_members(), active);
    assert_eq!(node.cluster_size(), active + 1);
    // Counters only grow, and account for every datagram polled.
    assert_eq!(
        counters.datagrams_out,
        watch.counters.datagrams_out + sent.len() as u64
    );
    let grew = |a: u64, b: u64| a >= b;
    assert!(grew(counters.datagrams_in, watch.counters.datagrams_in));
    assert!(grew(counters.drops.total(), watch.counters.drops.total()));
    assert!(grew(counters.stale_updates, watch.counters.stale_updates));
    assert!(grew(counters.events_dropped, watch.counters.events_dropped));
    // Precedence of what is known about a member never goes back while it
    // is remembered (forgetting is announced by MemberRemoved).
    let mut forgotten: BTreeSet<u32> = BTreeSet::new();
    for e in &events {
        if let Event::MemberRemoved(id) = e {
            forgotten.insert(id.addr);
        }
    }
    if counters.events_dropped == watch.counters.events_dropped {
        for (addr, new) in &now_views {
            let Some(old) = watch.views.get(addr) else {
                continue;
            };
            if forgotten.contains(addr) {
                continue;
            }
            let key = |v: &(u32, u32, MemberState)| (v.0, v.1, state_rank(v.2));
            assert!(
                key(new) >= key(old),
                "member {addr} went back from {old:?} to {new:?}"
            );
        }
    }
    // A refutation announces an incarnation the node has (in this
    // generation: a later one restarts at 0).
    if local.identity.generation == watch.generation {
        for e in &events {
            if let Event::Local(LocalEvent::Refuted { incarnation, .. }) = e {
                assert!(*incarnation <= local.incarnation);
            }
        }
    }
    watch.generation = local.identity.generation;
    watch.incarnation = local.incarnation;
    watch.status = local.status;
    watch.views = now_views;
    watch.counters = counters;
    (sent, events)
}

/// Every queue within its cap, and every cap within the configuration.
fn check_queues(node: &Node, config: &Config) -> QueueLengths {
    let q = node.queue_lengths();
    assert!(q.members_cap <= config.max_members as usize, "{q:?}");
    assert!(q.events_cap <= usize::from(config.event_queue_len), "{q:?}");
    assert!(
        q.broadcasts_cap <= usize::from(config.broadcast_queue_len),
        "{q:?}"
    );
    assert!(
        q.syncs_cap <= usize::from(config.max_concurrent_syncs),
        "{q:?}"
    );
    assert!(
        q.over_caps().next().is_none(),
        "a queue over its cap: {q:?}"
    );
    assert_eq!(q.members - q.unverified, node.members().count());
    q
}

/// After `node` handled `datagram`: if it accepted it, every accusation
/// about its own identity was refuted with a higher incarnation, or a new
/// generation past the highest incarnation (unless it is leaving, when it
/// keeps saying "left").
fn check_refuted(node: &Node, datagram: &[u8], before: &Identity<u32>, drops_before: u64) {
    let local = node.local();
    if node.counters().drops.total() != drops_before
        || matches!(local.status, LocalStatus::Leaving | LocalStatus::Left)
    {
        return;
    }
    let Ok(packet) = Packet::<u32>::decode(datagram, node.config().cluster_tag) else {
        return;
    };
    for record in packet.records().flatten() {
        if let Record::Member {
            state,
            id,
            incarnation,
            ..
        } = record
        {
            if id == *before && state != MemberState::Alive {
                // A higher incarnation, or a new generation when the
                // accusation was at the highest incarnation.
                let refuted = local.identity.generation > before.generation
                    || local.incarnation > incarnation;
                assert!(
                    refuted,
                    "{state:?} at incarnation {incarnation} not refuted: still at {:?} {}",
                    local.identity, local.incarnation
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 2. The state machine
// ---------------------------------------------------------------------------

#[derive(Arbitrary, Debug)]
pub enum Step {
    /// Time passes.
    Advance {
        millis: u16,
    },
    /// A long pause (up to ~18 hours).
    Jump {
        secs: u16,
    },
    /// The clock seen by one node goes back.
    ClockBack {
        node: u8,
        millis: u16,
    },
    /// Run the timers of every node that is due.
    Timers,
    /// Call `handle_timeout` on one node, due or not.
    Timeout {
        node: u8,
    },
    /// Deliver one datagram in flight (it leaves the network).
    Deliver {
        index: u8,
    },
    /// Deliver it but keep it in flight (duplication).
    Duplicate {
        index: u8,
    },
    /// Deliver it with one byte changed.
    Corrupt {
        index: u8,
        at: u16,
        xor: u8,
    },
    /// Deliver everything in flight.
    DeliverAll,
    /// Let the network run: datagrams in flight arrive after a millisecond,
    /// timers fire when due, for up to ~65 s of virtual time.
    Run {
        millis: u16,
    },
    /// Lose one datagram in flight.
    Lose {
        index: u8,
    },
    /// A structured datagram from one of a few identities.
    Inject {
        node: u8,
        from: u8,
        datagram: FDatagram,
    },
    /// Raw bytes, with a valid header in front if `header`.
    Raw {
        node: u8,
        from: u8,
        header: bool,
        bytes: Vec<u8>,
    },
    Join {
        node: u8,
        seeds: u8,
    },
    Leave {
        node: u8,
    },
    SetMetadata {
        node: u8,
        len: u16,
    },
    Broadcast {
        node: u8,
        key: Option<u8>,
        len: u16,
    },
    SendMessage {
        node: u8,
        to: u8,
        len: u16,
    },
    /// The process restarts: with a higher generation, or the same one and
    /// the incarnation it persisted.
    Restart {
        node: u8,
        new_generation: bool,
    },
}

#[derive(Arbitrary, Debug)]
pub struct StateMachineInput {
    nodes: u8,
    config: FConfig,
    seed: u64,
    /// Extra bytes of the buffer handed to `poll_transmit` beyond the budget.
    buf_extra: u8,
    steps: Vec<Step>,
}

struct Harness {
    config: Config,
    nodes: Vec<(Node, Watch)>,
    now: Instant,
    in_flight: Vec<Sent>,
    buf_extra: usize,
    seed: u64,
}

impl Harness {
    fn node_index(&self, n: u8) -> usize {
        usize::from(n) % self.nodes.len()
    }

    fn settle(&mut self, i: usize, now: Instant) {
        let (node, watch) = &mut self.nodes[i];
        let (sent, _) = settle(node, watch, now, self.buf_extra);
        self.in_flight.extend(sent);
        // A bounded network: the oldest datagrams are lost.
        let excess = self.in_flight.len().saturating_sub(256);
        self.in_flight.drain(..excess);
    }

    /// A source address for an injected datagram: any identity but the
    /// receiver's own (replies to a spoofed own address would loop back).
    fn source(&self, from: u8, to: u32) -> u32 {
        let from = u32::from(from % IDENTITIES);
        if from == to {
            (from + 1) % u32::from(IDENTITIES)
        } else {
            from
        }
    }

    fn deliver(&mut self, to: u32, from: u32, bytes: &[u8]) {
        let Some(i) = self.nodes.iter().position(|(_, w)| w.addr == to) else {
            return;
        };
        let now = self.now;
        let drops = self.nodes[i].0.counters().drops.total();
        let identity = self.nodes[i].0.local().identity.clone();
        self.nodes[i].0.handle_datagram(now, from, bytes);
        check_refuted(&self.nodes[i].0, bytes, &identity, drops);
        self.settle(i, now);
    }

    fn pick(&self, index: u8) -> Option<usize> {
        (!self.in_flight.is_empty()).then(|| usize::from(index) % self.in_flight.len())
    }
}

/// An arbitrary sequence of time steps, datagrams (structured, raw,
/// delivered, lost, duplicated, corrupted), timeouts and commands applied
/// to one to three nodes, with every invariant checked after every step.
pub fn state_machine(data: &[u8]) {
    let Some(input) = structured::<StateMachineInput>(data) else {
        return;
    };
    let config = input.config.get();
    let count = 1 + usize::from(input.nodes % 3);
    let now = Instant::from_secs(1);
    let mut h = Harness {
        config: config.clone(),
        nodes: Vec::new(),
        now,
        in_flight: Vec::new(),
        buf_extra: usize::from(input.buf_extra) * 64,
        seed: input.seed,
    };
    for addr in 0..count as u32 {
        let rng = Pcg32::seed_from_u64(input.seed ^ u64::from(addr));
        let node =
            Node::new(Identity::new(addr, 1), config.clone(), rng, now).expect("valid config");
        let watch = Watch::new(&node);
        h.nodes.push((node, watch));
    }
    for step in input.steps.into_iter().take(MAX_STEPS) {
        run_step(&mut h, step);
    }
}

fn run_step(h: &mut Harness, step: Step) {
    let now = h.now;
    match step {
        Step::Advance { millis } => h.now += Duration::from_millis(u64::from(millis)),
        Step::Jump { secs } => h.now += Duration::from_secs(u64::from(secs)),
        Step::ClockBack { node, millis } => {
            let i = h.node_index(node);
            let earlier =
                Instant::from_micros(now.as_micros().saturating_sub(u64::from(millis) * 1000));
            h.nodes[i].0.handle_timeout(earlier);
            h.settle(i, earlier);
        }
        Step::Timers => {
            for i in 0..h.nodes.len() {
                if h.nodes[i].0.poll_timeout().is_some_and(|t| t <= now) {
                    h.nodes[i].0.handle_timeout(now);
                    h.settle(i, now);
                }
            }
        }
        Step::Timeout { node } => {
            let i = h.node_index(node);
            h.nodes[i].0.handle_timeout(now);
            h.settle(i, now);
        }
        Step::Deliver { index } => {
            if let Some(k) = h.pick(index) {
                let d = h.in_flight.remove(k);
                h.deliver(d.to, d.from, &d.bytes);
            }
        }
        Step::Duplicate { index } => {
            if let Some(k) = h.pick(index) {
                let d = h.in_flight[k].clone();
                h.deliver(d.to, d.from, &d.bytes);
            }
        }
        Step::Corrupt { index, at, xor } => {
            if let Some(k) = h.pick(index) {
                let mut d = h.in_flight.remove(k);
                if !d.bytes.is_empty() {
                    let at = usize::from(at) % d.bytes.len();
                    d.bytes[at] ^= xor;
                }
                h.deliver(d.to, d.from, &d.bytes);
            }
        }
        Step::DeliverAll => {
            let batch = std::mem::take(&mut h.in_flight);
            for d in batch {
                h.deliver(d.to, d.from, &d.bytes);
            }
        }
        Step::Run { millis } => run_network(h, Duration::from_millis(u64::from(millis))),
        Step::Lose { index } => {
            if let Some(k) = h.pick(index) {
                h.in_flight.remove(k);
            }
        }
        Step::Inject {
            node,
            from,
            datagram,
        } => {
            let i = h.node_index(node);
            let seq_hint = last_seq_sent(&h.in_flight, h.nodes[i].1.addr);
            let budget = usize::from(h.config.packet_budget);
            let bytes = encode_datagram(&datagram, h.config.cluster_tag, budget, seq_hint);
            let to = h.nodes[i].1.addr;
            h.deliver(to, h.source(from, to), &bytes);
        }
        Step::Raw {
            node,
            from,
            header,
            mut bytes,
        } => {
            let i = h.node_index(node);
            if header {
                let mut framed = vec![swim_core::wire::PROTOCOL_VERSION];
                framed.extend_from_slice(&h.config.cluster_tag.to_le_bytes());
                framed.append(&mut bytes);
                bytes = framed;
            }
            let to = h.nodes[i].1.addr;
            h.deliver(to, h.source(from, to), &bytes);
        }
        Step::Join { node, seeds } => {
            let i = h.node_index(node);
            let list: Vec<u32> = (0..u32::from(IDENTITIES))
                .filter(|a| seeds & (1 << a) != 0)
                .collect();
            let _ = h.nodes[i].0.join(now, &list);
            h.settle(i, now);
        }
        Step::Leave { node } => {
            let i = h.node_index(node);
            let _ = h.nodes[i].0.leave(now);
            h.settle(i, now);
        }
        Step::SetMetadata { node, len } => {
            let i = h.node_index(node);
            let _ = h.nodes[i].0.set_metadata(now, &fill(len, BLOB + 8));
            h.settle(i, now);
        }
        Step::Broadcast { node, key, len } => {
            let i = h.node_index(node);
            let _ = h.nodes[i]
                .0
                .broadcast(now, key.map(u64::from), &fill(len, BLOB + 8));
            h.settle(i, now);
        }
        Step::SendMessage { node, to, len } => {
            let i = h.node_index(node);
            let _ =
                h.nodes[i]
                    .0
                    .send_message(now, &u32::from(to % IDENTITIES), &fill(len, BLOB + 8));
            h.settle(i, now);
        }
        Step::Restart {
            node,
            new_generation,
        } => {
            let i = h.node_index(node);
            let (addr, generation, incarnation) = {
                let w = &h.nodes[i].1;
                (w.addr, w.generation, w.incarnation)
            };
            let rng =
                Pcg32::seed_from_u64(h.seed ^ u64::from(addr) ^ (u64::from(generation) << 32));
            let (generation, incarnation) = if new_generation {
                (generation + 1, 0)
            } else {
                (generation, incarnation)
            };
            let node = Node::new(Identity::new(addr, generation), h.config.clone(), rng, now)
                .expect("valid config")
                .with_incarnation(incarnation);
            let watch = Watch::new(&node);
            h.nodes[i] = (node, watch);
        }
    }
}

/// Runs the network for `span`: everything in flight is delivered, due
/// timers run, and the clock jumps to the next thing that happens.
fn run_network(h: &mut Harness, span: Duration) {
    let end = h.now + span;
    for _ in 0..1024 {
        let batch = std::mem::take(&mut h.in_flight);
        for d in batch {
            h.deliver(d.to, d.from, &d.bytes);
        }
        let now = h.now;
        for i in 0..h.nodes.len() {
            if h.nodes[i].0.poll_timeout().is_some_and(|t| t <= now) {
                h.nodes[i].0.handle_timeout(now);
                h.settle(i, now);
            }
        }
        if now >= end {
            return;
        }
        let step = Duration::from_millis(1);
        let next = if h.in_flight.is_empty() {
            h.nodes
                .iter()
                .filter_map(|(n, _)| n.poll_timeout())
                .min()
                .unwrap_or(end)
        } else {
            now + step
        };
        h.now = next.max(now + step).min(end);
    }
}

/// The structured form of a fuzz input, for reports.
pub fn describe(target: &str, data: &[u8]) -> String {
    match target {
        "state_machine" => format!("{:#?}", structured::<StateMachineInput>(data)),
        "packet_assembly" => format!("{:#?}", structured::<PacketAssemblyInput>(data)),
        _ => format!("{data:?}"),
    }
}

/// A sequence number close to those `addr` used lately, read from its
/// datagrams still in flight, so that injected acks and nacks can match.
fn last_seq_sent(in_flight: &[Sent], addr: u32) -> u32 {
    in_flight
        .iter()
        .rev()
        .filter(|d| d.from == addr)
        .find_map(|d| match Packet::<u32>::decode(&d.bytes, 0).ok()?.message {
            Message::Ping { seq, .. } | Message::PingReq { seq, .. } => Some(seq),
            _ => None,
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// 3. Packet assembly
// ---------------------------------------------------------------------------

#[derive(Arbitrary, Debug)]
pub struct FMember {
    addr: u16,
    generation: u8,
    incarnation: u8,
    suspect: bool,
    meta: Option<(u8, u16)>,
}

#[derive(Arbitrary, Debug)]
pub enum Pending {
    /// A member learned from a gossip datagram, with its metadata.
    Member(FMember),
    /// A local broadcast.
    Local { key: Option<u8>, len: u16 },
    /// A broadcast relayed from a known member.
    Relayed {
        origin: u8,
        key: Option<u8>,
        seq: u8,
        len: u16,
    },
    /// New local metadata.
    Metadata { len: u16 },
    /// Some gossip rounds now, before everything is queued.
    Rounds(u8),
}

#[derive(Arbitrary, Debug)]
pub struct PacketAssemblyInput {
    config: FConfig,
    seed: u64,
    budget: u16,
    buf_extra: u16,
    pending: Vec<Pending>,
}

/// What the datagrams carried.
#[derive(Default)]
struct Seen {
    states: BTreeSet<(u32, u32, u32, u8)>,
    metas: BTreeSet<(u32, Vec<u8>)>,
    broadcasts: BTreeSet<(u32, u32, Vec<u8>)>,
}

/// Arbitrary pending membership updates, metadata and broadcasts: every
/// datagram fits the budget and decodes, and every update that is still
/// current is transmitted at least once, unless its loss was counted.
pub fn packet_assembly(data: &[u8]) {
    let Some(input) = structured::<PacketAssemblyInput>(data) else {
        return;
    };
    let mut config = input.config.get();
    // Any budget in range; blobs follow it.
    config.packet_budget = 512 + input.budget % (9000 - 512);
    let blob = (usize::from(config.packet_budget) - 64).min(BLOB) as u16;
    config.max_metadata_len = config.max_metadata_len.min(blob);
    config.max_payload_len = config.max_payload_len.min(blob);
    // Nothing but gossip happens: no probe, no push-pull, no expiry.
    config.probe_interval = Duration::from_secs(1 << 30);
    config.probe_timeout = config.probe_interval;
    config.push_pull_interval = Duration::ZERO;
    config.gossip_interval = Duration::from_millis(100);
    config.gossip_nodes = config.gossip_nodes.max(1);
    config.dead_member_retention = Duration::from_secs(1 << 30);
    config.validate().expect("valid");
    let budget = usize::from(config.packet_budget);
    let tag = config.cluster_tag;
    let me = 0u32;
    let mut now = Instant::from_secs(1);
    let mut node = Node::new(
        Identity::new(me, 0),
        config.clone(),
        Pcg32::seed_from_u64(input.seed),
        now,
    )
    .expect("valid");
    let mut watch = Watch::new(&node);
    let mut seen = Seen::default();
    let mut local_broadcasts: Vec<(Option<u64>, Vec<u8>)> = Vec::new();
    let mut relayed: Vec<(u32, Option<u64>, Vec<u8>)> = Vec::new();
    let mut refused = 0u64;
    let buf_extra = usize::from(input.buf_extra);
    let record = |sent: Vec<Sent>, seen: &mut Seen| {
        for s in sent {
            let packet = Packet::<u32>::decode(&s.bytes, tag).expect("sent datagrams decode");
            for r in packet.records().flatten() {
                match r {
                    Record::Member {
                        state,
                        id,
                        incarnation,
                        ..
                    } => {
                        seen.states.insert((
                            id.addr,
                            id.generation,
                            incarnation,
                            state_rank(state),
                        ));
                    }
                    Record::Meta { id, data, .. } => {
                        seen.metas.insert((id.addr, data.to_vec()));
                    }
                    Record::Broadcast {
                        origin,
                        payload,
                        key,
                        ..
                    } => {
                        seen.broadcasts.insert((
                            origin.addr,
                            key.map_or(u32::MAX, |k| k as u32),
                            payload.to_vec(),
                        ));
                    }
                }
            }
        }
    };
    // One member always alive, so that gossip has somewhere to go.
    let anchor = 1u32;
    let gossip = |node: &mut Node,
                  now: Instant,
                  from: u32,
                  records: &[Record<'_, u32>],
                  message: Message<'_, u32>| {
        let mut buf = vec![0u8; budget];
        let mut w = Writer::new(&mut buf);
        encode_packet_start(&mut w, tag, &message).expect("fits");
        for r in records {
            encode_record(&mut w, r).expect("one record fits a packet");
        }
        let len = w.len();
        node.handle_datagram(now, from, &buf[..len]);
    };
    let alive = |addr: u32, generation: u32, incarnation: u32| Record::Member {
        state: MemberState::Alive,
        id: Identity::new(addr, generation),
        incarnation,
        accuser: None,
    };
    gossip(
        &mut node,
        now,
        anchor,
        &[alive(anchor, 0, 0)],
        Message::Gossip,
    );
    let sent = settle_answering(&mut node, &mut watch, now, buf_extra);
    record(sent, &mut seen);
    let rounds = |node: &mut Node,
                  watch: &mut Watch,
                  now: &mut Instant,
                  seen: &mut Seen,
                  n: usize|
     -> bool {
        let mut idle = 0;
        for _ in 0..n {
            *now += config.gossip_interval;
            node.handle_timeout(*now);
            let sent = settle_answering(node, watch, *now, buf_extra);
            idle = if sent.is_empty() { idle + 1 } else { 0 };
            record(sent, seen);
            let q = node.queue_lengths();
            if q.gossip == 0 && q.broadcasts == 0 && idle >= 1 {
                return true;
            }
        }
        false
    };
    for p in input.pending.into_iter().take(64) {
        match p {
            Pending::Member(m) => {
                let addr = 2 + u32::from(m.addr % 200);
                let generation = u32::from(m.generation % 3);
                let state = if m.suspect {
                    MemberState::Suspect
                } else {
                    MemberState::Alive
                };
                let state_record = Record::Member {
                    state,
                    id: Identity::new(addr, generation),
                    incarnation: u32::from(m.incarnation),
                    accuser: m.suspect.then_some(anchor),
                };
                let meta;
                let mut records = vec![state_record];
                if let Some((version, len)) = m.meta {
                    meta = fill(len, usize::from(config.max_metadata_len));
                    records.push(Record::Meta {
                        id: Identity::new(addr, generation),
                        version: u32::from(version),
                        data: &meta,
                    });
                }
                gossip(&mut node, now, anchor, &records, Message::Gossip);
            }
            Pending::Local { key, len } => {
                let payload = fill(len, usize::from(config.max_payload_len));
                let key = key.map(u64::from);
                match node.broadcast(now, key, &payload) {
                    Ok(()) => {
                        if key.is_some() {
                            local_broadcasts.retain(|(k, _)| *k != key);
                        }
                        local_broadcasts.push((key, payload));
                    }
                    Err(_) => refused += 1,
                }
            }
            Pending::Relayed {
                origin,
                key,
                seq,
                len,
            } => {
                let members: Vec<Identity<u32>> =
                    node.members().map(|m| m.identity.clone()).collect();
                if members.is_empty() {
                    continue;
                }
                let origin = members[usize::from(origin) % members.len()].clone();
                let payload = fill(len, usize::from(config.max_payload_len));
                let key = key.map(u64::from);
                let record = Record::Broadcast {
                    origin: origin.clone(),
                    epoch: 7,
                    seq: u32::from(seq),
                    key,
                    payload: &payload,
                };
                gossip(&mut node, now, anchor, &[record], Message::Gossip);
                let delivered = std::iter::from_fn(|| node.poll_event())
                    .any(|e| matches!(e, Event::Broadcast { .. }));
                if delivered {
                    if key.is_some() {
                        relayed.retain(|(o, k, _)| !(*o == origin.addr && *k == key));
                    }
                    relayed.push((origin.addr, key, payload));
                }
            }
            Pending::Metadata { len } => {
                let _ = node.set_metadata(now, &fill(len, usize::from(config.max_metadata_len)));
            }
            Pending::Rounds(n) => {
                let sent = settle_answering(&mut node, &mut watch, now, buf_extra);
                record(sent, &mut seen);
                rounds(
                    &mut node,
                    &mut watch,
                    &mut now,
                    &mut seen,
                    usize::from(n % 8),
                );
            }
        }
        let sent = settle_answering(&mut node, &mut watch, now, buf_extra);
        record(sent, &mut seen);
    }
    let _ = refused;
    let finished = rounds(&mut node, &mut watch, &mut now, &mut seen, 20_000);
    assert!(finished, "gossip never ran dry");
    let counters = node.counters();
    if counters.gossip_queue_overflow == 0 {
        for m in node.members() {
            let key = (
                m.identity.addr,
                m.identity.generation,
                m.incarnation,
                state_rank(m.state),
            );
            assert!(
                seen.states.contains(&key),
                "the state of member {key:?} was never sent"
            );
            if !m.metadata.is_empty() {
                let key = (m.identity.addr, m.metadata.to_vec());
                assert!(
                    seen.metas.contains(&key),
                    "the metadata of member {} was never sent",
                    key.0
                );
            }
        }
        let mine = node.local().metadata.to_vec();
        if !mine.is_empty() {
            assert!(
                seen.metas.contains(&(me, mine)),
                "the local metadata was never sent"
            );
        }
    }
    for (key, payload) in local_broadcasts {
        let k = (me, key.map_or(u32::MAX, |k| k as u32), payload);
        assert!(
            seen.broadcasts.contains(&k),
            "local broadcast {k:?} was never sent"
        );
    }
    if counters.broadcasts_dropped == 0 {
        for (origin, key, payload) in relayed {
            let k = (origin, key.map_or(u32::MAX, |k| k as u32), payload);
            assert!(
                seen.broadcasts.contains(&k),
                "relayed broadcast {k:?} was never sent"
            );
        }
    }
}
