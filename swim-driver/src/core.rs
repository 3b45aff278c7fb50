//! The transport-independent half of a running node.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::{CommandError, Identity, Instant, LocalEvent, Swim};

use crate::members_file::{self, MembersSaver, SAVE_EVERY};
use crate::persist::{IdentityStore, IdentityWriter, Persisted};
use crate::request::Done;
use crate::{
    clock_generation, Channels, Clock, CoreOptions, Delivery, Event, Member, NodeSwim, Request,
    StartError, LEAVE_GRACE,
};

/// Longest sleep [`NodeCore::next_wake`] asks for when the protocol has no
/// deadline (after leaving).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// What the driver kit counted, on top of the protocol's own counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Events dropped because the application's event channel was full
    /// (the newest event is the one dropped).
    pub events_dropped: u64,
    /// Times the protocol's timers were run.
    pub timer_runs: u64,
    /// New identities (incarnation or generation) handed to the background
    /// writer; zero without a data directory.
    pub identity_writes: u64,
    /// Writes of the identity file that failed.
    pub identity_write_errors: u64,
    /// Members loaded from the saved member table at start-up.
    pub members_loaded: u64,
    /// Saved members that could not be loaded (unparsable lines, refused
    /// or over the table's limits).
    pub members_not_loaded: u64,
    /// Saves of the member table started.
    pub member_table_saves: u64,
    /// Saves of the member table that failed.
    pub member_table_save_errors: u64,
}

/// The part of a running node that does not depend on how datagrams
/// travel: the state machine, its clock, the commands of the handle
/// (including pending graceful leaves), the event policy, persistence of
/// the identity, and counters. A transport feeds it datagrams, timer
/// wake-ups and [`Request`]s, and sends what [`NodeCore::flush`] hands
/// it.
///
/// After every input (datagram, timer, command), call
/// [`NodeCore::flush`]: it sends every pending datagram, hands every
/// pending event to the application and persists a new incarnation or
/// generation if the node moved to one.
pub struct NodeCore<C: Channels> {
    swim: NodeSwim,
    clock: Clock,
    identity: Identity<SocketAddr>,
    leave_timeout: Duration,
    pending_leaves: Vec<Done<C>>,
    events: C::Events,
    writer: Option<IdentityWriter>,
    /// Saves the member table into the data directory, and when next.
    saver: Option<(MembersSaver, std::time::Instant)>,
    counters: CoreCounters,
    /// Events dropped since the last `Lagged` marker was delivered.
    lagged: u64,
}

impl<C: Channels> std::fmt::Debug for NodeCore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCore")
            .field("identity", &self.identity)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<C: Channels> NodeCore<C> {
    /// Starts the state machine of the node known as `advertise` and bound
    /// to `local_addr`, with `options` (see [`CoreOptions`]; the transport
    /// has already resolved `advertise` and adjusted `config`), handing
    /// events to `events`.
    ///
    /// Picks the identity: with a data directory, the next life stored
    /// there ([`IdentityStore`]); else `options.generation` or the
    /// [`clock_generation`], and `options.incarnation`. Then sets the
    /// metadata (if not empty) and starts joining the seeds other than the
    /// node's own addresses. The random choices are seeded differently in
    /// every process and every node.
    pub fn start(
        options: CoreOptions,
        advertise: SocketAddr,
        local_addr: SocketAddr,
        events: C::Events,
    ) -> Result<Self, StartError> {
        options.config.validate()?;
        let (state, writer) = match &options.data_dir {
            Some(dir) => {
                let store =
                    IdentityStore::start(dir, advertise, options.generation, options.incarnation)?;
                (store.state(), Some(IdentityWriter::new(store)))
            }
            None => (
                Persisted {
                    generation: options.generation.unwrap_or_else(clock_generation),
                    incarnation: options.incarnation,
                },
                None,
            ),
        };
        let identity = Identity::new(advertise, state.generation);
        let clock = Clock::start();
        let rng = Pcg32::seed_from_u64(random_seed(advertise));
        let leave_timeout = options.config.leave_propagate_time + LEAVE_GRACE;
        let mut swim = Swim::new(identity.clone(), options.config, rng, Instant::ZERO)?
            .with_incarnation(state.incarnation);
        if !options.metadata.is_empty() {
            swim.set_metadata(Instant::ZERO, &options.metadata)?;
        }
        let mut counters = CoreCounters::default();
        let saver = match &options.data_dir {
            Some(dir) => {
                load_members(&mut swim, dir, &mut counters)?;
                let first_save = std::time::Instant::now() + SAVE_EVERY;
                Some((MembersSaver::new(dir), first_save))
            }
            None => None,
        };
        let seeds: Vec<SocketAddr> = options
            .seeds
            .into_iter()
            .map(crate::canonical)
            .filter(|s| *s != advertise && *s != local_addr)
            .collect();
        if !seeds.is_empty() {
            swim.join(Instant::ZERO, &seeds)?;
        }
        crate::log!(
            info,
            "node {advertise} started: generation {}, incarnation {}, {} members loaded, {} seeds",
            state.generation,
            state.incarnation,
            counters.members_loaded,
            seeds.len()
        );
        Ok(NodeCore {
            swim,
            clock,
            identity,
            leave_timeout,
            pending_leaves: Vec::new(),
            events,
            writer,
            saver,
            counters,
            lagged: 0,
        })
    }

    /// The identity the node started with.
    pub fn identity(&self) -> &Identity<SocketAddr> {
        &self.identity
    }

    /// How long a graceful leave may take, at most: the configured
    /// `leave_propagate_time` plus [`LEAVE_GRACE`].
    pub fn leave_timeout(&self) -> Duration {
        self.leave_timeout
    }

    /// The node's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The protocol time now.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The state machine, to read.
    pub fn swim(&self) -> &NodeSwim {
        &self.swim
    }

    /// The state machine, to call directly (call [`NodeCore::flush`]
    /// afterwards).
    pub fn swim_mut(&mut self) -> &mut NodeSwim {
        &mut self.swim
    }

    /// The largest packet the protocol writes (its `packet_budget`).
    pub fn packet_budget(&self) -> usize {
        usize::from(self.swim.config().packet_budget)
    }

    /// What the kit counted so far.
    pub fn counters(&self) -> CoreCounters {
        let mut counters = self.counters;
        if let Some((saver, _)) = &self.saver {
            counters.member_table_save_errors = saver.errors();
        }
        if let Some(writer) = &self.writer {
            counters.identity_write_errors = writer.errors();
        }
        counters
    }

    /// Hands a datagram received from `from` to the protocol.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8]) {
        let now = self.now();
        self.swim.handle_datagram(now, from, datagram);
    }

    /// Runs the protocol's timers if they are due; returns true if they
    /// ran.
    pub fn handle_timeout(&mut self) -> bool {
        let now = self.now();
        if self.swim.poll_timeout().is_some_and(|at| at <= now) {
            self.swim.handle_timeout(now);
            self.counters.timer_runs += 1;
            self.save_members_when_due();
            true
        } else {
            false
        }
    }

    /// When to call [`NodeCore::handle_timeout`] next, by the process
    /// clock; at most an hour away. The core promises progress: once its
    /// timers ran at `t`, its next deadline is later than `t`, so a loop
    /// that sleeps until this instant never spins.
    pub fn next_wake(&self) -> std::time::Instant {
        let latest = std::time::Instant::now() + MAX_SLEEP;
        match self.swim.poll_timeout() {
            Some(at) => self.clock.to_std(at).min(latest),
            None => latest,
        }
    }

    /// How long until [`NodeCore::next_wake`].
    pub fn wait_time(&self) -> Duration {
        self.next_wake()
            .saturating_duration_since(std::time::Instant::now())
    }

    /// Carries out a command of the node handle and answers it, except a
    /// leave that has started: that one is answered with `Ok(())` once the
    /// `Local(Left)` event is in the event channel. Leaving again after
    /// the node has left is answered `Ok(())` at once.
    pub fn apply(&mut self, request: Request<C>) {
        let now = self.now();
        let clock = self.clock;
        let swim = &mut self.swim;
        let member = |m: swim_core::MemberView<'_, SocketAddr>| -> Member {
            m.to_snapshot().map_since(|t| clock.to_std(t))
        };
        match request {
            Request::Members(reply) => C::reply(reply, swim.members().map(member).collect()),
            Request::Member(addr, reply) => {
                C::reply(reply, swim.member(&crate::canonical(addr)).map(member));
            }
            Request::Local(reply) => C::reply(reply, swim.local().to_snapshot()),
            Request::SetMetadata(data, reply) => C::reply(reply, swim.set_metadata(now, &data)),
            Request::SetState(key, Some(value), reply) => {
                C::reply(reply, swim.set_local_state(now, &key, &value));
            }
            Request::SetState(key, None, reply) => {
                C::reply(reply, swim.remove_local_state(now, &key));
            }
            Request::Broadcast(key, payload, reply) => {
                C::reply(reply, swim.broadcast(now, key, &payload));
            }
            Request::SendMessage(to, payload, reply) => {
                C::reply(
                    reply,
                    swim.send_message(now, &crate::canonical(to), &payload),
                );
            }
            Request::Join(seeds, reply) => {
                let seeds: Vec<SocketAddr> = seeds.into_iter().map(crate::canonical).collect();
                C::reply(reply, swim.join(now, &seeds));
            }
            Request::Refuse(identity, reply) => {
                let identity = Identity::new(crate::canonical(identity.addr), identity.generation);
                C::reply(reply, swim.refuse(now, &identity));
            }
            Request::LiftRefusal(addr, reply) => {
                C::reply(reply, swim.lift_refusal(&crate::canonical(addr)));
            }
            Request::Leave(reply) => match swim.leave(now) {
                Ok(()) => self.pending_leaves.push(reply),
                Err(CommandError::HasLeft) => C::reply(reply, Ok(())),
                Err(e) => C::reply(reply, Err(e)),
            },
        }
    }

    /// The transport's output step, after every input: writes each pending
    /// packet into `buf[packet]` and calls `send(buf, len, to)` with the
    /// end of the packet (`packet.start + len`) and its destination; then
    /// hands every pending event to the application (see
    /// [`NodeCore::dispatch_events`]).
    ///
    /// `packet` leaves room around the packet for a transport that wraps
    /// it (a header before, a tag after); `0..buf.len()` otherwise. It
    /// should be at least [`NodeCore::packet_budget`] long.
    pub fn flush(
        &mut self,
        buf: &mut [u8],
        packet: Range<usize>,
        mut send: impl FnMut(&mut [u8], usize, SocketAddr),
    ) {
        let now = self.now();
        // A range outside the buffer is clamped to it, never a panic.
        let end = packet.end.min(buf.len());
        let start = packet.start.min(end);
        while let Some(t) = self.swim.poll_transmit(now, &mut buf[start..end]) {
            send(buf, start + t.len, t.destination);
        }
        self.dispatch_events();
    }

    /// Hands every pending event to the application's channel, answers
    /// pending leaves once `Local(Left)` is in the channel, and hands a
    /// new incarnation or generation to the identity writer.
    ///
    /// The policy is the core's: when the channel is full the newest
    /// events are dropped and counted, and an [`Event::Lagged`] saying how
    /// many were takes their place as soon as the channel has room again
    /// (checked at every flush, so at the latest at the next timer run);
    /// a `Lagged` from the core itself is merged into it.
    pub fn dispatch_events(&mut self) {
        self.deliver_lag_marker();
        while let Some(event) = self.swim.poll_event() {
            log_event(&event);
            let left = matches!(event, Event::Local(LocalEvent::Left));
            if let Event::Lagged { dropped } = event {
                self.lagged = self.lagged.saturating_add(dropped);
            } else if self.lagged > 0 || C::deliver(&self.events, event) == Delivery::Full {
                self.counters.events_dropped += 1;
                self.lagged = self.lagged.saturating_add(1);
            }
            self.deliver_lag_marker();
            if left {
                for reply in self.pending_leaves.drain(..) {
                    C::reply(reply, Ok(()));
                }
            }
        }
        self.persist();
    }

    /// Delivers the `Lagged` marker of the events dropped so far, if any
    /// and if the channel has room.
    fn deliver_lag_marker(&mut self) {
        if self.lagged == 0 {
            return;
        }
        let marker = Event::Lagged {
            dropped: self.lagged,
        };
        if C::deliver(&self.events, marker) != Delivery::Full {
            crate::log!(
                warn,
                "{} events dropped: the application did not read them in time",
                self.lagged
            );
            self.lagged = 0;
        }
    }

    /// Hands the current identity to the writer if it is later than the
    /// last one handed over. Checked after every flush, so that every
    /// incarnation the node ever announces is on its way to disk, whatever
    /// raised it.
    fn persist(&mut self) {
        let Some(writer) = &mut self.writer else {
            return;
        };
        let local = self.swim.local();
        let state = Persisted {
            generation: local.identity.generation,
            incarnation: local.incarnation,
        };
        if writer.submit(state) {
            self.counters.identity_writes += 1;
        }
    }

    /// Stops persisting: hands the final identity over and waits until it
    /// is on disk. Call it when the loop ends.
    pub fn finish(&mut self) {
        self.persist();
        if let Some(writer) = &self.writer {
            writer.flush();
        }
        if let Some((saver, _)) = &mut self.saver {
            saver.wait();
            let text = members_file::render(self.swim.members());
            if saver.save(text) {
                self.counters.member_table_saves += 1;
            }
            saver.wait();
        }
    }

    /// Saves the member table every [`SAVE_EVERY`], off the loop thread.
    fn save_members_when_due(&mut self) {
        let Some((saver, next)) = &mut self.saver else {
            return;
        };
        let now = std::time::Instant::now();
        if now < *next {
            return;
        }
        *next = now + SAVE_EVERY;
        if saver.save(members_file::render(self.swim.members())) {
            self.counters.member_table_saves += 1;
        } else {
            crate::log!(
                debug,
                "member table save skipped: the previous one still runs"
            );
        }
    }
}

/// Logs a membership change at `info`, anything else at `debug`.
fn log_event(event: &Event) {
    match (event.member(), event) {
        (Some(id), Event::MemberUpdated(_)) => {
            crate::log!(
                debug,
                "member {} (generation {}) updated",
                id.addr,
                id.generation
            );
        }
        (Some(id), _) => crate::log!(info, "{event:?} for {}", id.addr),
        (None, Event::Lagged { dropped }) => {
            crate::log!(
                warn,
                "the core dropped {dropped} events: the queue was full"
            );
        }
        (None, _) => crate::log!(debug, "{event:?}"),
    }
}

/// Loads the member table saved in `dir` into `swim` (see
/// [`members_file`]); a member that does not load is counted, an
/// unreadable file is an error.
fn load_members(
    swim: &mut NodeSwim,
    dir: &std::path::Path,
    counters: &mut CoreCounters,
) -> Result<(), StartError> {
    let (saved, unparsable) = members_file::load(dir)?;
    counters.members_not_loaded += unparsable;
    for member in &saved {
        match swim.import_member(Instant::ZERO, member.as_known()) {
            Ok(_) => counters.members_loaded += 1,
            Err(_) => counters.members_not_loaded += 1,
        }
    }
    Ok(())
}

/// A seed for the protocol's random choices, different in every process and
/// every node: std's randomly keyed hasher over the time, the process id and
/// the address.
fn random_seed(addr: SocketAddr) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::time::SystemTime::now().hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    addr.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StdChannels;
    use std::sync::mpsc::{sync_channel, Receiver};
    use swim_core::{Config, LocalStatus};

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn quick() -> Config {
        let mut config = Config::local();
        config.leave_propagate_time = Duration::from_millis(20);
        config
    }

    fn core(
        port: u16,
        options: CoreOptions,
        capacity: usize,
    ) -> (NodeCore<StdChannels>, Receiver<Event>) {
        let (tx, rx) = sync_channel(capacity);
        let core = NodeCore::start(options, addr(port), addr(port), tx).expect("starts");
        (core, rx)
    }

    /// Delivers every datagram each node has for the other, until quiet.
    fn exchange(nodes: &mut [&mut NodeCore<StdChannels>]) {
        for _ in 0..50 {
            let mut wire: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
            for node in nodes.iter_mut() {
                node.handle_timeout();
                let from = node.identity().addr;
                let mut buf = vec![0u8; node.packet_budget()];
                let len = buf.len();
                node.flush(&mut buf, 0..len, |buf, len, to| {
                    wire.push((from, to, buf[..len].to_vec()));
                });
            }
            if wire.is_empty() {
                return;
            }
            for (from, to, bytes) in wire {
                if let Some(node) = nodes.iter_mut().find(|n| n.identity().addr == to) {
                    node.handle_datagram(from, &bytes);
                }
            }
        }
    }

    #[test]
    fn seeds_exclude_own_addresses_and_options_apply() {
        let options = CoreOptions::new()
            .config(quick())
            .metadata(b"meta".to_vec())
            .seeds([addr(7000)])
            .generation(42)
            .incarnation(3);
        let (core, _events) = core(7000, options, 8);
        let local = core.swim().local();
        assert_eq!(local.incarnation, 3);
        assert_eq!(local.identity.generation, 42);
        assert_eq!(local.metadata, b"meta");
        // Its own address was no seed: nothing to send.
        assert_eq!(core.swim().members().count(), 0);
        assert_eq!(
            core.leave_timeout(),
            quick().leave_propagate_time + LEAVE_GRACE
        );
    }

    #[test]
    fn two_cores_join_and_a_full_event_channel_drops_the_newest() {
        let (mut a, a_events) = core(7001, CoreOptions::new().config(quick()), 1);
        let seeded = CoreOptions::new().config(quick()).seed(addr(7001));
        let (mut b, b_events) = core(7002, seeded, 64);
        exchange(&mut [&mut a, &mut b]);
        let (reply, answer) = sync_channel(1);
        a.apply(Request::Members(reply));
        let members = answer.recv().expect("answered");
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].identity.addr, addr(7002));
        // b saw `Local(Joined)` and `MemberJoined`; a's channel holds one
        // event and counted the others as dropped.
        let b_seen: Vec<Event> = b_events.try_iter().collect();
        assert!(
            b_seen.contains(&Event::Local(LocalEvent::Joined)),
            "{b_seen:?}"
        );
        assert_eq!(a_events.try_iter().count(), 1);
        assert!(a.counters().events_dropped >= 1);
        assert_eq!(b.counters().events_dropped, 0);
    }

    #[test]
    fn dropped_events_are_followed_by_a_lagged_marker_once_there_is_room() {
        let (mut a, a_events) = core(7005, CoreOptions::new().config(quick()), 1);
        let seeded = CoreOptions::new().config(quick()).seed(addr(7005));
        let (mut b, _b_events) = core(7006, seeded, 64);
        exchange(&mut [&mut a, &mut b]);
        let dropped = a.counters().events_dropped;
        assert!(dropped >= 1, "a's one-place channel overflowed");
        let first = a_events.try_recv().expect("the oldest event was kept");
        assert!(!matches!(first, Event::Lagged { .. }));
        assert!(a_events.try_recv().is_err(), "nothing else fitted");
        // Room again: the next dispatch delivers the gap, before any newer
        // event.
        a.dispatch_events();
        assert_eq!(a_events.try_recv(), Ok(Event::Lagged { dropped }));
        a.dispatch_events();
        assert!(a_events.try_recv().is_err(), "the marker is sent once");
    }

    /// With the `tracing` feature, what a node does is logged.
    #[cfg(feature = "tracing")]
    #[test]
    fn start_and_membership_changes_are_logged() {
        use std::sync::{Arc, Mutex};
        use tracing::field::{Field, Visit};
        use tracing::span::{Attributes, Id, Record};

        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<String>>>);
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        impl tracing::Subscriber for Capture {
            fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &Attributes<'_>) -> Id {
                Id::from_u64(1)
            }
            fn record(&self, _: &Id, _: &Record<'_>) {}
            fn record_follows_from(&self, _: &Id, _: &Id) {}
            fn event(&self, event: &tracing::Event<'_>) {
                assert_eq!(event.metadata().target(), "swim");
                let mut message = Message(String::new());
                event.record(&mut message);
                self.0.lock().unwrap().push(message.0);
            }
            fn enter(&self, _: &Id) {}
            fn exit(&self, _: &Id) {}
        }

        let capture = Capture::default();
        tracing::subscriber::with_default(capture.clone(), || {
            let (mut a, _a_events) = core(7020, CoreOptions::new().config(quick()), 64);
            let seeded = CoreOptions::new().config(quick()).seed(addr(7020));
            let (mut b, _b_events) = core(7021, seeded, 64);
            exchange(&mut [&mut a, &mut b]);
        });
        let logged = capture.0.lock().unwrap().clone();
        assert!(
            logged.iter().any(|m| m.contains("127.0.0.1:7020 started")),
            "{logged:?}"
        );
        assert!(
            logged
                .iter()
                .any(|m| m.contains("MemberJoined") && m.contains("127.0.0.1:7021")),
            "{logged:?}"
        );
    }

    #[test]
    fn a_leave_is_answered_once_left_is_in_the_channel() {
        let (mut a, events) = core(7003, CoreOptions::new().config(quick()), 8);
        let (reply, answer) = sync_channel(1);
        a.apply(Request::Leave(reply));
        assert!(answer.try_recv().is_err(), "answered before leaving");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while answer.try_recv().is_err() {
            assert!(std::time::Instant::now() < deadline, "leave never finished");
            std::thread::sleep(a.wait_time().min(Duration::from_millis(5)));
            a.handle_timeout();
            a.flush(&mut [0u8; 1400], 0..1400, |_, _, _| {});
        }
        assert!(events
            .try_iter()
            .any(|e| e == Event::Local(LocalEvent::Left)));
        // Leaving again is answered at once.
        let (reply, answer) = sync_channel(1);
        a.apply(Request::Leave(reply));
        assert_eq!(answer.try_recv().expect("answered"), Ok(()));
    }

    #[test]
    fn a_packet_range_outside_the_buffer_does_not_panic() {
        let (mut a, _events) = core(7004, CoreOptions::new().config(quick()).seed(addr(7005)), 8);
        // Entirely outside: an empty packet area, nothing can be written.
        let mut sent = 0;
        a.flush(&mut [0u8; 1400], 2000..3000, |_, _, _| sent += 1);
        assert_eq!(sent, 0);
        // Partly outside: clamped; whatever is sent lies within the buffer.
        a.swim_mut()
            .join(Instant::ZERO, &[addr(7005)])
            .expect("join again");
        let mut ends = Vec::new();
        a.flush(&mut [0u8; 64], 8..4000, |buf, end, _| {
            ends.push((end, buf.len()))
        });
        assert!(ends.iter().all(|(end, len)| end <= len), "{ends:?}");
    }

    #[test]
    fn a_restart_with_a_data_directory_loads_the_saved_member_table() {
        let dir = tempfile::tempdir().expect("dir");
        let options = || CoreOptions::new().config(quick()).data_dir(dir.path());
        let (mut a, _a_events) = core(7010, options(), 64);
        let seeded = CoreOptions::new()
            .config(quick())
            .metadata(b"role=db".to_vec())
            .seed(addr(7010));
        let (mut b, _b_events) = core(7011, seeded, 64);
        exchange(&mut [&mut a, &mut b]);
        assert_eq!(a.swim().members().count(), 1, "a knows b");
        a.finish();
        assert_eq!(a.counters().member_table_saves, 1);
        assert_eq!(a.counters().member_table_save_errors, 0);
        // The next life of a: no seed, yet it knows b, with its metadata,
        // and counts as joined.
        let (again, events) = core(7010, options(), 64);
        assert_eq!(again.counters().members_loaded, 1);
        assert_eq!(again.counters().members_not_loaded, 0);
        let b_view = again.swim().member(&addr(7011)).expect("b loaded");
        assert_eq!(b_view.identity, b.identity());
        assert_eq!(b_view.metadata, b"role=db");
        assert_eq!(again.swim().local().status, LocalStatus::Joined);
        let mut again = again;
        again.dispatch_events();
        assert_eq!(events.try_recv(), Ok(Event::Local(LocalEvent::Joined)));
    }

    #[test]
    fn with_a_data_directory_every_start_is_a_later_identity() {
        let dir = tempfile::tempdir().expect("dir");
        let options = || CoreOptions::new().config(quick()).data_dir(dir.path());
        let (mut first, _e) = core(7006, options(), 8);
        let one = (
            first.identity().generation,
            first.swim().local().incarnation,
        );
        first.finish();
        assert_eq!(first.counters().identity_write_errors, 0);
        let (second, _e) = core(7006, options(), 8);
        let two = (
            second.identity().generation,
            second.swim().local().incarnation,
        );
        assert!(two.0 > one.0 && two.1 > one.1, "{one:?} then {two:?}");
        assert_eq!(
            crate::persist::read(dir.path()),
            Persisted {
                generation: two.0,
                incarnation: two.1
            }
        );
    }
}
