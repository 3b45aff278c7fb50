//! Measurements taken while a simulation runs.

use std::collections::BTreeMap;

use serde::Serialize;
use swim_core::wire::{MessageType, PROTOCOL_VERSION};

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
    /// The target's last pause, if it ever paused.
    pub after_pause: Option<AfterPause>,
}

/// The last pause of an accused node, seen from the accusation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AfterPause {
    /// How long the pause lasted, seconds.
    pub pause_secs: f64,
    /// Time from the end of the pause to the accusation, seconds.
    pub since_resume_secs: f64,
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
    /// Suspicions of running, reachable, unpaused nodes (heal suspicions
    /// included).
    pub false_suspicions: u64,
    /// Every `MemberSuspected` event, whoever it is about.
    pub suspicions: u64,
    /// The false suspicions made within [`HEAL_WINDOW`] after a heal (a
    /// subset of `false_suspicions`).
    pub heal_suspicions: u64,
    /// The heal suspicions whose observer and target were on the same side
    /// of the healed symmetric partition (a subset of `heal_suspicions`).
    pub heal_suspicions_same_side: u64,
    /// The first heal suspicions.
    pub heal_suspicion_list: Vec<Accusation>,
    /// Time (µs) of the last heal, and the index in `partitions` of the
    /// partition it healed, if recorded.
    pub last_heal: Option<(u64, Option<usize>)>,
    /// Symmetric partitions, in the order they were made.
    pub partitions: Vec<PartitionRecord>,
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
    /// Traffic sent before [`Metrics::steady_from`] (all of it if unset).
    pub traffic_join: Traffic,
    /// Traffic sent from [`Metrics::steady_from`] on.
    pub traffic_steady: Traffic,
    /// Virtual time (µs) from which sent traffic counts as steady state:
    /// set at the start (`--steady-from`) or when the running nodes first
    /// converge after the join plan's last start, plus the settle margin.
    pub steady_from: Option<u64>,
    /// First virtual time (µs) at which the running nodes converged at or
    /// after the join plan's last start.
    pub joined_at: Option<u64>,
}

/// What kind of datagram, read from its header alone (the message type
/// byte after the version and the cluster tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A direct probe.
    Ping,
    /// A probe's answer (or a relayed one).
    Ack,
    /// Lifeguard's negative answer of a ping-req helper.
    Nack,
    /// A request to probe on the sender's behalf.
    PingReq,
    /// Records only (gossip fan-out).
    Gossip,
    /// A push-pull chunk (anti-entropy repairs, whole or limited to some
    /// digest buckets, and the join's state transfer).
    Sync,
    /// An application payload for one node.
    Direct,
    /// A digest of a view (anti-entropy, before any transfer).
    Digest,
    /// Anything whose header does not decode (another version or cluster
    /// tag, an unknown type, too short).
    Other,
}

impl Kind {
    /// Every kind, in the order of [`Traffic::by_kind`].
    pub const ALL: [Kind; 9] = [
        Kind::Ping,
        Kind::Ack,
        Kind::Nack,
        Kind::PingReq,
        Kind::Gossip,
        Kind::Sync,
        Kind::Direct,
        Kind::Digest,
        Kind::Other,
    ];

    /// The kind of `datagram` in a cluster tagged `cluster_tag`, from its
    /// first six bytes only (nothing else is decoded).
    pub fn of(datagram: &[u8], cluster_tag: u32) -> Kind {
        let [version, t0, t1, t2, t3, kind, ..] = *datagram else {
            return Kind::Other;
        };
        if version != PROTOCOL_VERSION || u32::from_le_bytes([t0, t1, t2, t3]) != cluster_tag {
            return Kind::Other;
        }
        match kind {
            k if k == MessageType::Ping as u8 => Kind::Ping,
            k if k == MessageType::Ack as u8 => Kind::Ack,
            k if k == MessageType::Nack as u8 => Kind::Nack,
            k if k == MessageType::PingReq as u8 => Kind::PingReq,
            k if k == MessageType::Gossip as u8 => Kind::Gossip,
            k if k == MessageType::Sync as u8 => Kind::Sync,
            k if k == MessageType::SyncBuckets as u8 => Kind::Sync,
            k if k == MessageType::Direct as u8 => Kind::Direct,
            k if k == MessageType::Digest as u8 => Kind::Digest,
            _ => Kind::Other,
        }
    }

    /// Its name in reports (`ping`, `ack`, `nack`, `ping-req`, `gossip`,
    /// `sync`, `direct`, `digest`, `other`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::Ack => "ack",
            Kind::Nack => "nack",
            Kind::PingReq => "ping-req",
            Kind::Gossip => "gossip",
            Kind::Sync => "sync",
            Kind::Direct => "direct",
            Kind::Digest => "digest",
            Kind::Other => "other",
        }
    }
}

/// Datagrams and bytes sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    /// Datagrams.
    pub datagrams: u64,
    /// Bytes (payload of the datagrams, as handed to the network).
    pub bytes: u64,
}

/// Sent traffic by kind of datagram.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Per kind, in the order of [`Kind::ALL`].
    pub by_kind: [Count; 9],
}

impl Traffic {
    /// Counts one datagram of `len` bytes and kind `kind`.
    pub fn add(&mut self, kind: Kind, len: usize) {
        let c = &mut self.by_kind[kind as usize];
        c.datagrams += 1;
        c.bytes += len as u64;
    }

    /// All kinds together.
    pub fn total(&self) -> Count {
        self.by_kind.iter().fold(Count::default(), |a, c| Count {
            datagrams: a.datagrams + c.datagrams,
            bytes: a.bytes + c.bytes,
        })
    }

    /// The counts of `kind`.
    pub fn of(&self, kind: Kind) -> Count {
        self.by_kind[kind as usize]
    }
}

/// How long after a heal a false suspicion counts as a heal suspicion.
pub const HEAL_WINDOW: u64 = 10_000_000;

/// How often, at most, the simulator checks whether a healed cluster has
/// full membership again (µs): the resolution of
/// [`PartitionRecord::rejoined_at`].
pub const HEAL_CHECK_EVERY: u64 = 100_000;

/// How many heal suspicions are kept in [`Metrics::heal_suspicion_list`].
pub const HEAL_SUSPICIONS_KEPT: usize = 50;

/// A symmetric partition and who noticed it, when: every (observer,
/// target) pair on opposite sides, both running the generation they ran
/// at the event, while the partition held.
#[derive(Clone, Debug, Default)]
pub struct PartitionRecord {
    /// Identifier of the partition (`Action::Partition`).
    pub id: u32,
    /// Virtual time of the split (µs).
    pub at: u64,
    /// Virtual time of the heal (µs), once healed (or replaced).
    pub healed_at: Option<u64>,
    /// First virtual time (µs) after the heal at which every running node
    /// held every other running node's current generation as alive (full
    /// membership again), checked at most every [`HEAL_CHECK_EVERY`].
    pub rejoined_at: Option<u64>,
    /// The two sides, sorted.
    pub sides: [Vec<u32>; 2],
    /// First `MemberSuspected` of each (observer, target) cross-side pair
    /// after the split (µs).
    pub suspected: BTreeMap<(u32, u32), u64>,
    /// First `MemberFailed` of each (observer, target) cross-side pair
    /// after the split (µs).
    pub failed: BTreeMap<(u32, u32), u64>,
}

impl PartitionRecord {
    /// Which side `node` is on (0 or 1), if any.
    pub fn side_of(&self, node: u32) -> Option<usize> {
        (0..2).find(|&s| self.sides[s].binary_search(&node).is_ok())
    }

    /// True if `a` and `b` are on opposite sides.
    pub fn across(&self, a: u32, b: u32) -> bool {
        matches!((self.side_of(a), self.side_of(b)), (Some(x), Some(y)) if x != y)
    }
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

/// Distribution of a set of delays, with a histogram in 1 s bins.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Delays {
    /// How many values.
    pub count: usize,
    /// Smallest, seconds.
    pub min: f64,
    /// Mean, seconds.
    pub mean: f64,
    /// Median (nearest rank), seconds.
    pub p50: f64,
    /// 90th percentile (nearest rank), seconds.
    pub p90: f64,
    /// Largest, seconds.
    pub max: f64,
    /// `histogram[k]`: values in `[k s, k+1 s)`; up to the largest value.
    pub histogram: Vec<u64>,
}

impl Delays {
    /// Distribution of `values` (µs), reported in seconds.
    pub fn of(values: &[u64]) -> Self {
        if values.is_empty() {
            return Delays::default();
        }
        let mut v = values.to_vec();
        v.sort_unstable();
        let rank = |p: f64| {
            let idx = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[idx] as f64 / 1e6
        };
        let last = v[v.len() - 1];
        let mut histogram = vec![0; (last / 1_000_000) as usize + 1];
        for &x in &v {
            histogram[(x / 1_000_000) as usize] += 1;
        }
        Delays {
            count: v.len(),
            min: v[0] as f64 / 1e6,
            mean: v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64 / 1e6,
            p50: rank(0.50),
            p90: rank(0.90),
            max: last as f64 / 1e6,
            histogram,
        }
    }

    /// One line: `min / p50 / p90 / max (n)`, or `-` when empty.
    pub fn line(&self) -> String {
        if self.count == 0 {
            return "-".to_string();
        }
        format!(
            "min {:.2} s  p50 {:.2} s  p90 {:.2} s  max {:.2} s  (n={})",
            self.min, self.p50, self.p90, self.max, self.count
        )
    }
}

/// How a symmetric partition was noticed, summarized over the cross-side
/// (observer, target) pairs of nodes that ran from the split to the end of
/// the run (or of the measurement). Delays are from the split.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PartitionDetection {
    /// Identifier of the partition.
    pub id: u32,
    /// Virtual time of the split, seconds.
    pub split_at_secs: f64,
    /// Virtual time of the heal, seconds (`None`: still split).
    pub healed_at_secs: Option<f64>,
    /// Heal time: from the heal until every running node held every other
    /// running node's current generation as alive, seconds (`None`: not
    /// healed, or not within the run). Resolution [`HEAL_CHECK_EVERY`].
    pub heal_secs: Option<f64>,
    /// Nodes on each side (all, running or not).
    pub sides: [usize; 2],
    /// Cross-side (observer, target) pairs measured, both directions.
    pub pairs: usize,
    /// Time from the split until every measured node had declared every
    /// measured node of the other side failed ("partition declared at";
    /// `None`: some pair never was, before the heal).
    pub declared_at_secs: Option<f64>,
    /// The same per side: side `s`'s nodes declared every node of the
    /// other side failed.
    pub side_declared_at_secs: [Option<f64>; 2],
    /// Pairs whose observer never declared the target failed before the
    /// heal.
    pub undeclared: usize,
    /// Pairs whose observer never suspected the target before the heal.
    pub unsuspected: usize,
    /// Split to `MemberFailed`, per declared pair.
    pub declaration: Delays,
    /// Split to the first `MemberSuspected`, per suspected pair.
    pub first_suspicion: Delays,
    /// First suspicion to `MemberFailed`, per pair with both (the
    /// suspicion timeout actually used: its floor with enough
    /// confirmations, more with fewer).
    pub suspicion_to_declaration: Delays,
    /// Split to `MemberFailed` per declared pair (µs), unsorted; kept out
    /// of the JSON (the multi-seed summary pools them).
    #[serde(skip)]
    pub declaration_us: Vec<u64>,
    /// Split to first suspicion per suspected pair (µs), likewise.
    #[serde(skip)]
    pub suspicion_us: Vec<u64>,
    /// First suspicion to `MemberFailed` per pair with both (µs), likewise.
    #[serde(skip)]
    pub suspicion_to_declaration_us: Vec<u64>,
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

    #[test]
    fn delays_and_histogram() {
        let d = Delays::of(&[4_500_000, 400_000, 1_000_000, 1_999_999, 4_000_000]);
        assert_eq!((d.count, d.min, d.p50, d.max), (5, 0.4, 1.999999, 4.5));
        assert_eq!(d.p90, 4.5);
        assert_eq!(d.histogram, vec![1, 2, 0, 0, 2]);
        assert!((d.mean - 2.379_999_8).abs() < 1e-9, "{}", d.mean);
        assert_eq!(Delays::of(&[]).line(), "-");
    }

    #[test]
    fn kind_from_the_header() {
        let tag = 0x811c_9dc5u32.to_le_bytes();
        let d = |version: u8, tag: [u8; 4], kind: u8| {
            let mut v = vec![version];
            v.extend(tag);
            v.extend([kind, 0, 0]);
            v
        };
        let wire = [
            Kind::Ping,
            Kind::Ack,
            Kind::PingReq,
            Kind::Nack,
            Kind::Gossip,
            Kind::Sync,
            Kind::Direct,
        ];
        for (byte, kind) in (1..=7).zip(wire) {
            assert_eq!(Kind::of(&d(PROTOCOL_VERSION, tag, byte), 0x811c_9dc5), kind);
        }
        assert_eq!(
            Kind::of(&d(PROTOCOL_VERSION, tag, 8), 0x811c_9dc5),
            Kind::Digest
        );
        assert_eq!(
            Kind::of(&d(PROTOCOL_VERSION, tag, 9), 0x811c_9dc5),
            Kind::Sync
        );
        assert_eq!(
            Kind::of(&d(PROTOCOL_VERSION, tag, 10), 0x811c_9dc5),
            Kind::Other
        );
        assert_eq!(Kind::of(&d(PROTOCOL_VERSION, tag, 6), 7), Kind::Other);
        assert_eq!(Kind::of(&d(2, tag, 6), 0x811c_9dc5), Kind::Other);
        assert_eq!(
            Kind::of(&[PROTOCOL_VERSION, 1, 2], 0x811c_9dc5),
            Kind::Other
        );
        let mut t = Traffic::default();
        t.add(Kind::Sync, 100);
        t.add(Kind::Ping, 20);
        t.add(Kind::Sync, 50);
        assert_eq!(
            t.of(Kind::Sync),
            Count {
                datagrams: 2,
                bytes: 150
            }
        );
        assert_eq!(
            t.total(),
            Count {
                datagrams: 3,
                bytes: 170
            }
        );
    }

    #[test]
    fn sides_of_a_partition() {
        let p = PartitionRecord {
            sides: [vec![0, 1, 2], vec![3, 4]],
            ..PartitionRecord::default()
        };
        assert_eq!(
            (p.side_of(1), p.side_of(4), p.side_of(9)),
            (Some(0), Some(1), None)
        );
        assert!(p.across(0, 4) && p.across(3, 2));
        assert!(!p.across(0, 1) && !p.across(3, 4) && !p.across(0, 9));
    }
}
