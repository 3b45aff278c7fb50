//! # swim-transport-quic
//!
//! Runs a [`swim_core`] cluster member over QUIC datagrams ([`quinn`]) with
//! mutual TLS, on tokio: a task owns the QUIC endpoint and the state
//! machine, and a [`Node`] handle lists members, sets metadata, broadcasts,
//! sends messages, leaves and shuts down. Membership changes arrive as
//! [`Event`]s on a channel.
//!
//! Only nodes holding a certificate signed by the cluster CA take part:
//! every packet of the protocol travels inside a mutually authenticated,
//! encrypted QUIC connection, so nobody else can read, forge or replay
//! membership traffic.
//!
//! ```
//! use std::time::Duration;
//! use swim_transport_quic::cert::ClusterCa;
//! use swim_transport_quic::{Config, Event, Node, NodeOptions};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A throwaway cluster CA and one certificate per node (feature `cert-gen`).
//! let ca = ClusterCa::generate("example cluster")?;
//! let bind = "127.0.0.1:0".parse()?;
//!
//! // A first node on a free loopback port, and a second one joining it.
//! let first = Node::start(NodeOptions::new(bind, ca.issue("swim")?).config(Config::local())).await?;
//! let second = Node::start(
//!     NodeOptions::new(bind, ca.issue("swim")?)
//!         .config(Config::local())
//!         .seed(first.local_addr()),
//! )
//! .await?;
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
//! ## Trust
//!
//! Servers require a client certificate and verify it against the cluster
//! CA (rustls' `WebPkiClientVerifier`); clients verify servers against the
//! same CA under one cluster-wide server name
//! ([`TransportOptions::server_name`], `"swim"` by default). TLS 1.3 only,
//! with the *ring* provider; no session resumption and no 0-RTT, so every
//! connection runs the full mutual handshake.
//!
//! In TLS 1.3 a client finishes its handshake *before* the server has
//! checked the client's certificate: a node with a foreign certificate sees
//! its connection succeed and may send datagrams before it is rejected.
//! Those datagrams never reach the protocol: datagrams are read only from
//! connections whose handshake completed on *this* side (for an incoming
//! connection, after the peer's certificate was verified; for an outgoing
//! one, after the server's was), and only those are handed to
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
//! others see), not a wildcard with several interfaces. IPv4 and IPv6 both
//! work; IPv4-mapped IPv6 addresses are reported as IPv4.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "cert-gen")]
pub mod cert;
mod driver;
mod error;
mod node;
mod options;
mod tls;
mod view;

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

/// Largest protocol datagram, in bytes: `packet_budget` is lowered to it so
/// that every datagram fits a QUIC datagram frame right after the handshake
/// (`max_datagram_size()` is about 1 162 bytes before path MTU discovery).
pub const MAX_PACKET_BUDGET: u16 = 1150;

/// A membership or application event, as reported by the node (`swim-core`'s
/// default blob capacity; with `std`, blobs live on the heap, bounded by the
/// [`Config`] limits).
pub type Event = swim_core::Event<std::net::SocketAddr, 64>;
