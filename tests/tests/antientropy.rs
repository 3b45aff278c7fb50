//! The instruments for the anti-entropy work (issue 11): sent traffic
//! split into the join phase and the steady state, by kind of datagram, and
//! the heal time of a partition (heal to every running node holding every
//! running node alive). The CI tests check the instruments and the 20-node
//! heal target; the slower targets are ignored tests (release), all met
//! since the digest (tests/README.md, "Anti-entropy"). Run them with `cargo
//! test --release -p swim-tests --test antientropy -- --include-ignored
//! --nocapture`.

use std::time::Duration;

use swim_core::Config;
use swim_tests::metrics::Kind;
use swim_tests::report::{Report, TrafficPhase};
use swim_tests::scenario::{JoinPlan, Scenario};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Checks that a phase's kinds sum to its totals and its rates to its
/// total rates.
fn sums(p: &TrafficPhase) {
    assert_eq!(p.by_kind.len(), Kind::ALL.len());
    let d: u64 = p.by_kind.iter().map(|k| k.datagrams).sum();
    let b: u64 = p.by_kind.iter().map(|k| k.bytes).sum();
    assert_eq!((d, b), (p.datagrams, p.bytes));
    let rate: f64 = p.by_kind.iter().map(|k| k.bytes_per_node_sec).sum();
    assert!((rate - p.bytes_per_node_sec).abs() < 1e-6 * p.bytes_per_node_sec.max(1.0));
}

#[test]
fn traffic_breakdown_sums_to_the_total_and_steady_state_follows_convergence() {
    // 40 nodes: push-pull every 60 s, the first one 30-60 s after the
    // start, so the steady state from about 11 s sees some.
    let s = Scenario::new(40, Config::lan(), 1).with_duration(secs(100));
    let mut sim = s.build();
    sim.run_until(s.duration);
    let r = Report::new(&s, &sim, Duration::ZERO);
    let m = sim.metrics();
    let t = &r.traffic;
    let (join, steady) = (t.join.as_ref().unwrap(), t.steady.as_ref().unwrap());
    sums(join);
    sums(steady);
    // The two phases cover every datagram sent, once.
    assert_eq!(join.datagrams + steady.datagrams, m.datagrams);
    assert_eq!(join.bytes + steady.bytes, m.bytes);
    // The steady state starts 10 s after the first convergence once every
    // node had started (the last one at 0.975 s).
    let joined = t.joined_at_secs.unwrap();
    assert!((0.975..5.0).contains(&joined), "{joined}");
    let from = joined + 10.0;
    let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(t.steady_from_secs.is_some_and(|t| near(t, from)), "{t:?}");
    assert!(near(join.until_secs, from) && near(steady.from_secs, from));
    assert!(near(steady.until_secs, 100.0));
    // Healthy steady state: one probe (ping and ack) per node per second,
    // digest rounds (views agree: no table travels), nothing undecodable.
    let k = |kind| steady.kind(kind).unwrap();
    let pings = k(Kind::Ping).datagrams_per_node_sec;
    assert!((0.9..1.1).contains(&pings), "{pings}");
    assert_eq!(k(Kind::Ack).datagrams, k(Kind::Ping).datagrams);
    assert!(k(Kind::Digest).datagrams > 0);
    assert_eq!(k(Kind::Sync).datagrams, 0);
    assert_eq!(k(Kind::Other).datagrams, 0);
    assert_eq!(k(Kind::PingReq).datagrams, 0);
    // The joins are where the state transfers are.
    assert!(join.bytes_per_node_sec > 10.0 * steady.bytes_per_node_sec);
    assert!(r.summary().contains("steady traffic per node"));
    // Metrics only observe: the same run with a fixed start of the steady
    // state has the same trace, and its split moves.
    let fixed = s.clone().with_steady_from(secs(50)).run();
    assert_eq!(fixed.trace_hash, r.trace_hash);
    let fixed_steady = fixed.traffic.steady.as_ref().unwrap();
    assert_eq!(fixed_steady.from_secs, 50.0);
    assert_eq!(
        fixed.traffic.join.as_ref().unwrap().datagrams + fixed_steady.datagrams,
        m.datagrams
    );
}

#[test]
fn no_convergence_no_steady_state() {
    // 30 s before the last start (spread 60 s), never converged after it.
    let s = Scenario::new(10, Config::lan(), 2)
        .with_duration(secs(30))
        .with_join(swim_tests::scenario::JoinPlan::OneSeed { spread: secs(60) });
    let r = s.run();
    assert_eq!(r.traffic.steady_from_secs, None);
    assert!(r.traffic.steady.is_none());
    sums(r.traffic.join.as_ref().unwrap());
}

#[test]
fn heal_time_is_measured_and_the_run_can_stop_there() {
    let s = Scenario::new(20, Config::lan(), 3)
        .with_duration(secs(200))
        .partition_halves(secs(10), secs(40))
        .with_stop_when_healed(true);
    let r = s.run();
    let p = &r.partitions[0];
    assert_eq!(p.healed_at_secs, Some(50.0));
    let heal = p.heal_secs.expect("full membership again");
    assert!((0.0..100.0).contains(&heal), "{heal}");
    // Stopped at the first 100 ms step with full membership.
    assert!(r.virtual_secs >= 50.0 + heal && r.virtual_secs <= 50.0 + heal + 0.2);
    assert_eq!(r.known_at_end, 1.0);
    // The same run to the same end without stopping: same trace and heal.
    let whole = s
        .clone()
        .with_stop_when_healed(false)
        .with_duration(Duration::from_secs_f64(r.virtual_secs))
        .run();
    assert_eq!(whole.trace_hash, r.trace_hash);
    assert_eq!(whole.partitions[0].heal_secs, Some(heal));
    assert!(r.summary().contains("heal to full membership"));
}

/// Steady traffic per node of `n` nodes over 600 virtual s (LAN).
fn steady(n: usize) -> f64 {
    let r = Scenario::new(n, Config::lan(), 1)
        .with_duration(secs(600))
        .with_invariants(false)
        .with_threads(2)
        .run();
    let b = r.traffic.steady.as_ref().unwrap().bytes_per_node_sec;
    println!("{n} nodes: steady {b:.1} B/s per node");
    b
}

#[test]
#[ignore = "600 virtual s of 1000 nodes: run in release (30.3 B/s at 100 nodes, 31.5 at 1000; 33.5 and 91.2 before the digest)"]
fn steady_traffic_at_most_60_bytes_and_flat() {
    let (small, large) = (steady(100), steady(1000));
    assert!(small <= 60.0 && large <= 60.0, "{small} {large}");
    assert!(
        large <= small * 1.15 && small <= large * 1.15,
        "{small} {large}"
    );
}

#[test]
fn converged_start_has_no_join_phase_and_the_steady_state_of_a_joined_cluster() {
    let n = 60;
    let joined = Scenario::new(n, Config::lan(), 1)
        .with_duration(secs(100))
        .run();
    let s = Scenario::new(n, Config::lan(), 1)
        .with_join(JoinPlan::Converged)
        .with_duration(secs(60));
    let mut sim = s.build();
    sim.run_until(s.duration);
    let r = Report::new(&s, &sim, Duration::ZERO);
    let t = &r.traffic;
    // Converged from the start: the steady state begins after the settle
    // margin alone, and no table ever travels.
    assert_eq!(t.joined_at_secs, Some(0.0), "{t:?}");
    assert_eq!(t.steady_from_secs, Some(10.0), "{t:?}");
    let (join, steady) = (t.join.as_ref().unwrap(), t.steady.as_ref().unwrap());
    sums(join);
    sums(steady);
    for phase in [join, steady] {
        assert_eq!(phase.kind(Kind::Sync).unwrap().datagrams, 0);
        assert_eq!(phase.kind(Kind::PingReq).unwrap().datagrams, 0);
    }
    assert_eq!(r.false_positives, 0);
    assert_eq!(sim.metrics().suspicions, 0);
    // The same steady traffic as after a join, within 5%.
    let a = steady.bytes_per_node_sec;
    let b = joined.traffic.steady.as_ref().unwrap().bytes_per_node_sec;
    assert!(
        (a - b).abs() <= 0.05 * b,
        "converged start {a} B/s, joined {b} B/s"
    );
}

/// Steady traffic per node of `n` nodes started converged, over 60
/// virtual s (steady from 10 s).
fn steady_converged(n: usize) -> f64 {
    let r = Scenario::new(n, Config::lan(), 1)
        .with_join(JoinPlan::Converged)
        .with_duration(secs(60))
        .with_invariants(false)
        .with_threads(2)
        .run();
    let b = r.traffic.steady.as_ref().unwrap().bytes_per_node_sec;
    println!("{n} nodes, converged start: steady {b:.1} B/s per node");
    b
}

#[test]
#[ignore = "10 000 nodes: about 2.5 min and 11.5 GB in release (30.3 / 31.5 / 31.7 B/s at 100 / 1000 / 10 000 nodes)"]
fn steady_traffic_at_most_60_bytes_and_flat_up_to_10000_nodes() {
    let b: Vec<f64> = [100, 1000, 10_000].map(steady_converged).to_vec();
    let (min, max) = (
        b.iter().copied().fold(f64::MAX, f64::min),
        b.iter().copied().fold(0.0, f64::max),
    );
    assert!(max <= 60.0, "{b:?}");
    assert!(max <= min * 1.15, "{b:?}");
}

/// Heal time of a halves partition of `n` nodes at 20 s, healed at
/// 80 + 3k s, for k = 0..9.
fn heal_times(n: usize) -> Vec<Option<f64>> {
    (0..10)
        .map(|k| {
            let r = Scenario::new(n, Config::lan(), 1)
                .with_duration(secs(400))
                .with_invariants(false)
                .with_threads(2)
                .partition_halves(secs(20), secs(60 + 3 * k))
                .with_stop_when_healed(true)
                .run();
            let h = r.partitions[0].heal_secs;
            println!("{n} nodes, k = {k}: heal {h:?}");
            h
        })
        .collect()
}

/// 0.49-1.23 s since the digest (up to 14.09 s before it).
#[test]
fn twenty_node_partition_heals_within_5_s_at_every_phase() {
    let h = heal_times(20);
    assert!(h.iter().all(|h| h.is_some_and(|h| h <= 5.0)), "{h:?}");
}

#[test]
#[ignore = "10 runs of 1000 nodes (30 s each in release): 2.02-4.60 s (111.72-131.92 s before the digest)"]
fn thousand_node_partition_heals_within_5_s_at_every_phase() {
    let h = heal_times(1000);
    assert!(h.iter().all(|h| h.is_some_and(|h| h <= 5.0)), "{h:?}");
}
