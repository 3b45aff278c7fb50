//! The same seed gives the same trace; another seed gives another one.

use std::time::Duration;

use swim_core::Config;
use swim_tests::fault::Action;
use swim_tests::net::LinkModel;
use swim_tests::scenario::Scenario;

fn busy(seed: u64) -> Scenario {
    let link = LinkModel {
        loss: 0.05,
        duplicate: 0.02,
        reorder: 0.05,
        jitter: Duration::from_millis(3),
        ..LinkModel::default()
    };
    Scenario::new(20, Config::local(), seed)
        .with_duration(Duration::from_secs(40))
        .with_link(link)
        .kill_random(Duration::from_secs(10), 2)
        .clock_jumps(Duration::from_secs(12), 2, -3_000_000)
        .at(
            Duration::from_secs(15),
            Action::Pause {
                node: 3,
                duration: Duration::from_secs(3),
            },
        )
        .at(
            Duration::from_secs(16),
            Action::Slow {
                node: 4,
                per_input: Duration::from_millis(2),
            },
        )
}

#[test]
fn same_seed_same_trace() {
    let a = busy(42).run();
    let b = busy(42).run();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.inputs, b.inputs);
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.violations, Some(0), "{:?}", a.violation_list);
}

#[test]
fn other_seed_other_trace() {
    assert_ne!(busy(1).run().trace_hash, busy(2).run().trace_hash);
}
