//! Owned snapshots of the node's state and counters, returned by the node
//! handle.

use swim_core::Counters;
use swim_driver::CoreCounters;

pub use swim_driver::{LocalInfo, Member};

/// What the QUIC layer counted. All fields count events since the start,
/// except `open_connections` and `pending_connects`, which are current
/// values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportCounters {
    /// Datagrams handed to QUIC connections.
    pub datagrams_sent: u64,
    /// Bytes handed to QUIC connections.
    pub bytes_sent: u64,
    /// Datagrams read from verified connections and handed to the protocol.
    pub datagrams_received: u64,
    /// Bytes read from verified connections and handed to the protocol.
    pub bytes_received: u64,
    /// Datagrams dropped because they exceeded the connection's current
    /// `max_datagram_size`.
    pub send_too_large: u64,
    /// Datagrams dropped because the peer does not accept datagrams.
    pub send_unsupported: u64,
    /// Datagrams dropped because the connection's datagram send buffer was
    /// full (instead of letting QUIC silently drop older ones).
    pub send_buffer_full: u64,
    /// Sends that found their connection lost (the datagram then waits for
    /// a new connection).
    pub send_connection_lost: u64,
    /// Datagrams dropped because the peer's queue was full while its
    /// connection was being established.
    pub queue_full_drops: u64,
    /// Datagrams dropped because `max_pending_connects` handshakes were
    /// already in flight.
    pub connect_limit_drops: u64,
    /// Datagrams dropped because the peer was in reconnect backoff after a
    /// failed connection attempt.
    pub backoff_drops: u64,
    /// Queued datagrams dropped because the connection attempt failed.
    pub connect_failed_drops: u64,
    /// Outgoing connection attempts.
    pub connects_started: u64,
    /// Outgoing handshakes that completed (the server proved a certificate
    /// that names the dialed address; it may still reject ours afterwards).
    pub connects_succeeded: u64,
    /// Outgoing connection attempts that failed or timed out (including
    /// those counted in `connects_address_mismatch`).
    pub connects_failed: u64,
    /// Outgoing connections refused because the server's certificate,
    /// although signed by the cluster CA, does not name the dialed address
    /// (a node answering at an address it holds no certificate for). Also
    /// counted in `connects_failed`; the peer is then in reconnect backoff.
    pub connects_address_mismatch: u64,
    /// Incoming handshakes that completed with a verified client
    /// certificate naming the connection's remote address.
    pub incoming_accepted: u64,
    /// Incoming connections refused because of the connection limits.
    pub incoming_refused: u64,
    /// Incoming handshakes that failed (certificate rejected, timeout...),
    /// including those counted in `incoming_address_mismatch`.
    pub incoming_failed: u64,
    /// Incoming connections refused because the client's certificate,
    /// although signed by the cluster CA, names no node address or not the
    /// address the connection comes from (a node speaking from an address
    /// it holds no certificate for). Closed before anything sent over them
    /// is read; also counted in `incoming_failed`.
    pub incoming_address_mismatch: u64,
    /// Verified connections beyond the per-peer limit, closed at once.
    pub connections_rejected: u64,
    /// Verified connections that closed (by either side, or idle).
    pub connections_closed: u64,
    /// Outgoing connections the peer aborted with a TLS alert after our
    /// side of the handshake completed, or closed because our certificate
    /// does not name the address we connect from: it rejected our
    /// certificate. The peer is then in reconnect backoff.
    pub refused_by_peer: u64,
    /// Received datagrams dropped because the node task's inbound queue was
    /// full.
    pub inbound_queue_full: u64,
    /// Background tasks that panicked.
    pub task_panics: u64,
    /// Connections closed because nothing was sent to or received from
    /// their peer for two probe rounds (and at least the idle timeout):
    /// the protocol no longer talks to it.
    pub connections_unused_closed: u64,
    /// Second connections between the same two nodes, closed once both
    /// had been up for longer than the idle timeout (the one dialed by the
    /// higher address goes).
    pub connections_duplicate_closed: u64,
    /// Verified connections open now.
    pub open_connections: u64,
    /// Outgoing handshakes in flight now.
    pub pending_connects: u64,
}

impl TransportCounters {
    /// Outgoing datagrams lost locally, whatever the reason.
    pub fn send_drops(&self) -> u64 {
        self.send_too_large
            + self.send_unsupported
            + self.send_buffer_full
            + self.queue_full_drops
            + self.connect_limit_drops
            + self.backoff_drops
            + self.connect_failed_drops
    }
}

/// Protocol, transport and driver counters together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// What the protocol counted (datagrams, drops by reason, probes...).
    pub protocol: Counters,
    /// What the QUIC layer counted (connections, send drops...).
    pub transport: TransportCounters,
    /// What the driver kit counted (events dropped, timer runs, identity
    /// writes).
    pub driver: CoreCounters,
}
