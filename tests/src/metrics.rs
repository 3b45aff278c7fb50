//! Measurements taken while a simulation runs.

use std::collections::BTreeMap;

use serde::Serialize;

/// One crash whose detection is being timed.
#[derive(Clone, Debug, Default)]
pub struct Kill {
    /// The crashed node.
    pub node: u32,
    /// Its generation at the crash.
    pub generation: u32,
    /// Virtual time of the crash (µs).
    pub at: u64,
    /// First time anyone suspected it after the crash (µs).
    pub first_suspected: Option<u64>,
    /// When each observer declared it dead (µs).
    pub dead_at: BTreeMap<u32, u64>,
}

/// A live node declared dead or suspected by another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accusation {
    /// Virtual time, seconds.
    pub at_secs: f64,
    /// The node that declared it.
    pub observer: u32,
    /// The live node it declared.
    pub target: u32,
    /// The generation named (above the node's real one: a forged
    /// identity, whose death shadows the real process).
    pub generation: u32,
}

/// One point of the time series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// Virtual time, seconds.
    pub t: f64,
    /// Running nodes.
    pub up: usize,
    /// Share of ordered pairs of running nodes (x, y) where x holds y's
    /// current generation as alive or suspect (1.0 = converged).
    pub known: f64,
    /// Share of (survivor, crashed node) pairs where the survivor has
    /// declared the crashed node dead (`None` before the first crash).
    pub detected: Option<f64>,
    /// Highest Lifeguard health score among running nodes.
    pub max_health: u8,
}

/// A node's Lifeguard health score changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HealthChange {
    /// Virtual time, µs.
    pub at: u64,
    /// The node.
    pub node: u32,
    /// Its new score (0 when its process stops).
    pub health: u8,
}

/// Counters and records kept by the simulator.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// Crashes being timed, in crash order.
    pub kills: Vec<Kill>,
    /// Index of `kills` by (node, generation).
    pub kill_index: BTreeMap<(u32, u32), usize>,
    /// Running, reachable, unpaused nodes declared dead.
    pub false_positives: Vec<Accusation>,
    /// Running nodes declared dead while paused or cut off from the
    /// observer by a partition (expected, not counted as false positives).
    pub unreachable_deaths: u64,
    /// Suspicions of running, reachable, unpaused nodes.
    pub false_suspicions: u64,
    /// Running nodes that were not leaving, reported as left
    /// (`MemberLeft` about their identity or a later generation).
    pub false_departures: Vec<Accusation>,
    /// Every change of a node's Lifeguard health score, in time order.
    pub health_changes: Vec<HealthChange>,
    /// Highest health score any node reached.
    pub max_health: u8,
    /// Refutations made by nodes about themselves.
    pub refutations: u64,
    /// Datagrams handed to the network.
    pub datagrams: u64,
    /// Bytes handed to the network.
    pub bytes: u64,
    /// Datagrams lost on links.
    pub lost: u64,
    /// Datagrams dropped by partitions.
    pub partitioned: u64,
    /// Datagrams that reached a crashed or left node.
    pub undeliverable: u64,
    /// Inputs (datagrams, timeouts, commands) handled by nodes.
    pub inputs: u64,
    /// Time windows whose hosts ran on more than one thread (a diagnostic:
    /// it depends on the number of threads, unlike every other figure).
    pub parallel_windows: u64,
    /// First virtual time (µs) at which every running node knew every
    /// other running node, after the last start.
    pub converged_at: Option<u64>,
    /// First virtual time (µs) at which all the simulated nodes were
    /// running and each knew every other.
    pub first_converged_at: Option<u64>,
    /// The time series.
    pub samples: Vec<Sample>,
}

impl Metrics {
    /// Records a new health score of `node` at `at` (µs).
    pub fn note_health(&mut self, at: u64, node: u32, health: u8) {
        self.health_changes.push(HealthChange { at, node, health });
        self.max_health = self.max_health.max(health);
    }

    /// Highest health score any node held between `from` and `until` (µs,
    /// both included).
    pub fn max_health_between(&self, from: u64, until: u64) -> u8 {
        let mut at_from: BTreeMap<u32, u8> = BTreeMap::new();
        let mut max = 0;
        for c in &self.health_changes {
            if c.at > until {
                break;
            }
            if c.at < from {
                at_from.insert(c.node, c.health);
            } else {
                max = max.max(c.health);
            }
        }
        max.max(at_from.values().copied().max().unwrap_or(0))
    }
}

/// Percentiles of a set of durations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many values.
    pub count: usize,
    /// Median, seconds.
    pub p50: f64,
    /// 90th percentile, seconds.
    pub p90: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
    /// Largest, seconds.
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (µs), reported in seconds.
    pub fn of(values: &[u64]) -> Self {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut v = values.to_vec();
        v.sort_unstable();
        let rank = |p: f64| {
            let idx = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[idx] as f64 / 1e6
        };
        Percentiles {
            count: v.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: rank(1.0),
        }
    }
}

/// Detection of crashed nodes, summarized.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Detection {
    /// Crashes timed.
    pub crashes: usize,
    /// Crash to first suspicion by anyone, per crash.
    pub first_suspicion: Percentiles,
    /// Crash to first "dead" declaration by anyone, per crash.
    pub first_detection: Percentiles,
    /// Crash to "dead" at each survivor, per (crash, survivor).
    pub per_survivor: Percentiles,
    /// Crash to the last survivor's "dead", per crash fully disseminated.
    pub full_dissemination: Percentiles,
    /// (crash, survivor) pairs where the survivor never declared it dead.
    pub undetected: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let p = Percentiles::of(&[4_000_000, 1_000_000, 3_000_000, 2_000_000]);
        assert_eq!((p.p50, p.p99, p.max, p.count), (2.0, 4.0, 4.0, 4));
        assert_eq!(Percentiles::of(&[]).count, 0);
    }
}
