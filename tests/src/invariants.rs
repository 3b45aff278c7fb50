//! Safety properties checked after every input of every node.

use std::collections::BTreeMap;

use serde::Serialize;

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
    /// Highest incarnation each (node, generation) ever held itself, or
    /// that the adversary claimed for it in a forged record (holding a
    /// forged incarnation is not the protocol inventing one).
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
