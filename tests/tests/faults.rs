//! Partitions, mass restarts, clock jumps, churn, slow nodes and bad links:
//! the cluster keeps its invariants and heals.

use std::time::Duration;

use swim_core::Config;
use swim_tests::fault::{Action, RestartMode};
use swim_tests::net::{LinkModel, Partition};
use swim_tests::scenario::Scenario;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn half_partition_for_a_minute_then_heals() {
    let s = Scenario::new(40, Config::local(), 9)
        .with_duration(secs(200))
        .partition_halves(secs(10), secs(60));
    let mut sim = s.build();
    sim.run_until(secs(69));
    // Each side has declared the other dead (not counted as false positives).
    assert!(
        sim.live_nodes_held_dead(0) >= 9,
        "{}",
        sim.live_nodes_held_dead(0)
    );
    sim.run_until(s.duration);
    let m = sim.metrics();
    assert!(m.unreachable_deaths > 0);
    assert!(m.false_positives.is_empty(), "{:?}", m.false_positives);
    assert!(
        sim.fully_converged(),
        "still split after the heal (memberlist#222)"
    );
    assert_eq!(
        sim.invariants().count,
        0,
        "{:?}",
        sim.invariants().violations
    );
}

#[test]
fn one_way_partition_is_survived() {
    let cut = Partition {
        from: vec![1, 2, 3],
        to: vec![4, 5, 6, 7, 8, 9, 10],
        symmetric: false,
    };
    let r = Scenario::new(16, Config::local(), 10)
        .with_duration(secs(120))
        .at(
            secs(10),
            Action::Partition {
                id: 7,
                partition: cut,
            },
        )
        .at(secs(40), Action::Heal { id: 7 })
        .run();
    assert_eq!(r.known_at_end, 1.0, "{:?}", r.samples.last());
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}

#[test]
fn mass_restart_of_thirty_percent_new_generation() {
    let r = Scenario::new(30, Config::local(), 11)
        .with_duration(secs(90))
        .mass_restart(secs(15), 0.3, secs(5), RestartMode::NewGeneration)
        .run();
    assert_eq!(
        r.known_at_end, 1.0,
        "restarted nodes stay out (memberlist#311)"
    );
    assert_eq!(r.up_at_end, 30);
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}

#[test]
fn mass_restart_same_identity_refutes_its_past() {
    for mode in [RestartMode::SameIdentity, RestartMode::PersistedIncarnation] {
        let r = Scenario::new(30, Config::local(), 12)
            .with_duration(secs(90))
            .mass_restart(secs(15), 0.3, secs(5), mode)
            .run();
        assert_eq!(r.known_at_end, 1.0, "{mode:?}");
        assert_eq!(r.violations, Some(0), "{mode:?}: {:?}", r.violation_list);
    }
}

#[test]
fn clock_jumps_keep_invariants() {
    let r = Scenario::new(20, Config::local(), 13)
        .with_duration(secs(90))
        .clock_jumps(secs(15), 3, 20_000_000)
        .clock_jumps(secs(30), 3, -20_000_000)
        .run();
    assert_eq!(r.known_at_end, 1.0);
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}

#[test]
fn continuous_churn_ten_percent() {
    let r = Scenario::new(30, Config::local(), 14)
        .with_duration(secs(120))
        .churn(secs(5), secs(80), secs(10), 0.1, secs(4))
        .run();
    assert_eq!(r.up_at_end, 30);
    assert_eq!(r.known_at_end, 1.0, "{:?}", r.samples.last());
    assert_eq!(r.false_positives, 0, "{:?}", r.false_positive_list);
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}

#[test]
fn slow_node_and_bad_links() {
    let link = LinkModel {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(15),
        duplicate: 0.05,
        reorder: 0.1,
        bandwidth: Some(200_000),
        ..LinkModel::default()
    };
    let r = Scenario::new(20, Config::lan(), 15)
        .with_link(link)
        .with_duration(secs(60))
        .at(
            secs(10),
            Action::Slow {
                node: 2,
                per_input: Duration::from_millis(5),
            },
        )
        .at(
            secs(40),
            Action::Slow {
                node: 2,
                per_input: Duration::ZERO,
            },
        )
        .run();
    assert_eq!(r.known_at_end, 1.0);
    assert_eq!(r.false_positives, 0, "{:?}", r.false_positive_list);
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}
