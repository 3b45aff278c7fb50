//! A node that runs as a tokio task (feature `tokio`): the same protocol,
//! envelope and options as the thread-driven [`Node`](crate::Node), with
//! `async` methods named like those of `swim-transport-quic`'s node.
//!
//! ```
//! use std::time::Duration;
//! use swim_transport_udp::tokio::Node;
//! use swim_transport_udp::{Config, Event, NodeOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), swim_transport_udp::Error> {
//! let options = || NodeOptions::new("127.0.0.1:0".parse().unwrap()).config(Config::local());
//! let first = Node::start(options()).await?;
//! let second = Node::start(options().seed(first.local_addr())).await?;
//! let joined = loop {
//!     match first.recv_event(Duration::from_secs(10)).await {
//!         Some(Event::MemberJoined(identity)) => break identity,
//!         Some(_) => continue,
//!         None => panic!("no join within 10 s"),
//!     }
//! };
//! assert_eq!(joined.addr, second.local_addr());
//! second.shutdown(true).await?;
//! first.shutdown(false).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## The node task
//!
//! The task waits for whichever comes first: a command from the handle,
//! the socket becoming readable (tokio's reactor), or the next protocol
//! deadline. It then receives every datagram that is ready (at most 64 in
//! a row before looking at the other inputs), answering each at once.
//! The socket is non-blocking: a send that finds its buffer full drops the
//! datagram and counts it (`send_buffer_full`); the task never waits on a
//! send. No
//! thread is started besides the identity writer, which runs only while a
//! new incarnation is being written.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ::tokio::net::UdpSocket;
use ::tokio::sync::{mpsc, oneshot, Mutex};
use ::tokio::task::JoinHandle;
use swim_core::{CommandError, Identity};
use swim_driver::{Request, TokioChannels};

use crate::error::Error;
use crate::keyring::{KeyError, KeyId};
use crate::options::NodeOptions;
use crate::start::{checked_key, prepare, Prepared};
use crate::station::{Command, Station, COMMAND_QUEUE, RECV_BUF};
use crate::view::{LocalInfo, Member, NodeCounters};
use crate::Event;

/// Datagrams received in a row before the task looks at its other inputs.
const RECV_BATCH: usize = 64;
/// Pause after a receive error that may persist, so as not to spin on it.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// A running cluster member: a UDP socket and a tokio task that runs the
/// protocol.
///
/// Every method talks to that task and returns [`Error::Stopped`] once it
/// has stopped. Commands wait in a queue of 64; a caller finding it full
/// waits for room. Dropping the handle aborts the task without leaving, as
/// a crash would; call [`Node::shutdown`] to leave first.
#[derive(Debug)]
pub struct Node {
    commands: mpsc::Sender<Command<TokioChannels>>,
    events: Mutex<mpsc::Receiver<Event>>,
    task: Option<JoinHandle<NodeCounters>>,
    local_addr: SocketAddr,
    identity: Identity<SocketAddr>,
    leave_timeout: Duration,
}

impl Node {
    /// Binds the socket, picks the identity (see the
    /// [crate documentation](crate#identity)), starts the node task on the
    /// current tokio runtime and, if seeds were given, starts joining
    /// through them. Fails like [`crate::Node::start`], or outside a tokio
    /// runtime.
    pub async fn start(options: NodeOptions) -> Result<Node, Error> {
        let runtime = ::tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let (event_tx, event_rx) = mpsc::channel(options.core.event_capacity.max(1));
        let Prepared {
            station,
            socket,
            local_addr,
            identity,
            leave_timeout,
        } = prepare::<TokioChannels>(options, event_tx)?;
        // Sends go straight to the (non-blocking) socket through a second
        // handle: tokio's `try_send_to` refuses to send until its reactor
        // has seen the socket writable, which would drop the first
        // datagrams.
        let sender = socket.try_clone()?;
        let socket = {
            let _entered = runtime.enter();
            UdpSocket::from_std(socket)?
        };
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let task = runtime.spawn(run(station, socket, sender, command_rx));
        Ok(Node {
            commands: command_tx,
            events: Mutex::new(event_rx),
            task: Some(task),
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
    /// generation.
    pub fn identity(&self) -> &Identity<SocketAddr> {
        &self.identity
    }

    /// The next membership or application event, waiting up to `timeout`;
    /// `None` when none came, when the node has stopped, or after
    /// [`Node::take_events`]. Tasks that call it concurrently take turns.
    pub async fn recv_event(&self, timeout: Duration) -> Option<Event> {
        let mut events = self.events.lock().await;
        ::tokio::time::timeout(timeout, events.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next event if one is waiting (and no other task is inside
    /// [`Node::recv_event`]).
    pub fn try_recv_event(&self) -> Option<Event> {
        self.events.try_lock().ok()?.try_recv().ok()
    }

    /// The event channel itself, in order. It ends (`recv` returns `None`)
    /// when the node task stops.
    pub fn events(&mut self) -> &mut mpsc::Receiver<Event> {
        self.events.get_mut()
    }

    /// Takes the event channel, to read it from another task; afterwards
    /// the node's own event methods return nothing.
    pub fn take_events(&mut self) -> mpsc::Receiver<Event> {
        let (_, closed) = mpsc::channel(1);
        std::mem::replace(self.events.get_mut(), closed)
    }

    /// Every remembered remote member (alive, suspect, dead or left).
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        self.ask(Request::Members).await
    }

    /// The member at `addr`, if remembered.
    pub async fn member(&self, addr: SocketAddr) -> Result<Option<Member>, Error> {
        self.ask(|reply| Request::Member(addr, reply)).await
    }

    /// The local node: identity, incarnation, status, health and metadata.
    pub async fn local(&self) -> Result<LocalInfo, Error> {
        self.ask(Request::Local).await
    }

    /// The local metadata.
    pub async fn metadata(&self) -> Result<Vec<u8>, Error> {
        Ok(self.local().await?.metadata)
    }

    /// Publishes new local metadata; every member reports
    /// [`Event::MemberUpdated`](swim_core::Event::MemberUpdated).
    pub async fn set_metadata(&self, metadata: &[u8]) -> Result<(), Error> {
        let data = metadata.to_vec();
        self.command(|reply| Request::SetMetadata(data, reply))
            .await
    }

    /// Sets `key` to `value` in the local key-value state (see
    /// [`swim_core::kv`]).
    pub async fn set_state(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let (key, value) = (key.to_vec(), value.to_vec());
        self.command(|reply| Request::SetState(key, Some(value), reply))
            .await
    }

    /// Removes `key` from the local key-value state.
    pub async fn remove_state(&self, key: &[u8]) -> Result<(), Error> {
        let key = key.to_vec();
        self.command(|reply| Request::SetState(key, None, reply))
            .await
    }

    /// Disseminates `payload` to every member; a later broadcast with the
    /// same `key` replaces this one where it is still queued.
    pub async fn broadcast(&self, key: Option<u64>, payload: &[u8]) -> Result<(), Error> {
        let payload = payload.to_vec();
        self.command(|reply| Request::Broadcast(key, payload, reply))
            .await
    }

    /// Sends `payload` in one datagram to the live member at `to`. Best
    /// effort: no retry.
    pub async fn send_message(&self, to: SocketAddr, payload: &[u8]) -> Result<(), Error> {
        let payload = payload.to_vec();
        self.command(|reply| Request::SendMessage(to, payload, reply))
            .await
    }

    /// Joins (again) through `seeds`, retrying with backoff until one
    /// answers.
    pub async fn join(&self, seeds: &[SocketAddr]) -> Result<(), Error> {
        let seeds = seeds.to_vec();
        self.command(|reply| Request::Join(seeds, reply)).await
    }

    /// Refuses `identity` and every older generation of its address: the
    /// member is forgotten at once and kept out of this node's view,
    /// whatever others say of it (for a decommissioned or banned node; a
    /// newer generation is a new process and may join). See
    /// `swim_core::Swim::refuse`.
    pub async fn refuse(&self, identity: Identity<SocketAddr>) -> Result<(), Error> {
        self.command(|reply| Request::Refuse(identity, reply)).await
    }

    /// Lifts the refusal of `addr`; true if it was refused.
    pub async fn lift_refusal(&self, addr: SocketAddr) -> Result<bool, Error> {
        self.ask(|reply| Request::LiftRefusal(addr, reply)).await
    }

    /// Leaves gracefully and waits until the departure has been gossiped
    /// (`leave_propagate_time`). The node then stays silent; calling it
    /// again returns at once.
    pub async fn leave(&self) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Swim(Request::Leave(reply))).await?;
        match ::tokio::time::timeout(self.leave_timeout, answer).await {
            Ok(Ok(result)) => result.map_err(Error::from),
            Ok(Err(_)) => Err(Error::Stopped),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Adds a key that incoming datagrams may be sealed with (see
    /// [`crate::Node::install_key`]).
    pub async fn install_key(&self, key: &[u8]) -> Result<(), Error> {
        let key = checked_key(key)?;
        self.key_command(|reply| Command::InstallKey(key, reply))
            .await
    }

    /// Seals every outgoing datagram with an installed key from now on
    /// (see [`crate::Node::use_key`]).
    pub async fn use_key(&self, key: &[u8]) -> Result<(), Error> {
        let key = checked_key(key)?;
        self.key_command(|reply| Command::UseKey(key, reply)).await
    }

    /// Removes a key that is not primary (see
    /// [`crate::Node::remove_key`]).
    pub async fn remove_key(&self, key: &[u8]) -> Result<(), Error> {
        let key = checked_key(key)?;
        self.key_command(|reply| Command::RemoveKey(key, reply))
            .await
    }

    /// The ids of the keys in the ring, the primary first.
    pub async fn key_ids(&self) -> Result<Vec<KeyId>, Error> {
        self.request(Command::KeyIds).await
    }

    /// Protocol, socket and driver counters.
    pub async fn counters(&self) -> Result<NodeCounters, Error> {
        self.request(Command::Counters).await
    }

    /// Stops the node: leaves gracefully first if `leave` is true (a node
    /// that already left is fine), then stops the task (which writes the
    /// final identity) and returns the final counters.
    pub async fn shutdown(mut self, leave: bool) -> Result<NodeCounters, Error> {
        let left = if leave { self.leave().await } else { Ok(()) };
        let task = self.task.take().ok_or(Error::Stopped)?;
        let _ = self.commands.send(Command::Stop).await;
        let counters = task.await.map_err(|_| Error::Stopped)?;
        left.map(|()| counters)
    }

    async fn send(&self, command: Command<TokioChannels>) -> Result<(), Error> {
        self.commands
            .send(command)
            .await
            .map_err(|_| Error::Stopped)
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command<TokioChannels>,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply)).await?;
        answer.await.map_err(|_| Error::Stopped)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request<TokioChannels>,
    ) -> Result<T, Error> {
        self.request(|reply| Command::Swim(make(reply))).await
    }

    async fn command(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), CommandError>>) -> Request<TokioChannels>,
    ) -> Result<(), Error> {
        self.ask(make).await?.map_err(Error::from)
    }

    async fn key_command(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), KeyError>>) -> Command<TokioChannels>,
    ) -> Result<(), Error> {
        self.request(make).await?.map_err(Error::from)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The node task.
async fn run(
    mut station: Station<TokioChannels>,
    socket: UdpSocket,
    sender: std::net::UdpSocket,
    mut commands: mpsc::Receiver<Command<TokioChannels>>,
) -> NodeCounters {
    let mut recv_buf = vec![0u8; RECV_BUF];
    let sleep = ::tokio::time::sleep(Duration::ZERO);
    ::tokio::pin!(sleep);
    loop {
        station.flush(|datagram, to| sender.send_to(datagram, to));
        let wake = ::tokio::time::Instant::from_std(station.core.next_wake());
        sleep.as_mut().reset(wake);
        ::tokio::select! {
            command = commands.recv() => match command {
                Some(command) => {
                    if !station.handle(command) {
                        break;
                    }
                }
                None => break,
            },
            ready = socket.readable() => match ready {
                Ok(()) => receive(&mut station, &socket, &sender, &mut recv_buf).await,
                Err(e) => {
                    if station.receive_error(&e) {
                        ::tokio::time::sleep(ERROR_PAUSE).await;
                    }
                }
            },
            () = &mut sleep => {
                station.core.handle_timeout();
            }
        }
    }
    station.core.finish();
    station.counters()
}

/// Receives up to [`RECV_BATCH`] ready datagrams, answering each at once.
async fn receive(
    station: &mut Station<TokioChannels>,
    socket: &UdpSocket,
    sender: &std::net::UdpSocket,
    buf: &mut [u8],
) {
    for _ in 0..RECV_BATCH {
        match socket.try_recv_from(buf) {
            Ok((len, from)) => {
                station.receive(from, &mut buf[..len]);
                station.flush(|datagram, to| sender.send_to(datagram, to));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                if station.receive_error(&e) {
                    ::tokio::time::sleep(ERROR_PAUSE).await;
                    return;
                }
            }
        }
    }
}
