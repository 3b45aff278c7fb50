//! One simulated host, and everything that happens on it inside one time
//! window.
//!
//! The simulator advances in windows no longer than the shortest link
//! latency, so nothing sent inside a window arrives inside it: within a
//! window every host depends only on its own state and its own events.
//! A [`Worker`] runs the events of a set of hosts and records what each
//! event caused ([`Effects`]); the simulator then applies those effects
//! (network, metrics, trace, scheduling) in one global order given by
//! [`Key`], which is made of each event's own properties. Which worker ran
//! which host, and where a window ended, change nothing: any number of
//! threads and any sampling give the same trace.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use swim_core::{Config, Event, Instant, LocalEvent, LocalStatus, MemberState};

use crate::sim::Node;

/// An event addressed to one host.
#[derive(Debug)]
pub(crate) enum HostEv {
    /// A datagram arrives from `from`.
    Deliver { from: u32, data: Box<[u8]> },
    /// The process's timer, armed during process lifetime `epoch`.
    Timer { epoch: u32 },
    /// The end of a pause that began during process lifetime `epoch`.
    Resume { epoch: u32 },
}

/// The order of everything that happens: virtual time first; at equal
/// times, actions and samples (by the order they were scheduled) before
/// host events, and host events by when they were created, by whom (a host,
/// or [`Key::ACTIONS`]) and in which order their creator made them.
///
/// Every part is a property of the event itself, never of the time window
/// or the thread that handled it, so the trace does not depend on either.
/// A host event is always created strictly before it happens or, for a
/// timer due at once, after every other event of its creator at that time:
/// an event never sorts before the one that created it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// Virtual time, µs.
    pub at: u64,
    /// False for actions and samples, true for host events.
    pub host_event: bool,
    /// Virtual time the event was created (µs; 0 for actions and samples).
    pub created_at: u64,
    /// The host that created it, or [`Key::ACTIONS`].
    pub origin: u32,
    /// The creator's running count of events it created (for actions and
    /// samples: their scheduling order).
    pub counter: u64,
    /// 1 for the second copy of a duplicated datagram.
    pub copy: u8,
}

impl Key {
    /// Origin of host events created by actions (the end of a pause).
    pub const ACTIONS: u32 = u32::MAX;

    /// The key of an action or sample scheduled `counter`-th.
    pub fn global(at: u64, counter: u64) -> Self {
        Key {
            at,
            host_event: false,
            created_at: 0,
            origin: 0,
            counter,
            copy: 0,
        }
    }

    /// The key of a host event due at `at`, created at `created_at` by
    /// `origin` as its `counter`-th event.
    pub fn host(at: u64, created_at: u64, origin: u32, counter: u64) -> Self {
        Key {
            at,
            host_event: true,
            created_at,
            origin,
            counter,
            copy: 0,
        }
    }
}

/// What the invariant checker remembers about one process.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    /// Last view this process had of each member: (generation, incarnation).
    pub views: BTreeMap<u32, (u32, u32)>,
    /// This process's incarnation at its last check.
    pub own: Option<u32>,
}

/// One simulated host: its process (if running) and its faults.
#[derive(Debug, Default)]
pub(crate) struct Host {
    pub swim: Option<Node>,
    pub generation: u32,
    /// Bumped at every crash/start, so stale timers are ignored.
    pub epoch: u32,
    /// Next timer (virtual µs) scheduled for this process.
    pub timer_at: Option<u64>,
    pub clock_offset: i64,
    pub paused: bool,
    pub backlog: Vec<(u32, Box<[u8]>)>,
    pub slow: u64,
    pub busy_until: u64,
    /// Virtual time the current process started.
    pub started_at: u64,
    /// Highest incarnation persisted (for `RestartMode::PersistedIncarnation`).
    pub persisted: u32,
    /// When the last process stopped by itself (a finished leave).
    pub left_at: Option<u64>,
    /// When the last pause began.
    pub paused_at: u64,
    /// When the last pause ended.
    pub resumed_at: u64,
    /// The current process was asked to leave.
    pub leaving: bool,
    /// Events this host created: timers, deferred inputs, datagrams sent
    /// (orders them in [`Key`]).
    pub created: u64,
    pub checks: Checks,
}

impl Host {
    /// Local clock of this host at virtual time `now`.
    pub fn local_now(&self, now: u64) -> Instant {
        let t = (now as i64).saturating_add(self.clock_offset).max(0);
        Instant::from_micros(t as u64)
    }

    /// Number for the next event this host creates.
    pub fn next_counter(&mut self) -> u64 {
        self.created += 1;
        self.created
    }

    /// Takes the process down and forgets its checker state.
    pub fn stop(&mut self) {
        self.swim = None;
        self.epoch += 1;
        self.timer_at = None;
        self.paused = false;
        self.backlog.clear();
        self.checks = Checks::default();
    }
}

/// Something an event caused, applied later in [`Key`] order.
#[derive(Debug)]
pub(crate) enum Item {
    /// One input was handled.
    Input,
    /// A datagram reached a host without a running process.
    Undeliverable,
    /// A datagram was handed to the process (`backlog`: after a pause).
    Delivered {
        from: u32,
        digest: u64,
        backlog: bool,
    },
    /// The process sent a datagram, its creator's `counter`-th event.
    Send {
        to: u32,
        data: Box<[u8]>,
        counter: u64,
    },
    /// The process reported an event.
    Event(crate::sim::NodeEvent),
    /// An event for this host at or after the window's end.
    Schedule { key: Key, ev: HostEv },
    /// A broken invariant.
    Violation(String),
    /// The process's incarnation, for the checker's highest-seen table.
    Reached { generation: u32, incarnation: u32 },
    /// After an input: alive or suspect members (convergence bookkeeping)
    /// and Lifeguard's health score.
    Active { members: u64, health: u8 },
    /// The process stopped by itself (its leave finished).
    Stopped,
}

/// Everything one event caused on one host.
#[derive(Debug)]
pub(crate) struct Effects {
    pub key: Key,
    pub node: u32,
    pub items: Vec<Item>,
}

/// Read-only context of a window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    pub config: &'a Config,
    /// Events at or after this time go back to the simulator's queue.
    pub window_end: u64,
    pub invariants: bool,
    /// Highest incarnation each (node, generation) held, as of the window's
    /// start (nothing learnt inside a window can come from inside it).
    pub highest: &'a BTreeMap<(u32, u32), u32>,
}

/// An event scheduled inside the window, ordered by its key only.
#[derive(Debug)]
struct Local {
    key: Key,
    node: u32,
    ev: HostEv,
}

impl PartialEq for Local {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Local {}
impl PartialOrd for Local {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Local {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// FNV-1a offset basis: the empty digest.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Folds `bytes` into a hash: FNV-1a over 8-byte little-endian words (the
/// tail zero-padded and tagged with its length).
pub(crate) fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
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

/// Runs host events for the hosts `base .. base + hosts.len()`.
pub(crate) struct Worker<'a> {
    ctx: Ctx<'a>,
    hosts: &'a mut [Host],
    base: u32,
    local: BinaryHeap<Reverse<Local>>,
    buf: &'a mut Vec<u8>,
    /// Effects of every event run, in the order run (increasing keys).
    pub out: Vec<Effects>,
}

impl<'a> Worker<'a> {
    /// A worker for `hosts`, the first of which is host `base`.
    pub fn new(ctx: Ctx<'a>, hosts: &'a mut [Host], base: u32, buf: &'a mut Vec<u8>) -> Self {
        Worker {
            ctx,
            hosts,
            base,
            local: BinaryHeap::new(),
            buf,
            out: Vec::new(),
        }
    }

    fn host(&mut self, node: u32) -> &mut Host {
        &mut self.hosts[(node - self.base) as usize]
    }

    /// Runs `batch` (in key order, all for this worker's hosts) and
    /// whatever they schedule before the window's end.
    pub fn run(&mut self, batch: impl IntoIterator<Item = (Key, u32, HostEv)>) {
        let mut batch = batch.into_iter().peekable();
        loop {
            let local_first = match (batch.peek(), self.local.peek()) {
                (Some((k, ..)), Some(Reverse(l))) => l.key < *k,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (None, None) => break,
            };
            if local_first {
                if let Some(Reverse(l)) = self.local.pop() {
                    self.event(l.key, l.node, l.ev);
                }
            } else if let Some((key, node, ev)) = batch.next() {
                self.event(key, node, ev);
            }
        }
    }

    /// Runs one event.
    pub fn event(&mut self, key: Key, node: u32, ev: HostEv) {
        let mut fx = Effects {
            key,
            node,
            items: Vec::new(),
        };
        let now = key.at;
        match ev {
            HostEv::Deliver { from, data } => self.deliver(&mut fx, now, from, data),
            HostEv::Timer { epoch } => {
                let h = self.host(node);
                if h.epoch != epoch || h.timer_at != Some(now) || h.swim.is_none() || h.paused {
                    return;
                }
                if h.busy_until > now {
                    let at = h.busy_until;
                    h.timer_at = Some(at);
                    self.schedule(&mut fx, at, HostEv::Timer { epoch });
                } else {
                    self.host(node).timer_at = None;
                    self.input(&mut fx, now, |s, t| s.handle_timeout(t));
                }
            }
            HostEv::Resume { epoch } => self.resume(&mut fx, now, epoch),
        }
        if !fx.items.is_empty() {
            self.out.push(fx);
        }
    }

    fn deliver(&mut self, fx: &mut Effects, now: u64, from: u32, data: Box<[u8]>) {
        let h = self.host(fx.node);
        if h.swim.is_none() {
            fx.items.push(Item::Undeliverable);
            return;
        }
        if h.paused {
            h.backlog.push((from, data));
            return;
        }
        if h.busy_until > now {
            let at = h.busy_until;
            self.schedule(fx, at, HostEv::Deliver { from, data });
            return;
        }
        self.hand_over(fx, now, from, &data, false);
    }

    /// Hands a datagram to the host's process and records it for the trace.
    fn hand_over(&mut self, fx: &mut Effects, now: u64, from: u32, data: &[u8], backlog: bool) {
        fx.items.push(Item::Delivered {
            from,
            digest: fnv(FNV_OFFSET, data),
            backlog,
        });
        self.input(fx, now, |s, t| s.handle_datagram(t, from, data));
    }

    fn resume(&mut self, fx: &mut Effects, now: u64, epoch: u32) {
        let h = self.host(fx.node);
        if h.epoch != epoch || !h.paused {
            return;
        }
        h.paused = false;
        h.resumed_at = now;
        let backlog = std::mem::take(&mut h.backlog);
        // Timers fire on wall-clock time while datagrams wait in the socket
        // buffer: the timeout comes first, then the backlog all at once.
        h.timer_at = None;
        self.input(fx, now, |s, t| s.handle_timeout(t));
        for (from, data) in backlog {
            if self.host(fx.node).swim.is_none() {
                break;
            }
            self.hand_over(fx, now, from, &data, true);
        }
    }

    /// Runs `f` on the host's process (if any), then drains its outputs.
    pub fn input(&mut self, fx: &mut Effects, now: u64, f: impl FnOnce(&mut Node, Instant)) {
        let h = self.host(fx.node);
        let Some(mut swim) = h.swim.take() else {
            return;
        };
        let local = h.local_now(now);
        f(&mut swim, local);
        if h.slow > 0 {
            h.busy_until = now + h.slow;
        }
        fx.items.push(Item::Input);
        if self.ctx.invariants {
            // Before draining: events and outgoing messages are at their peak.
            check_caps(fx, &swim);
        }
        self.drain(fx, now, swim, local);
    }

    /// Hands out what `swim` has to send and report, re-arms its timer,
    /// and puts it back on its host (unless it left).
    pub fn drain(&mut self, fx: &mut Effects, now: u64, mut swim: Node, local: Instant) {
        let budget = usize::from(self.ctx.config.packet_budget);
        while let Some(t) = swim.poll_transmit(local, self.buf) {
            if t.len > budget {
                fx.items.push(Item::Violation(format!(
                    "datagram of {} bytes over the {budget} budget",
                    t.len
                )));
            }
            let counter = self.host(fx.node).next_counter();
            fx.items.push(Item::Send {
                to: t.destination,
                data: self.buf[..t.len].into(),
                counter,
            });
        }
        let mut events = 0usize;
        let mut left = false;
        let me = swim.local().identity.clone();
        while let Some(event) = swim.poll_event() {
            events += 1;
            match &event {
                Event::Local(LocalEvent::Left) => left = true,
                Event::MemberFailed(id) if *id == me => {
                    fx.items
                        .push(Item::Violation("declared itself dead".into()));
                }
                Event::MemberRemoved(id) => {
                    self.host(fx.node).checks.views.remove(&id.addr);
                }
                _ => {}
            }
            fx.items.push(Item::Event(event));
        }
        if self.ctx.invariants {
            let cap = usize::from(self.ctx.config.event_queue_len);
            if events > cap {
                fx.items.push(Item::Violation(format!(
                    "{events} events queued, cap {cap}"
                )));
            }
            let (ctx, node) = (self.ctx, fx.node);
            check(ctx, &mut self.host(node).checks, node, &swim, &mut fx.items);
        }
        fx.items.push(Item::Active {
            members: swim.active_members() as u64,
            health: swim.local().health,
        });
        let h = self.host(fx.node);
        // A process moves to a new generation by itself when its
        // incarnation cannot grow any more (an accusation at u32::MAX):
        // that is the generation it runs now.
        let generation = swim.local().identity.generation;
        if generation > h.generation {
            h.generation = generation;
            h.persisted = 0;
        }
        h.persisted = h.persisted.max(swim.local().incarnation);
        if left || swim.local().status == LocalStatus::Left {
            h.stop();
            h.left_at = Some(now);
            fx.items.push(Item::Stopped);
            return;
        }
        let deadline = swim.poll_timeout().map(|t| {
            let v = (t.as_micros() as i64).saturating_sub(h.clock_offset).max(0) as u64;
            v.max(now)
        });
        h.swim = Some(swim);
        if let Some(at) = deadline {
            if h.timer_at != Some(at) {
                h.timer_at = Some(at);
                let epoch = h.epoch;
                self.schedule(fx, at, HostEv::Timer { epoch });
            }
        }
    }

    /// Runs `ev` inside this window if it falls in it, else hands it back
    /// to the simulator's queue.
    fn schedule(&mut self, fx: &mut Effects, at: u64, ev: HostEv) {
        let node = fx.node;
        let counter = self.host(node).next_counter();
        let key = Key::host(at, fx.key.at, node, counter);
        if at < self.ctx.window_end {
            self.local.push(Reverse(Local { key, node, ev }));
        } else {
            fx.items.push(Item::Schedule { key, ev });
        }
    }
}

/// Every table and queue of `swim` within its cap (O(1): lengths only).
fn check_caps(fx: &mut Effects, swim: &Node) {
    check_caps_into(&mut fx.items, swim);
}

/// The per-process invariants, after an input of `node`.
pub(crate) fn check(
    ctx: Ctx<'_>,
    checks: &mut Checks,
    node: u32,
    swim: &Node,
    out: &mut Vec<Item>,
) {
    check_caps_into(out, swim);
    let me = swim.local();
    let (generation, incarnation) = (me.identity.generation, me.incarnation);
    out.push(Item::Reached {
        generation,
        incarnation,
    });
    if let Some(prev) = checks.own {
        if incarnation < prev {
            out.push(Item::Violation(format!(
                "own incarnation went from {prev} to {incarnation}"
            )));
        }
    }
    checks.own = Some(incarnation);
    if let Some(m) = swim.member(&node) {
        if m.identity == me.identity && matches!(m.state, MemberState::Dead | MemberState::Left) {
            out.push(Item::Violation(format!("holds itself as {:?}", m.state)));
        }
    }
    let mut count = 0u64;
    for m in swim.members() {
        count += 1;
        let (y, g, v) = (m.identity.addr, m.identity.generation, m.incarnation);
        let reached = if (y, g) == (node, generation) {
            Some(incarnation)
        } else {
            ctx.highest.get(&(y, g)).copied()
        };
        match reached {
            Some(h) if v > h => out.push(Item::Violation(format!(
                "holds incarnation {v} of {y}/{g}, which only reached {h}"
            ))),
            None if v > 0 => out.push(Item::Violation(format!(
                "holds incarnation {v} of {y}/{g}, which never ran"
            ))),
            _ => {}
        }
        if let Some(&(pg, pv)) = checks.views.get(&y) {
            if pg == g && v < pv {
                out.push(Item::Violation(format!(
                    "view of {y}/{g} went from incarnation {pv} to {v}"
                )));
            }
        }
        checks.views.insert(y, (g, v));
    }
    if count > u64::from(ctx.config.max_members) {
        out.push(Item::Violation(format!(
            "{count} members, cap {}",
            ctx.config.max_members
        )));
    }
}

fn check_caps_into(out: &mut Vec<Item>, swim: &Node) {
    let q = swim.queue_lengths();
    for (name, len, cap) in q.over_caps() {
        out.push(Item::Violation(format!("{len} {name}, cap {cap}")));
    }
}
