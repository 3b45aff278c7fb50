//! The failure detector's targets, each as a CI-sized test (seeds 1-3) and
//! an ignored 20-seed version, in the scenarios of
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
//! The tests marked "fails until the failure detector work lands" fail
//! against swim-core at `b7c9372`, with the values in their reason. Run
//! them with `cargo test -p swim-tests --test detector -- --include-ignored
//! --nocapture` (the 20-seed ones in release).

use std::ops::RangeInclusive;
use std::time::Duration;

use swim_core::Config;
use swim_tests::net::LinkModel;
use swim_tests::scenario::Scenario;
use swim_tests::seeds::{SeedRow, SeedsSummary};

const CI: RangeInclusive<u64> = 1..=3;
const FULL: RangeInclusive<u64> = 1..=20;

/// Total `MemberSuspected` events at `b7c9372` (`detector.sh`), seeds 1-3
/// and 1-20, at 10% and at 20% loss.
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

/// Target 2, first part: mean crash to first suspicion.
fn check_first_suspicion_mean(s: &SeedsSummary) {
    let a = &s.aggregate.first_suspicion_secs;
    assert_eq!((a.runs, a.never), (s.seeds.len(), 0), "{a:?}");
    let bound = 1.5 * Config::lan().probe_interval.as_secs_f64();
    let mean = a.mean.expect("crashes were suspected");
    assert!(
        mean <= bound,
        "mean crash to first suspicion {mean:.2} s > {bound:.2} s (1.5 probe intervals)"
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
#[ignore = "fails until the failure detector work lands: declared by all at 15.41, 14.92, 17.61 s (seeds 1-3)"]
fn partition_declared_within_15_s() {
    check_partition_declared_within_15_s(&over(CI, partition));
}

#[test]
#[ignore = "20 seeds; fails until the failure detector work lands: 12 of 20 seeds above 15 s, worst 26.95 s"]
fn partition_declared_within_15_s_seeds_1_to_20() {
    check_partition_declared_within_15_s(&over(FULL, partition));
}

#[test]
#[ignore = "fails until the failure detector work lands: mean first suspicion 2.44 s (seeds 1-3)"]
fn kill_one_of_fifty_first_suspicion() {
    check_first_suspicion_mean(&over(CI, kill));
}

#[test]
#[ignore = "20 seeds; fails until the failure detector work lands: mean first suspicion 2.72 s"]
fn kill_one_of_fifty_first_suspicion_seeds_1_to_20() {
    check_first_suspicion_mean(&over(FULL, kill));
}

#[test]
#[ignore = "fails until the failure detector work lands: mean last survivor 9.34 s (seeds 1-3)"]
fn kill_one_of_fifty_every_survivor() {
    check_last_survivor_mean(&over(CI, kill));
}

#[test]
#[ignore = "20 seeds; fails until the failure detector work lands: mean last survivor 9.60 s"]
fn kill_one_of_fifty_every_survivor_seeds_1_to_20() {
    check_last_survivor_mean(&over(FULL, kill));
}

#[test]
#[ignore = "fails until the failure detector work lands: 6 false failures (seed 1: 3, seed 3: 3; seeds 1-3)"]
fn forty_percent_loss_no_false_failures() {
    check_no_false_failures(&over(CI, lossy(0.40)));
}

#[test]
#[ignore = "20 seeds; fails until the failure detector work lands: 31 false failures in 13 of 20 seeds"]
fn forty_percent_loss_no_false_failures_seeds_1_to_20() {
    check_no_false_failures(&over(FULL, lossy(0.40)));
}

#[test]
fn ten_percent_loss_no_false_failures_nor_more_suspicions() {
    let s = over(CI, lossy(0.10));
    check_no_false_failures(&s);
    check_suspicions_at_most(&s, SUSPICIONS_10.0);
}

#[test]
#[ignore = "20 seeds: run in release"]
fn ten_percent_loss_no_false_failures_nor_more_suspicions_seeds_1_to_20() {
    let s = over(FULL, lossy(0.10));
    check_no_false_failures(&s);
    check_suspicions_at_most(&s, SUSPICIONS_10.1);
}

#[test]
fn twenty_percent_loss_no_false_failures_nor_more_suspicions() {
    let s = over(CI, lossy(0.20));
    check_no_false_failures(&s);
    check_suspicions_at_most(&s, SUSPICIONS_20.0);
}

#[test]
#[ignore = "20 seeds: run in release"]
fn twenty_percent_loss_no_false_failures_nor_more_suspicions_seeds_1_to_20() {
    let s = over(FULL, lossy(0.20));
    check_no_false_failures(&s);
    check_suspicions_at_most(&s, SUSPICIONS_20.1);
}

#[test]
#[ignore = "fails until the failure detector work lands: 23, 22, 27 heal suspicions, all same side (seeds 1-3)"]
fn no_suspicion_of_a_healthy_member_after_the_heal() {
    check_no_heal_suspicions(&over(CI, partition));
}

#[test]
#[ignore = "20 seeds; fails until the failure detector work lands: 20-27 heal suspicions in every seed (477 in all)"]
fn no_suspicion_of_a_healthy_member_after_the_heal_seeds_1_to_20() {
    check_no_heal_suspicions(&over(FULL, partition));
}
