//! The failure detector's targets, each as a CI-sized test (seeds 1-3; 1-40
//! for the kill; 1-20 for the suspicion counts under loss) and an ignored 20-seed (200 for the kill) version, in the
//! scenarios of
//! `tests/scripts/detector.sh` (LAN preset, 1 ms ± 0.2 ms links, joins
//! through node 0 over the first second):
//!
//! 1. 5 | 5 partition of 10 nodes at 10 s: every node has declared every
//!    node of the other side failed within 15 s of the split, every seed.
//! 2. Kill 1 of 50 at 30 s: mean crash to first suspicion (anywhere) at
//!    most 1.5 probe intervals; mean crash to "dead" at the last survivor
//!    at most 8 s.
//! 3. 10 nodes, 3 virtual minutes: no false failure at 40% loss; none at
//!    10% and 20% either, with no more suspicions in total than measured
//!    at workspace `b7c9372` (before the failure-detector changes).
//! 4. The heal of the partition of 1: no suspicion of a healthy member
//!    reaches the application in the 10 s after it.
//!
//! All pass. At `b7c9372` (before the failure-detector changes) targets 1,
//! 2, 3 (40%) and 4 failed: see tests/README.md. Run
//! every one with `cargo test --release -p swim-tests --test detector --
//! --include-ignored --nocapture`.

use std::ops::RangeInclusive;
use std::time::Duration;

use swim_core::Config;
use swim_tests::net::LinkModel;
use swim_tests::scenario::Scenario;
use swim_tests::seeds::{SeedRow, SeedsSummary};

const CI: RangeInclusive<u64> = 1..=3;
const FULL: RangeInclusive<u64> = 1..=20;
/// The time from a crash to its first probe varies from run to run by
/// about a probe interval: a mean over a few seeds says little.
const KILL_CI: RangeInclusive<u64> = 1..=40;
const KILL_FULL: RangeInclusive<u64> = 1..=200;

/// Total `MemberSuspected` events at `b7c9372` (`detector.sh`), seeds 1-3
/// and 1-20, at 10% and at 20% loss (the tests use the 20-seed totals).
const SUSPICIONS_10: (u64, u64) = (339, 2045);
const SUSPICIONS_20: (u64, u64) = (2028, 14483);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `simulate -n 10 -d 55 --partition-at 10 --partition-for 30`.
fn partition(seed: u64) -> Scenario {
    Scenario::new(10, Config::lan(), seed)
        .named("5 | 5 partition")
        .with_duration(secs(55))
        .partition_halves(secs(10), secs(30))
}

/// `simulate -n 50 -d 60 --kill 1 --kill-at 30`.
fn kill(seed: u64) -> Scenario {
    Scenario::new(50, Config::lan(), seed)
        .named("kill 1 of 50")
        .with_duration(secs(60))
        .kill_random(secs(30), 1)
}

/// `simulate -n 10 -d 180 --loss PERCENT`.
fn lossy(loss: f64) -> impl Fn(u64) -> Scenario {
    move |seed| {
        Scenario::new(10, Config::lan(), seed)
            .named("10 nodes, uniform loss")
            .with_link(LinkModel::with_loss(loss))
            .with_duration(secs(180))
    }
}

/// Runs `build(seed)` for every seed (invariants checked), printing the
/// table of `simulate --seeds`.
fn over(seeds: RangeInclusive<u64>, build: impl Fn(u64) -> Scenario) -> SeedsSummary {
    let mut summary = SeedsSummary::default();
    println!("{}", SeedsSummary::header());
    for seed in seeds {
        let r = build(seed).run();
        assert_eq!(r.violations, Some(0), "seed {seed}: {:?}", r.violation_list);
        summary.add(&r);
        println!("{}", SeedsSummary::row_line(&r_row(&summary)));
    }
    print!("{}", summary.aggregate_lines());
    summary
}

fn r_row(s: &SeedsSummary) -> SeedRow {
    s.seeds.last().cloned().expect("one run")
}

/// Seconds with two decimals, `never` for `None`.
fn show(v: Option<f64>) -> String {
    v.map_or_else(|| "never".into(), |v| format!("{v:.2}"))
}

/// Target 1: every seed's partition declared by all within 15 s.
fn check_partition_declared_within_15_s(s: &SeedsSummary) {
    let late: Vec<String> = s
        .seeds
        .iter()
        .filter(|r| r.partition_declared_secs.is_none_or(|t| t > 15.0))
        .map(|r| format!("seed {}: {}", r.seed, show(r.partition_declared_secs)))
        .collect();
    assert!(
        late.is_empty(),
        "partition declared by all later than 15 s after the split: {late:?}"
    );
}

/// Target 2, first part: mean crash to first suspicion, at most
/// `intervals` probe intervals (the target is 1.5).
fn check_first_suspicion_mean_at_most(s: &SeedsSummary, intervals: f64) {
    let a = &s.aggregate.first_suspicion_secs;
    assert_eq!((a.runs, a.never), (s.seeds.len(), 0), "{a:?}");
    let bound = intervals * Config::lan().probe_interval.as_secs_f64();
    let mean = a.mean.expect("crashes were suspected");
    assert!(
        mean <= bound,
        "mean crash to first suspicion {mean:.2} s > {bound:.2} s ({intervals} probe intervals)"
    );
}

/// Target 2, second part: mean crash to "dead" at the last survivor.
fn check_last_survivor_mean(s: &SeedsSummary) {
    let a = &s.aggregate.last_survivor_secs;
    assert_eq!((a.runs, a.never), (s.seeds.len(), 0), "undetected: {a:?}");
    let mean = a.mean.expect("crashes were detected");
    assert!(
        mean <= 8.0,
        "mean crash to the last survivor's \"dead\" {mean:.2} s > 8 s"
    );
}

/// The part of the last-survivor time that does not depend on the random
/// wait for the first probe: in the median run, the last survivor declares
/// the crash within 50 ms of the first suspicion plus the shortest
/// suspicion timeout (6.8 s at n = 50), because a node that hears of the
/// suspicion late counts its age (about 0.18 s later without that). The
/// median, because a run whose second confirmation comes after the floor
/// (the dead node is probed by chance) takes up to 2 s more.
fn check_last_survivor_follows_the_floor(s: &SeedsSummary) {
    let mut lags: Vec<f64> = s
        .seeds
        .iter()
        .map(|r| {
            let first = r.first_suspicion_secs.expect("suspected");
            let last = r.last_survivor_secs.expect("declared by every survivor");
            last - first
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let floor = 4.0 * 50f64.log10();
    let median = lags[lags.len() / 2];
    assert!(
        median >= floor - 0.01 && median <= floor + 0.05,
        "first suspicion to the last survivor's \"dead\": median {median:.3} s, floor {floor:.3} s: {lags:?}"
    );
}

/// Target 3: no false failure in any seed.
fn check_no_false_failures(s: &SeedsSummary) {
    let bad: Vec<(u64, usize)> = s
        .seeds
        .iter()
        .filter(|r| r.false_positives > 0)
        .map(|r| (r.seed, r.false_positives))
        .collect();
    assert!(bad.is_empty(), "false failures (seed, count): {bad:?}");
}

/// Target 3 at 10% and 20%: no more suspicions than before.
fn check_suspicions_at_most(s: &SeedsSummary, before: u64) {
    let total: u64 = s.seeds.iter().map(|r| r.suspicions).sum();
    assert!(
        total <= before,
        "{total} suspicions over seeds {}-{}, {before} before the failure-detector changes",
        s.seeds[0].seed,
        r_row(s).seed
    );
}

/// Target 4: no heal suspicion.
fn check_no_heal_suspicions(s: &SeedsSummary) {
    let bad: Vec<(u64, u64, u64)> = s
        .seeds
        .iter()
        .filter(|r| r.heal_suspicions > 0)
        .map(|r| (r.seed, r.heal_suspicions, r.heal_suspicions_same_side))
        .collect();
    assert!(
        bad.is_empty(),
        "suspicions of healthy members within 10 s of the heal (seed, count, same side): {bad:?}"
    );
}

/// The instrument itself, on what holds already: each side declares every
/// node of the other failed before the heal (30 s), nobody declares a
/// member of its own side, and every cross-side pair is measured.
#[test]
fn partition_is_declared_by_every_node_before_the_heal() {
    let s = over(CI, partition);
    for r in &s.seeds {
        assert_eq!(r.partitions, 1);
        assert_eq!(r.partition_undeclared, 0, "seed {}", r.seed);
        assert!(
            r.partition_declared_secs.is_some_and(|t| t < 30.0),
            "seed {}: {:?}",
            r.seed,
            r.partition_declared_secs
        );
        assert_eq!(r.false_positives, 0, "seed {}", r.seed);
    }
    assert_eq!(s.partition_declaration.count, 50 * s.seeds.len());
    assert_eq!(s.partition_first_suspicion.count, 50 * s.seeds.len());
    let d = &s.partition_declaration;
    assert_eq!(d.histogram.iter().sum::<u64>(), d.count as u64, "{d:?}");
    assert!(d.min > 0.0 && d.max < 30.0, "{d:?}");
}

#[test]
fn partition_declared_within_15_s() {
    check_partition_declared_within_15_s(&over(CI, partition));
}

#[test]
#[ignore = "20 seeds: run in release"]
fn partition_declared_within_15_s_seeds_1_to_20() {
    check_partition_declared_within_15_s(&over(FULL, partition));
}

/// Guards, not the targets: the mean over 40 seeds still moves by about
/// 0.3 s with the random wait for the first probe of the dead node (1.42 s
/// over seeds 1-40; 2.72 s over seeds 1-20 before the failure-detector
/// changes), so the first suspicion is held to two probe intervals and the
/// last survivor to the time after it.
#[test]
fn kill_one_of_fifty_first_suspicion_and_last_survivor() {
    let s = over(KILL_CI, kill);
    check_first_suspicion_mean_at_most(&s, 2.0);
    check_last_survivor_follows_the_floor(&s);
}

#[test]
#[ignore = "200 seeds: run in release"]
fn kill_one_of_fifty_first_suspicion_seeds_1_to_200() {
    check_first_suspicion_mean_at_most(&over(KILL_FULL, kill), 1.5);
}

#[test]
#[ignore = "200 seeds: run in release"]
fn kill_one_of_fifty_every_survivor_seeds_1_to_200() {
    check_last_survivor_mean(&over(KILL_FULL, kill));
}

#[test]
fn forty_percent_loss_no_false_failures() {
    check_no_false_failures(&over(CI, lossy(0.40)));
}

#[test]
#[ignore = "20 seeds: run in release"]
fn forty_percent_loss_no_false_failures_seeds_1_to_20() {
    check_no_false_failures(&over(FULL, lossy(0.40)));
}

/// Over the 20 seeds: a 3-seed total moves by a few percent with any
/// change of the traces.
#[test]
fn ten_percent_loss_no_false_failures_nor_more_suspicions() {
    let s = over(FULL, lossy(0.10));
    check_no_false_failures(&s);
    check_suspicions_at_most(&s, SUSPICIONS_10.1);
}

/// Over the 20 seeds: a 3-seed total moves by a few percent with any
/// change of the traces.
#[test]
fn twenty_percent_loss_no_false_failures_nor_more_suspicions() {
    let s = over(FULL, lossy(0.20));
    check_no_false_failures(&s);
    check_suspicions_at_most(&s, SUSPICIONS_20.1);
}

#[test]
fn no_suspicion_of_a_healthy_member_after_the_heal() {
    check_no_heal_suspicions(&over(CI, partition));
}

#[test]
#[ignore = "20 seeds: run in release"]
fn no_suspicion_of_a_healthy_member_after_the_heal_seeds_1_to_20() {
    check_no_heal_suspicions(&over(FULL, partition));
}
