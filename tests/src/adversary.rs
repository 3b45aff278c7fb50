//! A hostile-node model: forged, spoofed and replayed datagrams.
//!
//! The adversary is not a node. At scheduled times ([`Action::Attack`]) it
//! writes well-formed datagrams with [`swim_core::wire`] and hands them to
//! chosen nodes as if they came from any source address it likes: a
//! node's, an address where nobody listens ([`fake`]), or its own
//! ([`ADVERSARY_ADDR`]). What they say is up to the attack: membership
//! records of every kind about any member, at any generation and
//! incarnation relative to the member's real ones (the simulator knows
//! them), invented members, push-pull requests, pings, ping-reqs, or
//! datagrams captured on the wire earlier in the run ([`Action::Capture`])
//! and replayed.
//!
//! Forged datagrams travel with the default link's latency (no loss, no
//! jitter, no partition: the adversary sits wherever it likes) and are
//! handled like any other datagram (a paused node queues them). The
//! adversary draws from its own generator, seeded from the scenario seed,
//! only while carrying out an action, so runs stay deterministic for any
//! number of threads.
//!
//! What it measures ([`Adversary`], [`AdversaryReport`]): for every address
//! that is not a running node, the datagrams and bytes the nodes sent to it
//! against those the adversary sent claiming it as source (amplification),
//! per kind of triggering datagram.
//!
//! ```
//! use std::time::Duration;
//! use swim_core::Config;
//! use swim_tests::adversary::{Attack, Forged, Forgery, Subject};
//! use swim_tests::scenario::Scenario;
//!
//! // One Gossip datagram to node 0 saying that node 3's next generation
//! // is dead.
//! let forged = Forged::dead(Subject::offset(3, 1, 0));
//! let report = Scenario::new(6, Config::local(), 1)
//!     .with_duration(Duration::from_secs(15))
//!     .attack(Duration::from_secs(5), Attack::gossip(vec![forged]).to(vec![0]))
//!     .run();
//! let adversary = report.adversary.expect("an attack ran");
//! assert_eq!(adversary.forged_datagrams, 1);
//! ```
//!
//! [`Action::Attack`]: crate::fault::Action::Attack
//! [`Action::Capture`]: crate::fault::Action::Capture

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::Serialize;
use swim_core::wire::codec::Writer;
use swim_core::wire::{
    encode_packet_start, encode_record, Message, MessageType, Record, HEADER_LEN, SYNC_WANT_REPLY,
};
use swim_core::{Identity, MemberState};

use crate::net::rng_below;

/// First address of invented members: [`fake`]`(i)` is `FAKE_BASE + i`.
/// Simulated nodes are numbered from 0, far below it.
pub const FAKE_BASE: u32 = 1 << 30;

/// The adversary's own address (no node listens there either).
pub const ADVERSARY_ADDR: u32 = u32::MAX - 1;

/// An address of no node, outside the range of invented members (below
/// 2^30 of them): a convenient spoofed source.
pub const NOBODY: u32 = 0xC000_0000;

/// The `i`-th address where nobody listens.
pub fn fake(i: u32) -> u32 {
    FAKE_BASE.saturating_add(i)
}

/// Whom a forged record (or a ping-req) names, at which generation and
/// incarnation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Simulated node `node`: its real generation plus `generation`, its
    /// real incarnation plus `incarnation`, read when the datagram is
    /// built (offsets saturate at 0 and `u32::MAX`). A node that is down
    /// counts with its last generation and persisted incarnation.
    Node {
        /// The node.
        node: u32,
        /// Offset from its real generation.
        generation: i64,
        /// Offset from its real incarnation.
        incarnation: i64,
    },
    /// Exactly this identity, at this incarnation.
    Exact {
        /// Address.
        addr: u32,
        /// Generation.
        generation: u32,
        /// Incarnation.
        incarnation: u32,
    },
}

impl Subject {
    /// Node `node` as it really is.
    pub fn node(node: u32) -> Self {
        Subject::offset(node, 0, 0)
    }

    /// Node `node` at its real generation and incarnation plus offsets.
    pub fn offset(node: u32, generation: i64, incarnation: i64) -> Self {
        Subject::Node {
            node,
            generation,
            incarnation,
        }
    }

    /// Address `addr` at generation 0, incarnation 0 (an invented member).
    pub fn fake(addr: u32) -> Self {
        Subject::Exact {
            addr,
            generation: 0,
            incarnation: 0,
        }
    }
}

/// What a forged record claims about its subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Alive.
    Alive,
    /// Suspected by `accuser`.
    Suspect {
        /// The accuser named in the record.
        accuser: u32,
    },
    /// Declared dead.
    Dead,
    /// Left.
    Left,
    /// Its metadata is `data`, at `version`.
    Meta {
        /// Metadata version.
        version: u32,
        /// The metadata.
        data: Vec<u8>,
    },
}

/// One forged record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forged {
    /// What it says.
    pub claim: Claim,
    /// About whom.
    pub subject: Subject,
}

impl Forged {
    /// "`subject` is alive".
    pub fn alive(subject: Subject) -> Self {
        Forged {
            claim: Claim::Alive,
            subject,
        }
    }

    /// "`accuser` suspects `subject`".
    pub fn suspect(subject: Subject, accuser: u32) -> Self {
        Forged {
            claim: Claim::Suspect { accuser },
            subject,
        }
    }

    /// "`subject` is dead".
    pub fn dead(subject: Subject) -> Self {
        Forged {
            claim: Claim::Dead,
            subject,
        }
    }

    /// "`subject` left".
    pub fn left(subject: Subject) -> Self {
        Forged {
            claim: Claim::Left,
            subject,
        }
    }

    /// "`subject`'s metadata is `data` at `version`".
    pub fn meta(subject: Subject, version: u32, data: Vec<u8>) -> Self {
        Forged {
            claim: Claim::Meta { version, data },
            subject,
        }
    }
}

/// The datagrams an attack sends to each target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// Gossip messages carrying `records` (as many datagrams as the packet
    /// budget requires).
    Gossip(Vec<Forged>),
    /// Push-pull chunks with `flags` ([`SYNC_WANT_REPLY`],
    /// [`swim_core::wire::SYNC_JOIN`]) carrying `records` (none: one empty
    /// chunk).
    Sync {
        /// Sync flags.
        flags: u8,
        /// The records.
        records: Vec<Forged>,
    },
    /// A Ping naming the receiver's real identity, so that it answers.
    Ping,
    /// A PingReq asking the receiver to probe `target`.
    PingReq {
        /// The member to probe.
        target: Subject,
    },
    /// `count` invented members, [`fake`]`(first)` onwards, Alive at
    /// generation 0 and at an incarnation equal to the attack's round
    /// (so that a repeated attack refreshes them), packed into Gossip
    /// datagrams of the packet budget.
    Invent {
        /// Index of the first fake address.
        first: u32,
        /// How many.
        count: u32,
    },
    /// `count` datagrams picked at random among those captured so far
    /// (every one if fewer), sent again unchanged.
    Replay {
        /// How many.
        count: usize,
    },
}

/// The source address a forged datagram claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// This address: a node's, a [`fake`] or [`ADVERSARY_ADDR`].
    Addr(u32),
    /// For replays, each captured datagram's original sender; for other
    /// forgeries, [`ADVERSARY_ADDR`].
    Original,
}

/// Which nodes receive an attack's datagrams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// These nodes (running or not: a datagram to a node that is down is
    /// lost).
    Nodes(Vec<u32>),
    /// Every node running when the attack is carried out.
    AllRunning,
    /// For replays, each captured datagram's original receiver; for other
    /// forgeries, nobody.
    Original,
}

/// One hostile action: what to send, as whom, to whom. Schedule it with
/// [`Scenario::attack`](crate::scenario::Scenario::attack) or
/// [`Scenario::attack_every`](crate::scenario::Scenario::attack_every).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attack {
    /// The datagrams.
    pub forgery: Forgery,
    /// The claimed source.
    pub source: Source,
    /// The receivers.
    pub targets: Targets,
}

impl Attack {
    /// `forgery` from [`ADVERSARY_ADDR`] (replays: from the original
    /// senders) to every running node (replays: to the original
    /// receivers); change with [`Attack::from`] and [`Attack::to`].
    pub fn new(forgery: Forgery) -> Self {
        let replay = matches!(forgery, Forgery::Replay { .. });
        Attack {
            forgery,
            source: if replay {
                Source::Original
            } else {
                Source::Addr(ADVERSARY_ADDR)
            },
            targets: if replay {
                Targets::Original
            } else {
                Targets::AllRunning
            },
        }
    }

    /// Gossip datagrams carrying `records`.
    pub fn gossip(records: Vec<Forged>) -> Self {
        Attack::new(Forgery::Gossip(records))
    }

    /// An empty push-pull chunk asking for the receiver's table.
    pub fn sync_want_reply() -> Self {
        Attack::new(Forgery::Sync {
            flags: SYNC_WANT_REPLY,
            records: Vec::new(),
        })
    }

    /// A ping naming the receiver's identity.
    pub fn ping() -> Self {
        Attack::new(Forgery::Ping)
    }

    /// A ping-req for `target`.
    pub fn ping_req(target: Subject) -> Self {
        Attack::new(Forgery::PingReq { target })
    }

    /// `count` invented members from [`fake`]`(first)`.
    pub fn invent(first: u32, count: u32) -> Self {
        Attack::new(Forgery::Invent { first, count })
    }

    /// `count` captured datagrams, sent again.
    pub fn replay(count: usize) -> Self {
        Attack::new(Forgery::Replay { count })
    }

    /// Claims `addr` as the source.
    pub fn from(mut self, addr: u32) -> Self {
        self.source = Source::Addr(addr);
        self
    }

    /// Sends to `nodes` only.
    pub fn to(mut self, nodes: Vec<u32>) -> Self {
        self.targets = Targets::Nodes(nodes);
        self
    }
}

/// What the adversary records off the wire (datagrams the network
/// delivers between nodes), from the time of the [`Action::Capture`]
/// until `until`.
///
/// [`Action::Capture`]: crate::fault::Action::Capture
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    /// Virtual time at which recording stops.
    pub until: Duration,
    /// Datagrams kept at most (over the whole run).
    pub max: usize,
    /// Message types recorded (empty: every type).
    pub kinds: Vec<MessageType>,
    /// Longest datagram recorded (`None`: any length). An attacker after
    /// amplification keeps the small datagrams that get answered.
    pub max_len: Option<usize>,
}

/// A datagram recorded on the wire.
#[derive(Clone, Debug)]
struct Captured {
    from: u32,
    to: u32,
    data: Box<[u8]>,
}

/// Datagrams and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Datagrams.
    pub datagrams: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: usize) {
        self.datagrams += 1;
        self.bytes += bytes as u64;
    }
}

/// What the adversary sent claiming one source address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claimed {
    /// Datagrams and bytes.
    pub sent: Tally,
    /// Kinds of datagram sent as this source (see [`kind_label`]).
    pub kinds: BTreeSet<&'static str>,
    /// The address was a running node's when the adversary claimed it at
    /// least once (its amplification cannot be measured: the node's own
    /// traffic to it is legitimate).
    pub while_running: bool,
}

/// A forged datagram ready for delivery.
#[derive(Debug)]
pub(crate) struct Injection {
    pub to: u32,
    pub from: u32,
    pub data: Box<[u8]>,
    /// Membership claims it makes: (address, generation, incarnation).
    pub claims: Vec<(u32, u32, u32)>,
}

/// What the adversary needs to know about the simulated world.
pub(crate) struct World<'a> {
    /// Cluster tag of the nodes' configuration.
    pub tag: u32,
    /// Their packet budget.
    pub budget: usize,
    /// Nodes running now.
    pub running: Vec<u32>,
    /// Real (generation, incarnation) of a simulated node.
    pub real: &'a dyn Fn(u32) -> (u32, u32),
}

/// The adversary's state and measurements, kept by the simulator.
#[derive(Debug)]
pub struct Adversary {
    rng: Pcg64,
    /// Set once an attack or capture is scheduled: traffic to absent
    /// addresses is counted from then on.
    pub(crate) active: bool,
    capture: Option<(u64, Capture)>,
    captured: Vec<Captured>,
    /// Forged datagrams and bytes sent (replays included).
    pub forged: Tally,
    /// Replayed datagrams among them.
    pub replayed: u64,
    /// Per claimed source address.
    pub claimed: BTreeMap<u32, Claimed>,
    /// What the nodes sent to each address that was not a running node at
    /// the time.
    pub received: BTreeMap<u32, Tally>,
}

/// Label of a datagram kind: its message type, with "want-reply" for a
/// Sync that asks for the receiver's table.
pub fn kind_label(data: &[u8]) -> &'static str {
    let kind = data.get(HEADER_LEN).copied().unwrap_or(0);
    let flags = data.get(HEADER_LEN + 1).copied().unwrap_or(0);
    match kind {
        1 => "Ping",
        2 => "Ack",
        3 => "PingReq",
        4 => "Nack",
        5 => "Gossip",
        6 if flags & SYNC_WANT_REPLY != 0 => "Sync want-reply",
        6 => "Sync",
        7 => "Direct",
        _ => "unknown",
    }
}

fn message_type(data: &[u8]) -> Option<MessageType> {
    Some(match data.get(HEADER_LEN)? {
        1 => MessageType::Ping,
        2 => MessageType::Ack,
        3 => MessageType::PingReq,
        4 => MessageType::Nack,
        5 => MessageType::Gossip,
        6 => MessageType::Sync,
        7 => MessageType::Direct,
        _ => return None,
    })
}

fn replay_label(kind: &'static str) -> &'static str {
    match kind {
        "Ping" => "replayed Ping",
        "Ack" => "replayed Ack",
        "PingReq" => "replayed PingReq",
        "Nack" => "replayed Nack",
        "Gossip" => "replayed Gossip",
        "Sync want-reply" => "replayed Sync want-reply",
        "Sync" => "replayed Sync",
        "Direct" => "replayed Direct",
        _ => "replayed unknown",
    }
}

fn offset(base: u32, by: i64) -> u32 {
    (i64::from(base).saturating_add(by)).clamp(0, i64::from(u32::MAX)) as u32
}

/// Writes `records` after `message` into as many datagrams of `budget`
/// bytes as needed (one at least; a record larger than a datagram is
/// skipped).
fn pack(
    tag: u32,
    budget: usize,
    message: &Message<'_, u32>,
    records: &[Record<'_, u32>],
) -> Vec<Box<[u8]>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; budget];
    let mut i = 0;
    loop {
        let mut w = Writer::new(&mut buf);
        if encode_packet_start(&mut w, tag, message).is_none() {
            return out;
        }
        let start = w.len();
        while i < records.len() && encode_record(&mut w, &records[i]).is_some() {
            i += 1;
        }
        let (len, empty) = (w.len(), w.len() == start);
        if empty && i < records.len() {
            i += 1;
            continue;
        }
        out.push(buf[..len].into());
        if i >= records.len() {
            return out;
        }
    }
}

impl Adversary {
    /// An adversary whose choices come from `seed`.
    pub fn new(seed: u64) -> Self {
        Adversary {
            rng: Pcg64::seed_from_u64(seed ^ 0x6164_7665_7273_6172),
            active: false,
            capture: None,
            captured: Vec::new(),
            forged: Tally::default(),
            replayed: 0,
            claimed: BTreeMap::new(),
            received: BTreeMap::new(),
        }
    }

    /// True once an attack or capture was scheduled.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Datagrams captured so far.
    pub fn captured(&self) -> usize {
        self.captured.len()
    }

    /// Starts recording at virtual time `now` (µs).
    pub(crate) fn start_capture(&mut self, now: u64, capture: Capture) {
        let until = u64::try_from(capture.until.as_micros()).unwrap_or(u64::MAX);
        if until >= now {
            self.capture = Some((until, capture));
        }
    }

    /// A datagram the network delivers from `from` to `to` at `now`.
    pub(crate) fn sniff(&mut self, now: u64, from: u32, to: u32, data: &[u8]) {
        let Some((until, c)) = &self.capture else {
            return;
        };
        if now > *until || self.captured.len() >= c.max {
            self.capture = None;
            return;
        }
        let kind = message_type(data);
        if !c.kinds.is_empty() && !kind.is_some_and(|k| c.kinds.contains(&k)) {
            return;
        }
        if c.max_len.is_some_and(|max| data.len() > max) {
            return;
        }
        self.captured.push(Captured {
            from,
            to,
            data: data.into(),
        });
    }

    /// A node sent `len` bytes to `to`, which is not a running node.
    pub(crate) fn sent_to_absent(&mut self, to: u32, len: usize) {
        if self.active {
            self.received.entry(to).or_default().add(len);
        }
    }

    /// The datagrams of `attack` in round `round` (its repetition).
    pub(crate) fn forge(
        &mut self,
        attack: &Attack,
        round: u32,
        world: &World<'_>,
    ) -> Vec<Injection> {
        let targets: Vec<u32> = match &attack.targets {
            Targets::Nodes(n) => n.clone(),
            Targets::AllRunning => world.running.clone(),
            Targets::Original => Vec::new(),
        };
        let source = match attack.source {
            Source::Addr(a) => Some(a),
            Source::Original => None,
        };
        let mut out = Vec::new();
        if let Forgery::Replay { count } = attack.forgery {
            let n = self.captured.len();
            let mut idx: Vec<usize> = (0..n).collect();
            let count = count.min(n);
            for i in 0..count {
                let j = i + rng_below(&mut self.rng, (n - i) as u64) as usize;
                idx.swap(i, j);
            }
            idx.truncate(count);
            idx.sort_unstable();
            for i in idx {
                let c = &self.captured[i];
                let from = source.unwrap_or(c.from);
                let tos = if matches!(attack.targets, Targets::Original) {
                    vec![c.to]
                } else {
                    targets.clone()
                };
                for to in tos {
                    out.push(Injection {
                        to,
                        from,
                        data: c.data.clone(),
                        claims: Vec::new(),
                    });
                }
            }
            self.replayed += out.len() as u64;
            self.account(&out, true, world);
            return out;
        }
        let from = source.unwrap_or(ADVERSARY_ADDR);
        let (tag, budget) = (world.tag, world.budget);
        for &to in &targets {
            let mut claims = Vec::new();
            let datagrams = match &attack.forgery {
                Forgery::Gossip(records) => {
                    let r = self.records(records, world, &mut claims);
                    let r: Vec<_> = r.iter().map(|f| f.record()).collect();
                    pack(tag, budget, &Message::Gossip, &r)
                }
                Forgery::Sync { flags, records } => {
                    let r = self.records(records, world, &mut claims);
                    let r: Vec<_> = r.iter().map(|f| f.record()).collect();
                    pack(tag, budget, &Message::Sync { flags: *flags }, &r)
                }
                Forgery::Ping => {
                    let (generation, _) = (world.real)(to);
                    let ping = Message::Ping {
                        seq: self.rng.next_u32(),
                        target: Identity::new(to, generation),
                    };
                    pack(tag, budget, &ping, &[])
                }
                Forgery::PingReq { target } => {
                    let (addr, generation, _) = resolve(target, world);
                    let req = Message::PingReq {
                        seq: self.rng.next_u32(),
                        target: Identity::new(addr, generation),
                    };
                    pack(tag, budget, &req, &[])
                }
                Forgery::Invent { first, count } => {
                    let records: Vec<_> = (0..*count)
                        .map(|i| {
                            let addr = fake(first.saturating_add(i));
                            claims.push((addr, 0, round));
                            Record::Member {
                                state: MemberState::Alive,
                                id: Identity::new(addr, 0),
                                incarnation: round,
                                accuser: None,
                                suspicion_age_ms: 0,
                            }
                        })
                        .collect();
                    pack(tag, budget, &Message::Gossip, &records)
                }
                Forgery::Replay { .. } => Vec::new(),
            };
            for data in datagrams {
                out.push(Injection {
                    to,
                    from,
                    data,
                    claims: claims.clone(),
                });
            }
        }
        self.account(&out, false, world);
        out
    }

    fn records(
        &self,
        records: &[Forged],
        world: &World<'_>,
        claims: &mut Vec<(u32, u32, u32)>,
    ) -> Vec<Resolved> {
        records
            .iter()
            .map(|f| {
                let (addr, generation, incarnation) = resolve(&f.subject, world);
                if !matches!(f.claim, Claim::Meta { .. }) {
                    claims.push((addr, generation, incarnation));
                }
                Resolved {
                    claim: f.claim.clone(),
                    id: Identity::new(addr, generation),
                    incarnation,
                }
            })
            .collect()
    }

    fn account(&mut self, out: &[Injection], replay: bool, world: &World<'_>) {
        for inj in out {
            let running = world.running.binary_search(&inj.from).is_ok();
            self.forged.add(inj.data.len());
            let kind = kind_label(&inj.data);
            let kind = if replay { replay_label(kind) } else { kind };
            let c = self.claimed.entry(inj.from).or_default();
            c.sent.add(inj.data.len());
            c.kinds.insert(kind);
            c.while_running |= running;
        }
    }

    /// Amplification per claimed source address, worst first. Addresses
    /// claimed while they were a running node's are left out (that node's
    /// own traffic cannot be told apart); what the nodes sent to an
    /// address counts only while no node ran there.
    pub fn amplification(&self) -> Vec<Amplification> {
        let mut v: Vec<Amplification> = self
            .claimed
            .iter()
            .filter(|(_, c)| c.sent.bytes > 0 && !c.while_running)
            .map(|(&addr, c)| {
                let received = self.received.get(&addr).copied().unwrap_or_default();
                Amplification {
                    addr,
                    kinds: c.kinds.iter().map(|k| k.to_string()).collect(),
                    claimed: c.sent,
                    received,
                    ratio: received.bytes as f64 / c.sent.bytes as f64,
                }
            })
            .collect();
        v.sort_by(|a, b| b.ratio.total_cmp(&a.ratio).then(a.addr.cmp(&b.addr)));
        v
    }

    /// Everything the adversary measured itself. The figures read from
    /// the nodes' tables (`foreign_*`, `members_refused`) are left at 0
    /// here and filled in by [`Report::new`](crate::report::Report::new).
    pub fn report(&self) -> AdversaryReport {
        let amp = self.amplification();
        let mut by_kind: BTreeMap<&str, &Amplification> = BTreeMap::new();
        for a in &amp {
            if let [kind] = a.kinds.as_slice() {
                let e = by_kind.entry(kind.as_str()).or_insert(a);
                if a.ratio > e.ratio {
                    *e = a;
                }
            }
        }
        let unsolicited: Vec<(&u32, &Tally)> = self
            .received
            .iter()
            .filter(|(a, _)| !self.claimed.contains_key(a))
            .collect();
        AdversaryReport {
            forged_datagrams: self.forged.datagrams,
            forged_bytes: self.forged.bytes,
            captured: self.captured.len(),
            replayed: self.replayed,
            worst_amplification: amp.first().cloned(),
            amplification_by_kind: by_kind
                .into_iter()
                .map(|(kind, a)| KindAmplification {
                    kind: kind.to_string(),
                    ratio: a.ratio,
                    addr: a.addr,
                })
                .collect(),
            spoofed_sources: amp.iter().take(20).cloned().collect(),
            unsolicited_addresses: unsolicited.len(),
            unsolicited: Tally {
                datagrams: unsolicited.iter().map(|(_, t)| t.datagrams).sum(),
                bytes: unsolicited.iter().map(|(_, t)| t.bytes).sum(),
            },
            foreign_members_at_end: 0,
            foreign_active_at_end: 0,
            members_refused: 0,
        }
    }
}

/// A record with its subject resolved.
struct Resolved {
    claim: Claim,
    id: Identity<u32>,
    incarnation: u32,
}

impl Resolved {
    fn record(&self) -> Record<'_, u32> {
        let member = |state| Record::Member {
            state,
            id: self.id.clone(),
            incarnation: self.incarnation,
            accuser: None,
            suspicion_age_ms: 0,
        };
        match &self.claim {
            Claim::Alive => member(MemberState::Alive),
            Claim::Dead => member(MemberState::Dead),
            Claim::Left => member(MemberState::Left),
            // A liar claims the largest age, which shortens the timers of
            // the nodes that believe it the most.
            Claim::Suspect { accuser } => Record::Member {
                state: MemberState::Suspect,
                id: self.id.clone(),
                incarnation: self.incarnation,
                accuser: Some(*accuser),
                suspicion_age_ms: u32::MAX,
            },
            Claim::Meta { version, data } => Record::Meta {
                id: self.id.clone(),
                version: *version,
                data,
            },
        }
    }
}

fn resolve(subject: &Subject, world: &World<'_>) -> (u32, u32, u32) {
    match *subject {
        Subject::Node {
            node,
            generation,
            incarnation,
        } => {
            let (g, i) = (world.real)(node);
            (node, offset(g, generation), offset(i, incarnation))
        }
        Subject::Exact {
            addr,
            generation,
            incarnation,
        } => (addr, generation, incarnation),
    }
}

/// Traffic the nodes sent to one address the adversary claimed as source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Amplification {
    /// The address.
    pub addr: u32,
    /// Kinds of datagram the adversary sent as this address.
    pub kinds: Vec<String>,
    /// What the adversary sent claiming it.
    pub claimed: Tally,
    /// What the nodes sent to it.
    pub received: Tally,
    /// `received.bytes / claimed.bytes`.
    pub ratio: f64,
}

/// The worst amplification among addresses used with one kind only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindAmplification {
    /// Kind of the triggering datagram.
    pub kind: String,
    /// Bytes the nodes sent to the address per byte the adversary sent.
    pub ratio: f64,
    /// The address.
    pub addr: u32,
}

/// What the adversary did and caused, for the [`Report`](crate::report::Report).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdversaryReport {
    /// Forged datagrams sent (replays included).
    pub forged_datagrams: u64,
    /// Their bytes.
    pub forged_bytes: u64,
    /// Datagrams captured on the wire.
    pub captured: usize,
    /// Datagrams replayed.
    pub replayed: u64,
    /// The claimed source with the highest amplification.
    pub worst_amplification: Option<Amplification>,
    /// Per kind of triggering datagram, the worst amplification among
    /// sources used with that kind only.
    pub amplification_by_kind: Vec<KindAmplification>,
    /// Up to 20 claimed sources, worst amplification first.
    pub spoofed_sources: Vec<Amplification>,
    /// Addresses, not running nodes and never claimed by the adversary,
    /// that the nodes sent to (invented members, crashed nodes).
    pub unsolicited_addresses: usize,
    /// What the nodes sent to them.
    pub unsolicited: Tally,
    /// Table entries about addresses outside the node range, summed over
    /// the nodes running at the end.
    pub foreign_members_at_end: u64,
    /// Of which alive or suspect.
    pub foreign_active_at_end: u64,
    /// Members refused because the table was full, summed over the nodes
    /// running at the end.
    pub members_refused: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use swim_core::wire::Packet;
    use swim_core::Config;

    fn world(real: &dyn Fn(u32) -> (u32, u32)) -> World<'_> {
        World {
            tag: Config::lan().cluster_tag,
            budget: 1400,
            running: vec![0, 1, 2],
            real,
        }
    }

    #[test]
    fn forged_datagrams_decode_and_say_what_was_asked() {
        let real = |n: u32| (n + 10, n * 2);
        let w = world(&real);
        let mut adv = Adversary::new(1);
        let attack = Attack::gossip(vec![
            Forged::dead(Subject::offset(2, 1, 0)),
            Forged::suspect(Subject::offset(1, 0, 5), 7),
            Forged::meta(Subject::node(1), 3, b"x".to_vec()),
        ])
        .to(vec![0])
        .from(fake(3));
        let out = adv.forge(&attack, 0, &w);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].to, out[0].from), (0, fake(3)));
        assert_eq!(out[0].claims, vec![(2, 13, 4), (1, 11, 7)]);
        let p = Packet::<u32>::decode(&out[0].data, w.tag).unwrap();
        assert_eq!(p.message, Message::Gossip);
        let records: Vec<_> = p.records().map(Result::unwrap).collect();
        assert_eq!(
            records[0],
            Record::Member {
                state: MemberState::Dead,
                id: Identity::new(2, 13),
                incarnation: 4,
                accuser: None,
                suspicion_age_ms: 0,
            }
        );
        assert_eq!(
            records[1],
            Record::Member {
                state: MemberState::Suspect,
                id: Identity::new(1, 11),
                incarnation: 7,
                accuser: Some(7),
                // The largest age a liar can claim.
                suspicion_age_ms: u32::MAX,
            }
        );
        assert!(matches!(records[2], Record::Meta { version: 3, .. }));
        assert_eq!(adv.claimed[&fake(3)].kinds.iter().next(), Some(&"Gossip"));
    }

    #[test]
    fn invented_members_fill_datagrams_within_the_budget() {
        let real = |_| (0, 0);
        let w = world(&real);
        let mut adv = Adversary::new(1);
        let out = adv.forge(&Attack::invent(0, 500).to(vec![1]), 4, &w);
        assert!(out.len() > 1);
        let mut seen = 0;
        for inj in &out {
            assert!(inj.data.len() <= 1400);
            let p = Packet::<u32>::decode(&inj.data, w.tag).unwrap();
            for r in p.records() {
                let Ok(Record::Member {
                    state: MemberState::Alive,
                    id,
                    incarnation: 4,
                    ..
                }) = r
                else {
                    panic!("{r:?}");
                };
                assert_eq!(id.addr, fake(seen));
                seen += 1;
            }
        }
        assert_eq!(seen, 500);
        // Every record fits: no datagram could take one more.
        assert!(out[0].data.len() > 1400 - 10);
    }

    #[test]
    fn pings_name_the_receiver_and_sync_asks_for_a_reply() {
        let real = |n: u32| (n + 1, 0);
        let w = world(&real);
        let mut adv = Adversary::new(1);
        let out = adv.forge(&Attack::ping(), 0, &w);
        assert_eq!(out.len(), 3);
        for inj in &out {
            let p = Packet::<u32>::decode(&inj.data, w.tag).unwrap();
            let Message::Ping { target, .. } = p.message else {
                panic!()
            };
            assert_eq!(target, Identity::new(inj.to, inj.to + 1));
            assert_eq!(inj.from, ADVERSARY_ADDR);
        }
        let out = adv.forge(&Attack::sync_want_reply().to(vec![2]), 0, &w);
        assert_eq!(kind_label(&out[0].data), "Sync want-reply");
        assert_eq!(adv.forged.datagrams, 4);
    }

    #[test]
    fn replays_resend_captured_datagrams() {
        let real = |_| (0, 0);
        let w = world(&real);
        let mut adv = Adversary::new(1);
        adv.active = true;
        adv.start_capture(
            0,
            Capture {
                until: Duration::from_secs(1),
                max: 2,
                kinds: vec![MessageType::Ping],
                max_len: None,
            },
        );
        let ping = adv.forge(&Attack::ping().to(vec![1]), 0, &w).remove(0);
        adv.sniff(5, 0, 1, &ping.data);
        let sync = adv.forge(&Attack::sync_want_reply().to(vec![1]), 0, &w);
        adv.sniff(6, 0, 1, &sync[0].data);
        adv.sniff(7, 2, 1, &ping.data);
        adv.sniff(8, 2, 0, &ping.data);
        assert_eq!(adv.captured(), 2);
        let out = adv.forge(&Attack::replay(10), 0, &w);
        assert_eq!(
            out.iter().map(|i| (i.from, i.to)).collect::<Vec<_>>(),
            vec![(0, 1), (2, 1)]
        );
        let out = adv.forge(&Attack::replay(1).from(fake(1)).to(vec![2]), 0, &w);
        assert_eq!((out.len(), out[0].from, out[0].to), (1, fake(1), 2));
        assert!(adv.claimed[&fake(1)].kinds.contains("replayed Ping"));
        adv.sent_to_absent(fake(1), 30);
        let amp = adv.amplification();
        assert!(amp
            .iter()
            .any(|a| a.addr == fake(1) && a.received.bytes == 30));
    }
}
