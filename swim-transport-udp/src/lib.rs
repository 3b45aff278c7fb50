//! # swim-transport-udp
//!
//! Runs a [`swim_core`] cluster member on a [`std::net::UdpSocket`]: a
//! background thread owns the socket and the state machine, and a [`Node`]
//! handle lists members, sets metadata, broadcasts, sends messages, leaves
//! and shuts down. Membership changes arrive as [`Event`]s on a channel.
//! The handle is `Send + Sync`.
//!
//! ```
//! use std::time::Duration;
//! use swim_transport_udp::{Config, Event, Node, NodeOptions};
//!
//! # fn main() -> Result<(), swim_transport_udp::Error> {
//! // A first node on a free loopback port, and a second one joining it.
//! let first = Node::start(NodeOptions::new("127.0.0.1:0".parse().unwrap()).config(Config::local()))?;
//! let second = Node::start(
//!     NodeOptions::new("127.0.0.1:0".parse().unwrap())
//!         .config(Config::local())
//!         .seed(first.local_addr()),
//! )?;
//!
//! // The first node learns of the second one (after its own `Local(Joined)`).
//! let joined = loop {
//!     match first.recv_event(Duration::from_secs(10)).expect("an event") {
//!         Event::MemberJoined(identity) => break identity,
//!         _ => continue,
//!     }
//! };
//! assert_eq!(joined.addr, second.local_addr());
//! assert_eq!(first.members()?.len(), 1);
//!
//! second.shutdown(true)?; // leave gracefully, then stop the thread
//! first.shutdown(false)?;
//! # Ok(())
//! # }
//! ```
//!
//! ## The node thread
//!
//! The thread follows `swim-core`'s run loop through a
//! [`swim_driver::NodeCore`]: it handles queued commands, runs the timers
//! that are due, sends every pending datagram, hands every pending event
//! to the channel, then waits (`epoll`/`kqueue` through mio) until the
//! socket is readable, a command arrives (the handle wakes it through
//! mio's waker), or the next protocol deadline
//! ([`swim_core::Swim::poll_timeout`]). It then receives every datagram
//! that is ready, answering each at once.
//!
//! The socket is non-blocking: per datagram the thread makes one receive
//! and one send per reply, and per wait one `epoll_wait` and the receive
//! that finds the socket empty; no `setsockopt` per datagram. A send that
//! finds the socket's buffer full loses that datagram (counted in
//! [`TransportCounters::send_buffer_full`]): the thread never blocks on a
//! send. Writing the identity file happens on a separate short-lived
//! thread (see [Identity](#identity)).
//!
//! For applications on tokio, the `tokio` module (feature
//! `tokio`) runs the same node as a task, with `async` methods; the
//! `signal` module (feature `signal`) waits for Ctrl-C or SIGTERM, to
//! leave the cluster when the process is told to stop.
//!
//! Socket errors never stop the node: ICMP "port unreachable",
//! `EMSGSIZE`, a full send buffer or an address family the socket cannot
//! reach lose that datagram and are counted in [`TransportCounters`].
//! Malformed, oversized or foreign datagrams are dropped by the protocol
//! and counted in [`Counters::drops`](swim_core::Counters).
//!
//! ## Addresses
//!
//! IPv4 and IPv6 both work; a dual-stack IPv6 socket sees IPv4 peers as
//! IPv4 addresses. The identity's address is the *advertise* address:
//! [`NodeOptions::advertise`] when given (NAT, containers), else the bound
//! address; for a wildcard bind (`0.0.0.0`, `::`) the local address the
//! system routes towards the first seed.
//!
//! ## Identity
//!
//! An [`Identity`] is an address plus a *generation*, which tells a
//! restarted process apart from its previous life on the same address: a
//! higher generation replaces a lower one, so a restarted node never has to
//! fight the accusations against its old self.
//!
//! * With [`NodeOptions::data_dir`], the directory holds a small text file,
//!   `identity`, with the generation and the last incarnation. Each start
//!   raises the generation by one (and never below the clock-derived value
//!   below, so a wiped directory does no harm) and starts one incarnation
//!   above the last one stored; every new incarnation (a refutation) is
//!   written as it happens, by a background thread that exists only while
//!   there is something to write, so the node's loop never waits for the
//!   disk ([`swim_driver::IdentityWriter`]).
//! * Without it, the generation is [`clock_generation`]: seconds since
//!   2025-01-01 UTC, which grows across restarts that are a second or more
//!   apart.
//!
//! ## Encryption
//!
//! Without a keyring, datagrams travel in plaintext and anyone who reaches
//! the port can forge membership. With [`NodeOptions::keyring`], every
//! datagram is sealed with XChaCha20-Poly1305 (authenticated encryption)
//! under the ring's primary key. Incoming datagrams that no key of the
//! ring opens (wrong key, altered, truncated, from another cluster, or
//! plaintext) are dropped before the protocol sees them and counted in
//! [`TransportCounters::decrypt_drops`]. The envelope layout (format 2):
//!
//! ```text
//! [version 0xE2: 1][sender id: 8][counter: 8][timestamp: 4][salt: 4][ciphertext: n][tag: 16]
//!                  \__________________ nonce: 24 ___________________/  overhead: 41 bytes
//! associated data: the 25-byte header, then the cluster tag (u32 little-endian)
//! ```
//!
//! The sender id (random, drawn once per [`Keyring`] value, so once per
//! node), the counter (one more per datagram the node seals) and the
//! timestamp (seconds since the UNIX epoch, modulo 2^32) are little-endian;
//! with the sender's random salt they form the nonce, which therefore
//! does not repeat under one key (unless two senders drew the same 96
//! random bits of id and salt). They travel in the clear but are
//! authenticated: changing any header byte makes the datagram fail to
//! open.
//!
//! **Replays.** A datagram that opens then goes through the node's
//! [`ReplayFilter`] before the protocol sees it: a copy of a datagram
//! already accepted from the same sender, a counter [`REPLAY_WINDOW`]
//! (1024) or more below that sender's highest, or one of the node's own
//! datagrams sent back to it is dropped and counted as
//! [`DecryptDrops::replayed`]; a timestamp more than the freshness window
//! ([`ReplayConfig::freshness`], 120 s by default, set with
//! [`NodeOptions::replay`]) away from the receiver's clock is dropped and
//! counted as [`DecryptDrops::stale`]. **Nodes with a keyring need loosely
//! synchronized clocks** (well within the freshness window; NTP does). At
//! most [`ReplayConfig::max_senders`] (4096) senders are remembered, the
//! least recently accepted forgotten first
//! ([`TransportCounters::replay_evictions`]); the freshness window bounds
//! what a forgotten sender, or a restarted receiver, lets through again.
//!
//! **Budget.** `Config::packet_budget` stays the largest datagram on the
//! wire: the node runs the protocol with a budget of
//! [`ENVELOPE_OVERHEAD`] (41) bytes less, so that a sealed datagram never
//! exceeds the configured size (1400 by default: swim packets of at most
//! 1359 bytes). Encryption thus needs a configured budget of at least
//! `swim_core::wire::MIN_PACKET_BUDGET + 41` = 553 bytes
//! ([`Error::PacketBudgetTooSmall`] otherwise).
//!
//! **Rotation** without downtime: [`Node::install_key`] on every node,
//! then [`Node::use_key`] on every node, then [`Node::remove_key`] of the
//! old key on every node (see [`Keyring`]). Every node must start with a
//! keyring: encryption cannot be switched on or off at run time, and
//! encrypted and plaintext nodes do not talk to each other.
//!
//! ```
//! use swim_transport_udp::{Config, Keyring, Node, NodeOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Share it with every member; it is wiped from memory when dropped.
//! let key = Keyring::generate_key()?;
//! let options = NodeOptions::new("127.0.0.1:0".parse()?)
//!     .config(Config::local().with_label("prod"))
//!     .keyring(Keyring::new(&key[..])?);
//! let node = Node::start(options)?;
//! let next = Keyring::generate_key()?;
//! node.install_key(&next[..])?; // on every node, then:
//! node.use_key(&next[..])?; // on every node, then:
//! node.remove_key(&key[..])?;
//! assert_eq!(node.key_ids()?, vec![Keyring::new(&next[..])?.primary_id()]);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod driver;
mod envelope;
mod error;
mod keyfile;
mod keyring;
mod node;
mod options;
mod replay;
#[cfg(feature = "signal")]
pub mod signal;
mod socket;
mod start;
mod station;
#[cfg(feature = "tokio")]
pub mod tokio;
mod view;

pub use envelope::{
    DecryptDrops, OpenError, Opened, SealError, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD,
    ENVELOPE_TAG_LEN, ENVELOPE_VERSION,
};
pub use error::Error;
pub use keyfile::{HexKeyError, KeyFileError};
pub use keyring::{KeyError, KeyId, Keyring, KEY_LEN, MAX_KEYS};
pub use node::Node;
pub use options::NodeOptions;
pub use replay::{
    ReplayConfig, ReplayFilter, DEFAULT_FRESHNESS, DEFAULT_MAX_SENDERS, REPLAY_WINDOW,
};
pub use socket::TransportCounters;
#[doc(inline)]
pub use swim_driver::{clock_generation, CoreCounters, CoreOptions, IDENTITY_FILE};
pub use view::NodeCounters;
#[doc(inline)]
pub use view::{LocalInfo, Member};

pub use swim_core;
pub use swim_core::{
    CommandError, Config, ConfigError, Counters, DropCounters, Identity, LocalEvent, LocalStatus,
    MemberState,
};
pub use swim_driver;

/// The README's code blocks are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use swim_driver::Event;
