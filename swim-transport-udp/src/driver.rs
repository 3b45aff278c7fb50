//! The node thread: owns the socket and the state machine and runs the
//! sans-IO loop (commands, timers, transmits, events, receive).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::Duration;

use swim_core::{CommandError, Instant, LocalEvent};
use swim_node::{Clock, NodeSwim, Replies, Request};

use crate::envelope::{OpenError, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD};
use crate::identity::IdentityStore;
use crate::keyring::{KeyError, KeyId, Keyring};
use crate::replay::{unix_time, ReplayFilter};
use crate::socket::{canonical, destination, TransportCounters};
use crate::view::NodeCounters;
use crate::Event;

/// Longest blocking receive: the thread looks at its command queue at least
/// this often even if a wake-up datagram was lost.
const MAX_WAIT: Duration = Duration::from_millis(250);
/// Shortest blocking receive (a zero read timeout means "forever").
const MIN_WAIT: Duration = Duration::from_micros(500);
/// Largest UDP payload: incoming datagrams are never truncated by the
/// buffer; the protocol itself drops those above its packet budget.
const RECV_BUF: usize = 65_536;

/// A reply channel for one command.
pub(crate) type Reply<T> = SyncSender<T>;

/// The node thread's reply channels: std's bounded channels.
pub(crate) struct SyncReplies;

impl Replies for SyncReplies {
    type Reply<T: Send + 'static> = Reply<T>;

    fn send<T: Send + 'static>(reply: Reply<T>, answer: T) {
        let _ = reply.send(answer);
    }
}

/// What the handle asks of the node thread.
pub(crate) enum Command {
    /// A command for the state machine, answered by the shared logic.
    Swim(Request<SyncReplies>),
    Counters(Reply<NodeCounters>),
    InstallKey(KeyBytes, Reply<Result<(), KeyError>>),
    UseKey(KeyBytes, Reply<Result<(), KeyError>>),
    RemoveKey(KeyBytes, Reply<Result<(), KeyError>>),
    KeyIds(Reply<Vec<KeyId>>),
    Stop,
}

/// A key on its way to the node thread, wiped once used.
pub(crate) type KeyBytes = zeroize::Zeroizing<Vec<u8>>;

/// Encryption state of the node thread.
pub(crate) struct Crypto {
    pub keyring: Keyring,
    /// The configured `packet_budget`: the largest datagram on the wire.
    pub datagram_budget: usize,
    /// Which datagrams of which senders were already accepted.
    pub replay: ReplayFilter,
}

/// Everything the node thread owns.
pub(crate) struct Driver {
    pub swim: NodeSwim,
    pub socket: UdpSocket,
    pub wake_source: SocketAddr,
    pub clock: Clock,
    pub commands: Receiver<Command>,
    pub events: SyncSender<Event>,
    pub store: Option<IdentityStore>,
    pub transport: TransportCounters,
    pub pending_leaves: Vec<Reply<Result<(), CommandError>>>,
    /// `None`: plaintext datagrams.
    pub crypto: Option<Crypto>,
}

impl Driver {
    /// Runs until [`Command::Stop`] or until the handle is dropped; returns
    /// the final counters.
    pub fn run(mut self) -> NodeCounters {
        let socket_is_v6 = self
            .socket
            .local_addr()
            .map(|a| a.is_ipv6())
            .unwrap_or(false);
        // With a keyring, the protocol writes its packet after the room
        // left for the envelope header, and the tag follows it: sealing
        // happens in place.
        let packet_budget = usize::from(self.swim.config().packet_budget);
        let envelope = if self.crypto.is_some() {
            ENVELOPE_OVERHEAD
        } else {
            0
        };
        let mut send_buf = vec![0u8; packet_budget + envelope];
        let mut recv_buf = vec![0u8; RECV_BUF];
        // Outputs of the commands issued before the thread started.
        self.flush(socket_is_v6, &mut send_buf);
        loop {
            if !self.drain_commands() {
                break;
            }
            let now = self.now();
            if self.swim.poll_timeout().is_some_and(|at| at <= now) {
                self.swim.handle_timeout(now);
            }
            self.flush(socket_is_v6, &mut send_buf);
            let wait = self.wait_time();
            self.receive(wait, &mut recv_buf);
        }
        self.save_incarnation();
        self.counters()
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn counters(&self) -> NodeCounters {
        let mut transport = self.transport;
        if let Some(crypto) = &self.crypto {
            transport.replay_evictions = crypto.replay.evictions();
        }
        NodeCounters {
            protocol: self.swim.counters(),
            transport,
        }
    }

    /// Handles every queued command; false when the thread must stop.
    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Stop) | Err(TryRecvError::Disconnected) => return false,
                Ok(command) => self.handle(command),
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    /// Replies are best effort: a handle that stopped waiting is no error.
    fn handle(&mut self, command: Command) {
        match command {
            Command::Swim(request) => {
                let now = self.now();
                request.apply(&mut self.swim, &self.clock, now, &mut self.pending_leaves);
            }
            Command::Counters(reply) => {
                let _ = reply.send(self.counters());
            }
            Command::InstallKey(key, reply) => {
                let _ = reply.send(self.with_keyring(|ring| ring.install(&key)));
            }
            Command::UseKey(key, reply) => {
                let _ = reply.send(self.with_keyring(|ring| ring.use_key(&key)));
            }
            Command::RemoveKey(key, reply) => {
                let _ = reply.send(self.with_keyring(|ring| ring.remove(&key)));
            }
            Command::KeyIds(reply) => {
                let ids = self
                    .crypto
                    .as_ref()
                    .map(|c| c.keyring.key_ids())
                    .unwrap_or_default();
                let _ = reply.send(ids);
            }
            Command::Stop => {}
        }
    }

    fn with_keyring(
        &mut self,
        change: impl FnOnce(&mut Keyring) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        match &mut self.crypto {
            Some(crypto) => change(&mut crypto.keyring),
            None => Err(KeyError::EncryptionDisabled),
        }
    }

    /// Sends every pending datagram and hands every pending event over.
    fn flush(&mut self, socket_is_v6: bool, buf: &mut [u8]) {
        let now = self.now();
        let tag = self.swim.config().cluster_tag;
        // Where the protocol writes its packet: after the envelope header
        // when encrypting, the tag's room kept free at the end.
        let packet_area = match self.crypto {
            Some(_) => ENVELOPE_HEADER_LEN..buf.len() - (ENVELOPE_OVERHEAD - ENVELOPE_HEADER_LEN),
            None => 0..buf.len(),
        };
        while let Some(t) = self.swim.poll_transmit(now, &mut buf[packet_area.clone()]) {
            let Some(to) = destination(socket_is_v6, t.destination) else {
                self.transport.send_unreachable += 1;
                continue;
            };
            let len = match &self.crypto {
                Some(crypto) => match crypto.keyring.seal(tag, buf, t.len) {
                    Ok(len) => len,
                    Err(_) => {
                        self.transport.seal_errors += 1;
                        continue;
                    }
                },
                None => t.len,
            };
            let Some(datagram) = buf.get(..len) else {
                self.transport.send_other_errors += 1;
                continue;
            };
            match self.socket.send_to(datagram, to) {
                Ok(_) => self.transport.datagrams_sent += 1,
                Err(e) => self.transport.count_send_error(&e),
            }
        }
        while let Some(event) = self.swim.poll_event() {
            self.dispatch(event);
        }
    }

    fn dispatch(&mut self, event: Event) {
        match &event {
            Event::Local(LocalEvent::Left) => {
                Request::<SyncReplies>::finish_leaves(&mut self.pending_leaves);
            }
            Event::Local(LocalEvent::Refuted { .. }) => self.save_incarnation(),
            Event::Local(LocalEvent::NewGeneration { generation }) => {
                let generation = *generation;
                if let Some(store) = &mut self.store {
                    if store.save_generation(generation).is_err() {
                        self.transport.identity_write_errors += 1;
                    }
                }
            }
            _ => {}
        }
        match self.events.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => self.transport.events_dropped += 1,
        }
    }

    fn save_incarnation(&mut self) {
        let incarnation = self.swim.local().incarnation;
        if let Some(store) = &mut self.store {
            if store.save_incarnation(incarnation).is_err() {
                self.transport.identity_write_errors += 1;
            }
        }
    }

    fn wait_time(&self) -> Duration {
        let now = self.now();
        let until = match self.swim.poll_timeout() {
            Some(at) => at.saturating_duration_since(now),
            None => MAX_WAIT,
        };
        until.clamp(MIN_WAIT, MAX_WAIT)
    }

    /// Waits up to `wait` for one datagram and hands it to the protocol.
    fn receive(&mut self, wait: Duration, buf: &mut [u8]) {
        if self.socket.set_read_timeout(Some(wait)).is_err() {
            self.transport.recv_errors += 1;
            std::thread::sleep(wait);
            return;
        }
        match self.socket.recv_from(buf) {
            Ok((len, from)) => {
                let from = canonical(from);
                if from == self.wake_source {
                    self.transport.wakeups += 1;
                    return;
                }
                let now = self.now();
                let datagram = &mut buf[..len];
                let Some(crypto) = &mut self.crypto else {
                    self.swim.handle_datagram(now, from, datagram);
                    return;
                };
                if len > crypto.datagram_budget {
                    // Not worth authenticating: the protocol would drop it.
                    self.transport.decrypt_drops.count(OpenError::Oversized);
                    return;
                }
                let tag = self.swim.config().cluster_tag;
                // Authenticate first; only then may the header move the
                // sender's replay window.
                let accepted = crypto.keyring.open(tag, datagram).and_then(|opened| {
                    if Some(opened.sender_id) == crypto.keyring.sender_id() {
                        // One of this node's own datagrams, sent back.
                        return Err(OpenError::Replayed);
                    }
                    crypto.replay.check(&opened, unix_time())?;
                    Ok(opened)
                });
                match accepted {
                    Ok(opened) => {
                        if opened.key_index > 0 {
                            self.transport.opened_with_secondary_key += 1;
                        }
                        self.swim
                            .handle_datagram(now, from, &datagram[opened.plaintext]);
                    }
                    Err(reason) => self.transport.decrypt_drops.count(reason),
                }
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => {}
                io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {
                    self.transport.recv_refused += 1;
                }
                _ => {
                    // Unknown and possibly persistent: do not spin on it.
                    self.transport.recv_errors += 1;
                    std::thread::sleep(wait.min(Duration::from_millis(10)));
                }
            },
        }
    }
}
