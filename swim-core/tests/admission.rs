//! The embedder's admission rules: refused identities and the admission
//! policy keep members out of the local view, whatever others gossip.

mod harness;

use std::time::Duration;

use harness::Cluster;
use swim_core::{CommandError, Config, Event, Identity, MemberState, MAX_REFUSED};

fn converged_cluster(n: u32, seed: u64) -> Cluster {
    let mut c = Cluster::new(n, Config::lan(), seed);
    c.join_all_via(0);
    let took = c.run_until(Duration::from_secs(30), Cluster::converged);
    assert!(took.is_some(), "the cluster converges");
    c
}

#[test]
fn a_refused_member_is_forgotten_and_stays_out() {
    let mut c = converged_cluster(6, 1);
    let now = c.now;
    c.node_mut(0).refuse(now, &Identity::new(4, 1)).unwrap();
    assert!(c.node(0).member(&4).is_none(), "forgotten at once");
    assert!(c
        .node_mut(0)
        .poll_event()
        .is_some_and(|e| matches!(e, Event::MemberRemoved(id) if id.addr == 4)));
    // Node 4 keeps running and everyone else keeps gossiping it alive;
    // push-pull exchanges carry it too.
    c.run_for(Duration::from_secs(60));
    assert!(c.node(0).member(&4).is_none(), "never readmitted");
    assert!(c.node(0).counters().records_refused > 0, "records counted");
    assert_eq!(c.view(1, 4).map(|v| v.0), Some(MemberState::Alive));
    assert_eq!(c.node(0).refusals().count(), 1);
}

#[test]
fn a_newer_generation_of_a_refused_address_is_admitted() {
    let mut c = converged_cluster(5, 2);
    let now = c.now;
    c.node_mut(0).refuse(now, &Identity::new(3, 1)).unwrap();
    c.kill(3);
    c.run_for(Duration::from_secs(5));
    c.restart(3, 2, 0, &[1]);
    let back = c.run_until(Duration::from_secs(30), |c| {
        c.view(0, 3) == Some((MemberState::Alive, 0, 2))
    });
    assert!(back.is_some(), "generation 2 joins node 0's view");
}

#[test]
fn lifting_a_refusal_lets_the_member_back() {
    let mut c = converged_cluster(5, 3);
    let now = c.now;
    c.node_mut(0).refuse(now, &Identity::new(2, 1)).unwrap();
    c.run_for(Duration::from_secs(10));
    assert!(c.node(0).member(&2).is_none());
    assert!(c.node_mut(0).lift_refusal(&2));
    assert!(!c.node_mut(0).lift_refusal(&2), "lifted once");
    let back = c.run_until(Duration::from_secs(60), |c| {
        c.view(0, 2).is_some_and(|v| v.0 == MemberState::Alive)
    });
    assert!(back.is_some(), "gossip brings it back");
}

#[test]
fn refusal_arguments_are_checked() {
    let mut c = Cluster::new(1, Config::lan(), 4);
    let now = c.now;
    let node = c.node_mut(0);
    assert_eq!(
        node.refuse(now, &Identity::new(0, 7)),
        Err(CommandError::LocalAddress)
    );
    for addr in 1..=MAX_REFUSED as u32 {
        node.refuse(now, &Identity::new(addr, 1)).unwrap();
    }
    assert_eq!(
        node.refuse(now, &Identity::new(1000, 1)),
        Err(CommandError::RefusalListFull)
    );
    // Refusing a known address again raises its generation, in place.
    node.refuse(now, &Identity::new(5, 9)).unwrap();
    assert_eq!(node.refusals().count(), MAX_REFUSED);
    assert!(node.refusals().any(|id| *id == Identity::new(5, 9)));
}

#[test]
fn the_admission_policy_keeps_odd_addresses_out() {
    let mut c = converged_cluster(7, 5);
    let now = c.now;
    c.node_mut(0)
        .set_admission_policy(now, Some(|id: &Identity<u32>| id.addr.is_multiple_of(2)));
    let remaining: Vec<u32> = c.node(0).members().map(|m| m.identity.addr).collect();
    assert_eq!(remaining.len(), 3, "odd members forgotten: {remaining:?}");
    assert!(remaining.iter().all(|a| a.is_multiple_of(2)));
    c.run_for(Duration::from_secs(60));
    assert!(c
        .node(0)
        .members()
        .all(|m| m.identity.addr.is_multiple_of(2)));
    assert!(c.node(0).counters().records_refused > 0);
    // Without the policy the odd members come back.
    let now = c.now;
    c.node_mut(0).set_admission_policy(now, None);
    let back = c.run_until(Duration::from_secs(60), |c| {
        c.node(0)
            .members()
            .filter(|m| m.state == MemberState::Alive)
            .count()
            == 6
    });
    assert!(back.is_some());
}
