//! Scheduled actions: node lifecycle, faults and network changes.

use std::time::Duration;

use crate::adversary::{Attack, Capture};
use crate::net::{LinkModel, Partition};

/// How a crashed node comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartMode {
    /// Same address and generation, incarnation 0: it must refute what the
    /// cluster remembers about its previous life.
    SameIdentity,
    /// Same address and generation, with the incarnation it had persisted
    /// plus one.
    PersistedIncarnation,
    /// Same address, next generation: a new process reusing the address.
    NewGeneration,
}

/// Something that happens at a scheduled virtual time.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Boots the node's current generation and joins through `seeds`
    /// (none: it waits to be contacted).
    Start {
        /// The node.
        node: u32,
        /// Addresses to join through.
        seeds: Vec<u32>,
    },
    /// Boots the node's current generation already knowing every other
    /// node of the cluster but `except`: each alive at its current
    /// generation, incarnation 0, with no metadata, loaded with
    /// `Swim::import_member` as from a saved table. Nothing is sent for
    /// them: started together, such nodes form a converged cluster without
    /// a join (and without a join's O(n^2) admission pings).
    StartKnowing {
        /// The node.
        node: u32,
        /// Nodes it does not know (those left down).
        except: Vec<u32>,
    },
    /// The process dies silently.
    Crash {
        /// The node.
        node: u32,
    },
    /// Crashes the node if it runs, then boots it again and joins `seeds`.
    Restart {
        /// The node.
        node: u32,
        /// Identity and incarnation of the new process.
        mode: RestartMode,
        /// Addresses to join through.
        seeds: Vec<u32>,
    },
    /// Graceful leave.
    Leave {
        /// The node.
        node: u32,
    },
    /// The node processes nothing for `duration`; then its timers fire and
    /// every datagram that arrived meanwhile is handled at once.
    Pause {
        /// The node.
        node: u32,
        /// How long.
        duration: Duration,
    },
    /// The node's clock jumps by `micros` (negative: backwards).
    ClockJump {
        /// The node.
        node: u32,
        /// Signed jump in microseconds.
        micros: i64,
    },
    /// Every input takes `per_input` to process; inputs queue behind each
    /// other (zero restores normal speed).
    Slow {
        /// The node.
        node: u32,
        /// Processing time per input.
        per_input: Duration,
    },
    /// Replaces the default model of every link.
    SetDefaultLink(LinkModel),
    /// Overrides one directed link.
    SetLink {
        /// Sender.
        from: u32,
        /// Receiver.
        to: u32,
        /// New model.
        link: LinkModel,
    },
    /// Adds or replaces partition `id`.
    Partition {
        /// Identifier for a later `Heal`.
        id: u32,
        /// The cut.
        partition: Partition,
    },
    /// Removes partition `id`.
    Heal {
        /// Identifier given to `Partition`.
        id: u32,
    },
    /// The adversary sends forged datagrams (see [`crate::adversary`]).
    Attack {
        /// What, as whom, to whom.
        attack: Box<Attack>,
        /// Repetition number, from 0 (invented members take it as their
        /// incarnation).
        round: u32,
    },
    /// The adversary starts recording datagrams delivered between nodes,
    /// for later replays.
    Capture(Capture),
}
