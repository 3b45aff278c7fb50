//! The discrete-event simulator: many `swim-core` nodes, one virtual clock.

use std::time::Duration;

use rand_core::SeedableRng;
use rand_pcg::{Pcg32, Pcg64};
use swim_core::{
    Config, Event, Identity, Instant, KnownMember, LocalEvent, MemberState, MemberView, Swim,
    UNBOUNDED,
};

use crate::adversary::{Adversary, Attack, World, ADVERSARY_ADDR};
use crate::fault::{Action, RestartMode};
use crate::host::{fnv, Ctx, Effects, Host, HostEv, Item, Key, Worker, FNV_OFFSET};
use crate::invariants::Invariants;
use crate::metrics::{
    Accusation, AfterPause, Delays, Detection, Kill, Kind, Metrics, PartitionDetection,
    PartitionRecord, Percentiles, Sample, HEAL_CHECK_EVERY, HEAL_SUSPICIONS_KEPT, HEAL_WINDOW,
};
use crate::net::{Fate, LinkModel, Network};
use crate::queue::EventQueue;

/// The node type simulated: `u32` addresses (node indexes), PCG32 RNG,
/// heap storage bounded by the configuration alone.
pub type Node = Swim<u32, Pcg32, UNBOUNDED, UNBOUNDED>;

/// An event of a simulated node.
pub type NodeEvent = Event<u32, UNBOUNDED>;

/// Largest datagram buffer handed to `poll_transmit`.
const BUF_LEN: usize = 65_536;

/// Something in the event queue.
#[derive(Debug)]
enum Ev {
    /// An event for one host: runs inside a window, possibly in parallel.
    Host { node: u32, ev: HostEv },
    /// A scheduled action: runs alone, between windows.
    Action(Box<Action>),
    /// A sample of the time series: runs alone, between windows.
    Sample,
}

/// Where the steady state begins, for the traffic split
/// ([`Metrics::traffic_join`] and [`Metrics::traffic_steady`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SteadyFrom {
    /// `settle` after the first time every running node knows every other
    /// running node at or after `not_before` (the join plan's last start).
    AfterJoin {
        /// The join plan's last start.
        not_before: Duration,
        /// Margin after that convergence.
        settle: Duration,
    },
    /// At a fixed virtual time.
    At(Duration),
}

impl Default for SteadyFrom {
    /// 10 s after the first convergence.
    fn default() -> Self {
        SteadyFrom::AfterJoin {
            not_before: Duration::ZERO,
            settle: Duration::from_secs(10),
        }
    }
}

/// Windows with fewer host events than this run on the calling thread.
const PARALLEL_MIN: usize = 16;

/// A deterministic simulation of `n` nodes.
///
/// Drive it with [`Simulator::schedule`] and [`Simulator::run_until`]; the
/// same seed and schedule always give the same [`Simulator::trace_hash`],
/// whatever [`Simulator::set_threads`] says and however `run_until` is
/// stepped.
///
/// Time advances in windows no longer than the shortest link latency:
/// inside one, hosts cannot hear from each other, so their events run
/// independently (on several threads if asked); what they caused is then
/// applied in one global order (see the `host` module).
#[derive(Debug)]
pub struct Simulator {
    config: Config,
    hosts: Vec<Host>,
    queue: EventQueue<Key, Ev>,
    /// Actions and samples scheduled so far (orders them in [`Key`]).
    globals: u64,
    /// Key of the action being carried out.
    action_key: Key,
    net: Network,
    rng: Pcg64,
    seed: u64,
    now: u64,
    trace: u64,
    /// One transmit buffer per thread.
    bufs: Vec<Vec<u8>>,
    threads: usize,
    /// Longest window: the shortest latency of any link (µs).
    lookahead: u64,
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
    /// Lifeguard health score of each host's process (0 when down).
    health: Vec<u8>,
    adversary: Adversary,
    steady: SteadyFrom,
    /// Index in `metrics.partitions` of the healed partition whose
    /// return to full membership is awaited.
    heal_watch: Option<usize>,
    next_heal_check: u64,
}

/// Folds one event into the trace hash without formatting it.
fn hash_event(mut h: u64, now: u64, node: u32, event: &NodeEvent) -> u64 {
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
            h = fnv(h, &origin.addr.to_le_bytes());
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
        other => {
            // Lagged and variants swim-core may add, by their Debug form.
            h = fnv(h, format!("{other:?}").as_bytes());
            (11, None)
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
    /// node gets `config`. `invariants` turns the checks on. One thread
    /// until [`Simulator::set_threads`].
    pub fn new(nodes: usize, config: Config, link: LinkModel, seed: u64, invariants: bool) -> Self {
        let net = Network::new(nodes, link);
        Simulator {
            config,
            hosts: (0..nodes).map(|_| Host::default()).collect(),
            queue: EventQueue::new(),
            globals: 0,
            action_key: Key::global(0, 0),
            lookahead: net.min_latency(),
            net,
            rng: Pcg64::seed_from_u64(seed),
            seed,
            now: 0,
            trace: FNV_OFFSET,
            bufs: vec![vec![0; BUF_LEN]],
            threads: 1,
            sample_every: 0,
            active_sum: 0,
            active: vec![0; nodes],
            up: 0,
            last_start: 0,
            next_verify: 0,
            metrics: Metrics::default(),
            invariants: Invariants::new(invariants),
            watch: None,
            log: Vec::new(),
            health: vec![0; nodes],
            adversary: Adversary::new(seed),
            steady: SteadyFrom::default(),
            heal_watch: None,
            next_heal_check: 0,
        }
    }

    /// Sets where the steady state begins for the traffic split (by
    /// default [`SteadyFrom::default`]). Call before running.
    pub fn set_steady_from(&mut self, steady: SteadyFrom) {
        self.steady = steady;
        self.metrics.steady_from = match steady {
            SteadyFrom::At(t) => Some(micros(t)),
            SteadyFrom::AfterJoin { .. } => None,
        };
    }

    /// Where the steady state begins (as set).
    pub fn steady_from(&self) -> SteadyFrom {
        self.steady
    }

    /// Runs the hosts of each window on up to `threads` threads (at least
    /// one). Results do not depend on it.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.clamp(1, self.hosts.len().max(1));
        self.bufs.resize_with(self.threads, || vec![0; BUF_LEN]);
    }

    /// Threads used per window.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Records a [`Sample`] every `every` of virtual time (zero: never).
    pub fn sample_every(&mut self, every: Duration) {
        let first = self.sample_every == 0;
        self.sample_every = micros(every);
        if first && self.sample_every > 0 {
            self.push_global(self.now, Ev::Sample);
        }
    }

    /// Logs every event about `node` (and every local event of it), with
    /// every action, for [`Simulator::event_log`].
    pub fn watch(&mut self, node: u32) {
        self.watch = Some(node);
    }

    /// Lines logged for the watched node: `time observer event`.
    pub fn event_log(&self) -> &[String] {
        &self.log
    }

    /// Schedules `action` at virtual time `at`. Scheduling an attack or a
    /// capture switches on the adversary's measurements.
    pub fn schedule(&mut self, at: Duration, action: Action) {
        if matches!(action, Action::Attack { .. } | Action::Capture(_)) {
            self.adversary.active = true;
        }
        self.push_global(micros(at), Ev::Action(Box::new(action)));
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

    /// The running process of host `i`, if any.
    pub fn node(&self, i: u32) -> Option<&Node> {
        self.hosts.get(i as usize)?.swim.as_ref()
    }

    /// The configuration every node runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Measurements so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The invariant checker (violations so far).
    pub fn invariants(&self) -> &Invariants {
        &self.invariants
    }

    /// The adversary: what it sent and what the nodes sent back.
    pub fn adversary(&self) -> &Adversary {
        &self.adversary
    }

    /// Hash of everything that happened so far, in order: same seed and
    /// schedule, same hash.
    pub fn trace_hash(&self) -> u64 {
        self.trace
    }

    /// Events waiting in the queue.
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
        while let Some((key, ev)) = self.queue.peek() {
            if key.at > until {
                break;
            }
            match ev {
                Ev::Host { .. } => self.run_window(until),
                Ev::Action(_) | Ev::Sample => {
                    let Some((key, ev)) = self.queue.pop() else {
                        break;
                    };
                    self.now = key.at;
                    self.action_key = key;
                    match ev {
                        Ev::Action(a) => self.act(*a),
                        Ev::Sample => {
                            self.take_sample();
                            if self.sample_every > 0 {
                                self.push_global(self.now + self.sample_every, Ev::Sample);
                            }
                        }
                        Ev::Host { .. } => {}
                    }
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs the host events of one window, which starts at the earliest
    /// queued event and ends before `until`, the next action or sample, or
    /// one lookahead later, whichever comes first.
    fn run_window(&mut self, until: u64) {
        let Some(start) = self.queue.peek().map(|(key, _)| key.at) else {
            return;
        };
        let mut end = start
            .saturating_add(self.lookahead)
            .min(until.saturating_add(1));
        let mut batch = Vec::new();
        while let Some((key, ev)) = self.queue.peek() {
            if key.at >= end {
                break;
            }
            if !matches!(ev, Ev::Host { .. }) {
                end = key.at;
                break;
            }
            let Some((key, Ev::Host { node, ev })) = self.queue.pop() else {
                break;
            };
            batch.push((key, node, ev));
        }
        let ctx = Ctx {
            config: &self.config,
            window_end: end,
            invariants: self.invariants.enabled,
            highest: &self.invariants.highest,
        };
        let mut effects: Vec<Effects> = if batch.len() < PARALLEL_MIN || self.threads == 1 {
            let mut w = Worker::new(ctx, &mut self.hosts, 0, &mut self.bufs[0]);
            w.run(batch);
            w.out
        } else {
            self.metrics.parallel_windows += 1;
            let chunk = self.hosts.len().div_ceil(self.threads);
            let mut batches: Vec<Vec<_>> = (0..self.threads).map(|_| Vec::new()).collect();
            for e in batch {
                batches[e.1 as usize / chunk].push(e);
            }
            let mut jobs = self
                .hosts
                .chunks_mut(chunk)
                .zip(self.bufs.iter_mut())
                .zip(batches)
                .enumerate()
                .map(|(i, ((hosts, buf), batch))| {
                    move || {
                        let mut w = Worker::new(ctx, hosts, (i * chunk) as u32, buf);
                        w.run(batch);
                        w.out
                    }
                });
            // The calling thread takes the first share.
            let first = jobs.next();
            std::thread::scope(|s| {
                let others: Vec<_> = jobs.map(|job| s.spawn(job)).collect();
                let mut all = first.map(|job| job()).unwrap_or_default();
                for h in others {
                    all.extend(h.join().expect("simulator worker panicked"));
                }
                all
            })
        };
        effects.sort_unstable_by_key(|fx| fx.key);
        for fx in effects {
            self.apply(fx);
        }
    }

    /// Applies what one host event caused, in the global order.
    fn apply(&mut self, fx: Effects) {
        self.now = self.now.max(fx.key.at);
        let now = fx.key.at;
        let i = fx.node;
        for item in fx.items {
            match item {
                Item::Input => self.metrics.inputs += 1,
                Item::Undeliverable => self.metrics.undeliverable += 1,
                Item::Delivered {
                    from,
                    digest,
                    backlog,
                } => {
                    if backlog {
                        self.trace = fnv(self.trace, b"B");
                    } else {
                        self.trace = fnv(self.trace, &now.to_le_bytes());
                        self.trace = fnv(self.trace, b"D");
                        self.trace = fnv(self.trace, &i.to_le_bytes());
                        self.trace = fnv(self.trace, &from.to_le_bytes());
                    }
                    self.trace = fnv(self.trace, &digest.to_le_bytes());
                }
                Item::Send { to, data, counter } => self.send(now, i, to, data, counter),
                Item::Event(event) => {
                    self.trace = hash_event(self.trace, now, i, &event);
                    if let Some(w) = self.watch {
                        let about = event.member().map_or(i == w, |id| id.addr == w);
                        if about {
                            self.log
                                .push(format!("{:.6} {i} {event:?}", now as f64 / 1e6));
                        }
                    }
                    self.observe(now, i, event);
                }
                Item::Schedule { key, ev } => self.queue.push(key, Ev::Host { node: i, ev }),
                Item::Violation(what) => self.invariants.fail(now, i, what),
                Item::Reached {
                    generation,
                    incarnation,
                } => {
                    let high = self
                        .invariants
                        .highest
                        .entry((i, generation))
                        .or_insert(incarnation);
                    *high = (*high).max(incarnation);
                }
                Item::Active { members, health } => {
                    self.active_sum = self.active_sum - self.active[i as usize] + members;
                    self.active[i as usize] = members;
                    self.note_health(now, i, health);
                }
                Item::Stopped => self.stopped(i),
            }
        }
        self.check_convergence();
        self.check_heal();
    }

    /// Runs `f` on host `node` now, between windows, and applies the effects.
    fn input_now(&mut self, node: u32, f: impl FnOnce(&mut Node, Instant)) {
        self.between_windows(node, |w, fx, now| w.input(fx, now, f));
    }

    /// Runs `f` with a worker over every host whose window ends now, so
    /// whatever it schedules goes to the queue; then applies its effects.
    fn between_windows(&mut self, node: u32, f: impl FnOnce(&mut Worker<'_>, &mut Effects, u64)) {
        let now = self.now;
        let key = self.action_key;
        let ctx = Ctx {
            config: &self.config,
            window_end: now,
            invariants: self.invariants.enabled,
            highest: &self.invariants.highest,
        };
        let mut fx = Effects {
            key,
            node,
            items: Vec::new(),
        };
        {
            let mut w = Worker::new(ctx, &mut self.hosts, 0, &mut self.bufs[0]);
            f(&mut w, &mut fx, now);
        }
        self.apply(fx);
    }

    /// Hands a datagram, its sender's `counter`-th event, to the network.
    fn send(&mut self, now: u64, from: u32, to: u32, data: Box<[u8]>, counter: u64) {
        self.metrics.datagrams += 1;
        self.metrics.bytes += data.len() as u64;
        // Metrics only: the kind is read from the header, nothing else.
        let kind = Kind::of(&data, self.config.cluster_tag);
        if self.metrics.steady_from.is_some_and(|t| now >= t) {
            self.metrics.traffic_steady.add(kind, data.len());
        } else {
            self.metrics.traffic_join.add(kind, data.len());
        }
        if self.hosts.get(to as usize).is_none_or(|h| h.swim.is_none()) {
            self.adversary.sent_to_absent(to, data.len());
        }
        if to as usize >= self.hosts.len() {
            self.metrics.undeliverable += 1;
            return;
        }
        match self.net.route(now, from, to, data.len(), &mut self.rng) {
            Fate::Partitioned => self.metrics.partitioned += 1,
            Fate::Lost => self.metrics.lost += 1,
            Fate::Delivered(d1, d2) => {
                self.adversary.sniff(now, from, to, &data);
                let key = Key::host(now + d1, now, from, counter);
                if let Some(d2) = d2 {
                    let copy = Key {
                        at: now + d2,
                        copy: 1,
                        ..key
                    };
                    let data = data.clone();
                    let ev = HostEv::Deliver { from, data };
                    self.queue.push(copy, Ev::Host { node: to, ev });
                }
                let ev = HostEv::Deliver { from, data };
                self.queue.push(key, Ev::Host { node: to, ev });
            }
        }
    }

    /// Schedules an action or a sample.
    fn push_global(&mut self, at: u64, ev: Ev) {
        self.globals += 1;
        self.queue.push(Key::global(at, self.globals), ev);
    }

    /// True if host `j` runs generation `generation` (at virtual time
    /// `now` of the window being applied: a process that left later in the
    /// window still counts).
    fn runs(&self, j: u32, generation: u32) -> bool {
        self.runs_at(j, generation, self.now)
    }

    fn runs_at(&self, j: u32, generation: u32, now: u64) -> bool {
        self.hosts.get(j as usize).is_some_and(|h| {
            h.generation == generation && (h.swim.is_some() || h.left_at.is_some_and(|t| t > now))
        })
    }

    /// True if `addr` runs generation `generation`, or runs an older one:
    /// a later generation of a running node is a forgery (no such process
    /// exists), and a member believed dead or gone in it shadows the real
    /// process.
    fn names_running(&self, addr: u32, generation: u32, now: u64) -> bool {
        self.runs_at(addr, generation, now)
            || self
                .hosts
                .get(addr as usize)
                .is_some_and(|h| h.swim.is_some() && generation > h.generation)
    }

    /// Records host `i`'s health score.
    fn note_health(&mut self, now: u64, i: u32, health: u8) {
        if self.health[i as usize] != health {
            self.health[i as usize] = health;
            self.metrics.note_health(now, i, health);
        }
    }

    /// True if `j` is running, not paused, and reachable from `i` both ways.
    fn healthy_for(&self, i: u32, j: u32, now: u64) -> bool {
        let h = &self.hosts[j as usize];
        let paused = h.paused || h.resumed_at > now;
        !paused && h.slow == 0 && !self.net.is_cut(i, j) && !self.net.is_cut(j, i)
    }

    /// Indexes of the partitions in force that put `i` and `j` on opposite
    /// sides.
    fn cut_by(&self, i: u32, j: u32) -> impl Iterator<Item = usize> + '_ {
        let records = &self.metrics.partitions;
        (0..records.len()).filter(move |&k| {
            let p = &records[k];
            p.healed_at.is_none() && p.across(i, j)
        })
    }

    /// Notes when `i` first suspected (`failed` false) or declared failed
    /// `j`, running the generation named, for every partition in force
    /// that separates them.
    fn note_cross_side(&mut self, now: u64, i: u32, j: u32, generation: u32, failed: bool) {
        if !self.runs_at(j, generation, now) {
            return;
        }
        let cut: Vec<usize> = self.cut_by(i, j).collect();
        for k in cut {
            let p = &mut self.metrics.partitions[k];
            let map = if failed {
                &mut p.failed
            } else {
                &mut p.suspected
            };
            map.entry((i, j)).or_insert(now);
        }
    }

    /// Counts a false suspicion of `j` by `i` made at `now` as a heal
    /// suspicion if it falls within [`HEAL_WINDOW`] after the last heal.
    fn note_heal_suspicion(&mut self, now: u64, i: u32, j: u32, generation: u32) {
        let Some((healed, record)) = self.metrics.last_heal else {
            return;
        };
        if now < healed || now - healed >= HEAL_WINDOW {
            return;
        }
        let m = &mut self.metrics;
        m.heal_suspicions += 1;
        if let Some(p) = record.map(|k| &m.partitions[k]) {
            if p.side_of(i).is_some() && p.side_of(i) == p.side_of(j) {
                m.heal_suspicions_same_side += 1;
            }
        }
        if m.heal_suspicion_list.len() < HEAL_SUSPICIONS_KEPT {
            let accusation = self.accusation(now, i, j, generation);
            self.metrics.heal_suspicion_list.push(accusation);
        }
    }

    /// Node `i`'s accusation of `target` at `now`, with the target's last
    /// pause.
    fn accusation(&self, now: u64, i: u32, target: u32, generation: u32) -> Accusation {
        let after_pause = self
            .hosts
            .get(target as usize)
            .filter(|h| h.resumed_at > 0 && h.resumed_at <= now)
            .map(|h| AfterPause {
                pause_secs: h.resumed_at.saturating_sub(h.paused_at) as f64 / 1e6,
                since_resume_secs: (now - h.resumed_at) as f64 / 1e6,
            });
        Accusation {
            at_secs: now as f64 / 1e6,
            observer: i,
            target,
            generation,
            after_pause,
        }
    }

    fn observe(&mut self, now: u64, i: u32, event: NodeEvent) {
        match event {
            Event::MemberFailed(id) => {
                self.note_cross_side(now, i, id.addr, id.generation, true);
                if self.names_running(id.addr, id.generation, now) {
                    if self.healthy_for(i, id.addr, now) {
                        let accusation = self.accusation(now, i, id.addr, id.generation);
                        self.metrics.false_positives.push(accusation);
                    } else {
                        self.metrics.unreachable_deaths += 1;
                    }
                } else if let Some(&k) = self.metrics.kill_index.get(&(id.addr, id.generation)) {
                    self.metrics.kills[k].dead_at.entry(i).or_insert(now);
                }
            }
            Event::MemberSuspected(id) => {
                self.metrics.suspicions += 1;
                self.note_cross_side(now, i, id.addr, id.generation, false);
                if self.runs_at(id.addr, id.generation, now) {
                    if self.healthy_for(i, id.addr, now) {
                        self.metrics.false_suspicions += 1;
                        self.note_heal_suspicion(now, i, id.addr, id.generation);
                    }
                } else if let Some(&k) = self.metrics.kill_index.get(&(id.addr, id.generation)) {
                    let kill = &mut self.metrics.kills[k];
                    kill.first_suspected.get_or_insert(now);
                }
            }
            Event::MemberLeft(id) => {
                let leaving = self.hosts.get(id.addr as usize).is_some_and(|h| h.leaving);
                if self.names_running(id.addr, id.generation, now) && !leaving {
                    let accusation = self.accusation(now, i, id.addr, id.generation);
                    self.metrics.false_departures.push(accusation);
                }
            }
            Event::Local(LocalEvent::Refuted { .. }) => self.metrics.refutations += 1,
            _ => {}
        }
    }

    /// Runs the per-process invariant checks on `swim` as host `i`'s
    /// process and records what they find (unit tests of the checker).
    #[cfg(test)]
    fn check(&mut self, i: u32, swim: &Node) {
        let ctx = Ctx {
            config: &self.config,
            window_end: self.now,
            invariants: true,
            highest: &self.invariants.highest,
        };
        let mut items = Vec::new();
        crate::host::check(ctx, &mut self.hosts[i as usize].checks, i, swim, &mut items);
        for item in items {
            if let Item::Violation(what) = item {
                self.invariants.fail(self.now, i, what);
            }
        }
    }

    /// Records the time at which every running node knows every other.
    /// The cheap hint is kept per applied effect; the exact check reads the
    /// nodes as they are at the end of the window being applied, so the
    /// time's resolution is one window (at most the shortest latency).
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
                if let SteadyFrom::AfterJoin { not_before, settle } = self.steady {
                    if self.now >= micros(not_before) && self.metrics.joined_at.is_none() {
                        self.metrics.joined_at = Some(self.now);
                        self.metrics.steady_from = Some(self.now + micros(settle));
                    }
                }
            }
        }
    }

    /// After a heal, records the first time every running node holds every
    /// other running node's current generation as alive (at most every
    /// [`HEAL_CHECK_EVERY`]; the active-member counts rule out most checks).
    fn check_heal(&mut self) {
        let Some(k) = self.heal_watch else {
            return;
        };
        if self.now < self.next_heal_check {
            return;
        }
        let up = self.up as u64;
        // Alive members are active ones: fewer active than pairs, not yet.
        if up >= 2 && self.active_sum < up * (up - 1) {
            return;
        }
        self.next_heal_check = self.now + HEAL_CHECK_EVERY;
        if up < 2 || self.alive_pairs() == up * (up - 1) {
            self.metrics.partitions[k].rejoined_at = Some(self.now);
            self.heal_watch = None;
        }
    }

    /// Ordered pairs (x, y) of running nodes where x holds y's current
    /// generation as alive.
    pub fn alive_pairs(&self) -> u64 {
        self.pairs_where(|state| state == MemberState::Alive)
    }

    /// Ordered pairs (x, y) of running nodes where x holds y's current
    /// generation as alive or suspect.
    pub fn known_pairs(&self) -> u64 {
        self.pairs_where(MemberState::is_active)
    }

    /// Ordered pairs (x, y) of running nodes where x holds y's current
    /// generation in a state `counted` accepts. O(n^2) (every node's whole
    /// table is read); the generation each host runs is read once, into a
    /// compact table.
    fn pairs_where(&self, counted: impl Fn(MemberState) -> bool) -> u64 {
        let running: Vec<Option<u32>> = (0..self.hosts.len() as u32)
            .map(|j| {
                let generation = self.hosts[j as usize].generation;
                self.runs(j, generation).then_some(generation)
            })
            .collect();
        let mut pairs = 0;
        for h in &self.hosts {
            if let Some(s) = &h.swim {
                pairs += s
                    .members()
                    .filter(|m| {
                        counted(m.state)
                            && running.get(m.identity.addr as usize).copied().flatten()
                                == Some(m.identity.generation)
                    })
                    .count() as u64;
            }
        }
        pairs
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
            max_health: self.health.iter().copied().max().unwrap_or(0),
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
            Action::StartKnowing { node, except } => self.start_knowing(node, &except),
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
                if let Some(h) = self.hosts.get_mut(node as usize) {
                    h.leaving = h.swim.is_some();
                }
                self.input_now(node, |s, now| {
                    let _ = s.leave(now);
                });
            }
            Action::Pause { node, duration } => {
                let h = &mut self.hosts[node as usize];
                if h.swim.is_some() && !h.paused {
                    h.paused = true;
                    h.paused_at = self.now;
                    let epoch = h.epoch;
                    // At least 1 µs: a host event never happens at the
                    // time it was created by someone else (see `Key`).
                    let at = self.now + micros(duration).max(1);
                    self.globals += 1;
                    let key = Key::host(at, self.now, Key::ACTIONS, self.globals);
                    let ev = HostEv::Resume { epoch };
                    self.queue.push(key, Ev::Host { node, ev });
                }
            }
            Action::ClockJump { node, micros } => {
                let h = &mut self.hosts[node as usize];
                h.clock_offset = h.clock_offset.saturating_add(micros);
                // Re-arm the timer against the new clock.
                if h.swim.is_some() && !h.paused {
                    h.timer_at = None;
                    self.input_now(node, |s, now| s.handle_timeout(now));
                }
            }
            Action::Slow { node, per_input } => self.hosts[node as usize].slow = micros(per_input),
            Action::SetDefaultLink(link) => self.net.set_default(link),
            Action::SetLink { from, to, link } => self.net.set_link(from, to, link),
            Action::Partition { id, partition } => {
                self.end_partition(id);
                self.heal_watch = None;
                if partition.symmetric {
                    let mut sides = [partition.from.clone(), partition.to.clone()];
                    for side in &mut sides {
                        side.sort_unstable();
                    }
                    self.metrics.partitions.push(PartitionRecord {
                        id,
                        at: self.now,
                        sides,
                        ..PartitionRecord::default()
                    });
                }
                self.net.partition(id, partition);
            }
            Action::Heal { id } => {
                let record = self.end_partition(id);
                self.metrics.last_heal = Some((self.now, record));
                self.heal_watch = record;
                self.next_heal_check = self.now;
                self.net.heal(id);
            }
            Action::Attack { attack, round } => self.attack(&attack, round),
            Action::Capture(capture) => self.adversary.start_capture(self.now, capture),
        }
        self.lookahead = self.net.min_latency();
    }

    /// Marks the recorded partition `id` in force, if any, as healed now,
    /// and returns its index.
    fn end_partition(&mut self, id: u32) -> Option<usize> {
        let now = self.now;
        let k = self
            .metrics
            .partitions
            .iter()
            .rposition(|p| p.id == id && p.healed_at.is_none())?;
        self.metrics.partitions[k].healed_at = Some(now);
        Some(k)
    }

    /// How each symmetric partition so far was noticed: the cross-side
    /// pairs of nodes that ran from its split until now, and when each
    /// observer suspected and declared each target failed while it held.
    pub fn partition_detection(&self) -> Vec<PartitionDetection> {
        self.metrics
            .partitions
            .iter()
            .map(|p| {
                let measured = |j: u32| {
                    self.hosts
                        .get(j as usize)
                        .is_some_and(|h| h.swim.is_some() && h.started_at <= p.at)
                };
                let (mut decl, mut susp, mut between) = (Vec::new(), Vec::new(), Vec::new());
                let (mut pairs, mut undeclared, mut unsuspected) = (0, 0, 0);
                let mut side_last = [Some(0u64); 2];
                for (s, last) in side_last.iter_mut().enumerate() {
                    for &i in p.sides[s].iter().filter(|&&i| measured(i)) {
                        for &j in p.sides[1 - s].iter().filter(|&&j| measured(j)) {
                            pairs += 1;
                            let failed = p.failed.get(&(i, j)).copied();
                            let suspected = p.suspected.get(&(i, j)).copied();
                            match failed {
                                Some(t) => {
                                    decl.push(t - p.at);
                                    *last = last.map(|l| l.max(t - p.at));
                                }
                                None => {
                                    undeclared += 1;
                                    *last = None;
                                }
                            }
                            match suspected {
                                Some(t) => susp.push(t - p.at),
                                None => unsuspected += 1,
                            }
                            if let (Some(f), Some(s)) = (failed, suspected) {
                                between.push(f.saturating_sub(s));
                            }
                        }
                    }
                }
                let secs = |t: u64| t as f64 / 1e6;
                let all = match side_last {
                    [Some(a), Some(b)] if pairs > 0 => Some(a.max(b)),
                    _ => None,
                };
                let side = |s: usize| (pairs > 0).then_some(side_last[s]).flatten().map(secs);
                PartitionDetection {
                    id: p.id,
                    split_at_secs: secs(p.at),
                    healed_at_secs: p.healed_at.map(secs),
                    heal_secs: p
                        .healed_at
                        .zip(p.rejoined_at)
                        .map(|(h, r)| secs(r.saturating_sub(h))),
                    sides: [p.sides[0].len(), p.sides[1].len()],
                    pairs,
                    declared_at_secs: all.map(secs),
                    side_declared_at_secs: [side(0), side(1)],
                    undeclared,
                    unsuspected,
                    declaration: Delays::of(&decl),
                    first_suspicion: Delays::of(&susp),
                    suspicion_to_declaration: Delays::of(&between),
                    declaration_us: decl,
                    suspicion_us: susp,
                    suspicion_to_declaration_us: between,
                }
            })
            .collect()
    }

    /// Carries out round `round` of `attack`: forges its datagrams and
    /// schedules their delivery one default-link latency later.
    fn attack(&mut self, attack: &Attack, round: u32) {
        let running: Vec<u32> = (0..self.hosts.len() as u32)
            .filter(|&i| self.hosts[i as usize].swim.is_some())
            .collect();
        let hosts = &self.hosts;
        let real = |node: u32| match hosts.get(node as usize) {
            Some(h) => match &h.swim {
                Some(s) => (s.local().identity.generation, s.local().incarnation),
                None => (h.generation, h.persisted),
            },
            None => (0, 0),
        };
        let world = World {
            tag: self.config.cluster_tag,
            budget: usize::from(self.config.packet_budget),
            running,
            real: &real,
        };
        let injections = self.adversary.forge(attack, round, &world);
        for inj in injections {
            // What the adversary claims counts as reached for the checker:
            // holding it is not the protocol inventing an incarnation.
            for (addr, generation, incarnation) in inj.claims {
                let high = self
                    .invariants
                    .highest
                    .entry((addr, generation))
                    .or_insert(incarnation);
                *high = (*high).max(incarnation);
            }
            if inj.to as usize >= self.hosts.len() {
                self.metrics.undeliverable += 1;
                continue;
            }
            let delay = micros(self.net.link(ADVERSARY_ADDR, inj.to).latency).max(1);
            self.globals += 1;
            let key = Key::host(self.now + delay, self.now, Key::ACTIONS, self.globals);
            let ev = HostEv::Deliver {
                from: inj.from,
                data: inj.data,
            };
            self.queue.push(key, Ev::Host { node: inj.to, ev });
        }
    }

    /// What every other running node holds about `node`: (observer, its
    /// view, if it has one).
    pub fn views_of(&self, node: u32) -> Vec<(u32, Option<MemberView<'_, u32>>)> {
        (0..self.hosts.len() as u32)
            .filter(|&j| j != node)
            .filter_map(|j| Some((j, self.node(j)?.member(&node))))
            .collect()
    }

    /// True if `node` runs and every other running node holds its current
    /// identity as alive.
    pub fn seen_alive_by_all(&self, node: u32) -> bool {
        let Some(me) = self.node(node) else {
            return false;
        };
        let id = me.local().identity;
        self.views_of(node).iter().all(|(_, v)| {
            v.as_ref()
                .is_some_and(|m| m.identity == id && m.state == MemberState::Alive)
        })
    }

    /// Table entries about addresses outside the node range (invented
    /// members), summed over running nodes: (all, alive or suspect).
    pub fn foreign_members(&self) -> (u64, u64) {
        let n = self.hosts.len();
        let (mut all, mut active) = (0, 0);
        for h in &self.hosts {
            for m in h.swim.iter().flat_map(|s| s.members()) {
                if m.identity.addr as usize >= n {
                    all += 1;
                    active += u64::from(m.state.is_active());
                }
            }
        }
        (all, active)
    }

    /// Sum of a counter over the running nodes.
    pub fn counter_sum(&self, f: impl Fn(&swim_core::Counters) -> u64) -> u64 {
        self.hosts
            .iter()
            .filter_map(|h| h.swim.as_ref())
            .map(|s| f(&s.counters()))
            .sum()
    }

    /// Boots `node` knowing every other node but `except` (see
    /// [`Action::StartKnowing`]).
    fn start_knowing(&mut self, node: u32, except: &[u32]) {
        let known: Vec<Identity<u32>> = (0..self.hosts.len() as u32)
            .filter(|&m| m != node && !except.contains(&m))
            .map(|m| Identity::new(m, self.hosts[m as usize].generation))
            .collect();
        self.boot(node, Vec::new(), None, &known);
    }

    fn start(&mut self, node: u32, seeds: Vec<u32>, incarnation: Option<u32>) {
        self.boot(node, seeds, incarnation, &[]);
    }

    /// Boots `node`, loads `known` members into it, then joins `seeds`.
    fn boot(
        &mut self,
        node: u32,
        seeds: Vec<u32>,
        incarnation: Option<u32>,
        known: &[Identity<u32>],
    ) {
        let idx = node as usize;
        if idx >= self.hosts.len() || self.hosts[idx].swim.is_some() {
            return;
        }
        let h = &mut self.hosts[idx];
        let now = h.local_now(self.now);
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
        h.left_at = None;
        h.leaving = false;
        h.checks = Default::default();
        self.up += 1;
        self.last_start = self.now;
        self.metrics.converged_at = None;
        for identity in known {
            let member = KnownMember {
                identity,
                incarnation: 0,
                state: MemberState::Alive,
                metadata: &[],
                metadata_version: 0,
            };
            let _ = swim.import_member(now, member);
        }
        if !seeds.is_empty() {
            let _ = swim.join(now, &seeds);
        }
        self.between_windows(node, |w, fx, t| w.drain(fx, t, swim, now));
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
        self.hosts[idx].stop();
        self.stopped(node);
        self.metrics.converged_at = None;
    }

    /// Bookkeeping once the process of `node` is down (crash or finished
    /// leave).
    fn stopped(&mut self, node: u32) {
        self.note_health(self.now, node, 0);
        self.up = self.up.saturating_sub(1);
        self.active_sum -= self.active[node as usize];
        self.active[node as usize] = 0;
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
        sim.hosts[0].checks.views.insert(1, (0, seen + 5));
        sim.check(0, &node);
        assert_eq!(sim.invariants.count, 1, "{:?}", sim.invariants.violations);
        // Node 1 never held the incarnation node 0 holds.
        sim.invariants.highest.insert((1, 0), 0);
        sim.hosts[0].checks.views.insert(1, (0, 0));
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
        // Node 0 admits node 1 once it answers its ping: exchange datagrams
        // until both are quiet.
        for _ in 0..8 {
            while let Some(t) = one.poll_transmit(Instant::ZERO, &mut buf) {
                forged.handle_datagram(Instant::ZERO, 1, &buf[..t.len]);
            }
            while let Some(t) = forged.poll_transmit(Instant::ZERO, &mut buf) {
                one.handle_datagram(Instant::ZERO, 0, &buf[..t.len]);
            }
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
