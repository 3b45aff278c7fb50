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

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::wire::codec::{Reader, Writer};
use swim_core::wire::{
    encode_packet_start, encode_record, Message, Packet, Record, SYNC_JOIN, SYNC_WANT_REPLY,
};
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
                    suspicion_age_ms: spread(incarnation.get()),
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
        if self.preset >= 224 {
            // An eighth of the inputs draw every duration too, from
            // extremes to the everyday. The others keep the presets'
            // timing, as when most of the corpus (and every committed
            // regression input) was found.
            self.vary_durations(&mut c);
        }
        c.validate().expect("fuzz configurations are valid");
        c
    }

    /// Draws every duration of `c` from a scale running from a microsecond
    /// to `Duration::MAX`, seeded by the other fields, then restores the
    /// orderings `validate` asks for.
    fn vary_durations(&self, c: &mut Config) {
        const SCALE: [Duration; 10] = [
            Duration::from_micros(1),
            Duration::from_micros(700),
            Duration::from_millis(20),
            Duration::from_millis(200),
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(90),
            Duration::from_secs(86_400),
            Duration::from_secs(u64::MAX / 4),
            Duration::MAX,
        ];
        let mut state = u64::from_le_bytes([
            self.preset,
            self.budget,
            self.max_members,
            self.event_queue_len,
            self.suspicion_mult,
            self.awareness_max,
            self.syncs,
            self.blob,
        ]);
        let mut draw = || {
            // SplitMix64: one well-mixed value per duration.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            SCALE[((z ^ (z >> 31)) % SCALE.len() as u64) as usize]
        };
        c.probe_interval = draw();
        c.probe_timeout = draw().min(c.probe_interval);
        c.probe_timeout_min = draw();
        c.push_pull_interval = draw();
        c.gossip_interval = draw();
        c.gossip_to_the_dead_time = draw();
        c.dead_member_retention = draw();
        let (a, b) = (draw(), draw());
        c.join_retry_initial = a.min(b);
        c.join_retry_max = a.max(b);
        c.leave_propagate_time = draw();
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
    /// For a ping: its sequence number and target.
    pub ping: Option<(u32, Identity<u32>)>,
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
        let ping = match Packet::<u32>::decode(&bytes, config.cluster_tag) {
            Ok(Packet {
                message: Message::Ping { seq, target },
                ..
            }) => Some((seq, target)),
            Ok(_) => None,
            Err(e) => panic!("a node sent a datagram it cannot decode ({e:?}): {bytes:?}"),
        };
        sent.push(Sent {
            from: watch.addr,
            to: t.destination,
            bytes,
            ping,
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
    // Lifeguard health only rises by a failed probe (1, plus 1 per
    // ping-req helper that sent no nack) or a refuted accusation (1); it
    // stays 0 without Lifeguard. Forged input can raise it only through
    // refutations: an accusation, forged or not, must be refuted.
    let probes_failed = counters.probes_failed - watch.counters.probes_failed;
    let refuted = counters.suspicions_refuted - watch.counters.suspicions_refuted;
    let rise = probes_failed * (1 + u64::from(config.indirect_checks)) + refuted;
    let before = u64::from(watch.counters.health_score);
    assert!(
        u64::from(local.health) <= before + rise,
        "health rose from {before} to {} with {probes_failed} failed probes and {refuted} refutations",
        local.health
    );
    if !config.lifeguard {
        assert_eq!(local.health, 0, "health moved without Lifeguard");
    }
    // Status only moves forward: a node never un-joins, and Left is final.
    let rank = |s: LocalStatus| match s {
        LocalStatus::Idle => 0,
        LocalStatus::Joining => 1,
        LocalStatus::Joined => 2,
        LocalStatus::Leaving => 3,
        LocalStatus::Left => 4,
        other => panic!("a status the checks do not know: {other:?}"),
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
    /// Time passes (with a lossless network: timers fire on time).
    Advance {
        millis: u16,
    },
    /// A long pause (up to ~18 hours; with a lossless network, timers fire
    /// on time and it stops after 1024 timer rounds).
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
    /// Let the network run: datagrams in flight arrive after a millisecond
    /// (with a lossless network: at once), timers fire when due, for up to
    /// ~65 s of virtual time.
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
    /// The adversary: a well-formed forged datagram, from any source.
    Forge {
        node: u8,
        from: FSource,
        message: FForgedMessage,
        records: Vec<FForgedRecord>,
    },
    /// The adversary replays a datagram delivered earlier between nodes: to
    /// its destination or another node, from its source or another.
    Replay {
        index: u8,
        to: Option<u8>,
        from: Option<FSource>,
    },
}

#[derive(Arbitrary, Debug)]
pub struct StateMachineInput {
    nodes: u8,
    config: FConfig,
    seed: u64,
    /// Extra bytes of the buffer handed to `poll_transmit` beyond the budget.
    buf_extra: u8,
    /// For the whole run, the network between the nodes loses, delays,
    /// corrupts and reorders nothing: every datagram a node sends to another
    /// arrives at once, and time passes only with timers firing when due.
    /// Only the adversary (injected, raw, forged and replayed datagrams) can
    /// then make a live node look failed, and it must not manage to
    /// (`Harness::check_not_evicted`).
    lossless: bool,
    steps: Vec<Step>,
}

// ---------------------------------------------------------------------------
// The adversary
// ---------------------------------------------------------------------------

/// First invented address: outside the range of nodes and phantoms.
pub const INVENTED: u32 = 1000;
/// Invented addresses are `INVENTED..INVENTED + INVENTED_COUNT` (two varint
/// bytes each).
pub const INVENTED_COUNT: u8 = 16;
/// Bytes of a bare admission ping to an address outside the node range:
/// header 5, type 1, sequence number at most 5, address at most 2 (phantoms
/// and invented addresses), generation at most 5.
pub const ADMISSION_PING: u64 = 18;
/// A node sends an address that is not a verified member at most this many
/// times the bytes it received from it, plus its admission pings.
pub const AMPLIFICATION: u64 = 3;
/// Zero-latency delivery rounds at one instant before the harness decides
/// that the nodes never stop answering each other.
const FLUSH_ROUNDS: usize = 256;
/// Datagrams between nodes remembered for replays.
const REPLAYABLE: usize = 64;
/// Latest ping sequence numbers of each node the adversary can see.
const SEEN_SEQS: usize = 16;
/// Timer rounds of one lossless input (a few minutes of a small cluster's
/// life); once they are used up the clock stops, which keeps executions
/// fast (and the corpus replay quick).
const LOSSLESS_ROUNDS: u32 = 4096;

/// A source address the adversary claims, or an address its records name.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FSource {
    /// A node's address (as a source: never the receiver's own).
    Node(u8),
    /// A phantom: an address below [`IDENTITIES`] where no node runs.
    Phantom(u8),
    /// An invented address, [`INVENTED`] and above.
    Invented(u8),
}

/// A value relative to the real one: a node's current generation or
/// incarnation (0 for an outside address, or a metadata version).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FOffset {
    Same,
    Below(u8),
    Above(u8),
    /// At the top of the range.
    Top(u8),
    Value(u8),
}

impl FOffset {
    fn apply(self, real: u32) -> u32 {
        match self {
            FOffset::Same => real,
            FOffset::Below(d) => real.saturating_sub(1 + u32::from(d % 4)),
            FOffset::Above(d) => real.saturating_add(1 + u32::from(d % 4)),
            FOffset::Top(d) => u32::MAX - u32::from(d % 3),
            FOffset::Value(v) => u32::from(v),
        }
    }
}

/// Whom a forged record, ping or ping-req names: a node at a generation
/// relative to its current one, or an outside address.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct FSubject {
    who: FSource,
    generation: FOffset,
}

/// A sequence number: any, or one of the latest pings of a node (what an
/// on-path adversary sees; an ack with it proves nothing about the address
/// the ping went to, so the harness books it as that address answering).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FSeq {
    Any(u32),
    Seen { node: u8, nth: u8 },
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FForgedMessage {
    /// Naming the receiver (right target) or anyone else (wrong target).
    Ping {
        seq: FSeq,
        target: FSubject,
    },
    Ack {
        seq: FSeq,
    },
    /// For a member the receiver knows, or anyone else.
    PingReq {
        seq: FSeq,
        target: FSubject,
    },
    Nack {
        seq: FSeq,
    },
    Gossip,
    /// Any valid flags: want-reply, join.
    Sync {
        flags: u8,
    },
    Direct {
        len: u16,
    },
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FForgedRecord {
    /// Alive, suspect, dead or left (`state` modulo 4).
    Member {
        state: u8,
        about: FSubject,
        incarnation: FOffset,
        accuser: FSource,
    },
    Meta {
        about: FSubject,
        version: FOffset,
        len: u16,
    },
    Broadcast {
        origin: FSubject,
        epoch: u32,
        seq: u8,
        key: Option<u8>,
        len: u16,
    },
}

/// The worst ratio seen, over every node and outside address, of the bytes
/// a node sent there to what the adversary allowed (invariant 3), as `f64`
/// bits.
static WORST_AMPLIFICATION: AtomicU64 = AtomicU64::new(0);

/// The worst ratio seen so far (in this process) of the bytes a node sent to
/// an address outside the node range to
/// `AMPLIFICATION x bytes received from it + ADMISSION_PING x records naming
/// it`; at most 1, or a check failed.
pub fn worst_amplification() -> f64 {
    f64::from_bits(WORST_AMPLIFICATION.load(Ordering::Relaxed))
}

/// What the harness saw of one node's traffic, for the adversary's
/// invariants. Reset when the node restarts.
#[derive(Default)]
struct Books {
    /// Pings it sent: sequence number -> (when, destination, target).
    pings: BTreeMap<u32, (Instant, u32, Identity<u32>)>,
    /// Sequence numbers of its latest pings, latest last.
    seen: VecDeque<u32>,
    /// Outside addresses that answered it: an ack carrying the sequence
    /// number of a ping it sent there reached it (only someone who saw the
    /// ping can send one).
    answered: BTreeSet<u32>,
    /// Node addresses for which an ack reached it answering a ping that
    /// named an identity the node there does not have (again only someone
    /// who saw the ping can send it).
    impersonated: BTreeSet<u32>,
    /// Outside addresses it was told to join through.
    seeds: BTreeSet<u32>,
    /// Per outside address: bytes it sent there...
    sent_to: BTreeMap<u32, u64>,
    /// ... bytes it received claiming that address as source ...
    claimed: BTreeMap<u32, u64>,
    /// ... and membership records it received naming that address.
    named: BTreeMap<u32, u64>,
}

struct Harness {
    config: Config,
    nodes: Vec<(Node, Watch)>,
    books: Vec<Books>,
    now: Instant,
    in_flight: Vec<Sent>,
    buf_extra: usize,
    seed: u64,
    lossless: bool,
    /// Timer rounds left to this lossless input.
    rounds_left: u32,
    /// The generation each node's current process started with: an
    /// identity with an older one belonged to a process that ended.
    first_generation: Vec<u32>,
    /// Identities of processes that called `leave`.
    departed: BTreeSet<(u32, u32)>,
    /// Datagrams delivered between nodes, latest last, for replays.
    delivered: VecDeque<Sent>,
    /// For the diagnosis of a broken invariant 1: node addresses a forged
    /// datagram accused of being suspect (a Suspect record, or a Dead one in
    /// a push-pull, which reads as Suspect), to any node...
    forged_suspect: BTreeSet<u32>,
    /// ... and node addresses that a node received a Left record about
    /// from that very address, which the node there never sent.
    spoofed_left: BTreeSet<u32>,
}

impl Harness {
    fn node_index(&self, n: u8) -> usize {
        usize::from(n) % self.nodes.len()
    }

    /// Number of nodes: they have the addresses `0..count`.
    fn count(&self) -> u32 {
        self.nodes.len() as u32
    }

    fn settle(&mut self, i: usize, now: Instant) {
        let (node, watch) = &mut self.nodes[i];
        let declared = watch.counters.members_declared_dead;
        let (sent, events) = settle(node, watch, now, self.buf_extra);
        let timed_out = watch.counters.members_declared_dead > declared;
        let at = self.now.max(now);
        for s in &sent {
            self.account_sent(i, at, s);
        }
        if self.lossless {
            for e in &events {
                self.check_not_evicted(i, e, timed_out);
            }
        }
        self.check_listed(i);
        self.in_flight.extend(sent);
        if !self.lossless {
            // A bounded network: the oldest datagrams are lost.
            let excess = self.in_flight.len().saturating_sub(256);
            self.in_flight.drain(..excess);
        }
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

    /// The address `s` stands for.
    fn address(&self, s: FSource) -> u32 {
        let count = self.count();
        match s {
            FSource::Node(n) => u32::from(n) % count,
            FSource::Phantom(n) => count + u32::from(n) % (u32::from(IDENTITIES) - count),
            FSource::Invented(n) => INVENTED + u32::from(n % INVENTED_COUNT),
        }
    }

    /// A forged source address for a datagram to `to`: never `to` itself.
    fn forged_source(&self, s: FSource, to: u32) -> u32 {
        let addr = self.address(s);
        if addr != to {
            addr
        } else if self.count() > 1 {
            (addr + 1) % self.count()
        } else {
            self.count()
        }
    }

    /// The identity `s` names, at a generation relative to the current one
    /// of the node there.
    fn identity(&self, s: FSubject) -> Identity<u32> {
        let addr = self.address(s.who);
        let current = self
            .nodes
            .get(addr as usize)
            .map_or(0, |(n, _)| n.local().identity.generation);
        Identity::new(addr, s.generation.apply(current))
    }

    /// An incarnation relative to the current one of the node `s` names.
    fn incarnation(&self, s: FSubject, offset: FOffset) -> u32 {
        let addr = self.address(s.who);
        let current = self
            .nodes
            .get(addr as usize)
            .map_or(0, |(n, _)| n.local().incarnation);
        offset.apply(current)
    }

    fn seq(&self, s: FSeq) -> u32 {
        match s {
            FSeq::Any(seq) => seq,
            FSeq::Seen { node, nth } => {
                let seen = &self.books[self.node_index(node)].seen;
                let n = usize::from(nth);
                seen.iter()
                    .rev()
                    .nth(n % seen.len().max(1))
                    .copied()
                    .unwrap_or(0)
            }
        }
    }

    /// Encodes a forged datagram within the packet budget; records that do
    /// not fit are left out.
    fn forge(&self, message: &FForgedMessage, records: &[FForgedRecord]) -> Vec<u8> {
        let mut buf = vec![0u8; usize::from(self.config.packet_budget)];
        let mut w = Writer::new(&mut buf);
        let payload;
        let message = match message {
            FForgedMessage::Ping { seq, target } => Message::Ping {
                seq: self.seq(*seq),
                target: self.identity(*target),
            },
            FForgedMessage::Ack { seq } => Message::Ack {
                seq: self.seq(*seq),
            },
            FForgedMessage::PingReq { seq, target } => Message::PingReq {
                seq: self.seq(*seq),
                target: self.identity(*target),
            },
            FForgedMessage::Nack { seq } => Message::Nack {
                seq: self.seq(*seq),
            },
            FForgedMessage::Gossip => Message::Gossip,
            FForgedMessage::Sync { flags } => Message::Sync {
                flags: flags & (SYNC_WANT_REPLY | SYNC_JOIN),
            },
            FForgedMessage::Direct { len } => {
                payload = fill(*len, BLOB + 8);
                Message::Direct { payload: &payload }
            }
        };
        encode_packet_start(&mut w, self.config.cluster_tag, &message)
            .expect("a message fits the smallest budget");
        for r in records {
            let data;
            let record = match r {
                FForgedRecord::Member {
                    state,
                    about,
                    incarnation,
                    accuser,
                } => {
                    let state = member_state(*state);
                    let incarnation = self.incarnation(*about, *incarnation);
                    Record::Member {
                        state,
                        id: self.identity(*about),
                        incarnation,
                        accuser: (state == MemberState::Suspect).then(|| self.address(*accuser)),
                        suspicion_age_ms: spread(incarnation),
                    }
                }
                FForgedRecord::Meta {
                    about,
                    version,
                    len,
                } => {
                    data = fill(*len, BLOB + 8);
                    Record::Meta {
                        id: self.identity(*about),
                        version: version.apply(0),
                        data: &data,
                    }
                }
                FForgedRecord::Broadcast {
                    origin,
                    epoch,
                    seq,
                    key,
                    len,
                } => {
                    data = fill(*len, BLOB + 8);
                    Record::Broadcast {
                        origin: self.identity(*origin),
                        epoch: *epoch,
                        seq: u32::from(*seq),
                        key: key.map(u64::from),
                        payload: &data,
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

    /// Delivers a datagram to the node at `to`, if any. `genuine`: a node
    /// sent it (then it may be replayed later).
    fn deliver(&mut self, to: u32, from: u32, bytes: &[u8], genuine: bool) {
        let Some(i) = self.nodes.iter().position(|(_, w)| w.addr == to) else {
            return;
        };
        self.account_received(i, from, bytes, genuine);
        if genuine {
            if self.delivered.len() == REPLAYABLE {
                self.delivered.pop_front();
            }
            self.delivered.push_back(Sent {
                from,
                to,
                bytes: bytes.to_vec(),
                ping: None,
            });
        }
        let now = self.now;
        let drops = self.nodes[i].0.counters().drops.total();
        let identity = self.nodes[i].0.local().identity.clone();
        self.nodes[i].0.handle_datagram(now, from, bytes);
        check_refuted(&self.nodes[i].0, bytes, &identity, drops);
        self.settle(i, now);
    }

    /// Books a datagram delivered to node `i`: bytes from an outside
    /// source, membership records naming outside addresses, and acks
    /// answering pings to outside addresses or to identities the node there
    /// does not have.
    fn account_received(&mut self, i: usize, from: u32, bytes: &[u8], genuine: bool) {
        let count = self.count();
        if from >= count {
            *self.books[i].claimed.entry(from).or_default() += bytes.len() as u64;
        }
        let Ok(packet) = Packet::<u32>::decode(bytes, self.config.cluster_tag) else {
            return;
        };
        let sync = matches!(packet.message, Message::Sync { .. });
        for r in packet.records().flatten() {
            let Record::Member { id, state, .. } = r else {
                continue;
            };
            if id.addr >= count {
                *self.books[i].named.entry(id.addr).or_default() += 1;
            } else if !genuine {
                match state {
                    MemberState::Suspect => {
                        self.forged_suspect.insert(id.addr);
                    }
                    MemberState::Dead if sync => {
                        self.forged_suspect.insert(id.addr);
                    }
                    MemberState::Left if id.addr == from => {
                        self.spoofed_left.insert(id.addr);
                    }
                    _ => {}
                }
            }
        }
        let Message::Ack { seq } = packet.message else {
            return;
        };
        let Some((_, to, target)) = self.books[i].pings.get(&seq).cloned() else {
            return;
        };
        if to >= count {
            self.books[i].answered.insert(to);
        } else if *self.nodes[to as usize].0.local().identity != target {
            self.books[i].impersonated.insert(to);
        }
    }

    /// Books a datagram node `i` sent, and checks invariant 3: what a node
    /// sends to an address outside the node range (a spoofed source, an
    /// invented member) that never answered it and is not one of its seeds
    /// stays within `AMPLIFICATION` times the bytes received claiming that
    /// address plus one bare admission ping per membership record naming it.
    fn account_sent(&mut self, i: usize, at: Instant, s: &Sent) {
        let count = self.count();
        let horizon = self
            .config
            .probe_interval
            .saturating_mul(u32::from(self.config.awareness_max) + 2);
        let b = &mut self.books[i];
        if let Some((seq, target)) = &s.ping {
            if b.pings.len() >= 1024 {
                // Pings older than the longest probe period cannot be
                // answered any more.
                b.pings.retain(|_, (when, ..)| *when + horizon >= at);
            }
            b.pings.insert(*seq, (at, s.to, target.clone()));
            if b.seen.len() == SEEN_SEQS {
                b.seen.pop_front();
            }
            b.seen.push_back(*seq);
        }
        if s.to < count {
            return;
        }
        let total = b.sent_to.entry(s.to).or_default();
        *total += s.bytes.len() as u64;
        if b.answered.contains(&s.to) || b.seeds.contains(&s.to) {
            return;
        }
        let claimed = b.claimed.get(&s.to).copied().unwrap_or(0);
        let named = b.named.get(&s.to).copied().unwrap_or(0);
        let allowed = AMPLIFICATION * claimed + ADMISSION_PING * named;
        assert!(
            *total <= allowed,
            "node {i} sent {total} bytes to {}, where no node runs: more than \
             {AMPLIFICATION} x the {claimed} bytes received from it plus \
             {ADMISSION_PING} per membership record naming it ({named})",
            s.to
        );
        let ratio = *total as f64 / allowed as f64;
        WORST_AMPLIFICATION.fetch_max(ratio.to_bits(), Ordering::Relaxed);
    }

    /// Invariant 2: a node lists a member at an address outside the node
    /// range only if that address answered one of its pings (nobody lives
    /// there, so only an adversary that saw the ping); such members are
    /// therefore never counted by `active_members()` either (which the
    /// table checks of `settle` tie to what `members()` lists).
    fn check_listed(&self, i: usize) {
        let count = self.count();
        let (node, _) = &self.nodes[i];
        for m in node.members() {
            let addr = m.identity.addr;
            assert!(
                addr < count || self.books[i].answered.contains(&addr),
                "node {i} lists {m:?}, where no node runs, though nothing answered its pings there"
            );
        }
    }

    /// Invariant 1, with a lossless network: no node reports a running node
    /// failed or left. Exempt are identities of processes that ended (older
    /// than the generation the current process started with), identities
    /// that called `leave`, and node addresses for which the observer got an
    /// ack to a ping naming an identity the node there does not have (an
    /// on-path adversary that saw the ping can make it adopt a generation
    /// nobody runs, which then fails).
    fn check_not_evicted(&self, i: usize, e: &Event<u32, BLOB>, timed_out: bool) {
        let (Event::MemberFailed(id) | Event::MemberLeft(id)) = e else {
            return;
        };
        let addr = id.addr;
        if addr >= self.count()
            || id.generation < self.first_generation[addr as usize]
            || self.departed.contains(&(addr, id.generation))
            || self.books[i].impersonated.contains(&addr)
        {
            return;
        }
        let local = self.nodes[addr as usize].0.local();
        let lifeguard = self.config.lifeguard;
        let suspected = self.forged_suspect.contains(&addr);
        // Out of scope: plain SWIM (Lifeguard off) has neither the buddy
        // system nor the last-chance ping, so a suspected member learns of
        // its suspicion only through gossip; with no fan-out, a forged
        // suspicion it never hears of expires (documented in the README's
        // threat model). Everything else stays strict without Lifeguard.
        if !lifeguard && suspected && timed_out && matches!(e, Event::MemberFailed(_)) {
            return;
        }
        let diagnosis = match e {
            Event::MemberLeft(_) if self.spoofed_left.contains(&addr) => {
                "it believed a Left record from the member's own address, which the member \
                 never sent (spoofed source)"
            }
            _ if id.generation < local.identity.generation => {
                "the member moved to a new generation (which an accusation at the top \
                 incarnation forces) that the observer never adopted, and the old identity \
                 no longer answers"
            }
            Event::MemberFailed(_) if suspected && !timed_out => {
                "it believed a Dead record without a check, a forged suspicion making it \
                 look credible"
            }
            Event::MemberFailed(_) if suspected && !lifeguard => {
                "a forged suspicion expired before the member's refutation reached it \
                 (no Lifeguard: no last-chance ping)"
            }
            Event::MemberFailed(_) if suspected => {
                "a forged suspicion expired before the member's refutation reached it \
                 (despite Lifeguard's last-chance ping)"
            }
            _ => "unknown",
        };
        panic!(
            "lossless network, yet node {i} reports {e:?} while node {addr} runs as {:?} \
             (incarnation {}, {:?}) and never left: forged input evicted a live member. \
             Diagnosis: {diagnosis}",
            local.identity, local.incarnation, local.status
        );
    }

    /// With a lossless network: delivers everything in flight at once,
    /// and what that makes the nodes send, until nothing is left.
    fn flush(&mut self) {
        for _ in 0..FLUSH_ROUNDS {
            if self.in_flight.is_empty() {
                return;
            }
            for d in std::mem::take(&mut self.in_flight) {
                self.deliver(d.to, d.from, &d.bytes, true);
            }
        }
        panic!(
            "the nodes keep answering each other at one instant: {} datagrams still in flight after {FLUSH_ROUNDS} rounds",
            self.in_flight.len()
        );
    }

    fn pick(&self, index: u8) -> Option<usize> {
        (!self.in_flight.is_empty()).then(|| usize::from(index) % self.in_flight.len())
    }
}

/// An arbitrary sequence of time steps, datagrams (structured, raw,
/// forged, replayed, delivered, lost, duplicated, corrupted), timeouts and
/// commands applied to one to three nodes, with every invariant checked
/// after every step.
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
        books: Vec::new(),
        now,
        in_flight: Vec::new(),
        buf_extra: usize::from(input.buf_extra) * 64,
        seed: input.seed,
        lossless: input.lossless,
        rounds_left: LOSSLESS_ROUNDS,
        first_generation: vec![1; count],
        departed: BTreeSet::new(),
        delivered: VecDeque::new(),
        forged_suspect: BTreeSet::new(),
        spoofed_left: BTreeSet::new(),
    };
    for addr in 0..count as u32 {
        let rng = Pcg32::seed_from_u64(input.seed ^ u64::from(addr));
        let node =
            Node::new(Identity::new(addr, 1), config.clone(), rng, now).expect("valid config");
        let watch = Watch::new(&node);
        h.nodes.push((node, watch));
        h.books.push(Books::default());
    }
    for step in input.steps.into_iter().take(MAX_STEPS) {
        run_step(&mut h, step);
        if h.lossless {
            h.flush();
        }
    }
}

fn run_step(h: &mut Harness, step: Step) {
    let now = h.now;
    match step {
        Step::Advance { millis } => {
            let span = Duration::from_millis(u64::from(millis));
            if h.lossless {
                run_on_time(h, span);
            } else {
                h.now += span;
            }
        }
        Step::Jump { secs } => {
            let span = Duration::from_secs(u64::from(secs));
            if h.lossless {
                run_on_time(h, span);
            } else {
                h.now += span;
            }
        }
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
                    check_progress(&h.nodes[i].0, now);
                }
            }
        }
        Step::Timeout { node } => {
            let i = h.node_index(node);
            h.nodes[i].0.handle_timeout(now);
            h.settle(i, now);
            check_progress(&h.nodes[i].0, now);
        }
        Step::Deliver { index } => {
            if let Some(k) = h.pick(index) {
                let d = h.in_flight.remove(k);
                h.deliver(d.to, d.from, &d.bytes, true);
            }
        }
        Step::Duplicate { index } => {
            if let Some(k) = h.pick(index) {
                let d = h.in_flight[k].clone();
                h.deliver(d.to, d.from, &d.bytes, true);
            }
        }
        Step::Corrupt { index, at, xor } => {
            if let Some(k) = h.pick(index) {
                let mut d = h.in_flight.remove(k);
                if !d.bytes.is_empty() {
                    let at = usize::from(at) % d.bytes.len();
                    d.bytes[at] ^= xor;
                }
                h.deliver(d.to, d.from, &d.bytes, false);
            }
        }
        Step::DeliverAll => {
            let batch = std::mem::take(&mut h.in_flight);
            for d in batch {
                h.deliver(d.to, d.from, &d.bytes, true);
            }
        }
        Step::Run { millis } => {
            let span = Duration::from_millis(u64::from(millis));
            if h.lossless {
                run_on_time(h, span);
            } else {
                run_network(h, span);
            }
        }
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
            let tag = h.config.cluster_tag;
            let seq_hint = last_seq_sent(&h.in_flight, h.nodes[i].1.addr, tag);
            let budget = usize::from(h.config.packet_budget);
            let bytes = encode_datagram(&datagram, tag, budget, seq_hint);
            let to = h.nodes[i].1.addr;
            h.deliver(to, h.source(from, to), &bytes, false);
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
            h.deliver(to, h.source(from, to), &bytes, false);
        }
        Step::Join { node, seeds } => {
            let i = h.node_index(node);
            let list: Vec<u32> = (0..u32::from(IDENTITIES))
                .filter(|a| seeds & (1 << a) != 0)
                .collect();
            if h.nodes[i].0.join(now, &list).is_ok() {
                // Syncs to seeds are the application's doing, not replies.
                let count = h.count();
                h.books[i]
                    .seeds
                    .extend(list.iter().filter(|&&a| a >= count));
            }
            h.settle(i, now);
        }
        Step::Leave { node } => {
            let i = h.node_index(node);
            if h.nodes[i].0.leave(now).is_ok() {
                // Every identity of this process leaves: the current one and
                // those it left behind when it exhausted an incarnation.
                let id = h.nodes[i].0.local().identity.clone();
                for generation in h.first_generation[i]..=id.generation {
                    h.departed.insert((id.addr, generation));
                }
            }
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
            h.books[i] = Books::default();
            if new_generation {
                h.first_generation[i] = generation;
            }
        }
        Step::Forge {
            node,
            from,
            message,
            records,
        } => {
            let i = h.node_index(node);
            let to = h.nodes[i].1.addr;
            let from = h.forged_source(from, to);
            let bytes = h.forge(&message, &records);
            h.deliver(to, from, &bytes, false);
        }
        Step::Replay { index, to, from } => {
            if h.delivered.is_empty() {
                return;
            }
            let d = h.delivered[usize::from(index) % h.delivered.len()].clone();
            let to = to.map_or(d.to, |n| h.nodes[h.node_index(n)].1.addr);
            let from = from.map_or(d.from, |s| h.forged_source(s, to));
            h.deliver(to, from, &d.bytes, false);
        }
    }
}

/// Runs the network for `span`: everything in flight is delivered, due
/// timers run, and the clock jumps to the next thing that happens.
/// The run loop's progress promise: once `handle_timeout(now)` ran and its
/// output was drained, the next deadline is later than `now` (or there is
/// none), so a driver that sleeps until it never spins.
fn check_progress(node: &Node, now: Instant) {
    let next = node.poll_timeout();
    assert!(
        next.is_none_or(|t| t > now),
        "deadline {next:?} not after {now:?} right after handle_timeout"
    );
}

fn run_network(h: &mut Harness, span: Duration) {
    let end = h.now + span;
    for _ in 0..1024 {
        let batch = std::mem::take(&mut h.in_flight);
        for d in batch {
            h.deliver(d.to, d.from, &d.bytes, true);
        }
        let now = h.now;
        for i in 0..h.nodes.len() {
            if h.nodes[i].0.poll_timeout().is_some_and(|t| t <= now) {
                h.nodes[i].0.handle_timeout(now);
                h.settle(i, now);
                check_progress(&h.nodes[i].0, now);
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

/// With a lossless network: lets `span` pass with every timer firing when
/// due and every datagram between nodes delivered at once (at most 1024
/// timer rounds, and [`LOSSLESS_ROUNDS`] per input, after which the clock
/// stays where it got).
fn run_on_time(h: &mut Harness, span: Duration) {
    let end = h.now + span;
    for _ in 0..1024 {
        if h.rounds_left == 0 {
            return;
        }
        h.rounds_left -= 1;
        h.flush();
        let now = h.now;
        for i in 0..h.nodes.len() {
            if h.nodes[i].0.poll_timeout().is_some_and(|t| t <= now) {
                h.nodes[i].0.handle_timeout(now);
                h.settle(i, now);
            }
        }
        h.flush();
        if now >= end {
            return;
        }
        let next = h
            .nodes
            .iter()
            .filter_map(|(n, _)| n.poll_timeout())
            .min()
            .unwrap_or(end);
        h.now = next.max(now + Duration::from_micros(1)).min(end);
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
fn last_seq_sent(in_flight: &[Sent], addr: u32, tag: u32) -> u32 {
    in_flight
        .iter()
        .rev()
        .filter(|d| d.from == addr)
        .find_map(
            |d| match Packet::<u32>::decode(&d.bytes, tag).ok()?.message {
                Message::Ping { seq, .. } | Message::PingReq { seq, .. } => Some(seq),
                _ => None,
            },
        )
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
        suspicion_age_ms: 0,
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
                    suspicion_age_ms: 0,
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

/// A suspicion age for a fuzzed record, drawn from a field the input already
/// sets (so that earlier inputs keep their meaning): zero, small and huge
/// ages all occur, the claims a lying sender could make.
fn spread(seed: u32) -> u32 {
    match seed % 3 {
        0 => 0,
        1 => seed % 2_000,
        _ => seed.wrapping_mul(0x9e37_79b9),
    }
}
