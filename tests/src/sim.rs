//! The discrete-event simulator: many `swim-core` nodes, one virtual clock.

use std::time::Duration;

use rand_core::SeedableRng;
use rand_pcg::{Pcg32, Pcg64};
use swim_core::{Config, Event, Identity, Instant, LocalEvent, LocalStatus, MemberState, Swim};

use crate::fault::{Action, RestartMode};
use crate::invariants::Invariants;
use crate::metrics::{Accusation, Detection, Kill, Metrics, Percentiles, Sample};
use crate::net::{Fate, LinkModel, Network};
use crate::queue::EventQueue;

/// The node type simulated: `u32` addresses (node indexes), PCG32 RNG.
pub type Node = Swim<u32, Pcg32>;

/// Largest datagram buffer handed to `poll_transmit`.
const BUF_LEN: usize = 65_536;

/// Something in the event queue.
#[derive(Debug)]
enum Ev {
    Deliver { to: u32, from: u32, data: Box<[u8]> },
    Timer { node: u32, epoch: u32 },
    Resume { node: u32, epoch: u32 },
    Action(Box<Action>),
    Sample,
}

/// One simulated host: its process (if running) and its faults.
#[derive(Debug)]
struct Host {
    swim: Option<Node>,
    generation: u32,
    /// Bumped at every crash/start, so stale timers are ignored.
    epoch: u32,
    /// Next timer (virtual µs) scheduled for this process.
    timer_at: Option<u64>,
    clock_offset: i64,
    paused: bool,
    backlog: Vec<(u32, Box<[u8]>)>,
    slow: u64,
    busy_until: u64,
    /// Virtual time the current process started.
    started_at: u64,
    /// Highest incarnation persisted (for `RestartMode::PersistedIncarnation`).
    persisted: u32,
}

/// A deterministic simulation of `n` nodes.
///
/// Drive it with [`Simulator::schedule`] and [`Simulator::run_until`]; the
/// same seed and schedule always give the same [`Simulator::trace_hash`].
#[derive(Debug)]
pub struct Simulator {
    config: Config,
    hosts: Vec<Host>,
    queue: EventQueue<Ev>,
    net: Network,
    rng: Pcg64,
    seed: u64,
    now: u64,
    trace: u64,
    buf: Vec<u8>,
    sample_every: u64,
    /// Sum of `active_members()` over running nodes (fast convergence hint).
    active_sum: u64,
    active: Vec<u64>,
    up: usize,
    last_start: u64,
    next_verify: u64,
    metrics: Metrics,
    invariants: Invariants,
    watch: Option<u32>,
    log: Vec<String>,
}

const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Folds `bytes` into the trace hash: FNV-1a over 8-byte little-endian
/// words (the tail zero-padded, then its length), so hashing every
/// delivered datagram stays a small share of a large run.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        h ^= u64::from_le_bytes(word);
        h = h.wrapping_mul(FNV_PRIME);
    }
    let tail = words.remainder();
    let mut word = [0u8; 8];
    word[..tail.len()].copy_from_slice(tail);
    h ^= u64::from_le_bytes(word) ^ ((tail.len() as u64) << 59);
    h.wrapping_mul(FNV_PRIME)
}

/// Folds one event into the trace hash without formatting it.
fn hash_event(mut h: u64, now: u64, node: u32, event: &Event<u32, 64>) -> u64 {
    h = fnv(h, &now.to_le_bytes());
    h = fnv(h, &node.to_le_bytes());
    let (tag, id) = match event {
        Event::MemberJoined(id) => (1u8, Some(id)),
        Event::MemberSuspected(id) => (2, Some(id)),
        Event::MemberAlive(id) => (3, Some(id)),
        Event::MemberFailed(id) => (4, Some(id)),
        Event::MemberLeft(id) => (5, Some(id)),
        Event::MemberUpdated(id) => (6, Some(id)),
        Event::MemberRemoved(id) => (7, Some(id)),
        Event::Broadcast {
            origin, payload, ..
        } => {
            h = fnv(h, &origin.to_le_bytes());
            h = fnv(h, payload);
            (8, None)
        }
        Event::Message { from, payload } => {
            h = fnv(h, &from.to_le_bytes());
            h = fnv(h, payload);
            (9, None)
        }
        Event::Local(local) => {
            // Every local event by its Debug form: rare, and covers variants
            // swim-core may add.
            h = fnv(h, format!("{local:?}").as_bytes());
            (10, None)
        }
    };
    h = fnv(h, &[tag]);
    if let Some(id) = id {
        h = fnv(h, &id.addr.to_le_bytes());
        h = fnv(h, &id.generation.to_le_bytes());
    }
    h
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Simulator {
    /// `nodes` hosts, none running yet; every link follows `link`. Each
    /// node gets `config`. `invariants` turns the checks on.
    pub fn new(nodes: usize, config: Config, link: LinkModel, seed: u64, invariants: bool) -> Self {
        let hosts = (0..nodes)
            .map(|_| Host {
                swim: None,
                generation: 0,
                epoch: 0,
                timer_at: None,
                clock_offset: 0,
                paused: false,
                backlog: Vec::new(),
                slow: 0,
                busy_until: 0,
                started_at: 0,
                persisted: 0,
            })
            .collect();
        Simulator {
            config,
            hosts,
            queue: EventQueue::new(),
            net: Network::new(nodes, link),
            rng: Pcg64::seed_from_u64(seed),
            seed,
            now: 0,
            trace: 0xcbf2_9ce4_8422_2325,
            buf: vec![0; BUF_LEN],
            sample_every: 0,
            active_sum: 0,
            active: vec![0; nodes],
            up: 0,
            last_start: 0,
            next_verify: 0,
            metrics: Metrics::default(),
            invariants: Invariants::new(nodes, invariants),
            watch: None,
            log: Vec::new(),
        }
    }

    /// Records a [`Sample`] every `every` of virtual time (zero: never).
    pub fn sample_every(&mut self, every: Duration) {
        let first = self.sample_every == 0;
        self.sample_every = micros(every);
        if first && self.sample_every > 0 {
            self.queue.push(self.now, Ev::Sample);
        }
    }

    /// Logs every event that node `node` reports and every event about it
    /// reported by others (see [`Simulator::event_log`]); for debugging.
    pub fn watch(&mut self, node: u32) {
        self.watch = Some(node);
    }

    /// Lines logged for the watched node: `time observer event`.
    pub fn event_log(&self) -> &[String] {
        &self.log
    }

    /// Schedules `action` at virtual time `at`.
    pub fn schedule(&mut self, at: Duration, action: Action) {
        self.queue.push(micros(at), Ev::Action(Box::new(action)));
    }

    /// Current virtual time.
    pub fn now(&self) -> Duration {
        Duration::from_micros(self.now)
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True if there are no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The running process on host `i`, if any.
    pub fn node(&self, i: u32) -> Option<&Node> {
        self.hosts.get(i as usize)?.swim.as_ref()
    }

    /// The configuration every node starts with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Everything measured so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The invariant checker (violations found so far).
    pub fn invariants(&self) -> &Invariants {
        &self.invariants
    }

    /// A hash of everything that happened: every datagram delivered and
    /// every event reported, with its time. Same seed, same hash.
    pub fn trace_hash(&self) -> u64 {
        self.trace
    }

    /// Events waiting in the queue (datagrams in flight, timers, actions).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Running nodes.
    pub fn up(&self) -> usize {
        self.up
    }

    /// Runs every event up to and including virtual time `until`.
    pub fn run_until(&mut self, until: Duration) {
        let until = micros(until);
        while let Some(at) = self.queue.peek_time() {
            if at > until {
                break;
            }
            let Some((at, ev)) = self.queue.pop() else {
                break;
            };
            self.now = at;
            self.dispatch(ev);
        }
        self.now = self.now.max(until);
    }

    fn local_now(&self, i: usize) -> Instant {
        let t = (self.now as i64)
            .saturating_add(self.hosts[i].clock_offset)
            .max(0);
        Instant::from_micros(t as u64)
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { to, from, data } => self.deliver(to, from, data),
            Ev::Timer { node, epoch } => {
                let h = &mut self.hosts[node as usize];
                if h.epoch != epoch || h.timer_at != Some(self.now) || h.swim.is_none() || h.paused
                {
                    return;
                }
                if h.busy_until > self.now {
                    let at = h.busy_until;
                    h.timer_at = Some(at);
                    self.queue.push(at, Ev::Timer { node, epoch });
                    return;
                }
                h.timer_at = None;
                self.input(node, |s, now| s.handle_timeout(now));
            }
            Ev::Resume { node, epoch } => self.resume(node, epoch),
            Ev::Action(a) => self.act(*a),
            Ev::Sample => {
                self.take_sample();
                if self.sample_every > 0 {
                    self.queue.push(self.now + self.sample_every, Ev::Sample);
                }
            }
        }
    }

    fn deliver(&mut self, to: u32, from: u32, data: Box<[u8]>) {
        let h = &mut self.hosts[to as usize];
        if h.swim.is_none() {
            self.metrics.undeliverable += 1;
            return;
        }
        if h.paused {
            h.backlog.push((from, data));
            return;
        }
        if h.busy_until > self.now {
            let at = h.busy_until;
            self.queue.push(at, Ev::Deliver { to, from, data });
            return;
        }
        self.trace = fnv(self.trace, &self.now.to_le_bytes());
        self.trace = fnv(self.trace, b"D");
        self.trace = fnv(self.trace, &to.to_le_bytes());
        self.trace = fnv(self.trace, &from.to_le_bytes());
        self.trace = fnv(self.trace, &data);
        self.input(to, |s, now| s.handle_datagram(now, from, &data));
    }

    fn resume(&mut self, node: u32, epoch: u32) {
        let h = &mut self.hosts[node as usize];
        if h.epoch != epoch || !h.paused {
            return;
        }
        h.paused = false;
        let backlog = std::mem::take(&mut h.backlog);
        // Timers fire on wall-clock time while datagrams wait in the socket
        // buffer: the timeout comes first, then the backlog all at once.
        h.timer_at = None;
        self.input(node, |s, now| s.handle_timeout(now));
        for (from, data) in backlog {
            if self.hosts[node as usize].swim.is_none() {
                break;
            }
            self.trace = fnv(self.trace, b"B");
            self.trace = fnv(self.trace, &data);
            self.input(node, |s, now| s.handle_datagram(now, from, &data));
        }
    }

    /// Runs one input on host `i`, then drains its outputs.
    fn input(&mut self, i: u32, f: impl FnOnce(&mut Node, Instant)) {
        let idx = i as usize;
        let Some(mut swim) = self.hosts[idx].swim.take() else {
            return;
        };
        let now = self.local_now(idx);
        f(&mut swim, now);
        self.metrics.inputs += 1;
        if self.invariants.enabled {
            // Before draining: events and outgoing messages are at their peak.
            self.check_caps(i, &swim);
        }
        if self.hosts[idx].slow > 0 {
            self.hosts[idx].busy_until = self.now + self.hosts[idx].slow;
        }
        self.drain(i, swim, now);
    }

    fn drain(&mut self, i: u32, mut swim: Node, now: Instant) {
        let idx = i as usize;
        let budget = usize::from(self.config.packet_budget);
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(t) = swim.poll_transmit(now, &mut buf) {
            if t.len > budget {
                self.invariants.fail(
                    self.now,
                    i,
                    format!("datagram of {} bytes over the {budget} budget", t.len),
                );
            }
            self.send(i, t.destination, &buf[..t.len]);
        }
        self.buf = buf;
        let mut events = 0usize;
        let mut left = false;
        while let Some(event) = swim.poll_event() {
            events += 1;
            self.trace = hash_event(self.trace, self.now, i, &event);
            if let Some(w) = self.watch {
                let about = match &event {
                    Event::MemberJoined(id)
                    | Event::MemberSuspected(id)
                    | Event::MemberAlive(id)
                    | Event::MemberFailed(id)
                    | Event::MemberLeft(id)
                    | Event::MemberUpdated(id)
                    | Event::MemberRemoved(id) => id.addr == w,
                    _ => i == w,
                };
                if about {
                    self.log
                        .push(format!("{:.6} {i} {event:?}", self.now as f64 / 1e6));
                }
            }
            if matches!(event, Event::Local(LocalEvent::Left)) {
                left = true;
            }
            self.observe(i, &swim, event);
        }
        if self.invariants.enabled {
            if events > usize::from(self.config.event_queue_len) {
                self.invariants.fail(
                    self.now,
                    i,
                    format!(
                        "{events} events queued, cap {}",
                        self.config.event_queue_len
                    ),
                );
            }
            self.check(i, &swim);
        }
        // Convergence bookkeeping.
        let active = swim.active_members() as u64;
        self.active_sum = self.active_sum - self.active[idx] + active;
        self.active[idx] = active;
        let h = &mut self.hosts[idx];
        h.persisted = h.persisted.max(swim.local().incarnation);
        if left || swim.local().status == LocalStatus::Left {
            self.stop(i);
        } else {
            let deadline = swim.poll_timeout().map(|t| {
                let v = (t.as_micros() as i64).saturating_sub(h.clock_offset).max(0) as u64;
                v.max(self.now)
            });
            if let Some(at) = deadline {
                if h.timer_at != Some(at) {
                    h.timer_at = Some(at);
                    let epoch = h.epoch;
                    self.queue.push(at, Ev::Timer { node: i, epoch });
                }
            }
            h.swim = Some(swim);
        }
        self.check_convergence();
    }

    fn send(&mut self, from: u32, to: u32, bytes: &[u8]) {
        self.metrics.datagrams += 1;
        self.metrics.bytes += bytes.len() as u64;
        if to as usize >= self.hosts.len() {
            self.metrics.undeliverable += 1;
            return;
        }
        match self
            .net
            .route(self.now, from, to, bytes.len(), &mut self.rng)
        {
            Fate::Partitioned => self.metrics.partitioned += 1,
            Fate::Lost => self.metrics.lost += 1,
            Fate::Delivered(d1, d2) => {
                if let Some(d2) = d2 {
                    self.queue.push(
                        self.now + d2,
                        Ev::Deliver {
                            to,
                            from,
                            data: bytes.into(),
                        },
                    );
                }
                self.queue.push(
                    self.now + d1,
                    Ev::Deliver {
                        to,
                        from,
                        data: bytes.into(),
                    },
                );
            }
        }
    }

    /// True if host `j` runs generation `generation`.
    fn runs(&self, j: u32, generation: u32) -> bool {
        self.hosts
            .get(j as usize)
            .is_some_and(|h| h.swim.is_some() && h.generation == generation)
    }

    /// True if `j` is running, not paused, and reachable from `i` both ways.
    fn healthy_for(&self, i: u32, j: u32) -> bool {
        let h = &self.hosts[j as usize];
        !h.paused && h.slow == 0 && !self.net.is_cut(i, j) && !self.net.is_cut(j, i)
    }

    fn observe(&mut self, i: u32, swim: &Node, event: Event<u32, 64>) {
        match event {
            Event::MemberFailed(id) => {
                if id == *swim.local().identity {
                    self.invariants
                        .fail(self.now, i, "declared itself dead".into());
                }
                if self.runs(id.addr, id.generation) {
                    if self.healthy_for(i, id.addr) {
                        let at_secs = self.now as f64 / 1e6;
                        self.metrics.false_positives.push(Accusation {
                            at_secs,
                            observer: i,
                            target: id.addr,
                        });
                    } else {
                        self.metrics.unreachable_deaths += 1;
                    }
                } else if let Some(&k) = self.metrics.kill_index.get(&(id.addr, id.generation)) {
                    self.metrics.kills[k].dead_at.entry(i).or_insert(self.now);
                }
            }
            Event::MemberSuspected(id) => {
                if self.runs(id.addr, id.generation) {
                    if self.healthy_for(i, id.addr) {
                        self.metrics.false_suspicions += 1;
                    }
                } else if let Some(&k) = self.metrics.kill_index.get(&(id.addr, id.generation)) {
                    let kill = &mut self.metrics.kills[k];
                    kill.first_suspected.get_or_insert(self.now);
                }
            }
            Event::MemberRemoved(id) => {
                if let Some(v) = self.invariants.views.get_mut(i as usize) {
                    v.remove(&id.addr);
                }
            }
            Event::Local(LocalEvent::Refuted { .. }) => self.metrics.refutations += 1,
            _ => {}
        }
    }

    /// Every table and queue of `swim` within its cap (O(1): lengths only).
    fn check_caps(&mut self, i: u32, swim: &Node) {
        let q = swim.queue_lengths();
        for (name, len, cap) in crate::invariants::over_caps(&q) {
            self.invariants
                .fail(self.now, i, format!("{len} {name}, cap {cap}"));
        }
    }

    fn check(&mut self, i: u32, swim: &Node) {
        self.check_caps(i, swim);
        let me = swim.local();
        let gen = me.identity.generation;
        let inc = me.incarnation;
        let key = (i, gen);
        let high = self.invariants.highest.entry(key).or_insert(inc);
        *high = (*high).max(inc);
        if let Some(prev) = self.invariants.own[i as usize] {
            if inc < prev {
                self.invariants.fail(
                    self.now,
                    i,
                    format!("own incarnation went from {prev} to {inc}"),
                );
            }
        }
        self.invariants.own[i as usize] = Some(inc);
        if let Some(m) = swim.member(&i) {
            if m.identity == me.identity && matches!(m.state, MemberState::Dead | MemberState::Left)
            {
                self.invariants
                    .fail(self.now, i, format!("holds itself as {:?}", m.state));
            }
        }
        let mut count = 0u64;
        let mut failures = Vec::new();
        {
            let views = &mut self.invariants.views[i as usize];
            for m in swim.members() {
                count += 1;
                let (y, g, v) = (m.identity.addr, m.identity.generation, m.incarnation);
                match self.invariants.highest.get(&(y, g)) {
                    Some(&h) if v > h => failures.push(format!(
                        "holds incarnation {v} of {y}/{g}, which only reached {h}"
                    )),
                    None if v > 0 => {
                        failures.push(format!("holds incarnation {v} of {y}/{g}, which never ran"))
                    }
                    _ => {}
                }
                if let Some(&(pg, pv)) = views.get(&y) {
                    if pg == g && v < pv {
                        failures.push(format!("view of {y}/{g} went from incarnation {pv} to {v}"));
                    }
                }
                views.insert(y, (g, v));
            }
        }
        if count > u64::from(self.config.max_members) {
            failures.push(format!("{count} members, cap {}", self.config.max_members));
        }
        for f in failures {
            self.invariants.fail(self.now, i, f);
        }
    }

    fn check_convergence(&mut self) {
        let up = self.up as u64;
        if self.metrics.converged_at.is_some() || up < 2 || self.now < self.next_verify {
            return;
        }
        if self.active_sum == up * (up - 1) {
            // Cheap hint matched: verify exactly, at most every 100 ms.
            self.next_verify = self.now + 100_000;
            if self.known_pairs() == up * (up - 1) {
                self.metrics.converged_at = Some(self.now);
                if self.up == self.hosts.len() {
                    self.metrics.first_converged_at.get_or_insert(self.now);
                }
            }
        }
    }

    /// Ordered pairs (x, y) of running nodes where x holds y's current
    /// generation as alive or suspect.
    pub fn known_pairs(&self) -> u64 {
        let mut known = 0;
        for h in &self.hosts {
            if let Some(s) = &h.swim {
                known += s
                    .members()
                    .filter(|m| {
                        m.state.is_active() && self.runs(m.identity.addr, m.identity.generation)
                    })
                    .count() as u64;
            }
        }
        known
    }

    /// True if every running node holds every other running node's current
    /// generation as alive or suspect.
    pub fn fully_converged(&self) -> bool {
        let up = self.up as u64;
        up < 2 || self.known_pairs() == up * (up - 1)
    }

    /// Running nodes that `observer` holds as dead (current generation).
    pub fn live_nodes_held_dead(&self, observer: u32) -> usize {
        self.node(observer).map_or(0, |s| {
            s.members()
                .filter(|m| {
                    m.state == MemberState::Dead
                        && self.runs(m.identity.addr, m.identity.generation)
                })
                .count()
        })
    }

    fn take_sample(&mut self) {
        let up = self.up as u64;
        let known = if up < 2 {
            1.0
        } else {
            self.known_pairs() as f64 / (up * (up - 1)) as f64
        };
        let (mut want, mut have) = (0u64, 0u64);
        for k in &self.metrics.kills {
            if self.runs(k.node, k.generation) {
                continue;
            }
            for (j, h) in self.hosts.iter().enumerate() {
                if h.swim.is_some() && h.started_at <= k.at && j as u32 != k.node {
                    want += 1;
                    have += u64::from(k.dead_at.contains_key(&(j as u32)));
                }
            }
        }
        let detected = (want > 0).then(|| have as f64 / want as f64);
        self.metrics.samples.push(Sample {
            t: self.now as f64 / 1e6,
            up: self.up,
            known,
            detected,
        });
    }

    /// Survivors of crash `k`: running now, and already running at the crash.
    pub fn survivors(&self, k: &Kill) -> Vec<u32> {
        (0..self.hosts.len() as u32)
            .filter(|&j| {
                j != k.node
                    && self.hosts[j as usize].swim.is_some()
                    && self.hosts[j as usize].started_at <= k.at
            })
            .collect()
    }

    /// Detection times of every crash so far, measured at the survivors.
    pub fn detection(&self) -> Detection {
        let (mut first_s, mut first_d, mut each, mut full) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut undetected = 0;
        for k in &self.metrics.kills {
            if let Some(t) = k.first_suspected {
                first_s.push(t - k.at);
            }
            if let Some(t) = k.dead_at.values().min() {
                first_d.push(t - k.at);
            }
            let mut last = Some(0);
            for j in self.survivors(k) {
                match k.dead_at.get(&j) {
                    Some(t) => {
                        each.push(t - k.at);
                        last = last.map(|l: u64| l.max(t - k.at));
                    }
                    None => {
                        undetected += 1;
                        last = None;
                    }
                }
            }
            full.extend(last);
        }
        Detection {
            crashes: self.metrics.kills.len(),
            first_suspicion: Percentiles::of(&first_s),
            first_detection: Percentiles::of(&first_d),
            per_survivor: Percentiles::of(&each),
            full_dissemination: Percentiles::of(&full),
            undetected,
        }
    }

    fn act(&mut self, action: Action) {
        let line = format!("{:.6} action {action:?}", self.now as f64 / 1e6);
        self.trace = fnv(self.trace, line.as_bytes());
        if self.watch.is_some() {
            self.log.push(line);
        }
        match action {
            Action::Start { node, seeds } => self.start(node, seeds, None),
            Action::Crash { node } => self.crash(node),
            Action::Restart { node, mode, seeds } => {
                let persisted = self.hosts[node as usize].persisted;
                self.crash(node);
                let incarnation = match mode {
                    RestartMode::SameIdentity => None,
                    RestartMode::PersistedIncarnation => Some(persisted.saturating_add(1)),
                    RestartMode::NewGeneration => {
                        let h = &mut self.hosts[node as usize];
                        h.generation += 1;
                        h.persisted = 0;
                        None
                    }
                };
                self.start(node, seeds, incarnation);
            }
            Action::Leave { node } => {
                self.input(node, |s, now| {
                    let _ = s.leave(now);
                });
            }
            Action::Pause { node, duration } => {
                let h = &mut self.hosts[node as usize];
                if h.swim.is_some() && !h.paused {
                    h.paused = true;
                    let epoch = h.epoch;
                    self.queue
                        .push(self.now + micros(duration), Ev::Resume { node, epoch });
                }
            }
            Action::ClockJump { node, micros } => {
                let h = &mut self.hosts[node as usize];
                h.clock_offset = h.clock_offset.saturating_add(micros);
                // Re-arm the timer against the new clock.
                if h.swim.is_some() && !h.paused {
                    h.timer_at = None;
                    self.input(node, |s, now| s.handle_timeout(now));
                }
            }
            Action::Slow { node, per_input } => self.hosts[node as usize].slow = micros(per_input),
            Action::SetDefaultLink(link) => self.net.set_default(link),
            Action::SetLink { from, to, link } => self.net.set_link(from, to, link),
            Action::Partition { id, partition } => self.net.partition(id, partition),
            Action::Heal { id } => self.net.heal(id),
        }
    }

    fn start(&mut self, node: u32, seeds: Vec<u32>, incarnation: Option<u32>) {
        let idx = node as usize;
        if idx >= self.hosts.len() || self.hosts[idx].swim.is_some() {
            return;
        }
        let now = self.local_now(idx);
        let h = &mut self.hosts[idx];
        h.epoch += 1;
        let rng_seed = self.seed
            ^ (u64::from(node) << 32 | u64::from(h.epoch)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let Ok(mut swim) = Node::new(
            Identity::new(node, h.generation),
            self.config.clone(),
            Pcg32::seed_from_u64(rng_seed),
            now,
        ) else {
            return;
        };
        if let Some(inc) = incarnation {
            swim = swim.with_incarnation(inc);
        }
        h.started_at = self.now;
        h.timer_at = None;
        h.paused = false;
        h.backlog.clear();
        h.busy_until = 0;
        self.invariants.reset_process(node);
        self.up += 1;
        self.last_start = self.now;
        self.metrics.converged_at = None;
        if !seeds.is_empty() {
            let _ = swim.join(now, &seeds);
        }
        self.drain(node, swim, now);
    }

    fn crash(&mut self, node: u32) {
        let idx = node as usize;
        if self.hosts.get(idx).is_none_or(|h| h.swim.is_none()) {
            return;
        }
        let generation = self.hosts[idx].generation;
        let key = (node, generation);
        if !self.metrics.kill_index.contains_key(&key) {
            self.metrics
                .kill_index
                .insert(key, self.metrics.kills.len());
            self.metrics.kills.push(Kill {
                node,
                generation,
                at: self.now,
                ..Kill::default()
            });
        }
        self.stop(node);
        self.metrics.converged_at = None;
    }

    /// Takes the process of `node` down (crash or finished leave).
    fn stop(&mut self, node: u32) {
        let h = &mut self.hosts[node as usize];
        h.swim = None;
        h.epoch += 1;
        h.timer_at = None;
        h.paused = false;
        h.backlog.clear();
        self.up = self.up.saturating_sub(1);
        self.active_sum -= self.active[node as usize];
        self.active[node as usize] = 0;
        self.invariants.reset_process(node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(n: usize) -> Simulator {
        let mut sim = Simulator::new(n, Config::local(), LinkModel::default(), 3, true);
        for i in 0..n as u32 {
            let seeds = if i == 0 { vec![] } else { vec![0] };
            sim.schedule(
                Duration::from_millis(u64::from(i) * 10),
                Action::Start { node: i, seeds },
            );
        }
        sim.run_until(Duration::from_secs(10));
        assert!(sim.fully_converged());
        sim
    }

    #[test]
    fn checker_catches_broken_incarnations() {
        let mut sim = joined(4);
        assert_eq!(sim.invariants.count, 0);
        let node = sim.hosts[0].swim.take().unwrap();
        let seen = node.member(&1).unwrap().incarnation;
        // Node 0 once held a higher incarnation of node 1 than it holds now.
        sim.invariants.views[0].insert(1, (0, seen + 5));
        sim.check(0, &node);
        assert_eq!(sim.invariants.count, 1, "{:?}", sim.invariants.violations);
        // Node 1 never held the incarnation node 0 holds.
        sim.invariants.highest.insert((1, 0), 0);
        sim.invariants.views[0].insert(1, (0, 0));
        let mut forged = Node::new(
            Identity::new(0, 0),
            Config::local(),
            Pcg32::seed_from_u64(9),
            Instant::ZERO,
        )
        .unwrap();
        let mut buf = vec![0u8; 1400];
        // A node 1 at incarnation 7 answers node 0's join.
        let mut one = Node::new(
            Identity::new(1, 0),
            Config::local(),
            Pcg32::seed_from_u64(8),
            Instant::ZERO,
        )
        .unwrap()
        .with_incarnation(7);
        one.join(Instant::ZERO, &[0]).unwrap();
        while let Some(t) = one.poll_transmit(Instant::ZERO, &mut buf) {
            forged.handle_datagram(Instant::ZERO, 1, &buf[..t.len]);
        }
        assert_eq!(forged.member(&1).map(|m| m.incarnation), Some(7));
        sim.check(0, &forged);
        assert_eq!(sim.invariants.count, 2, "{:?}", sim.invariants.violations);
        sim.hosts[0].swim = Some(node);
    }

    #[test]
    fn crash_is_timed_and_restart_rejoins() {
        let mut sim = joined(5);
        sim.schedule(Duration::from_secs(11), Action::Crash { node: 2 });
        let seeds = vec![0];
        sim.schedule(
            Duration::from_secs(40),
            Action::Restart {
                node: 2,
                mode: RestartMode::NewGeneration,
                seeds,
            },
        );
        sim.run_until(Duration::from_secs(39));
        assert_eq!(sim.up(), 4);
        assert_eq!(sim.detection().undetected, 0);
        sim.run_until(Duration::from_secs(60));
        assert_eq!(sim.node(2).map(|n| n.local().identity.generation), Some(1));
        assert!(sim.fully_converged());
    }
}
