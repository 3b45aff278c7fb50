//! # swim-tests
//!
//! A deterministic discrete-event simulator of many [`swim_core`] nodes,
//! the scenario tests built on it, and the `simulate` command.
//!
//! * Virtual time in microseconds and one [`queue::EventQueue`] ordered by
//!   time, then by a key that says how simultaneous events are ordered;
//!   every random choice comes from PCG generators
//!   seeded from one seed, so the same seed gives the same trace
//!   ([`sim::Simulator::trace_hash`]).
//! * Time advances in windows no longer than the shortest link latency.
//!   Inside a window no node can hear from another, so the nodes' inputs
//!   run on several threads ([`sim::Simulator::set_threads`]); what they
//!   caused is applied afterwards in one global order that depends only on
//!   the events themselves, so the trace is the same for any number of
//!   threads and wherever the windows end.
//! * [`net`]: latency, jitter, loss, duplication, reordering and bandwidth
//!   per directed link; symmetric and one-way partitions.
//! * [`fault`]: crash, restart (same identity, persisted incarnation or new
//!   generation), graceful leave, pause, clock jumps, slow processing and
//!   network changes, all scheduled at virtual times.
//! * [`invariants`]: checked after every input when enabled.
//! * [`metrics`] and [`report`]: detection times, false positives,
//!   convergence, traffic, a JSON report and an SVG plot.
//! * [`scenario`]: a builder that expands a scenario into a schedule.
//! * [`seeds`]: one scenario over a range of seeds, its key figures per
//!   seed and their mean, median and maximum.
//! * [`adversary`]: a hostile model that injects forged, spoofed and
//!   replayed datagrams, and measures what they cause (amplification,
//!   Lifeguard health, false positives).
//!
//! ```
//! use std::time::Duration;
//! use swim_core::Config;
//! use swim_tests::scenario::Scenario;
//!
//! // A crash at 10 s; 20 s later every survivor has declared it dead (at 8
//! // nodes the local preset retransmits an update only twice, so a
//! // survivor can miss the verdict and need its own probe and suspicion
//! // timer: 15.7 s at worst over seeds 1-40).
//! let report = Scenario::new(8, Config::local(), 7)
//!     .with_duration(Duration::from_secs(30))
//!     .kill_random(Duration::from_secs(10), 1)
//!     .run();
//! assert_eq!(report.violations, Some(0));
//! assert_eq!(report.detection.undetected, 0);
//! ```

#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod adversary;
pub mod alloc_counter;
pub mod fault;
mod host;
pub mod invariants;
pub mod metrics;
pub mod net;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod seeds;
pub mod sim;
