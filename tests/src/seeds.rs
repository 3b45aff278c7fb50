//! One scenario over a range of seeds: the key figures of each run, and
//! their mean, median and maximum (`simulate --seeds A-B`, the detector
//! tests).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::metrics::{Delays, Kind};
use crate::report::Report;

/// The key figures of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeedRow {
    /// Seed of the run.
    pub seed: u64,
    /// Crashes timed.
    pub crashes: usize,
    /// Crash to first suspicion by anyone, seconds (the slowest crash;
    /// `None`: no crash, or never suspected).
    pub first_suspicion_secs: Option<f64>,
    /// Crash to "dead" at the last survivor, seconds (the slowest crash
    /// fully detected; `None`: no crash, or some survivor never did).
    pub last_survivor_secs: Option<f64>,
    /// (crash, survivor) pairs never detected.
    pub undetected: usize,
    /// Symmetric partitions made.
    pub partitions: usize,
    /// Split to "every node has declared every node of the other side
    /// failed", seconds, for the first partition (`None`: no partition,
    /// or never before the heal).
    pub partition_declared_secs: Option<f64>,
    /// Median over cross-side pairs of split to first suspicion, seconds.
    pub partition_suspicion_p50_secs: Option<f64>,
    /// Median over cross-side pairs of split to `MemberFailed`, seconds.
    pub partition_declaration_p50_secs: Option<f64>,
    /// Cross-side pairs never declared failed before the heal.
    pub partition_undeclared: usize,
    /// Whether the first partition was healed within the run.
    pub healed: bool,
    /// Heal to full membership (every running node holds every running
    /// node alive), seconds, for the first partition (`None`: no heal, or
    /// not within the run).
    pub heal_secs: Option<f64>,
    /// Bytes sent per node per second in the steady state (`None`: never
    /// reached).
    pub steady_bytes_per_node_sec: Option<f64>,
    /// Of those, push-pull (`Sync`) bytes.
    pub steady_sync_bytes_per_node_sec: Option<f64>,
    /// Live, reachable, unpaused nodes declared dead.
    pub false_positives: usize,
    /// Suspicions of live, reachable, unpaused nodes.
    pub false_suspicions: u64,
    /// Every `MemberSuspected` event.
    pub suspicions: u64,
    /// False suspicions within 10 s after a heal.
    pub heal_suspicions: u64,
    /// Heal suspicions between nodes on the same side.
    pub heal_suspicions_same_side: u64,
    /// Trace hash of the run.
    pub trace_hash: String,
}

impl SeedRow {
    /// The key figures of `r`.
    pub fn of(r: &Report) -> Self {
        let d = &r.detection;
        let p = r.partitions.first();
        let p50 = |x: &Delays| (x.count > 0).then_some(x.p50);
        SeedRow {
            seed: r.seed,
            crashes: d.crashes,
            first_suspicion_secs: (d.first_suspicion.count > 0).then_some(d.first_suspicion.max),
            last_survivor_secs: (d.crashes > 0 && d.full_dissemination.count == d.crashes)
                .then_some(d.full_dissemination.max),
            undetected: d.undetected,
            partitions: r.partitions.len(),
            partition_declared_secs: p.and_then(|p| p.declared_at_secs),
            partition_suspicion_p50_secs: p.and_then(|p| p50(&p.first_suspicion)),
            partition_declaration_p50_secs: p.and_then(|p| p50(&p.declaration)),
            partition_undeclared: p.map_or(0, |p| p.undeclared),
            healed: p.is_some_and(|p| p.healed_at_secs.is_some()),
            heal_secs: p.and_then(|p| p.heal_secs),
            steady_bytes_per_node_sec: r.traffic.steady.as_ref().map(|t| t.bytes_per_node_sec),
            steady_sync_bytes_per_node_sec: r
                .traffic
                .steady
                .as_ref()
                .and_then(|t| t.kind(Kind::Sync))
                .map(|k| k.bytes_per_node_sec),
            false_positives: r.false_positives,
            false_suspicions: r.false_suspicions,
            suspicions: r.suspicions,
            heal_suspicions: r.heal_suspicions,
            heal_suspicions_same_side: r.heal_suspicions_same_side,
            trace_hash: r.trace_hash.clone(),
        }
    }
}

/// Mean, median and maximum of one figure over the seeds where it applies.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    /// Seeds where the figure applies (a crash or a partition happened).
    pub runs: usize,
    /// Of those, seeds where it never happened (undetected crash,
    /// undeclared partition); counted as infinite in `median` and `max`.
    pub never: usize,
    /// Mean over the seeds where it happened.
    pub mean: Option<f64>,
    /// Median (nearest rank) over the seeds where it applies.
    pub median: Option<f64>,
    /// Largest (`None` when it never happened in some seed, or no run).
    pub max: Option<f64>,
    /// Smallest over the seeds where it happened.
    pub min: Option<f64>,
}

impl Stat {
    /// The statistics of `values` (`None`: applies but never happened).
    pub fn of(values: &[Option<f64>]) -> Self {
        let mut v: Vec<f64> = values.iter().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        let never = values.len() - v.len();
        let nth = |k: usize| if k < v.len() { Some(v[k]) } else { None };
        let rank = |p: f64| {
            let n = values.len();
            (n > 0).then(|| ((p * n as f64).ceil() as usize).clamp(1, n) - 1)
        };
        Stat {
            runs: values.len(),
            never,
            mean: (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64),
            median: rank(0.5).and_then(nth),
            max: if never > 0 { None } else { v.last().copied() },
            min: v.first().copied(),
        }
    }
}

/// Statistics of every key figure.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Aggregate {
    /// Crash to first suspicion.
    pub first_suspicion_secs: Stat,
    /// Crash to the last survivor's "dead".
    pub last_survivor_secs: Stat,
    /// Split to "declared by every node on both sides".
    pub partition_declared_secs: Stat,
    /// Per-seed median of split to first cross-side suspicion.
    pub partition_suspicion_p50_secs: Stat,
    /// Per-seed median of split to cross-side `MemberFailed`.
    pub partition_declaration_p50_secs: Stat,
    /// False positives.
    pub false_positives: Stat,
    /// False suspicions.
    pub false_suspicions: Stat,
    /// All suspicions.
    pub suspicions: Stat,
    /// Heal suspicions.
    pub heal_suspicions: Stat,
    /// Heal to full membership, over the seeds whose partition healed.
    pub heal_secs: Stat,
    /// Steady-state bytes per node per second.
    pub steady_bytes_per_node_sec: Stat,
    /// Steady-state push-pull bytes per node per second.
    pub steady_sync_bytes_per_node_sec: Stat,
}

/// One scenario over several seeds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SeedsSummary {
    /// Scenario name.
    pub name: String,
    /// Nodes simulated.
    pub nodes: usize,
    /// Virtual seconds per run.
    pub virtual_secs: f64,
    /// Loss probability of the default link.
    pub loss: f64,
    /// Lifeguard on or off.
    pub lifeguard: bool,
    /// One row per seed, in the order run.
    pub seeds: Vec<SeedRow>,
    /// Statistics over the seeds.
    pub aggregate: Aggregate,
    /// Split to `MemberFailed` of every measured cross-side pair of the
    /// first partition, pooled over the seeds.
    pub partition_declaration: Delays,
    /// Split to first suspicion of every such pair, pooled.
    pub partition_first_suspicion: Delays,
    /// First suspicion to `MemberFailed` of every such pair, pooled.
    pub partition_suspicion_to_declaration: Delays,
    /// Cross-side pairs never declared failed, summed over the seeds.
    pub partition_undeclared: usize,
    #[serde(skip)]
    declaration_us: Vec<u64>,
    #[serde(skip)]
    suspicion_us: Vec<u64>,
    #[serde(skip)]
    between_us: Vec<u64>,
}

impl SeedsSummary {
    /// Adds the run `r` (call in seed order), and updates the statistics.
    pub fn add(&mut self, r: &Report) {
        if self.seeds.is_empty() {
            self.name = r.name.clone();
            self.nodes = r.nodes;
            self.virtual_secs = r.virtual_secs;
            self.loss = r.loss;
            self.lifeguard = r.lifeguard;
        }
        self.seeds.push(SeedRow::of(r));
        if let Some(p) = r.partitions.first() {
            self.declaration_us.extend(&p.declaration_us);
            self.suspicion_us.extend(&p.suspicion_us);
            self.between_us.extend(&p.suspicion_to_declaration_us);
            self.partition_undeclared += p.undeclared;
            self.partition_declaration = Delays::of(&self.declaration_us);
            self.partition_first_suspicion = Delays::of(&self.suspicion_us);
            self.partition_suspicion_to_declaration = Delays::of(&self.between_us);
        }
        self.aggregate = self.aggregate();
    }

    fn aggregate(&self) -> Aggregate {
        let rows = &self.seeds;
        let of = |applies: &dyn Fn(&SeedRow) -> bool, f: &dyn Fn(&SeedRow) -> Option<f64>| {
            let v: Vec<Option<f64>> = rows.iter().filter(|r| applies(r)).map(f).collect();
            Stat::of(&v)
        };
        let crash = |r: &SeedRow| r.crashes > 0;
        let split = |r: &SeedRow| r.partitions > 0;
        let all = |_: &SeedRow| true;
        Aggregate {
            first_suspicion_secs: of(&crash, &|r| r.first_suspicion_secs),
            last_survivor_secs: of(&crash, &|r| r.last_survivor_secs),
            partition_declared_secs: of(&split, &|r| r.partition_declared_secs),
            partition_suspicion_p50_secs: of(&split, &|r| r.partition_suspicion_p50_secs),
            partition_declaration_p50_secs: of(&split, &|r| r.partition_declaration_p50_secs),
            false_positives: of(&all, &|r| Some(r.false_positives as f64)),
            false_suspicions: of(&all, &|r| Some(r.false_suspicions as f64)),
            suspicions: of(&all, &|r| Some(r.suspicions as f64)),
            heal_suspicions: of(&all, &|r| Some(r.heal_suspicions as f64)),
            heal_secs: of(&|r| r.healed, &|r| r.heal_secs),
            steady_bytes_per_node_sec: of(&|r| r.steady_bytes_per_node_sec.is_some(), &|r| {
                r.steady_bytes_per_node_sec
            }),
            steady_sync_bytes_per_node_sec: of(
                &|r| r.steady_sync_bytes_per_node_sec.is_some(),
                &|r| r.steady_sync_bytes_per_node_sec,
            ),
        }
    }

    /// The header of [`SeedsSummary::row_line`]'s table.
    pub fn header() -> String {
        format!(
            "{:>6} {:>10} {:>10} {:>10} {:>9} {:>9} {:>6} {:>10} {:>6} {:>9} {:>8} {:>9} {:>8}  {}",
            "seed",
            "first-susp",
            "last-dead",
            "part-decl",
            "susp-p50",
            "decl-p50",
            "fp",
            "false-susp",
            "susp",
            "heal-susp",
            "heal",
            "steady-B/s",
            "sync-B/s",
            "trace"
        )
    }

    /// One line of the table: seconds, or `-` (no crash or partition), or
    /// `never`.
    pub fn row_line(r: &SeedRow) -> String {
        let crash = r.crashes > 0;
        let split = r.partitions > 0;
        format!(
            "{:>6} {:>10} {:>10} {:>10} {:>9} {:>9} {:>6} {:>10} {:>6} {:>9} {:>8} {:>9} {:>8}  {}",
            r.seed,
            secs(crash, r.first_suspicion_secs),
            secs(crash, r.last_survivor_secs),
            secs(split, r.partition_declared_secs),
            secs(split, r.partition_suspicion_p50_secs),
            secs(split, r.partition_declaration_p50_secs),
            r.false_positives,
            r.false_suspicions,
            r.suspicions,
            r.heal_suspicions,
            secs(r.healed, r.heal_secs),
            rate(r.steady_bytes_per_node_sec),
            rate(r.steady_sync_bytes_per_node_sec),
            r.trace_hash
        )
    }

    /// The aggregate lines (mean, median, max) and the pooled partition
    /// distributions.
    pub fn aggregate_lines(&self) -> String {
        let a = &self.aggregate;
        let mut s = String::new();
        type Pick = fn(&Stat) -> Option<f64>;
        let picks: [(&str, Pick); 3] = [
            ("mean", |s| s.mean),
            ("median", |s| s.median),
            ("max", |s| s.max),
        ];
        for (label, pick) in picks {
            let t = |st: &Stat| stat_cell(st, pick);
            let n = |st: &Stat| count_cell(st, pick);
            let _ = writeln!(
                s,
                "{:>6} {:>10} {:>10} {:>10} {:>9} {:>9} {:>6} {:>10} {:>6} {:>9} {:>8} {:>9} {:>8}",
                label,
                t(&a.first_suspicion_secs),
                t(&a.last_survivor_secs),
                t(&a.partition_declared_secs),
                t(&a.partition_suspicion_p50_secs),
                t(&a.partition_declaration_p50_secs),
                n(&a.false_positives),
                n(&a.false_suspicions),
                n(&a.suspicions),
                n(&a.heal_suspicions),
                t(&a.heal_secs),
                n(&a.steady_bytes_per_node_sec),
                n(&a.steady_sync_bytes_per_node_sec),
            );
        }
        let never = [
            ("crash never suspected", &a.first_suspicion_secs),
            ("crash undetected by some survivor", &a.last_survivor_secs),
            (
                "partition never declared by all",
                &a.partition_declared_secs,
            ),
            ("heal without full membership at the end", &a.heal_secs),
        ];
        for (what, st) in never {
            if st.never > 0 {
                let _ = writeln!(
                    s,
                    "{what}: {} of {} seeds (not in the mean)",
                    st.never, st.runs
                );
            }
        }
        if a.partition_declared_secs.runs > 0 {
            let d = &self.partition_declaration;
            let f = &self.partition_first_suspicion;
            let _ = writeln!(s, "cross-side pairs, all seeds pooled (from the split):");
            let _ = writeln!(s, "  declared failed   {}", d.line());
            let _ = writeln!(s, "  per 1 s bin       {:?}", d.histogram);
            let _ = writeln!(s, "  first suspicion   {}", f.line());
            let _ = writeln!(s, "  per 1 s bin       {:?}", f.histogram);
            let b = &self.partition_suspicion_to_declaration;
            let _ = writeln!(s, "  suspicion to dead {}", b.line());
            let _ = writeln!(s, "  per 1 s bin       {:?}", b.histogram);
            let _ = writeln!(s, "  never declared    {} pairs", self.partition_undeclared);
        }
        s
    }

    /// Writes the summary as pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// A rate with one decimal, `-` when absent.
fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// Seconds with two decimals, `-` when not applicable, `never` when absent.
fn secs(applies: bool, v: Option<f64>) -> String {
    match (applies, v) {
        (false, _) => "-".to_string(),
        (true, None) => "never".to_string(),
        (true, Some(v)) => format!("{v:.2}"),
    }
}

fn stat_cell(st: &Stat, pick: fn(&Stat) -> Option<f64>) -> String {
    if st.runs == 0 {
        return "-".to_string();
    }
    pick(st).map_or_else(|| "never".to_string(), |v| format!("{v:.2}"))
}

fn count_cell(st: &Stat, pick: fn(&Stat) -> Option<f64>) -> String {
    pick(st).map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// Parses `A-B` (inclusive) or a single seed `A`.
pub fn parse_range(s: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let num = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|e| format!("--seeds {s}: {e}"))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(s)?, num(s)?),
    };
    if a > b {
        return Err(format!("--seeds {s}: {a} is above {b}"));
    }
    Ok(a..=b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_counts_never_as_infinite() {
        let s = Stat::of(&[Some(3.0), None, Some(1.0), Some(2.0)]);
        assert_eq!((s.runs, s.never), (4, 1));
        assert_eq!(
            (s.mean, s.median, s.max, s.min),
            (Some(2.0), Some(2.0), None, Some(1.0))
        );
        let s = Stat::of(&[Some(3.0), None, None]);
        assert_eq!((s.median, s.max), (None, None));
        assert_eq!(Stat::of(&[]).mean, None);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("1-20"), Ok(1..=20));
        assert_eq!(parse_range("7"), Ok(7..=7));
        assert!(parse_range("5-2").is_err());
        assert!(parse_range("x-2").is_err());
    }
}
