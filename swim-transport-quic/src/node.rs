//! The node handle: starts the node task and talks to it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use swim_core::{CommandError, Identity};
use swim_driver::{canonical, NodeCore, Request, TokioChannels};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::binding::{named_addresses, same_address};
use crate::driver::{Command, Driver};
use crate::error::Error;
use crate::options::NodeOptions;
use crate::peers::{Peers, PeersParts};
use crate::tls::Credentials;
use crate::view::{LocalInfo, Member, NodeCounters};
use crate::{Event, MAX_PACKET_BUDGET};

/// Commands queued for the node task.
const COMMAND_QUEUE: usize = 64;

/// A running cluster member: a QUIC endpoint and a tokio task that runs the
/// protocol.
///
/// Every method talks to that task and returns [`Error::Stopped`] once it
/// has stopped. Dropping the handle aborts the task without leaving, as a
/// crash would (its connections are closed as their handles drop); call
/// [`Node::shutdown`] to leave first.
#[derive(Debug)]
pub struct Node {
    commands: mpsc::Sender<Command>,
    events: Mutex<mpsc::Receiver<Event>>,
    task: Option<JoinHandle<NodeCounters>>,
    local_addr: SocketAddr,
    identity: Identity<SocketAddr>,
    leave_timeout: Duration,
}

impl Node {
    /// Binds the QUIC endpoint (server and client at once), starts the node
    /// task on the current tokio runtime and, if seeds were given, starts
    /// joining through them.
    ///
    /// Lowers `config.packet_budget` to [`MAX_PACKET_BUDGET`] first; fails
    /// if the configuration is then invalid (for instance when
    /// `max_payload_len` no longer fits a packet), if the credentials are
    /// unusable, if binding fails, if the node certificate does not name
    /// the address the node is known by ([`Error::CertificateAddress`]:
    /// every peer would refuse it), or outside a tokio runtime.
    pub async fn start(options: NodeOptions) -> Result<Node, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let NodeOptions {
            bind,
            socket,
            credentials,
            mut core,
            transport,
        } = options;
        let bound = match &socket {
            Some(socket) => socket.local_addr()?,
            None => bind,
        };
        if core.advertise.is_none() && bound.ip().is_unspecified() {
            return Err(Error::NoAdvertiseAddress);
        }
        core.config.packet_budget = core.config.packet_budget.min(MAX_PACKET_BUDGET);
        core.config.validate()?;
        let tls = crate::tls::configure(&credentials, &transport)?;
        let socket = match socket {
            // A clone of the options may still hold the socket.
            Some(shared) => Arc::try_unwrap(shared).or_else(|shared| shared.try_clone())?,
            None => std::net::UdpSocket::bind(bind)?,
        };
        let local_addr = canonical(socket.local_addr()?);
        let advertise = match core.advertise {
            Some(a) if a.port() == 0 => SocketAddr::new(a.ip(), local_addr.port()),
            Some(a) => a,
            None => local_addr,
        };
        let advertise = canonical(advertise);
        check_own_certificate(&credentials, advertise)?;
        // Server and client at once, on one socket: the remote address of
        // a connection from this node is the address it is known by.
        let endpoint = {
            let _entered = runtime.enter();
            quinn::Endpoint::new(
                quinn::EndpointConfig::default(),
                Some(tls.server),
                socket,
                Arc::new(quinn::TokioRuntime),
            )?
        };
        let (event_tx, event_rx) = mpsc::channel(core.event_capacity.max(1));
        let core = NodeCore::start(core, advertise, local_addr, event_tx)?;
        let identity = core.identity().clone();
        let leave_timeout = core.leave_timeout();
        let (peers, inbound) = Peers::new(PeersParts {
            endpoint,
            client_configs: tls.client,
            refusals: tls.refusals,
            options: transport,
            local: advertise,
        });
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let driver = Driver {
            core,
            peers,
            inbound,
            commands: command_rx,
        };
        let task = runtime.spawn(driver.run());
        Ok(Node {
            commands: command_tx,
            events: Mutex::new(event_rx),
            task: Some(task),
            local_addr,
            identity,
            leave_timeout,
        })
    }

    /// The address the endpoint is bound to (with the real port when bound
    /// to port 0).
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

    /// The next membership or application event, waiting up to `timeout`;
    /// `None` when none came, when the node has stopped, or after
    /// [`Node::take_events`]. Tasks that call it concurrently take turns.
    pub async fn recv_event(&self, timeout: Duration) -> Option<Event> {
        let mut events = self.events.lock().await;
        tokio::time::timeout(timeout, events.recv())
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
    ///
    /// ```no_run
    /// # async fn f(node: &mut swim_transport_quic::Node) {
    /// while let Some(event) = node.events().recv().await {
    ///     println!("{event:?}");
    /// }
    /// # }
    /// ```
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

    /// Sets `key` to `value` in the local key-value state, carried in the
    /// metadata (see [`swim_core::kv`]); read it on other nodes with
    /// [`Member::state_value`].
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

    /// Disseminates `payload` to every member (each reports one
    /// [`Event::Broadcast`](swim_core::Event::Broadcast)); a later
    /// broadcast with the same `key` replaces this one where it is still
    /// queued.
    pub async fn broadcast(&self, key: Option<u64>, payload: &[u8]) -> Result<(), Error> {
        let payload = payload.to_vec();
        self.command(|reply| Request::Broadcast(key, payload, reply))
            .await
    }

    /// Sends `payload` in one datagram to the live member at `to`, which
    /// reports [`Event::Message`](swim_core::Event::Message). Best effort:
    /// no retry.
    pub async fn send_message(&self, to: SocketAddr, payload: &[u8]) -> Result<(), Error> {
        let payload = payload.to_vec();
        self.command(|reply| Request::SendMessage(to, payload, reply))
            .await
    }

    /// Joins (again) through `seeds`, retrying with backoff until one
    /// answers.
    pub async fn join(&self, seeds: &[SocketAddr]) -> Result<(), Error> {
        let seeds = seeds.iter().map(|s| canonical(*s)).collect();
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
        match tokio::time::timeout(self.leave_timeout, answer).await {
            Ok(Ok(result)) => result.map_err(Error::from),
            Ok(Err(_)) => Err(Error::Stopped),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Protocol and transport counters.
    pub async fn counters(&self) -> Result<NodeCounters, Error> {
        self.request(Command::Counters).await
    }

    /// Stops the node: leaves gracefully first if `leave` is true (a node
    /// that already left is fine), then closes every connection, stops the
    /// task (which writes the final identity when the node has a data
    /// directory) and returns the final counters.
    pub async fn shutdown(mut self, leave: bool) -> Result<NodeCounters, Error> {
        let left = if leave { self.leave().await } else { Ok(()) };
        let task = self.task.take().ok_or(Error::Stopped)?;
        let _ = self.commands.send(Command::Stop).await;
        let counters = task.await.map_err(|_| Error::Stopped)?;
        left.map(|()| counters)
    }

    async fn send(&self, command: Command) -> Result<(), Error> {
        self.commands
            .send(command)
            .await
            .map_err(|_| Error::Stopped)
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
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
}

/// Fails unless the node's own certificate names `advertise`: peers check
/// that, and would refuse every connection of a node whose certificate
/// names another address.
fn check_own_certificate(credentials: &Credentials, advertise: SocketAddr) -> Result<(), Error> {
    let cert = credentials.cert_chain.first().ok_or(Error::NoCertificate)?;
    let named = named_addresses(cert)?;
    if named.iter().any(|n| same_address(*n, advertise)) {
        Ok(())
    } else {
        Err(Error::CertificateAddress { advertise, named })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handle_is_shareable_between_tasks() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<super::Node>();
    }
}
