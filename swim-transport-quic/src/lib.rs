//! # swim-transport-quic
//!
//! Runs a [`swim_core`] cluster member over QUIC datagrams ([`quinn`]) with
//! mutual TLS, on tokio: a task owns the QUIC endpoint and the state
//! machine, and a [`Node`] handle lists members, sets metadata, broadcasts,
//! sends messages, leaves and shuts down. Membership changes arrive as
//! [`Event`]s on a channel.
//!
//! Only nodes holding a certificate signed by the cluster CA take part, and
//! each speaks only for the address its certificate names: every packet of
//! the protocol travels inside a mutually authenticated, encrypted QUIC
//! connection between two nodes whose certificates name the connection's
//! two addresses. See [Trust](#trust) for exactly what is checked, and what
//! a certificate holder can still do.
//!
//! ```
//! use std::time::Duration;
//! use swim_transport_quic::cert::ClusterCa;
//! use swim_transport_quic::{Config, Event, Node, NodeOptions};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A throwaway cluster CA (feature `cert-gen`) and, for each node, a free
//! // loopback port and a certificate naming that address.
//! let ca = ClusterCa::generate("example cluster")?;
//! let options = || -> Result<NodeOptions, Box<dyn std::error::Error>> {
//!     let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
//!     let credentials = ca.issue(socket.local_addr()?)?;
//!     Ok(NodeOptions::with_socket(socket, credentials)?.config(Config::local()))
//! };
//!
//! // A first node, and a second one joining it.
//! let first = Node::start(options()?).await?;
//! let second = Node::start(options()?.seed(first.local_addr())).await?;
//!
//! // The first node learns of the second one.
//! let joined = loop {
//!     match first.recv_event(Duration::from_secs(30)).await {
//!         Some(Event::MemberJoined(identity)) => break identity,
//!         Some(_) => continue,
//!         None => panic!("no join within 30 s"),
//!     }
//! };
//! assert_eq!(joined.addr, second.local_addr());
//! assert_eq!(first.members().await?.len(), 1);
//!
//! second.shutdown(true).await?; // leave gracefully, then stop
//! first.shutdown(false).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## The node task
//!
//! The task follows `swim-core`'s run loop. It waits for whichever comes
//! first: a command from the handle, a datagram read from a verified
//! connection, a finished handshake, a new incoming connection, or the next
//! protocol deadline ([`swim_core::Swim::poll_timeout`], with
//! `tokio::time::sleep_until`). After each, it sends every pending datagram
//! ([`swim_core::Swim::poll_transmit`]) and hands every pending event to
//! the channel.
//!
//! ## Connections
//!
//! One QUIC endpoint per node is both server and client, so the remote
//! address of a connection from a peer is the address that peer is known
//! by. A connection is opened lazily on the first datagram for a peer and
//! cached; both directions of the protocol use whichever verified
//! connection exists between two nodes. While a connection is being
//! established, datagrams for that peer wait in a small bounded queue
//! ([`TransportOptions::peer_queue_len`]); outgoing handshakes in flight
//! are bounded too ([`TransportOptions::max_pending_connects`]). After a
//! failed attempt, datagrams for that peer are dropped for
//! [`TransportOptions::reconnect_backoff`]. Every such loss, every
//! connection error and every QUIC-level refusal is counted in
//! [`TransportCounters`] and survived: the protocol itself treats lost
//! datagrams as it would on UDP.
//!
//! Connections are kept warm ([`TransportOptions::keep_warm`]): QUIC
//! keep-alives hold them open, and the node closes a peer's connections
//! only once it has not talked to the peer for two probe rounds (every
//! member is probed once a round), so that probes do not wait for
//! handshakes in clusters larger than the idle timeout over the probe
//! interval. Of two connections between the same two nodes, the one
//! dialed by the higher address is closed once both are established.
//!
//! ## Identity
//!
//! As with the UDP transport, [`NodeOptions::data_dir`] keeps the node's
//! generation and last incarnation in a file: each start takes a higher
//! generation and a higher incarnation than the previous life, and every
//! incarnation the node moves to is written while it runs, off the node
//! task (see [`swim_driver::IdentityStore`]). Without it, the generation
//! is [`NodeOptions::generation`] if set, else seconds since 2025-01-01.
//!
//! ## Trust
//!
//! A node's identity in the protocol is its address (plus a generation).
//! Its certificate names that address as a URI subject alternative name
//! `swim://IP:PORT` ([`address_uri`]; `ClusterCa::issue`, feature
//! `cert-gen`, writes it), and both ends of every connection check it:
//!
//! * **Incoming.** The server requires a client certificate and verifies
//!   it against the cluster CA (rustls' `WebPkiClientVerifier`, wrapped);
//!   the wrapper also refuses a certificate that names no node address.
//!   Once the handshake completes, the node task checks that the
//!   certificate names the connection's remote address (the peer's
//!   endpoint address, which is its member address: every node sends from
//!   the socket it listens on). Otherwise the connection is closed before
//!   anything sent over it is read, and counted in
//!   [`TransportCounters::incoming_address_mismatch`].
//! * **Outgoing.** Each connection to address X gets its own verifier
//!   (rustls' `WebPkiServerVerifier`, wrapped): the server certificate must
//!   chain to the cluster CA, carry the cluster server name
//!   ([`TransportOptions::server_name`], `"swim"` by default) and name X,
//!   or the handshake is aborted before this node presents its own
//!   certificate, and counted in
//!   [`TransportCounters::connects_address_mismatch`].
//! * **Locally.** [`Node::start`] refuses credentials whose certificate
//!   does not name the node's own advertised address
//!   ([`Error::CertificateAddress`]).
//!
//! So a holder of a cluster certificate for address A can take part only
//! as A: it cannot be accepted under another address, whether it connects
//! from one or answers at one. A datagram therefore reaches
//! [`swim_core::Swim::handle_datagram`] only with a source address whose
//! owner proved it holds a certificate for it.
//!
//! What TLS does not stop: a certificate holder can still put anything in
//! the gossip it sends as A, including false records about *other*
//! members (that they are suspect, dead or gone, or alive with other
//! incarnations or metadata). The transport only vouches for who sent a
//! datagram, not for what it says; what those records may do is up to the
//! protocol in `swim-core`. And whoever holds the key of A's certificate is
//! A, wherever it runs: there is no revocation, so a leaked node key is
//! evicted only by rotating the CA.
//!
//! TLS 1.3 only, with the *ring* provider; no session resumption and no
//! 0-RTT, so every connection runs the full mutual handshake.
//!
//! In TLS 1.3 a client finishes its handshake *before* the server has
//! checked the client's certificate: a node with a foreign certificate, or
//! one that names another address, sees its connection succeed and may
//! send datagrams before it is rejected. Those datagrams never reach the
//! protocol: datagrams are read only from connections whose handshake
//! completed on *this* side and whose peer certificate names the peer's
//! address (for an incoming connection, its remote address; for an
//! outgoing one, the address dialed), and only those are handed to
//! [`swim_core::Swim::handle_datagram`].
//!
//! ## Packet size
//!
//! A QUIC datagram must fit one QUIC packet: right after the handshake
//! `max_datagram_size()` is about 1 162 bytes (path MTU discovery raises it
//! later). [`Node::start`] therefore lowers the protocol's `packet_budget`
//! to [`MAX_PACKET_BUDGET`] (1 150 bytes), so every datagram the protocol
//! builds fits from the first packet on. A datagram larger than the
//! connection's current maximum is dropped and counted
//! ([`TransportCounters::send_too_large`]), never a panic.
//!
//! ## Addresses
//!
//! Peers know a node by the source address of its QUIC packets: bind a
//! specific address (or set [`NodeOptions::advertise`] to the address the
//! others see), not a wildcard with several interfaces. The node
//! certificate must name that address, so its port must be fixed before
//! the certificate is issued: bind a socket first
//! ([`NodeOptions::with_socket`]) to use a free port. IPv4 and IPv6 both
//! work; IPv4-mapped IPv6 addresses are reported, and compared with
//! certificates, as IPv4.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod binding;
#[cfg(feature = "cert-gen")]
pub mod cert;
mod driver;
mod error;
mod node;
mod options;
mod peers;
mod tls;
mod view;

pub use binding::{address_uri, certificate_addresses, ADDRESS_URI_SCHEME};
pub use error::Error;
pub use node::Node;
pub use options::{NodeOptions, TransportOptions};
pub use tls::{Credentials, ALPN};
#[doc(inline)]
pub use view::{LocalInfo, Member};
pub use view::{NodeCounters, TransportCounters};

pub use quinn;
pub use rustls;
pub use rustls::pki_types;
pub use swim_core;
pub use swim_core::{
    CommandError, Config, ConfigError, Counters, DropCounters, Identity, LocalEvent, LocalStatus,
    MemberState,
};
pub use swim_driver;

/// Largest protocol datagram, in bytes: `packet_budget` is lowered to it so
/// that every datagram fits a QUIC datagram frame right after the handshake
/// (`max_datagram_size()` is about 1 162 bytes before path MTU discovery).
pub const MAX_PACKET_BUDGET: u16 = 1150;

pub use swim_driver::{CoreCounters, CoreOptions, Event, IDENTITY_FILE};
