//! What a run measured: a serializable report, a text summary and an SVG
//! plot of convergence and detection over virtual time.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::adversary::AdversaryReport;
use crate::invariants::Violation;
use crate::metrics::{Accusation, Detection, Kind, PartitionDetection, Sample, Traffic};
use crate::scenario::Scenario;
use crate::sim::Simulator;

/// Everything measured in one run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Scenario name.
    pub name: String,
    /// Nodes simulated.
    pub nodes: usize,
    /// Seed.
    pub seed: u64,
    /// Virtual seconds simulated.
    pub virtual_secs: f64,
    /// Wall-clock seconds the run took.
    pub wall_secs: f64,
    /// Threads the simulator used.
    pub threads: usize,
    /// Time windows whose nodes ran on more than one thread (a diagnostic
    /// that depends on the number of threads).
    pub parallel_windows: u64,
    /// Inputs handled by all nodes (datagrams, timeouts, commands).
    pub inputs: u64,
    /// Lifeguard on or off.
    pub lifeguard: bool,
    /// Loss probability of the default link.
    pub loss: f64,
    /// Hash of the whole trace, hex.
    pub trace_hash: String,
    /// When every running node first knew every other after the last
    /// start (virtual seconds), if it happened.
    pub converged_at_secs: Option<f64>,
    /// When all the nodes first ran and knew each other (virtual seconds).
    pub first_converged_at_secs: Option<f64>,
    /// Share of known pairs of running nodes at the end.
    pub known_at_end: f64,
    /// Running nodes at the end.
    pub up_at_end: usize,
    /// Detection of crashed nodes.
    pub detection: Detection,
    /// Live, reachable, unpaused nodes declared dead.
    pub false_positives: usize,
    /// The first of them.
    pub false_positive_list: Vec<Accusation>,
    /// Suspicions of live, reachable, unpaused nodes (heal suspicions
    /// included).
    pub false_suspicions: u64,
    /// Every `MemberSuspected` event, whoever it was about.
    pub suspicions: u64,
    /// False suspicions made within 10 s after a heal
    /// ([`crate::metrics::HEAL_WINDOW`]; included in `false_suspicions`).
    pub heal_suspicions: u64,
    /// Heal suspicions whose observer and target were on the same side of
    /// the healed partition (included in `heal_suspicions`).
    pub heal_suspicions_same_side: u64,
    /// The first heal suspicions.
    pub heal_suspicion_list: Vec<Accusation>,
    /// How each symmetric partition was noticed across it.
    pub partitions: Vec<PartitionDetection>,
    /// Running nodes, not leaving, reported as left.
    pub false_departures: usize,
    /// The first of them.
    pub false_departure_list: Vec<Accusation>,
    /// Highest Lifeguard health score any node reached (0 = healthy).
    pub max_health: u8,
    /// What the adversary did and caused (`None`: no attack scheduled).
    pub adversary: Option<AdversaryReport>,
    /// Live nodes declared dead while paused or partitioned away.
    pub unreachable_deaths: u64,
    /// Refutations by nodes of accusations against themselves.
    pub refutations: u64,
    /// Datagrams sent per node per virtual second.
    pub datagrams_per_node_sec: f64,
    /// Bytes sent per node per virtual second.
    pub bytes_per_node_sec: f64,
    /// Sent traffic split into the join phase and the steady state, by
    /// kind of datagram.
    pub traffic: TrafficReport,
    /// Datagrams lost on links.
    pub lost: u64,
    /// Datagrams dropped by partitions.
    pub partitioned: u64,
    /// Invariant violations found (`None`: checks were off).
    pub violations: Option<u64>,
    /// The first violations.
    pub violation_list: Vec<Violation>,
    /// Heap bytes per node at the end (whole simulator divided by the node
    /// count), when measured by the `simulate` command.
    pub heap_bytes_per_node: Option<u64>,
    /// Time series.
    pub samples: Vec<Sample>,
}

impl Report {
    /// Collects the report of `sim` after running `scenario`.
    pub fn new(scenario: &Scenario, sim: &Simulator, wall: Duration) -> Self {
        let m = sim.metrics();
        let secs = sim.now().as_secs_f64().max(1e-9);
        let per_node = scenario.nodes.max(1) as f64 * secs;
        let up = sim.up() as u64;
        let inv = sim.invariants();
        Report {
            name: scenario.name.clone(),
            nodes: scenario.nodes,
            seed: scenario.seed,
            virtual_secs: secs,
            wall_secs: wall.as_secs_f64(),
            threads: sim.threads(),
            parallel_windows: m.parallel_windows,
            inputs: m.inputs,
            lifeguard: scenario.config.lifeguard,
            loss: scenario.link.loss,
            trace_hash: format!("{:016x}", sim.trace_hash()),
            converged_at_secs: m.converged_at.map(|t| t as f64 / 1e6),
            first_converged_at_secs: m.first_converged_at.map(|t| t as f64 / 1e6),
            known_at_end: if up < 2 {
                1.0
            } else {
                sim.known_pairs() as f64 / (up * (up - 1)) as f64
            },
            up_at_end: sim.up(),
            detection: sim.detection(),
            false_positives: m.false_positives.len(),
            false_positive_list: m.false_positives.iter().take(50).cloned().collect(),
            false_suspicions: m.false_suspicions,
            suspicions: m.suspicions,
            heal_suspicions: m.heal_suspicions,
            heal_suspicions_same_side: m.heal_suspicions_same_side,
            heal_suspicion_list: m.heal_suspicion_list.clone(),
            partitions: sim.partition_detection(),
            false_departures: m.false_departures.len(),
            false_departure_list: m.false_departures.iter().take(50).cloned().collect(),
            max_health: m.max_health,
            adversary: sim.adversary().is_active().then(|| {
                let mut a = sim.adversary().report();
                (a.foreign_members_at_end, a.foreign_active_at_end) = sim.foreign_members();
                a.members_refused = sim.counter_sum(|c| c.members_refused);
                a
            }),
            unreachable_deaths: m.unreachable_deaths,
            refutations: m.refutations,
            datagrams_per_node_sec: m.datagrams as f64 / per_node,
            bytes_per_node_sec: m.bytes as f64 / per_node,
            traffic: TrafficReport::new(scenario, sim),
            lost: m.lost,
            partitioned: m.partitioned,
            violations: inv.enabled.then_some(inv.count),
            violation_list: inv.violations.clone(),
            heap_bytes_per_node: None,
            samples: m.samples.clone(),
        }
    }

    /// A plain-text table of the main figures.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let opt = |v: Option<f64>| v.map_or_else(|| "never".to_string(), |v| format!("{v:.3} s"));
        let pct = |p: &crate::metrics::Percentiles| {
            if p.count == 0 {
                "-".to_string()
            } else {
                format!(
                    "p50 {:.2} s  p99 {:.2} s  max {:.2} s  (n={})",
                    p.p50, p.p99, p.max, p.count
                )
            }
        };
        let rows: Vec<(&str, String)> = vec![
            ("scenario", self.name.clone()),
            ("nodes / seed", format!("{} / {}", self.nodes, self.seed)),
            ("virtual time", format!("{:.1} s", self.virtual_secs)),
            (
                "wall time",
                format!(
                    "{:.2} s on {} thread{} ({} inputs)",
                    self.wall_secs,
                    self.threads,
                    if self.threads == 1 { "" } else { "s" },
                    self.inputs
                ),
            ),
            (
                "lifeguard / link loss",
                format!("{} / {:.1}%", self.lifeguard, self.loss * 100.0),
            ),
            (
                "full membership (all n) at",
                opt(self.first_converged_at_secs),
            ),
            ("running nodes converged at", opt(self.converged_at_secs)),
            (
                "known pairs at end",
                format!(
                    "{:.4}% of {} running",
                    self.known_at_end * 100.0,
                    self.up_at_end
                ),
            ),
            ("crashes timed", self.detection.crashes.to_string()),
            ("first suspicion", pct(&self.detection.first_suspicion)),
            ("first detection", pct(&self.detection.first_detection)),
            ("detection per survivor", pct(&self.detection.per_survivor)),
            (
                "full dissemination",
                pct(&self.detection.full_dissemination),
            ),
            ("undetected pairs", self.detection.undetected.to_string()),
            ("false positives", self.false_positives.to_string()),
            ("false suspicions", self.false_suspicions.to_string()),
            (
                "heal suspicions",
                format!(
                    "{} ({} same side) within 10 s of a heal",
                    self.heal_suspicions, self.heal_suspicions_same_side
                ),
            ),
            ("suspicions (all)", self.suspicions.to_string()),
            ("false departures", self.false_departures.to_string()),
            ("max Lifeguard health", self.max_health.to_string()),
            (
                "unreachable declared dead",
                self.unreachable_deaths.to_string(),
            ),
            ("refutations", self.refutations.to_string()),
            (
                "traffic per node",
                format!(
                    "{:.2} datagrams/s, {:.0} B/s",
                    self.datagrams_per_node_sec, self.bytes_per_node_sec
                ),
            ),
            (
                "steady state from",
                self.traffic.steady_from_secs.map_or_else(
                    || "never (the running nodes never converged)".to_string(),
                    |t| format!("{t:.3} s ({})", self.traffic.steady_rule),
                ),
            ),
            (
                "lost / partitioned",
                format!("{} / {}", self.lost, self.partitioned),
            ),
            (
                "heap per node",
                self.heap_bytes_per_node
                    .map_or_else(|| "-".to_string(), |b| format!("{b} B")),
            ),
            (
                "invariant violations",
                self.violations
                    .map_or_else(|| "not checked".to_string(), |v| v.to_string()),
            ),
            ("trace hash", self.trace_hash.clone()),
        ];
        let mut rows = rows;
        let at = rows.iter().position(|(k, _)| *k == "lost / partitioned");
        let at = at.unwrap_or(rows.len());
        let phases = [
            ("join traffic per node", &self.traffic.join),
            ("steady traffic per node", &self.traffic.steady),
        ];
        let traffic_rows: Vec<_> = phases
            .into_iter()
            .flat_map(|(name, phase)| phase_rows(name, phase.as_ref()))
            .collect();
        rows.splice(at..at, traffic_rows);
        let at = rows.iter().position(|(k, _)| *k == "undetected pairs");
        let at = at.map_or(rows.len(), |i| i + 1);
        let partition_rows: Vec<_> = self.partitions.iter().flat_map(partition_rows).collect();
        rows.splice(at..at, partition_rows);
        if let Some(a) = &self.adversary {
            rows.extend(adversary_rows(a));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in rows {
            let _ = writeln!(s, "{k:<width$}  {v}");
        }
        s
    }

    /// Writes the report as pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Plots known member pairs and crash detection (percent) over virtual
    /// time as an SVG at `path`.
    pub fn write_svg(&self, path: &Path) -> Result<(), String> {
        use plotters::prelude::*;
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let x_max = self.samples.last().map_or(1.0, |s| s.t).max(1.0);
        let title = format!("{}: {} nodes, seed {}", self.name, self.nodes, self.seed);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..x_max, 0.0..100.5)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("virtual time (s)")
            .y_desc("%")
            .draw()
            .map_err(|e| err(&e))?;
        let known = self.samples.iter().map(|s| (s.t, s.known * 100.0));
        chart
            .draw_series(LineSeries::new(known, BLUE.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label("member pairs known")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        if self.detection.crashes > 0 {
            let detected = self
                .samples
                .iter()
                .filter_map(|s| Some((s.t, s.detected? * 100.0)));
            chart
                .draw_series(LineSeries::new(detected, RED.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label("crashed nodes declared dead (survivor pairs)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))
    }
}

/// Sent traffic of one kind of datagram in one phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindTraffic {
    /// The kind (`ping`, `ack`, `nack`, `ping-req`, `gossip`, `sync`,
    /// `direct`, `other`).
    pub kind: Kind,
    /// Datagrams sent in the phase.
    pub datagrams: u64,
    /// Bytes sent in the phase.
    pub bytes: u64,
    /// Datagrams per node per virtual second.
    pub datagrams_per_node_sec: f64,
    /// Bytes per node per virtual second.
    pub bytes_per_node_sec: f64,
}

/// Sent traffic over one span of virtual time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrafficPhase {
    /// Start, virtual seconds.
    pub from_secs: f64,
    /// End, virtual seconds.
    pub until_secs: f64,
    /// Datagrams sent.
    pub datagrams: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Datagrams per node per virtual second (every simulated node counts,
    /// running or not).
    pub datagrams_per_node_sec: f64,
    /// Bytes per node per virtual second.
    pub bytes_per_node_sec: f64,
    /// The same per kind of datagram (every kind, zeros included; they sum
    /// to the totals).
    pub by_kind: Vec<KindTraffic>,
}

impl TrafficPhase {
    /// The rates of `traffic`, sent by `nodes` nodes between `from` and
    /// `until` (µs); `None` when the span is empty.
    pub fn of(traffic: &Traffic, nodes: usize, from: u64, until: u64) -> Option<Self> {
        if until <= from {
            return None;
        }
        let per_node = nodes.max(1) as f64 * (until - from) as f64 / 1e6;
        let total = traffic.total();
        Some(TrafficPhase {
            from_secs: from as f64 / 1e6,
            until_secs: until as f64 / 1e6,
            datagrams: total.datagrams,
            bytes: total.bytes,
            datagrams_per_node_sec: total.datagrams as f64 / per_node,
            bytes_per_node_sec: total.bytes as f64 / per_node,
            by_kind: Kind::ALL
                .iter()
                .map(|&kind| {
                    let c = traffic.of(kind);
                    KindTraffic {
                        kind,
                        datagrams: c.datagrams,
                        bytes: c.bytes,
                        datagrams_per_node_sec: c.datagrams as f64 / per_node,
                        bytes_per_node_sec: c.bytes as f64 / per_node,
                    }
                })
                .collect(),
        })
    }

    /// The figures of `kind`.
    pub fn kind(&self, kind: Kind) -> Option<&KindTraffic> {
        self.by_kind.iter().find(|k| k.kind == kind)
    }
}

/// Sent traffic split at the start of the steady state.
///
/// The steady state starts at `--steady-from` if given, else a settle
/// margin (10 s by default) after the first time every running node knew
/// every other running node at or after the join plan's last start. The
/// join phase is everything before (the whole run if the nodes never
/// converged).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrafficReport {
    /// How the start of the steady state was chosen.
    pub steady_rule: String,
    /// First convergence at or after the join plan's last start, virtual
    /// seconds (`None`: never, or the start was given).
    pub joined_at_secs: Option<f64>,
    /// Start of the steady state, virtual seconds (`None`: never reached).
    pub steady_from_secs: Option<f64>,
    /// From 0 to the start of the steady state (or the end).
    pub join: Option<TrafficPhase>,
    /// From the start of the steady state to the end (`None`: not reached
    /// before the end).
    pub steady: Option<TrafficPhase>,
}

impl TrafficReport {
    /// The traffic split of `sim` after running `scenario`.
    pub fn new(scenario: &Scenario, sim: &Simulator) -> Self {
        let m = sim.metrics();
        let end = u64::try_from(sim.now().as_micros()).unwrap_or(u64::MAX);
        let n = scenario.nodes;
        let steady = m.steady_from.filter(|&t| t < end);
        let split = steady.unwrap_or(end);
        let steady_rule = match scenario.steady_from {
            Some(t) => format!("--steady-from {:.3} s", t.as_secs_f64()),
            None => format!(
                "converged at {} + {:.0} s settle",
                m.joined_at.map_or_else(
                    || "never".to_string(),
                    |t| format!("{:.3} s", t as f64 / 1e6)
                ),
                scenario.settle.as_secs_f64()
            ),
        };
        TrafficReport {
            steady_rule,
            joined_at_secs: m.joined_at.map(|t| t as f64 / 1e6),
            steady_from_secs: steady.map(|t| t as f64 / 1e6),
            join: TrafficPhase::of(&m.traffic_join, n, 0, split),
            steady: steady.and_then(|from| TrafficPhase::of(&m.traffic_steady, n, from, end)),
        }
    }
}

/// Summary lines about the traffic of one phase.
fn phase_rows(name: &'static str, phase: Option<&TrafficPhase>) -> Vec<(&'static str, String)> {
    let Some(p) = phase else {
        return vec![(name, "-".to_string())];
    };
    let kinds: Vec<String> = p
        .by_kind
        .iter()
        .filter(|k| k.datagrams > 0)
        .map(|k| {
            format!(
                "{} {:.1} ({:.2})",
                k.kind.name(),
                k.bytes_per_node_sec,
                k.datagrams_per_node_sec
            )
        })
        .collect();
    vec![
        (
            name,
            format!(
                "{:.2} datagrams/s, {:.1} B/s ({:.1}-{:.1} s)",
                p.datagrams_per_node_sec, p.bytes_per_node_sec, p.from_secs, p.until_secs
            ),
        ),
        ("  by kind: B/s (datagrams/s)", kinds.join("  ")),
    ]
}

/// Summary lines about one partition.
fn partition_rows(p: &PartitionDetection) -> Vec<(&'static str, String)> {
    let opt = |v: Option<f64>| v.map_or_else(|| "never".to_string(), |v| format!("{v:.2} s"));
    vec![
        (
            "partition",
            format!(
                "{} | {} nodes at {:.3} s, healed {}",
                p.sides[0],
                p.sides[1],
                p.split_at_secs,
                p.healed_at_secs
                    .map_or_else(|| "never".to_string(), |t| format!("at {t:.3} s"))
            ),
        ),
        (
            "  declared by all after",
            format!(
                "{} (sides: {} | {}); {} of {} pairs undeclared",
                opt(p.declared_at_secs),
                opt(p.side_declared_at_secs[0]),
                opt(p.side_declared_at_secs[1]),
                p.undeclared,
                p.pairs
            ),
        ),
        (
            "  heal to full membership",
            match (p.healed_at_secs, p.heal_secs) {
                (None, _) => "-".to_string(),
                (Some(_), None) => "not within the run".to_string(),
                (Some(_), Some(t)) => format!("{t:.2} s (every running node holds all alive)"),
            },
        ),
        ("  declaration per pair", p.declaration.line()),
        ("  first suspicion per pair", p.first_suspicion.line()),
        (
            "  suspicion to declaration",
            p.suspicion_to_declaration.line(),
        ),
    ]
}

/// Summary lines about the adversary.
fn adversary_rows(a: &AdversaryReport) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        (
            "forged datagrams",
            format!(
                "{} ({} B; {} replayed of {} captured)",
                a.forged_datagrams, a.forged_bytes, a.replayed, a.captured
            ),
        ),
        (
            "worst amplification",
            a.worst_amplification.as_ref().map_or_else(
                || "-".to_string(),
                |w| {
                    format!(
                        "{:.1}x to address {} ({} B in {} datagrams for {} B in {})",
                        w.ratio,
                        w.addr,
                        w.received.bytes,
                        w.received.datagrams,
                        w.claimed.bytes,
                        w.claimed.datagrams
                    )
                },
            ),
        ),
    ];
    for k in &a.amplification_by_kind {
        rows.push((
            "  amplification by trigger",
            format!("{:.1}x {} (address {})", k.ratio, k.kind, k.addr),
        ));
    }
    rows.push((
        "sent to unclaimed absent addrs",
        format!(
            "{} datagrams, {} B to {} addresses",
            a.unsolicited.datagrams, a.unsolicited.bytes, a.unsolicited_addresses
        ),
    ));
    rows.push((
        "invented members held at end",
        format!(
            "{} ({} alive or suspect); {} members refused",
            a.foreign_members_at_end, a.foreign_active_at_end, a.members_refused
        ),
    ));
    rows
}
