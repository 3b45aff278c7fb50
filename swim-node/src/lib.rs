//! # swim-node
//!
//! The transport-independent parts of a [`swim_core`] node, shared by
//! `swim-transport-udp` and `swim-transport-quic`: each of them owns its
//! I/O and its event loop, and uses this crate for what does not depend on
//! how datagrams travel.
//!
//! * [`options_setters!`]: the builder methods common to both
//!   `NodeOptions`;
//! * [`error_impls!`] and [`StartError`]: the messages, sources and
//!   conversions common to both `Error` types;
//! * [`Request`] and [`Request::apply`]: the commands a node handle sends
//!   to the state machine, and how they are carried out and answered, with
//!   each transport's reply channel behind [`Replies`];
//! * [`start_protocol`], [`Clock`], [`clock_generation`], [`canonical`]:
//!   start-up of the state machine, the node clock, default generations
//!   and address normalisation.
//!
//! The crate is internal to the workspace (`publish = false`); its items
//! are public only so that the transport crates can use them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod options;
mod request;
mod start;

pub use error::StartError;
pub use options::DEFAULT_EVENT_CAPACITY;
pub use request::{Replies, Request};
pub use start::{
    canonical, clock_generation, clock_generation_at, start_protocol, Clock, Protocol,
    GENERATION_EPOCH_SECS, LEAVE_GRACE,
};

/// Re-exported for the macros of this crate.
#[doc(hidden)]
pub use swim_core as __swim_core;

use std::net::SocketAddr;
use std::time::Instant;

/// One remote member as the local node sees it (`since` by this process's
/// clock).
pub type Member = swim_core::MemberSnapshot<SocketAddr, Instant>;

/// The local node.
pub type LocalInfo = swim_core::LocalSnapshot<SocketAddr>;

/// The state machine both transports run: socket addresses, a PCG random
/// number generator and `swim-core`'s default capacities.
pub type NodeSwim = swim_core::Swim<SocketAddr, rand_pcg::Pcg32>;
