//! # swim-driver
//!
//! A kit for writing [`swim_core`] transports. A transport owns its I/O
//! and its loop (a thread over a socket, a tokio task over a QUIC
//! endpoint...); everything else a running node needs is in one
//! [`NodeCore`]:
//!
//! * the state machine ([`NodeSwim`]) and its [`Clock`];
//! * start-up: identity (advertised address and generation), incarnation,
//!   metadata, seeds, a random seed different in every process
//!   ([`NodeCore::start`], from [`CoreOptions`]);
//! * the commands of a node handle ([`Request`]) and how they are carried
//!   out and answered, including a graceful leave that is answered only
//!   once the departure has propagated;
//! * the event policy: events go to a bounded channel; when the
//!   application does not keep up, the newest event is dropped and
//!   counted ([`CoreCounters::events_dropped`]);
//! * persistence of the identity: with a data directory, each start takes
//!   a higher generation and a higher incarnation than any the previous
//!   life used ([`IdentityStore`]), and every incarnation or generation
//!   the node moves to is written to disk by a background writer, never on
//!   the transport's loop ([`IdentityWriter`]);
//! * persistence of the member table: with a data directory, the members
//!   believed alive are saved every 30 s and at the end, and loaded at the
//!   next start ([`members_file`]), so that a restarted node comes back
//!   knowing the cluster without a full-state exchange;
//! * counters common to every transport ([`CoreCounters`]).
//!
//! Replies and events travel on channels chosen by the transport through
//! [`Channels`]: [`StdChannels`] (std `mpsc`, for a driver thread) or,
//! with the `tokio` feature, `TokioChannels` (for a driver task).
//!
//! ## A driver loop
//!
//! ```
//! use std::net::{SocketAddr, UdpSocket};
//! use std::time::Duration;
//! use swim_driver::{CoreOptions, NodeCore, Request, StdChannels};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = UdpSocket::bind("127.0.0.1:0")?;
//! let addr = socket.local_addr()?;
//! let (events_tx, events) = std::sync::mpsc::sync_channel(64);
//! let mut core: NodeCore<StdChannels> =
//!     NodeCore::start(CoreOptions::new(), addr, addr, events_tx)?;
//!
//! // A command from a handle: ask for the local node.
//! let (reply, answer) = std::sync::mpsc::sync_channel(1);
//! core.apply(Request::Local(reply));
//! assert_eq!(answer.recv()?.identity.addr, addr);
//!
//! // One turn of the loop: timers, then every pending datagram and event.
//! core.handle_timeout();
//! let mut buf = vec![0u8; core.packet_budget()];
//! core.flush(&mut buf, 0..core.packet_budget(), |buf, len, to| {
//!     let _ = socket.send_to(&buf[..len], to);
//! });
//! // ...then wait for a datagram until `core.next_wake()` and hand it to
//! // `core.handle_datagram(from, &bytes)`.
//! # let _ = (events, Duration::ZERO);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod channels;
mod core;
mod error;
mod log;
pub mod members_file;
mod options;
mod persist;
mod request;
mod start;

pub use crate::core::{CoreCounters, NodeCore};
#[cfg(feature = "tokio")]
pub use channels::TokioChannels;
pub use channels::{Channels, Delivery, StdChannels};
pub use error::StartError;
pub use options::{CoreOptions, DEFAULT_EVENT_CAPACITY};
pub use persist::{IdentityStore, IdentityWriter, Persisted, IDENTITY_FILE};
pub use request::Request;
pub use start::{
    canonical, clock_generation, clock_generation_at, Clock, GENERATION_EPOCH_SECS, LEAVE_GRACE,
};
#[cfg(feature = "tracing")]
#[doc(hidden)]
pub use tracing as __tracing;

pub use swim_core;

use std::net::SocketAddr;
use std::time::Instant;

/// One remote member as the local node sees it (`since` by this process's
/// clock).
pub type Member = swim_core::MemberSnapshot<SocketAddr, Instant>;

/// The local node.
pub type LocalInfo = swim_core::LocalSnapshot<SocketAddr>;

/// The state machine every driver runs: socket addresses, a PCG random
/// number generator, and heap storage bounded only by the
/// [`Config`](swim_core::Config)'s limits (`max_members`, queue lengths,
/// `max_metadata_len`, `max_payload_len`).
pub type NodeSwim = swim_core::Swim<
    SocketAddr,
    rand_pcg::Pcg32,
    { swim_core::UNBOUNDED },
    { swim_core::UNBOUNDED },
>;

/// A membership or application event, as a node reports it: payloads on
/// the heap, as long as the [`Config`](swim_core::Config) allows.
pub type Event = swim_core::Event<SocketAddr, { swim_core::UNBOUNDED }>;

/// The README's code blocks are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
