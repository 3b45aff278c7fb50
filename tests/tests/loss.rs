//! Uniform packet loss must not make live members look dead.

use std::time::Duration;

use swim_core::Config;
use swim_tests::net::LinkModel;
use swim_tests::scenario::Scenario;

fn lossy(nodes: usize, loss: f64, secs: u64, seed: u64) -> swim_tests::report::Report {
    Scenario::new(nodes, Config::lan(), seed)
        .with_link(LinkModel::with_loss(loss))
        .with_duration(Duration::from_secs(secs))
        .run()
}

#[test]
fn five_percent_loss_no_false_positives() {
    let r = lossy(100, 0.05, 180, 7);
    assert_eq!(r.false_positives, 0, "{:?}", r.false_positive_list);
    assert_eq!(r.known_at_end, 1.0);
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}

#[test]
fn ten_percent_loss_no_false_positives() {
    let r = lossy(100, 0.10, 180, 8);
    assert_eq!(r.false_positives, 0, "{:?}", r.false_positive_list);
    assert_eq!(r.known_at_end, 1.0);
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}

/// 100 nodes, 10 virtual minutes each, seeds 1-3:
/// `cargo test --release -p swim-tests --test loss -- --ignored --nocapture`
/// Measured at workspace commit 306676d: no false positive at 5% or 10%.
/// (At swim-core ecdd6d3, 10% loss seed 1 had one: node 31 missed node 82's
/// refutation; swim-core now answers an outdated accusation with the
/// refutation, tests/README.md, "Findings".)
#[test]
#[ignore = "100 nodes x 10 min x 6 runs: run in release"]
fn hundred_nodes_ten_minutes_at_5_and_10_percent() {
    for loss in [0.05, 0.10] {
        for seed in 1..=3 {
            let r = lossy(100, loss, 600, seed);
            println!("loss {loss} seed {seed}:\n{}", r.summary());
            assert_eq!(
                r.false_positives, 0,
                "loss {loss} seed {seed}: {:?}",
                r.false_positive_list
            );
            assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
        }
    }
}
