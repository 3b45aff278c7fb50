//! The same seed gives the same trace, on any number of threads; another
//! seed gives another one.

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

/// 200 nodes on 5 ms links (windows of 5 ms hold enough events to be split
/// across threads) with loss, duplication, reordering, crashes, churn
/// (leaves and restarts), clock jumps, pauses and a slow node.
fn busy_and_large(threads: usize) -> Scenario {
    let link = LinkModel {
        latency: Duration::from_millis(5),
        jitter: Duration::from_millis(3),
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.02,
        ..LinkModel::default()
    };
    Scenario::new(200, Config::local(), 9)
        .with_duration(Duration::from_secs(25))
        .with_link(link)
        .with_threads(threads)
        .kill_random(Duration::from_secs(6), 3)
        .churn(
            Duration::from_secs(5),
            Duration::from_secs(25),
            Duration::from_secs(10),
            0.05,
            Duration::from_secs(2),
        )
        .clock_jumps(Duration::from_secs(7), 3, -2_000_000)
        .pauses(
            5,
            Duration::from_secs(4),
            Duration::from_secs(25),
            Duration::from_secs(2),
            Duration::from_secs(4),
            Duration::from_secs(1),
            Duration::from_secs(3),
        )
        .at(
            Duration::from_secs(9),
            Action::Slow {
                node: 6,
                per_input: Duration::from_millis(2),
            },
        )
}

#[test]
fn thread_count_does_not_change_the_trace() {
    let one = busy_and_large(1).run();
    let three = busy_and_large(3).run();
    assert_eq!(one.parallel_windows, 0);
    assert!(
        three.parallel_windows > 1000,
        "only {} windows ran in parallel",
        three.parallel_windows
    );
    assert_eq!(one.trace_hash, three.trace_hash);
    assert_eq!(one.inputs, three.inputs);
    assert_eq!(one.samples, three.samples);
    assert_eq!(one.false_positive_list, three.false_positive_list);
    assert_eq!(one.detection, three.detection);
    assert_eq!(one.violations, Some(0), "{:?}", one.violation_list);
    assert_eq!(three.violations, Some(0), "{:?}", three.violation_list);
}

/// 40 nodes on links without jitter (many events share a microsecond), a
/// node that takes 400 µs per input, pauses, crashes and loss.
fn ties(sample_every: Duration) -> Scenario {
    let link = LinkModel {
        jitter: Duration::ZERO,
        loss: 0.02,
        ..LinkModel::default()
    };
    Scenario::new(40, Config::local(), 5)
        .with_duration(Duration::from_secs(12))
        .with_link(link)
        .with_sampling(sample_every)
        .with_threads(2)
        .kill_random(Duration::from_secs(4), 2)
        .pauses(
            7,
            Duration::from_secs(2),
            Duration::from_secs(12),
            Duration::from_millis(500),
            Duration::from_secs(2),
            Duration::from_millis(300),
            Duration::from_secs(1),
        )
        .at(
            Duration::from_secs(1),
            Action::Slow {
                node: 3,
                per_input: Duration::from_micros(400),
            },
        )
}

/// Where the simulator's time windows end (at samples, at each
/// `run_until`) changes nothing in the trace.
#[test]
fn window_boundaries_do_not_change_the_trace() {
    let whole = ties(Duration::from_secs(1)).run();
    let sampled_often = ties(Duration::from_micros(700)).run();
    let scenario = ties(Duration::from_secs(1));
    let mut stepped = scenario.build();
    let mut t = Duration::ZERO;
    while t < scenario.duration {
        t += Duration::from_micros(333);
        stepped.run_until(t.min(scenario.duration));
    }
    let stepped_hash = format!("{:016x}", stepped.trace_hash());
    assert_eq!(whole.trace_hash, sampled_often.trace_hash);
    assert_eq!(whole.trace_hash, stepped_hash);
    assert_eq!(whole.inputs, sampled_often.inputs);
    assert_eq!(whole.inputs, stepped.metrics().inputs);
    assert_eq!(whole.violations, Some(0), "{:?}", whole.violation_list);
}
