//! # swim-core
//!
//! A sans-IO implementation of the SWIM gossip membership protocol with the
//! Lifeguard extensions. It never reads a clock, never touches a socket and
//! needs no allocator: you feed it `(now, datagram)` pairs and timeouts, and
//! it tells you which datagrams to send, when to wake it up next, and what
//! changed in the membership.
//!
//! ## The run loop
//!
//! After **every** input ([`Swim::handle_datagram`], [`Swim::handle_timeout`]
//! or a command such as [`Swim::join`]):
//!
//! 1. drain [`Swim::poll_transmit`] until it returns `None`, sending each
//!    datagram;
//! 2. drain [`Swim::poll_event`] until it returns `None`;
//! 3. wait for a datagram or until [`Swim::poll_timeout`], whichever comes
//!    first, and feed what happened back in.
//!
//! Two nodes connected by an in-memory "network" with a virtual clock:
//!
//! ```
//! use swim_core::{Config, Event, Identity, Instant, Swim};
//! use rand_pcg::Pcg32;
//! use rand_core::SeedableRng;
//!
//! type Node = Swim<u32, Pcg32>; // addresses are plain integers here
//!
//! let config = Config::local();
//! let now = Instant::ZERO;
//! let mut nodes = [
//!     Node::new(Identity::new(0, 1), config.clone(), Pcg32::seed_from_u64(0), now).unwrap(),
//!     Node::new(Identity::new(1, 1), config, Pcg32::seed_from_u64(1), now).unwrap(),
//! ];
//! nodes[1].join(now, &[0]).unwrap();
//!
//! let mut in_flight: Vec<(u32, u32, Vec<u8>)> = Vec::new(); // (from, to, bytes)
//! let mut buf = [0u8; 1400];
//! let mut now = now;
//! let mut joined = 0;
//! for _ in 0..200 {
//!     // Deliver what was sent, then run timers that are due.
//!     for (from, to, bytes) in in_flight.drain(..) {
//!         nodes[to as usize].handle_datagram(now, from, &bytes);
//!     }
//!     for node in nodes.iter_mut() {
//!         if node.poll_timeout().is_some_and(|t| t <= now) {
//!             node.handle_timeout(now);
//!         }
//!     }
//!     // Drain outputs after the inputs.
//!     for (addr, node) in nodes.iter_mut().enumerate() {
//!         while let Some(t) = node.poll_transmit(now, &mut buf) {
//!             in_flight.push((addr as u32, t.destination, buf[..t.len].to_vec()));
//!         }
//!         while let Some(event) = node.poll_event() {
//!             if let Event::MemberJoined(_) = event {
//!                 joined += 1;
//!             }
//!         }
//!     }
//!     // Jump to the earliest deadline (or 10 ms, for in-flight datagrams).
//!     let next = nodes.iter().filter_map(|n| n.poll_timeout()).min().unwrap();
//!     now = if in_flight.is_empty() { next.max(now) } else { now + core::time::Duration::from_millis(10) };
//! }
//! assert_eq!(joined, 2, "each node learned of the other");
//! assert_eq!(nodes[0].active_members(), 1);
//! ```
//!
//! ## What a node believes
//!
//! Any datagram may be forged, replayed or sent from a spoofed address, so a
//! node checks what it is told before acting on it:
//!
//! * a member learned of from others (or heard from once) is a candidate
//!   until it answers a ping naming its identity: only then is it probed,
//!   relayed, counted, listed by [`Swim::members`] and reported as
//!   [`Event::MemberJoined`]; candidates that stay silent are forgotten;
//! * a newer generation of a member is adopted only when it answers a ping
//!   naming it, and records about generations never verified are ignored;
//! * "dead" or "left" said by others about a member seen active is checked
//!   with a ping carrying the accusation, and ignored if the member answers;
//! * replies to an address that has not proved it receives traffic (by
//!   answering such a ping) carry nothing extra and stay within three times
//!   the bytes it sent; push-pull tables go only to verified members,
//!   rate-limited ([`Config::sync_reply_rate`]).
//!
//! What each check refused is counted in [`Counters`] (`claims_refused`,
//! `accusations_disproved`, `admissions_failed`, `replies_limited`, ...).
//!
//! ## The run-loop contract
//!
//! * **Progress.** After `handle_timeout(t)`, [`Swim::poll_timeout`] is
//!   `None` (the node left) or later than `t`: a loop that sleeps until the
//!   deadline never spins. Time never runs backwards inside the node: an
//!   input with an earlier `now` than a previous one is treated as that
//!   previous instant and counted (`clock_regressions`).
//! * **When to re-read the deadline.** Every input may move it: a datagram
//!   (a probe answered, a suspicion learned), a command (`join`, `leave`,
//!   `broadcast`...) and `handle_timeout`. Re-read it after each of them,
//!   once the outputs are drained; between inputs it does not change.
//!   Calling `handle_timeout` early is harmless (nothing is due yet);
//!   calling it late runs everything that fell due, at once.
//! * **What is bounded, and what is dropped when the caller does not
//!   drain.** Outgoing messages wait in a queue of at most `N` (4 096 for
//!   [`UNBOUNDED`]); beyond it new messages are dropped and counted
//!   ([`DropReason::TransmitQueueFull`]). A message or push-pull chunk
//!   that does not fit the buffer given to `poll_transmit` is dropped and
//!   counted ([`DropReason::BufferTooSmall`]): give buffers of at least
//!   `packet_budget` bytes. Events wait in a queue of `event_queue_len`;
//!   when only one place is left, newer events are dropped and counted
//!   (`events_dropped`) and that place holds an [`Event::Lagged`] saying
//!   how many: read [`Swim::members`] again after it. The member table,
//!   gossip, broadcast, suspicion and check tables are bounded by the
//!   [`Config`] and by `N`; what does not fit is refused and counted
//!   (`members_refused`, `broadcasts_dropped`, `gossip_queue_overflow`...).
//!   [`Swim::queue_lengths`] shows each against its cap.
//! * **Every incoming datagram** that is not used is counted with its
//!   reason in [`Counters::drops`]; every command with an invalid argument
//!   returns a [`CommandError`]; nothing panics on any input.
//!
//! ## Restarts, admission and decommissioning
//!
//! * A node restarted with its saved table loads it with
//!   [`Swim::import_member`] (save it from [`Swim::members`]): it rejoins
//!   without a full-state exchange and without re-gossiping anyone.
//!   [`Swim::join`] takes any number of seeds and samples [`MAX_SEEDS`].
//! * [`Swim::set_admission_policy`] keeps members that a rule refuses out
//!   of the view; [`Swim::refuse`] keeps one identity (and its older
//!   generations) out for good, whatever others say: for decommissioned
//!   or banned nodes. These decisions are the application's own; no
//!   datagram can make them.
//!
//! ## Features
//!
//! * default: `#![no_std]`, no allocator. The member table and every queue
//!   hold at most `N` entries (the const generic of [`Swim`]), blobs
//!   (metadata, broadcasts, messages) at most `B` bytes, stored inline.
//! * `alloc`: the same capacities, on the heap (storage grows as needed);
//!   `N` and `B` may then be [`UNBOUNDED`], leaving the bounds to the
//!   [`Config`]'s runtime limits (`max_members`, queue lengths,
//!   `max_metadata_len`, `max_payload_len`). Turning `alloc` on never
//!   changes what another crate's `Swim<_, _, N, B>` holds. Also owned
//!   snapshots of the views.
//! * `std`: `Instant::from_std`.
//!
//! The wire format is specified in `docs/wire-format.md` of the repository.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod address;
mod amplification;
mod broadcasts;
mod config;
mod counters;
mod dedup;
mod digest;
mod error;
mod event;
mod gossip_queue;
#[cfg(feature = "alloc")]
mod hash_index;
pub mod kv;
mod math;
mod member;
mod members;
mod rtt;
mod slot;
#[cfg(feature = "alloc")]
mod snapshot;
mod state;
mod storage;
mod swim;
mod time;
pub mod wire;

pub use address::{Address, Identity};
pub use config::{label_hash, Config};
pub use counters::{Counters, DropCounters, DropReason};
pub use error::{CommandError, ConfigError};
pub use event::{Event, LocalEvent};
#[cfg(feature = "alloc")]
pub use snapshot::{LocalSnapshot, MemberSnapshot};
pub use state::MemberState;
pub use storage::{Payload, UNBOUNDED};
pub use swim::{
    AdmissionPolicy, KnownMember, LocalNode, LocalStatus, MemberView, QueueLengths, Swim, Transmit,
    MAX_REFUSED, MAX_SEEDS,
};
pub use time::Instant;
