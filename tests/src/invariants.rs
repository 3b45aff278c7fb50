//! Safety properties checked after every input of every node.

use std::collections::BTreeMap;

use serde::Serialize;
use swim_core::QueueLengths;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Virtual time, µs.
    pub at: u64,
    /// Node where it was observed.
    pub node: u32,
    /// What went wrong.
    pub what: String,
}

/// What the checker remembers between checks.
#[derive(Debug, Default)]
pub struct Invariants {
    /// Whether checks run (they cost time on large runs).
    pub enabled: bool,
    /// Highest incarnation each (node, generation) ever held itself.
    pub highest: BTreeMap<(u32, u32), u32>,
    /// Violations found (at most [`Invariants::KEEP`] are kept).
    pub violations: Vec<Violation>,
    /// Violations found, including those not kept.
    pub count: u64,
}

impl Invariants {
    /// Violations stored in full; later ones are only counted.
    pub const KEEP: usize = 100;

    /// A checker, switched on or off. What it remembers about each
    /// process (its last view of every member, its own incarnation) lives
    /// with the simulated host.
    pub fn new(enabled: bool) -> Self {
        Invariants {
            enabled,
            ..Invariants::default()
        }
    }

    /// Records a violation.
    pub fn fail(&mut self, at: u64, node: u32, what: String) {
        self.count += 1;
        if self.violations.len() < Self::KEEP {
            self.violations.push(Violation { at, node, what });
        }
    }
}

/// Every queue of `q` that is over its cap, as `(name, length, cap)`.
/// Suspicions have no cap of their own (one per remembered member at most,
/// so `members_cap` bounds them).
pub fn over_caps(q: &QueueLengths) -> impl Iterator<Item = (&'static str, usize, usize)> {
    [
        ("members", q.members, q.members_cap),
        ("gossip", q.gossip, q.gossip_cap),
        ("broadcasts", q.broadcasts, q.broadcasts_cap),
        ("events", q.events, q.events_cap),
        ("outgoing", q.outgoing, q.outgoing_cap),
        ("syncs", q.syncs, q.syncs_cap),
        ("suspicions", q.suspicions, q.members_cap),
    ]
    .into_iter()
    .filter(|&(_, len, cap)| len > cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_caps_names_each_full_queue() {
        let within = QueueLengths {
            members: 3,
            members_cap: 3,
            gossip_cap: 12,
            broadcasts_cap: 4,
            events_cap: 8,
            outgoing_cap: 16,
            syncs: 2,
            syncs_cap: 2,
            ..QueueLengths::default()
        };
        assert_eq!(over_caps(&within).count(), 0);
        let over = QueueLengths {
            gossip: 13,
            outgoing: 17,
            suspicions: 4,
            ..within
        };
        let names: Vec<_> = over_caps(&over).map(|(n, ..)| n).collect();
        assert_eq!(names, ["gossip", "outgoing", "suspicions"]);
    }
}
