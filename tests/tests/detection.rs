//! A crashed node is declared dead by every survivor, quickly.

use std::time::Duration;

use swim_core::Config;
use swim_tests::scenario::Scenario;

#[test]
fn kill_one_of_hundred_lan() {
    let r = Scenario::new(100, Config::lan(), 5)
        .with_duration(Duration::from_secs(45))
        .kill_random(Duration::from_secs(20), 1)
        .run();
    let d = &r.detection;
    assert_eq!((d.crashes, d.undetected), (1, 0));
    // n = 100 on LAN: suspicion floor 4 * log10(100) * 1 s = 8 s.
    assert!(d.full_dissemination.max < 15.0, "{d:?}");
    assert_eq!(r.false_positives, 0);
    assert_eq!(r.violations, Some(0), "{:?}", r.violation_list);
}

#[test]
fn kill_several_at_once() {
    let r = Scenario::new(40, Config::local(), 6)
        .with_duration(Duration::from_secs(40))
        .kill_random(Duration::from_secs(10), 4)
        .run();
    assert_eq!(
        (r.detection.crashes, r.detection.undetected),
        (4, 0),
        "{:?}",
        r.detection
    );
    assert!(
        r.detection.full_dissemination.max < 20.0,
        "{:?}",
        r.detection
    );
    assert_eq!(r.false_positives, 0);
    assert_eq!(r.known_at_end, 1.0);
}

/// `cargo test --release -p swim-tests --test detection -- --ignored --nocapture`
#[test]
#[ignore = "1000 nodes: run in release"]
fn kill_one_of_thousand_lan() {
    let r = Scenario::new(1000, Config::lan(), 1)
        .with_duration(Duration::from_secs(60))
        .with_invariants(false)
        .kill_random(Duration::from_secs(30), 1)
        .run();
    println!("{}", r.summary());
    assert_eq!(r.detection.undetected, 0);
    assert!(
        r.detection.full_dissemination.max < 15.0,
        "{:?}",
        r.detection
    );
}
