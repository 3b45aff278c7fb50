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
///
/// The target: every survivor marks the crashed node dead within
/// 15 s. With the LAN preset (memberlist's defaults) the suspicion floor
/// alone is 12 s at n = 1000, and the first probe of the dead node comes an
/// exponentially distributed time after the crash (SWIM's random probe
/// order: about one probe per second reaches any given member), so 15 s
/// holds for most seeds, not all. What the protocol does guarantee is
/// checked for every seed: the last survivor follows the first suspicion
/// by the floor plus a little dissemination. Seeds 1-20: 16 within 15 s.
#[test]
#[ignore = "20 runs of 1000 nodes: run in release"]
fn kill_one_of_thousand_lan() {
    let mut within = 0;
    for seed in 1..=20 {
        let r = Scenario::new(1000, Config::lan(), seed)
            .with_duration(Duration::from_secs(60))
            .with_invariants(false)
            .with_threads(2)
            .kill_random(Duration::from_secs(30), 1)
            .run();
        let d = &r.detection;
        println!(
            "seed {seed}: first suspicion {:.2} s, p50 {:.2} s, last survivor {:.2} s",
            d.first_suspicion.max, d.per_survivor.p50, d.full_dissemination.max
        );
        assert_eq!((d.crashes, d.undetected), (1, 0), "{d:?}");
        assert_eq!(r.false_positives, 0);
        // Floor 12 s, then the verdict spreads in well under a second.
        assert!(
            d.full_dissemination.max < d.first_suspicion.max + 12.5,
            "{d:?}"
        );
        within += usize::from(d.full_dissemination.max < 15.0);
    }
    println!("every survivor within 15 s: {within} of 20 seeds");
    assert!(within >= 15, "only {within} of 20 seeds within 15 s");
}
