//! A small in-memory network with a virtual clock that drives several
//! `Swim` instances (the full simulator lives in the `swim-tests` crate).

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use swim_core::wire::codec::Writer;
use swim_core::wire::{encode_packet_start, encode_record, Message, Record};
use swim_core::{Config, Event, Identity, Instant, MemberState, Swim};

/// Storage capacity used by the harness (no-alloc builds).
pub const CAP: usize = 128;
/// Blob capacity used by the harness (no-alloc builds).
pub const BLOB: usize = 128;

pub type Node = Swim<u32, Pcg32, CAP, BLOB>;

struct Datagram {
    from: u32,
    to: u32,
    bytes: Vec<u8>,
}

/// One logged event.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub node: u32,
    pub event: Event<u32, BLOB>,
}

pub struct Cluster {
    pub nodes: Vec<Option<Node>>,
    pub config: Config,
    pub now: Instant,
    pub log: Vec<Logged>,
    /// Percent of datagrams lost.
    pub loss_percent: u32,
    /// `blocked(from, to)`: datagrams on this link are dropped.
    pub blocked: Box<dyn Fn(u32, u32) -> bool>,
    /// Extra delay before a node sees what is sent to it (a slow node).
    pub inbound_delay: Vec<Duration>,
    pub datagrams: u64,
    pub max_datagram: usize,
    /// Record every datagram sent in `sends` (off by default).
    pub log_sends: bool,
    /// Assert, after every `handle_timeout(now)` and drain, that the
    /// node's next deadline is later than `now` (the progress promise).
    pub check_progress: bool,
    /// (time, from, to) of each datagram sent while `log_sends` is on.
    pub sends: Vec<(Instant, u32, u32)>,
    /// Bytes and datagrams sent to each address where no node lives.
    pub to_outsiders: std::collections::BTreeMap<u32, (usize, usize)>,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    in_flight: Vec<Option<Datagram>>,
    seq: u64,
    rng: Pcg32,
    seed: u64,
}

impl Cluster {
    /// `n` nodes with addresses `0..n`, generation 1, not yet joined.
    /// `SWIM_SEED_OFFSET` in the environment shifts every seed, to check a
    /// scenario's robustness over many runs.
    pub fn new(n: u32, config: Config, seed: u64) -> Self {
        let offset: u64 = std::env::var("SWIM_SEED_OFFSET")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let seed = seed.wrapping_add(offset.wrapping_mul(1_000_003));
        let mut cluster = Cluster {
            nodes: Vec::new(),
            config,
            now: Instant::from_secs(1),
            log: Vec::new(),
            loss_percent: 0,
            blocked: Box::new(|_, _| false),
            inbound_delay: vec![Duration::ZERO; n as usize],
            datagrams: 0,
            max_datagram: 0,
            log_sends: false,
            check_progress: false,
            sends: Vec::new(),
            to_outsiders: Default::default(),
            queue: BinaryHeap::new(),
            in_flight: Vec::new(),
            seq: 0,
            rng: Pcg32::seed_from_u64(seed),
            seed,
        };
        for i in 0..n {
            let node = cluster.make_node(i, 1, 0);
            cluster.nodes.push(Some(node));
        }
        cluster
    }

    fn make_node(&self, addr: u32, generation: u32, incarnation: u32) -> Node {
        let rng = Pcg32::seed_from_u64(
            self.seed.wrapping_mul(1000).wrapping_add(u64::from(addr))
                ^ u64::from(generation) << 40,
        );
        Node::new(
            Identity::new(addr, generation),
            self.config.clone(),
            rng,
            self.now,
        )
        .expect("valid config")
        .with_incarnation(incarnation)
    }

    pub fn len(&self) -> u32 {
        self.nodes.len() as u32
    }

    pub fn node(&self, i: u32) -> &Node {
        self.nodes[i as usize].as_ref().expect("node is running")
    }

    pub fn node_mut(&mut self, i: u32) -> &mut Node {
        self.nodes[i as usize].as_mut().expect("node is running")
    }

    pub fn is_running(&self, i: u32) -> bool {
        self.nodes[i as usize].is_some()
    }

    /// Every node except `seed` joins through `seed`.
    pub fn join_all_via(&mut self, seed: u32) {
        let now = self.now;
        for i in 0..self.len() {
            if i != seed && self.is_running(i) {
                self.node_mut(i).join(now, &[seed]).unwrap();
                self.drain(i);
            }
        }
    }

    /// Crashes a node: it stops at once, without a word.
    pub fn kill(&mut self, i: u32) {
        self.nodes[i as usize] = None;
    }

    /// Starts a node again at the same address.
    pub fn restart(&mut self, i: u32, generation: u32, incarnation: u32, seeds: &[u32]) {
        let node = self.make_node(i, generation, incarnation);
        self.nodes[i as usize] = Some(node);
        let now = self.now;
        if !seeds.is_empty() {
            self.node_mut(i).join(now, seeds).unwrap();
        }
        self.drain(i);
    }

    /// Sends raw bytes to a node as if from `from`.
    pub fn inject(&mut self, from: u32, to: u32, bytes: &[u8]) {
        let now = self.now;
        self.node_mut(to).handle_datagram(now, from, bytes);
        self.drain(to);
    }

    /// Drains a node's transmits and events after an input.
    pub fn drain(&mut self, i: u32) {
        let now = self.now;
        let budget = usize::from(self.config.packet_budget);
        let mut buf = vec![0u8; 65_536];
        let mut out = Vec::new();
        let Some(node) = self.nodes[i as usize].as_mut() else {
            return;
        };
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            assert!(
                t.len <= budget,
                "datagram of {} bytes over the {} budget",
                t.len,
                budget
            );
            out.push((t.destination, buf[..t.len].to_vec()));
        }
        while let Some(event) = node.poll_event() {
            self.log.push(Logged {
                at: now,
                node: i,
                event,
            });
        }
        for (to, bytes) in out {
            if self.log_sends {
                self.sends.push((now, i, to));
            }
            self.datagrams += 1;
            self.max_datagram = self.max_datagram.max(bytes.len());
            if to >= self.len() {
                let entry = self.to_outsiders.entry(to).or_default();
                entry.0 += bytes.len();
                entry.1 += 1;
                continue;
            }
            self.send(i, to, bytes);
        }
    }

    fn send(&mut self, from: u32, to: u32, bytes: Vec<u8>) {
        if (self.blocked)(from, to) {
            return;
        }
        if self.loss_percent > 0 && self.rng.next_u32() % 100 < self.loss_percent {
            return;
        }
        let latency = Duration::from_micros(500 + u64::from(self.rng.next_u32() % 1000));
        let delay = latency
            + self
                .inbound_delay
                .get(to as usize)
                .copied()
                .unwrap_or_default();
        let at = (self.now + delay).as_micros();
        self.in_flight.push(Some(Datagram { from, to, bytes }));
        self.seq += 1;
        self.queue
            .push(Reverse((at, self.seq, self.in_flight.len() - 1)));
    }

    /// Advances the virtual clock to the next thing that happens.
    fn step(&mut self, limit: Instant) -> bool {
        let next_packet = self
            .queue
            .peek()
            .map(|Reverse((at, _, _))| Instant::from_micros(*at));
        let next_timer = self
            .nodes
            .iter()
            .flatten()
            .filter_map(|n| n.poll_timeout())
            .min();
        let next = match (next_packet, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return false,
            },
        };
        if next > limit {
            self.now = limit;
            return false;
        }
        self.now = next.max(self.now);
        let now = self.now;
        while let Some(Reverse((at, _, idx))) = self.queue.peek().copied() {
            if Instant::from_micros(at) > now {
                break;
            }
            self.queue.pop();
            let Some(d) = self.in_flight[idx].take() else {
                continue;
            };
            if let Some(node) = self.nodes[d.to as usize].as_mut() {
                node.handle_datagram(now, d.from, &d.bytes);
                self.drain(d.to);
            }
        }
        if self.queue.is_empty() {
            self.in_flight.clear();
        }
        for i in 0..self.len() {
            let due = self.nodes[i as usize]
                .as_ref()
                .and_then(|n| n.poll_timeout())
                .is_some_and(|t| t <= now);
            if due {
                self.node_mut(i).handle_timeout(now);
                self.drain(i);
                if self.check_progress {
                    let next = self.nodes[i as usize]
                        .as_ref()
                        .and_then(|n| n.poll_timeout());
                    assert!(
                        next.is_none_or(|t| t > now),
                        "node {i}: deadline {next:?} not after {now:?} right after handle_timeout"
                    );
                }
            }
        }
        true
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.step(end) {}
        self.now = end;
    }

    /// Runs until `done` holds (checked after every step) or `d` elapsed;
    /// returns the time it took.
    pub fn run_until(
        &mut self,
        d: Duration,
        mut done: impl FnMut(&Cluster) -> bool,
    ) -> Option<Duration> {
        let start = self.now;
        let end = self.now + d;
        loop {
            if done(self) {
                return Some(self.now - start);
            }
            if !self.step(end) {
                return done(self).then(|| self.now - start);
            }
        }
    }

    /// What node `i` believes about node `j`.
    pub fn view(&self, i: u32, j: u32) -> Option<(MemberState, u32, u32)> {
        self.node(i)
            .member(&j)
            .map(|m| (m.state, m.incarnation, m.identity.generation))
    }

    /// True if every running node sees every other running node alive.
    pub fn converged(&self) -> bool {
        let running: Vec<u32> = (0..self.len()).filter(|&i| self.is_running(i)).collect();
        running.iter().all(|&i| {
            running.iter().all(|&j| {
                i == j
                    || self
                        .view(i, j)
                        .is_some_and(|(s, _, _)| s == MemberState::Alive)
            })
        })
    }

    /// Events of `kind` logged at node `at` about member `about`.
    pub fn count_events(
        &self,
        at: u32,
        mut matches: impl FnMut(&Event<u32, BLOB>) -> bool,
    ) -> usize {
        self.log
            .iter()
            .filter(|l| l.node == at && matches(&l.event))
            .count()
    }
}

/// Encodes one datagram by hand: `message`, then `records`.
pub fn packet(cluster_tag: u32, message: Message<'_, u32>, records: &[Record<'_, u32>]) -> Vec<u8> {
    let mut buf = [0u8; 1400];
    let mut w = Writer::new(&mut buf);
    encode_packet_start(&mut w, cluster_tag, &message).expect("header fits");
    for r in records {
        encode_record(&mut w, r).expect("record fits");
    }
    let n = w.len();
    buf[..n].to_vec()
}

/// Drains `node`'s output, answering every ping sent to one of `answering`
/// with an ack from that address, as a live member there would: members
/// learned of are admitted once they answer. Returns the pings answered.
pub fn answer_pings<const N: usize, const B: usize>(
    node: &mut Swim<u32, Pcg32, N, B>,
    now: Instant,
    answering: &[u32],
) -> usize {
    let tag = node.config().cluster_tag;
    let mut buf = [0u8; 1400];
    let mut answered = 0;
    loop {
        let mut acks = Vec::new();
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            let Ok(p) = swim_core::wire::Packet::<u32>::decode(&buf[..t.len], tag) else {
                continue;
            };
            if let Message::Ping { seq, .. } = p.message {
                if answering.contains(&t.destination) {
                    acks.push((t.destination, seq));
                }
            }
        }
        if acks.is_empty() {
            return answered;
        }
        for (from, seq) in acks {
            answered += 1;
            node.handle_datagram(now, from, &packet(tag, Message::Ack { seq }, &[]));
        }
    }
}
