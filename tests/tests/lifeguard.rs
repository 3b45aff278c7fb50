//! One member pauses for 2-5 s at random times (Lifeguard's case): false
//! positives with Lifeguard against plain SWIM on the same seeds.

use std::time::Duration;

use swim_core::Config;
use swim_tests::report::Report;
use swim_tests::scenario::Scenario;

fn pausing(nodes: usize, mut config: Config, lifeguard: bool, secs: u64, seed: u64) -> Report {
    config.lifeguard = lifeguard;
    let s = |x| Duration::from_secs(x);
    Scenario::new(nodes, config, seed)
        .with_duration(s(secs))
        .pauses(1, s(1), s(secs), s(2), s(5), s(10), s(30))
        .run()
}

#[test]
fn pausing_member_lan_no_false_positives() {
    for lifeguard in [true, false] {
        let r = pausing(50, Config::lan(), lifeguard, 300, 21);
        // The pauses happened: the member was suspected and refuted.
        assert!(
            r.refutations >= 5,
            "lifeguard {lifeguard}: {} refutations",
            r.refutations
        );
        assert_eq!(
            r.false_positives, 0,
            "lifeguard {lifeguard}: {:?}",
            r.false_positive_list
        );
        assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
    }
}

/// The issue asks for at least 10x fewer false positives with Lifeguard.
/// Measured (README): LAN preset 0 vs 0; local preset 22 vs 27 over seeds
/// 1-6, 100 nodes, 10 virtual minutes each: not 10x. Every one of them is the
/// paused node declared dead after it refuted (a member missed the
/// refutation), which Lifeguard does not address.
/// `cargo test --release -p swim-tests --test lifeguard -- --ignored --nocapture`
#[test]
#[ignore = "fails: Lifeguard gives 22 vs 27 false positives (local preset), not 10x fewer; see tests/README.md"]
fn lifeguard_ten_times_fewer_false_positives() {
    let (mut with, mut without) = (0, 0);
    for seed in 1..=6 {
        with += pausing(100, Config::local(), true, 600, seed).false_positives;
        without += pausing(100, Config::local(), false, 600, seed).false_positives;
    }
    println!("false positives: lifeguard {with}, plain SWIM {without}");
    assert!(
        without > 0 && with * 10 <= without,
        "lifeguard {with}, plain SWIM {without}"
    );
}
