//! The node handle: starts the node thread and talks to it.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use swim_core::{CommandError, Identity};
use swim_driver::{Request, StdChannels};

use crate::driver::{Driver, WAKER};
use crate::error::Error;
use crate::keyring::{KeyError, KeyId};
use crate::options::NodeOptions;
use crate::start::{checked_key, prepare, Prepared};
use crate::station::{Command, COMMAND_QUEUE};
use crate::view::{LocalInfo, Member, NodeCounters};
use crate::Event;

/// A running cluster member: a UDP socket and a background thread that runs
/// the protocol, without any async runtime (see the `tokio` module, feature
/// `tokio`, for a node that runs as a task).
///
/// Every method talks to that thread and returns [`Error::Stopped`] once it
/// has stopped. Commands wait in a queue of 64; a caller finding it full
/// waits for room. `Node` is `Send` and `Sync`: share it between threads
/// with an `Arc`. Dropping the handle stops the thread without leaving (as
/// a crash would); call [`Node::shutdown`] to leave first.
#[derive(Debug)]
pub struct Node {
    commands: SyncSender<Command<StdChannels>>,
    waker: Arc<mio::Waker>,
    events: Mutex<Receiver<Event>>,
    thread: Option<JoinHandle<NodeCounters>>,
    local_addr: SocketAddr,
    identity: Identity<SocketAddr>,
    leave_timeout: Duration,
}

impl Node {
    /// Binds the socket, picks the identity (see the
    /// [crate documentation](crate#identity)), starts the node thread and,
    /// if seeds were given, starts joining through them.
    ///
    /// With a [keyring](NodeOptions::keyring), the protocol runs with a
    /// `packet_budget` of the configured one minus
    /// [`ENVELOPE_OVERHEAD`](crate::ENVELOPE_OVERHEAD), so that sealed
    /// datagrams never exceed the configured size:
    /// [`Error::PacketBudgetTooSmall`] if that leaves less than
    /// `swim_core::wire::MIN_PACKET_BUDGET`.
    pub fn start(options: NodeOptions) -> Result<Node, Error> {
        let (event_tx, event_rx) = mpsc::sync_channel(options.core.event_capacity.max(1));
        let Prepared {
            station,
            socket,
            local_addr,
            identity,
            leave_timeout,
        } = prepare::<StdChannels>(options, event_tx)?;
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let (command_tx, command_rx) = mpsc::sync_channel(COMMAND_QUEUE);
        let socket = mio::net::UdpSocket::from_std(socket);
        let driver = Driver::new(station, socket, poll, command_rx)?;
        let thread = std::thread::Builder::new()
            .name(format!("swim {}", identity.addr))
            .spawn(move || driver.run())?;
        Ok(Node {
            commands: command_tx,
            waker,
            events: Mutex::new(event_rx),
            thread: Some(thread),
            local_addr,
            identity,
            leave_timeout,
        })
    }

    /// The address the socket is bound to (with the real port when bound to
    /// port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address other members know this node by.
    pub fn advertise_addr(&self) -> SocketAddr {
        self.identity.addr
    }

    /// The identity the node started with: advertised address and
    /// generation. The generation moves on only after
    /// `LocalEvent::NewGeneration` (an exhausted incarnation counter).
    pub fn identity(&self) -> &Identity<SocketAddr> {
        &self.identity
    }

    /// The next membership event, waiting up to `timeout`; `None` when
    /// none came, when the node has stopped, or after
    /// [`Node::take_events`].
    pub fn recv_event(&self, timeout: Duration) -> Option<Event> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.recv_timeout(timeout).ok()
    }

    /// The next membership event if one is waiting.
    pub fn try_recv_event(&self) -> Option<Event> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.try_recv().ok()
    }

    /// Takes the event channel, to iterate over it (typically on a thread
    /// of its own); the iteration ends when the node stops. Afterwards the
    /// node's own event methods return nothing.
    ///
    /// ```no_run
    /// # fn f(node: &swim_transport_udp::Node) {
    /// let events = node.take_events();
    /// std::thread::spawn(move || {
    ///     for event in events {
    ///         println!("{event:?}");
    ///     }
    /// });
    /// # }
    /// ```
    pub fn take_events(&self) -> Receiver<Event> {
        let (_, closed) = mpsc::sync_channel(1);
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *events, closed)
    }

    /// Every remembered remote member (alive, suspect, dead or left).
    pub fn members(&self) -> Result<Vec<Member>, Error> {
        self.ask(Request::Members)
    }

    /// The member at `addr`, if remembered.
    pub fn member(&self, addr: SocketAddr) -> Result<Option<Member>, Error> {
        self.ask(|reply| Request::Member(addr, reply))
    }

    /// The local node: identity, incarnation, status, health and metadata.
    pub fn local(&self) -> Result<LocalInfo, Error> {
        self.ask(Request::Local)
    }

    /// The local metadata.
    pub fn metadata(&self) -> Result<Vec<u8>, Error> {
        Ok(self.local()?.metadata)
    }

    /// Publishes new local metadata; every member reports
    /// [`Event::MemberUpdated`].
    pub fn set_metadata(&self, metadata: &[u8]) -> Result<(), Error> {
        let data = metadata.to_vec();
        self.command(|reply| Request::SetMetadata(data, reply))
    }

    /// Sets `key` to `value` in the local key-value state, carried in the
    /// metadata (see [`swim_core::kv`]); read it on other nodes with
    /// [`Member::state_value`](swim_core::MemberSnapshot::state_value).
    pub fn set_state(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let (key, value) = (key.to_vec(), value.to_vec());
        self.command(|reply| Request::SetState(key, Some(value), reply))
    }

    /// Removes `key` from the local key-value state.
    pub fn remove_state(&self, key: &[u8]) -> Result<(), Error> {
        let key = key.to_vec();
        self.command(|reply| Request::SetState(key, None, reply))
    }

    /// Disseminates `payload` to every member (each reports one
    /// [`Event::Broadcast`]); a later broadcast with the same `key`
    /// replaces this one where it is still queued.
    pub fn broadcast(&self, key: Option<u64>, payload: &[u8]) -> Result<(), Error> {
        let payload = payload.to_vec();
        self.command(|reply| Request::Broadcast(key, payload, reply))
    }

    /// Sends `payload` in one datagram to the live member at `to`, which
    /// reports [`Event::Message`]. Best effort: no retry.
    pub fn send_message(&self, to: SocketAddr, payload: &[u8]) -> Result<(), Error> {
        let payload = payload.to_vec();
        self.command(|reply| Request::SendMessage(to, payload, reply))
    }

    /// Joins (again) through `seeds`, retrying with backoff until one
    /// answers.
    pub fn join(&self, seeds: &[SocketAddr]) -> Result<(), Error> {
        let seeds = seeds.to_vec();
        self.command(|reply| Request::Join(seeds, reply))
    }

    /// Refuses `identity` and every older generation of its address: the
    /// member is forgotten at once and kept out of this node's view,
    /// whatever others say of it (for a decommissioned or banned node; a
    /// newer generation is a new process and may join). See
    /// `swim_core::Swim::refuse`.
    pub fn refuse(&self, identity: Identity<SocketAddr>) -> Result<(), Error> {
        self.command(|reply| Request::Refuse(identity, reply))
    }

    /// Lifts the refusal of `addr`; true if it was refused.
    pub fn lift_refusal(&self, addr: SocketAddr) -> Result<bool, Error> {
        self.ask(|reply| Request::LiftRefusal(addr, reply))
    }

    /// Leaves gracefully and waits until the departure has been gossiped
    /// (`leave_propagate_time`). The node then stays silent; calling it
    /// again returns at once.
    pub fn leave(&self) -> Result<(), Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::Swim(Request::Leave(reply)))?;
        match answer.recv_timeout(self.leave_timeout) {
            Ok(result) => result.map_err(Error::from),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Error::Timeout),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error::Stopped),
        }
    }

    /// Adds a key that incoming datagrams may be sealed with, without
    /// making it primary: the first step of a key rotation (see
    /// [`Keyring`](crate::Keyring)). Installing a key already in the ring
    /// does nothing. Errors: [`KeyError::InvalidLength`],
    /// [`KeyError::TooManyKeys`], [`KeyError::EncryptionDisabled`] (the
    /// node was started without a keyring).
    pub fn install_key(&self, key: &[u8]) -> Result<(), Error> {
        let key = checked_key(key)?;
        self.key_command(|reply| Command::InstallKey(key, reply))
    }

    /// Seals every outgoing datagram with an installed key from now on
    /// (the previous primary key stays installed): the second step of a
    /// key rotation. Errors: [`KeyError::NotInstalled`],
    /// [`KeyError::InvalidLength`], [`KeyError::EncryptionDisabled`].
    pub fn use_key(&self, key: &[u8]) -> Result<(), Error> {
        let key = checked_key(key)?;
        self.key_command(|reply| Command::UseKey(key, reply))
    }

    /// Removes a key that is not primary (a key not in the ring is fine):
    /// the last step of a key rotation. Errors: [`KeyError::RemovePrimary`],
    /// [`KeyError::InvalidLength`], [`KeyError::EncryptionDisabled`].
    pub fn remove_key(&self, key: &[u8]) -> Result<(), Error> {
        let key = checked_key(key)?;
        self.key_command(|reply| Command::RemoveKey(key, reply))
    }

    /// The ids of the keys in the ring, the primary first; empty when the
    /// node was started without a keyring. The keys themselves are never
    /// handed out.
    pub fn key_ids(&self) -> Result<Vec<KeyId>, Error> {
        self.request(Command::KeyIds)
    }

    /// Protocol and socket counters.
    pub fn counters(&self) -> Result<NodeCounters, Error> {
        self.request(Command::Counters)
    }

    /// Stops the node: leaves gracefully first if `leave` is true (a node
    /// that already left is fine), then stops and joins the thread. Returns
    /// the final counters.
    pub fn shutdown(mut self, leave: bool) -> Result<NodeCounters, Error> {
        let left = if leave { self.leave() } else { Ok(()) };
        let counters = self.stop()?;
        left.map(|()| counters)
    }

    fn stop(&mut self) -> Result<NodeCounters, Error> {
        let thread = self.thread.take().ok_or(Error::Stopped)?;
        let _ = self.commands.send(Command::Stop);
        let _ = self.waker.wake();
        thread.join().map_err(|_| Error::Stopped)
    }

    fn send(&self, command: Command<StdChannels>) -> Result<(), Error> {
        self.commands.send(command).map_err(|_| Error::Stopped)?;
        // Best effort: the thread also drains its commands after every
        // datagram and timer.
        let _ = self.waker.wake();
        Ok(())
    }

    fn request<T>(
        &self,
        make: impl FnOnce(SyncSender<T>) -> Command<StdChannels>,
    ) -> Result<T, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(make(reply))?;
        answer.recv().map_err(|_| Error::Stopped)
    }

    fn ask<T>(&self, make: impl FnOnce(SyncSender<T>) -> Request<StdChannels>) -> Result<T, Error> {
        self.request(|reply| Command::Swim(make(reply)))
    }

    fn key_command(
        &self,
        make: impl FnOnce(SyncSender<Result<(), KeyError>>) -> Command<StdChannels>,
    ) -> Result<(), Error> {
        self.request(make)?.map_err(Error::from)
    }

    fn command(
        &self,
        make: impl FnOnce(SyncSender<Result<(), CommandError>>) -> Request<StdChannels>,
    ) -> Result<(), Error> {
        self.ask(make)?.map_err(Error::from)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}
