//! The peer table: the verified QUIC connections of a node, one entry per
//! peer address, with the handshakes in flight, the datagrams waiting for
//! a connection, reconnect backoff, and which connections to keep warm.
//! The node task's loop (`driver.rs`) feeds it and sends through it.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, ConnectionError, Endpoint, SendDatagramError};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant as TokioInstant;

use crate::binding::names_address;
use crate::options::TransportOptions;
use crate::tls::{peer_certificate, AddressRefusals, ClientConfigs};
use crate::view::TransportCounters;

/// Verified connections kept per peer address (both sides may connect at
/// the same time; a restarted peer may briefly have an old one too).
const MAX_CONNECTIONS_PER_PEER: usize = 4;
/// Received datagrams waiting for the node task, over all connections;
/// beyond it, readers drop them and count them (`inbound_queue_full`).
pub(crate) const INBOUND_QUEUE: usize = 1024;
/// How long a shutdown waits for connection closes to go out.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// QUIC application error codes in CONNECTION_CLOSE frames.
pub(crate) const CLOSE_SHUTDOWN: u32 = 0;
const CLOSE_TOO_MANY: u32 = 1;
/// The peer's certificate does not name the address of the connection.
const CLOSE_WRONG_ADDRESS: u32 = 2;
/// Nothing was sent to or received from the peer for long enough: the
/// protocol no longer talks to it (it left, died, or the cluster shrank).
const CLOSE_UNUSED: u32 = 3;
/// A second connection between the same two nodes, once both are
/// established: the one dialed by the higher address is closed.
const CLOSE_DUPLICATE: u32 = 4;

/// A datagram read from a verified connection.
pub(crate) struct Inbound {
    pub from: SocketAddr,
    pub data: Bytes,
}

/// What a background task reports when it ends.
pub(crate) enum TaskDone {
    /// An outgoing handshake finished (or failed, or timed out).
    Connect {
        addr: SocketAddr,
        result: Option<Connection>,
    },
    /// An incoming handshake finished (or failed, or timed out).
    Handshake { result: Option<Connection> },
    /// A connection's reader stopped: the connection is closed. `refused`
    /// when the peer aborted it with a TLS alert or because our certificate
    /// does not name our address (it rejected our certificate after our
    /// side of the handshake had completed).
    Reader {
        addr: SocketAddr,
        id: usize,
        refused: bool,
    },
}

/// Counters updated by reader tasks.
#[derive(Default)]
struct Shared {
    inbound_queue_full: AtomicU64,
}

/// One verified connection to a peer.
struct Conn {
    conn: Connection,
    /// This node dialed it.
    outgoing: bool,
    /// When it was verified.
    since: TokioInstant,
}

/// Connection state of one peer address.
struct Peer {
    /// Verified connections with a running reader, newest first; sends
    /// use the first open one.
    conns: Vec<Conn>,
    /// An outgoing handshake is in flight.
    connecting: bool,
    /// Datagrams waiting for a connection.
    queue: VecDeque<Bytes>,
    /// Until then, datagrams are dropped (a connection attempt failed).
    retry_at: Option<TokioInstant>,
    /// The last datagram sent to or received from the peer.
    last_used: TokioInstant,
}

impl Peer {
    fn new() -> Self {
        Peer {
            conns: Vec::new(),
            connecting: false,
            queue: VecDeque::new(),
            retry_at: None,
            last_used: TokioInstant::now(),
        }
    }

    fn is_idle(&self, now: TokioInstant) -> bool {
        self.conns.is_empty()
            && !self.connecting
            && self.queue.is_empty()
            && self.retry_at.is_none_or(|t| t <= now)
    }
}

enum SendOutcome {
    Sent,
    Dropped,
    Lost,
}

/// What the peer table is built from.
pub(crate) struct PeersParts {
    pub endpoint: Endpoint,
    pub client_configs: ClientConfigs,
    pub refusals: Arc<AddressRefusals>,
    pub options: TransportOptions,
    /// The node's own address, for the rule that picks which of two
    /// duplicate connections survives.
    pub local: SocketAddr,
}

/// The verified connections of a node, by peer address.
pub(crate) struct Peers {
    endpoint: Endpoint,
    /// Outgoing connections are made with these: the server certificate
    /// must name the dialed address.
    client_configs: ClientConfigs,
    /// Certificates refused for not naming the peer's address.
    refusals: Arc<AddressRefusals>,
    options: TransportOptions,
    local: SocketAddr,
    peers: HashMap<SocketAddr, Peer>,
    tasks: JoinSet<TaskDone>,
    inbound_tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
    pending_connects: usize,
    pending_handshakes: usize,
    open_connections: usize,
    counters: TransportCounters,
}

impl Peers {
    /// The table, and the receiving end of the datagrams its connections
    /// read.
    pub(crate) fn new(parts: PeersParts) -> (Self, mpsc::Receiver<Inbound>) {
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let peers = Peers {
            endpoint: parts.endpoint,
            client_configs: parts.client_configs,
            refusals: parts.refusals,
            options: parts.options,
            local: parts.local,
            peers: HashMap::new(),
            tasks: JoinSet::new(),
            inbound_tx,
            shared: Arc::new(Shared::default()),
            pending_connects: 0,
            pending_handshakes: 0,
            open_connections: 0,
            counters: TransportCounters::default(),
        };
        (peers, inbound_rx)
    }

    /// The endpoint, to accept incoming connections from.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The QUIC idle timeout of the node's connections.
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.options.idle_timeout
    }

    /// True if background tasks (handshakes, readers) are running.
    pub(crate) fn has_tasks(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// The next background task to end.
    pub(crate) async fn next_done(&mut self) -> Option<Result<TaskDone, JoinError>> {
        self.tasks.join_next().await
    }

    /// The counters, with the gauges and the counts kept elsewhere.
    pub(crate) fn counters(&self) -> TransportCounters {
        let mut transport = self.counters;
        transport.inbound_queue_full = self.shared.inbound_queue_full.load(Ordering::Relaxed);
        transport.incoming_address_mismatch = self.refusals.incoming.load(Ordering::Relaxed);
        transport.connects_address_mismatch = self.refusals.outgoing.load(Ordering::Relaxed);
        transport.open_connections = self.open_connections as u64;
        transport.pending_connects = self.pending_connects as u64;
        transport
    }

    /// Counts a datagram read from `from` and keeps its connection warm.
    pub(crate) fn received(&mut self, from: SocketAddr, len: usize) {
        self.counters.datagrams_received += 1;
        self.counters.bytes_received += len as u64;
        if let Some(peer) = self.peers.get_mut(&from) {
            peer.last_used = TokioInstant::now();
        }
    }

    /// Closes the endpoint and waits (briefly) for the closes to go out.
    pub(crate) async fn close(mut self) {
        self.endpoint.close(CLOSE_SHUTDOWN.into(), b"shutdown");
        let _ = tokio::time::timeout(CLOSE_GRACE, self.endpoint.wait_idle()).await;
        self.tasks.shutdown().await;
    }

    /// A new incoming connection: start its handshake, within the limits.
    pub(crate) fn accept(&mut self, incoming: quinn::Incoming) {
        let opts = &self.options;
        if self.pending_handshakes >= opts.max_pending_handshakes
            || self.open_connections + self.pending_handshakes >= opts.max_connections
        {
            self.counters.incoming_refused += 1;
            incoming.refuse();
            return;
        }
        let connecting = match incoming.accept() {
            Ok(connecting) => connecting,
            Err(_) => {
                self.counters.incoming_failed += 1;
                return;
            }
        };
        self.pending_handshakes += 1;
        let timeout = opts.connect_timeout;
        self.tasks.spawn(async move {
            // Resolves only once the client proved a certificate that chains
            // to the cluster CA and names a node address; the node task then
            // checks that it names this connection's remote address before
            // any of its datagrams is read.
            let result = match tokio::time::timeout(timeout, connecting).await {
                Ok(Ok(conn)) => Some(conn),
                _ => None,
            };
            TaskDone::Handshake { result }
        });
    }

    /// Takes note of a background task that ended.
    pub(crate) fn task_done(&mut self, done: Result<TaskDone, JoinError>) {
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                // A panicked or aborted task. Its bookkeeping is lost: the
                // gauges may be off by one, nothing else.
                if e.is_panic() {
                    self.counters.task_panics += 1;
                }
                return;
            }
        };
        match done {
            TaskDone::Connect { addr, result } => {
                self.pending_connects = self.pending_connects.saturating_sub(1);
                self.peers.entry(addr).or_insert_with(Peer::new).connecting = false;
                match result {
                    // The verifier of this connection already required the
                    // server certificate to name `addr`; checked again here,
                    // where nothing can bypass it.
                    Some(conn) if certificate_names(&conn, addr) => {
                        self.counters.connects_succeeded += 1;
                        self.adopt(addr, conn, true);
                    }
                    Some(conn) => {
                        self.refuse(&conn, false);
                        self.connect_failed(addr);
                    }
                    None => self.connect_failed(addr),
                }
            }
            TaskDone::Handshake { result } => {
                self.pending_handshakes = self.pending_handshakes.saturating_sub(1);
                match result {
                    Some(conn) => {
                        // The peer's endpoint address is its member address:
                        // every node talks from the one socket it listens on.
                        let addr = canonical(conn.remote_address());
                        if certificate_names(&conn, addr) {
                            self.counters.incoming_accepted += 1;
                            self.adopt(addr, conn, false);
                        } else {
                            swim_driver::log!(
                                warn,
                                "connection from {addr} refused: its certificate does not name that address"
                            );
                            self.refuse(&conn, true);
                            self.counters.incoming_failed += 1;
                        }
                    }
                    None => {
                        swim_driver::log!(debug, "an incoming handshake failed");
                        self.counters.incoming_failed += 1;
                    }
                }
            }
            TaskDone::Reader { addr, id, refused } => {
                self.open_connections = self.open_connections.saturating_sub(1);
                self.counters.connections_closed += 1;
                if refused {
                    self.counters.refused_by_peer += 1;
                }
                if let Some(peer) = self.peers.get_mut(&addr) {
                    peer.conns.retain(|c| c.conn.stable_id() != id);
                    // Reconnecting at once would only be refused again.
                    if refused && peer.conns.is_empty() {
                        let until = TokioInstant::now() + self.options.reconnect_backoff;
                        peer.retry_at = Some(until);
                    }
                }
            }
        }
    }

    /// Closes a verified connection whose peer certificate does not name
    /// the peer's address, before anything is read from it, and counts it.
    fn refuse(&mut self, conn: &Connection, incoming: bool) {
        conn.close(
            CLOSE_WRONG_ADDRESS.into(),
            b"certificate does not name this address",
        );
        let counter = match incoming {
            true => &self.refusals.incoming,
            false => &self.refusals.outgoing,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// An outgoing connection attempt to `addr` failed: drops what waited
    /// for it and backs off.
    fn connect_failed(&mut self, addr: SocketAddr) {
        swim_driver::log!(debug, "connection to {addr} failed");
        self.counters.connects_failed += 1;
        let peer = self.peers.entry(addr).or_insert_with(Peer::new);
        self.counters.connect_failed_drops += peer.queue.len() as u64;
        peer.queue.clear();
        // A connection that came in meanwhile still serves.
        if peer.conns.is_empty() {
            peer.retry_at = Some(TokioInstant::now() + self.options.reconnect_backoff);
        }
    }

    /// Keeps a verified connection for `addr` (its peer's certificate names
    /// `addr`), reads its datagrams, and sends what was waiting for it.
    fn adopt(&mut self, addr: SocketAddr, conn: Connection, outgoing: bool) {
        let peer = self.peers.entry(addr).or_insert_with(Peer::new);
        peer.conns.retain(|c| c.conn.close_reason().is_none());
        if peer.conns.len() >= MAX_CONNECTIONS_PER_PEER {
            self.counters.connections_rejected += 1;
            conn.close(CLOSE_TOO_MANY.into(), b"too many connections");
            return;
        }
        // The newest connection carries the sends: it was verified just
        // now, while an older one may lead to a previous life of the peer
        // that crashed without closing it (it idles out on its own).
        let now = TokioInstant::now();
        peer.conns.insert(
            0,
            Conn {
                conn: conn.clone(),
                outgoing,
                since: now,
            },
        );
        peer.retry_at = None;
        peer.last_used = now;
        let waiting = std::mem::take(&mut peer.queue);
        self.open_connections += 1;
        let tx = self.inbound_tx.clone();
        let shared = self.shared.clone();
        self.tasks.spawn(read_datagrams(addr, conn, tx, shared));
        for data in waiting {
            self.send_to(addr, data);
        }
    }

    /// Periodic upkeep:
    ///
    /// * closes the connections of peers nothing was sent to or received
    ///   from for `unused_for` (the protocol stopped talking to them);
    /// * of two connections between the same two nodes that have both
    ///   been up for longer than the idle timeout (so neither leads to a
    ///   crashed previous life of the peer: that one would have idled
    ///   out), closes the one dialed by the higher address; both ends
    ///   apply the same rule, so they close the same one;
    /// * forgets peers with nothing open, pending or waiting.
    pub(crate) fn housekeeping(&mut self, unused_for: Duration) {
        let now = TokioInstant::now();
        let settled = self.options.idle_timeout + Duration::from_secs(1);
        let local = self.local;
        let mut closed = 0u64;
        let mut duplicates = 0u64;
        self.peers.retain(|addr, peer| {
            peer.conns.retain(|c| c.conn.close_reason().is_none());
            if !peer.conns.is_empty() && now.duration_since(peer.last_used) >= unused_for {
                for c in peer.conns.drain(..) {
                    c.conn.close(CLOSE_UNUSED.into(), b"unused");
                    closed += 1;
                }
            }
            if peer.conns.len() > 1 {
                let keep_outgoing = keeps_outgoing(local, *addr);
                let settled_pair = |c: &Conn| now.duration_since(c.since) >= settled;
                let has_kept = peer
                    .conns
                    .iter()
                    .any(|c| c.outgoing == keep_outgoing && settled_pair(c));
                if has_kept {
                    peer.conns.retain(|c| {
                        let drop = c.outgoing != keep_outgoing && settled_pair(c);
                        if drop {
                            c.conn.close(CLOSE_DUPLICATE.into(), b"duplicate");
                            duplicates += 1;
                        }
                        !drop
                    });
                }
            }
            !peer.is_idle(now)
        });
        self.counters.connections_unused_closed += closed;
        self.counters.connections_duplicate_closed += duplicates;
    }

    /// Sends one datagram to `addr` over a verified connection, or queues it
    /// while one is established; drops and counts it when it cannot go.
    pub(crate) fn send_to(&mut self, addr: SocketAddr, data: Bytes) {
        let addr = canonical(addr);
        let now = TokioInstant::now();
        let peer = self.peers.entry(addr).or_insert_with(Peer::new);
        peer.last_used = now;
        while let Some(c) = peer.conns.first() {
            match try_send(&c.conn, &data, &mut self.counters) {
                SendOutcome::Sent | SendOutcome::Dropped => return,
                // Its reader reports the closure and updates the gauges.
                SendOutcome::Lost => {
                    peer.conns.remove(0);
                }
            }
        }
        if peer.retry_at.is_some_and(|t| t > now) {
            self.counters.backoff_drops += 1;
            return;
        }
        if !peer.connecting {
            if self.pending_connects >= self.options.max_pending_connects {
                self.counters.connect_limit_drops += 1;
                return;
            }
            self.counters.connects_started += 1;
            let connecting = match self.client_configs.for_peer(addr).map(|config| {
                self.endpoint
                    .connect_with(config, addr, &self.options.server_name)
            }) {
                Some(Ok(connecting)) => connecting,
                _ => {
                    // Unroutable address, endpoint closed...
                    self.counters.connects_failed += 1;
                    self.counters.connect_failed_drops += 1;
                    peer.retry_at = Some(now + self.options.reconnect_backoff);
                    return;
                }
            };
            peer.connecting = true;
            self.pending_connects += 1;
            let timeout = self.options.connect_timeout;
            self.tasks.spawn(async move {
                // Ok means the server proved a CA-signed certificate that
                // names `addr`; it may still reject ours, which closes the
                // connection: nothing is trusted on the strength of this
                // alone, and only what the server sends over it is ever read.
                let result = match tokio::time::timeout(timeout, connecting).await {
                    Ok(Ok(conn)) => Some(conn),
                    _ => None,
                };
                TaskDone::Connect { addr, result }
            });
        }
        if peer.queue.len() >= self.options.peer_queue_len {
            self.counters.queue_full_drops += 1;
            return;
        }
        peer.queue.push_back(data);
    }
}

/// Of several connections between `local` and `peer`, both ends keep the
/// one dialed by the lower address: true if that is a connection `local`
/// dialed (an outgoing one, seen from `local`).
fn keeps_outgoing(local: SocketAddr, peer: SocketAddr) -> bool {
    local < peer
}

/// True if the certificate the peer of `conn` presented names `addr`.
fn certificate_names(conn: &Connection, addr: SocketAddr) -> bool {
    peer_certificate(conn).is_some_and(|cert| names_address(&cert, addr))
}

/// Hands one datagram to `conn`, never letting QUIC drop older datagrams
/// silently or a size problem panic.
fn try_send(conn: &Connection, data: &Bytes, counters: &mut TransportCounters) -> SendOutcome {
    if conn.close_reason().is_some() {
        counters.send_connection_lost += 1;
        return SendOutcome::Lost;
    }
    match conn.max_datagram_size() {
        None => {
            counters.send_unsupported += 1;
            return SendOutcome::Dropped;
        }
        Some(max) if data.len() > max => {
            counters.send_too_large += 1;
            return SendOutcome::Dropped;
        }
        Some(_) => {}
    }
    if conn.datagram_send_buffer_space() < data.len() {
        counters.send_buffer_full += 1;
        return SendOutcome::Dropped;
    }
    match conn.send_datagram(data.clone()) {
        Ok(()) => {
            counters.datagrams_sent += 1;
            counters.bytes_sent += data.len() as u64;
            SendOutcome::Sent
        }
        Err(SendDatagramError::ConnectionLost(_)) => {
            counters.send_connection_lost += 1;
            SendOutcome::Lost
        }
        Err(SendDatagramError::TooLarge) => {
            counters.send_too_large += 1;
            SendOutcome::Dropped
        }
        Err(SendDatagramError::UnsupportedByPeer | SendDatagramError::Disabled) => {
            counters.send_unsupported += 1;
            SendOutcome::Dropped
        }
    }
}

/// Reads the datagrams of one verified connection until it closes.
async fn read_datagrams(
    addr: SocketAddr,
    conn: Connection,
    tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
) -> TaskDone {
    let id = conn.stable_id();
    loop {
        match conn.read_datagram().await {
            Ok(data) => {
                if tx.try_send(Inbound { from: addr, data }).is_err() {
                    shared.inbound_queue_full.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Closed by either side, idle, or broken: the driver forgets it.
            Err(error) => {
                let refused = match &error {
                    ConnectionError::ConnectionClosed(close) => is_tls_alert(close.error_code),
                    ConnectionError::ApplicationClosed(close) => {
                        close.error_code == CLOSE_WRONG_ADDRESS.into()
                    }
                    _ => false,
                };
                return TaskDone::Reader { addr, id, refused };
            }
        }
    }
}

/// QUIC carries TLS alerts as transport error codes 0x100..=0x1ff.
fn is_tls_alert(code: quinn::TransportErrorCode) -> bool {
    (0x100..=0x1ff).contains(&u64::from(code))
}

pub(crate) use swim_driver::canonical;

#[cfg(all(test, feature = "cert-gen"))]
mod tests {
    use super::*;
    use crate::cert::ClusterCa;

    /// A client connection to a server endpoint, both on loopback.
    async fn pair() -> (Endpoint, Connection, Connection) {
        let ca = ClusterCa::generate("unit").expect("CA");
        let options = TransportOptions::default();
        let endpoint = || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            let addr = socket.local_addr().expect("bound");
            let creds = ca.issue(addr).expect("cert");
            let tls = crate::tls::configure(&creds, &options).expect("configs");
            let runtime = Arc::new(quinn::TokioRuntime);
            let endpoint = Endpoint::new(Default::default(), Some(tls.server), socket, runtime)
                .expect("endpoint");
            (endpoint, addr, tls.client)
        };
        let (server, addr, _) = endpoint();
        let (client, _, configs) = endpoint();
        let config = configs.for_peer(addr).expect("config");
        let connecting = client.connect_with(config, addr, "swim").expect("connect");
        let accept = async {
            let incoming = server.accept().await.expect("incoming");
            incoming.await.expect("handshake")
        };
        let (client_conn, server_conn) = tokio::join!(connecting, accept);
        let client_conn = client_conn.expect("handshake");
        // Each side's certificate names the address the other sees.
        assert!(peer_certificate(&client_conn).is_some_and(|c| names_address(&c, addr)));
        let client_addr = canonical(server_conn.remote_address());
        assert!(peer_certificate(&server_conn).is_some_and(|c| names_address(&c, client_addr)));
        (server, client_conn, server_conn)
    }

    #[tokio::test]
    async fn sends_are_checked_against_the_connection() {
        let (_server, conn, server_conn) = pair().await;
        let mut counters = TransportCounters::default();
        let max = conn.max_datagram_size().expect("datagrams enabled");
        assert!(
            max >= usize::from(crate::MAX_PACKET_BUDGET),
            "max_datagram_size {max}"
        );

        // Fits: sent and received intact.
        let small = Bytes::from_static(b"ping");
        assert!(matches!(
            try_send(&conn, &small, &mut counters),
            SendOutcome::Sent
        ));
        assert_eq!(server_conn.read_datagram().await.expect("datagram"), small);

        // Larger than the connection allows (MTU discovery may raise the
        // limit at any time, but never beyond a UDP payload): counted and
        // dropped.
        let big = Bytes::from(vec![7u8; 65_536]);
        assert!(matches!(
            try_send(&conn, &big, &mut counters),
            SendOutcome::Dropped
        ));
        assert_eq!(counters.send_too_large, 1);

        // Closed: reported lost, so the caller reconnects.
        conn.close(0u32.into(), b"bye");
        assert!(matches!(
            try_send(&conn, &small, &mut counters),
            SendOutcome::Lost
        ));
        assert_eq!(counters.send_connection_lost, 1);
        assert_eq!((counters.datagrams_sent, counters.bytes_sent), (1, 4));
    }

    #[test]
    fn both_ends_keep_the_same_one_of_two_connections() {
        let a: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
        let b: SocketAddr = "127.0.0.1:7001".parse().expect("addr");
        let c: SocketAddr = "[::1]:6000".parse().expect("addr");
        for (x, y) in [(a, b), (b, a), (a, c), (c, b)] {
            // The connection x dialed is outgoing at x and incoming at y:
            // x keeps it exactly when y keeps it.
            let x_keeps_the_one_x_dialed = keeps_outgoing(x, y);
            let y_keeps_the_one_x_dialed = !keeps_outgoing(y, x);
            assert_eq!(
                x_keeps_the_one_x_dialed, y_keeps_the_one_x_dialed,
                "{x} {y}"
            );
        }
    }

    #[test]
    fn mapped_addresses_are_canonical() {
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:7946".parse().expect("addr");
        assert_eq!(
            canonical(mapped),
            "10.0.0.1:7946".parse::<SocketAddr>().expect("addr")
        );
        let v6: SocketAddr = "[2001:db8::1]:7946".parse().expect("addr");
        assert_eq!(canonical(v6), v6);
    }
}
