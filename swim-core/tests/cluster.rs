//! Multi-node behaviour of the protocol, driven by the in-memory harness.

mod harness;

use std::time::Duration;

use harness::Cluster;
use swim_core::{Config, Event, LocalEvent, LocalStatus, MemberState};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn ten_nodes_joining_through_one_seed_converge() {
    let mut c = Cluster::new(10, Config::lan(), 1);
    c.join_all_via(0);
    let took = c
        .run_until(secs(10), Cluster::converged)
        .expect("converged");
    // Push-pull with the seed gives each joiner the whole table at once.
    assert!(took < secs(5), "took {took:?}");
    for i in 0..10 {
        assert_eq!(c.node(i).local().status, LocalStatus::Joined);
        assert_eq!(c.node(i).active_members(), 9);
    }
}

#[test]
fn killed_node_is_declared_dead_by_every_survivor_in_time() {
    let mut c = Cluster::new(10, Config::lan(), 2);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    c.run_for(secs(5));
    c.kill(7);
    let killed_at = c.now;
    // LAN, n = 10: suspicion lasts 4 s with two confirmations, 24 s at
    // most; detection takes a few probe periods before that.
    let everyone_knows = |c: &Cluster| {
        (0..10)
            .filter(|&i| i != 7)
            .all(|i| c.view(i, 7).is_some_and(|(s, _, _)| s == MemberState::Dead))
    };
    let took = c
        .run_until(secs(40), everyone_knows)
        .expect("all survivors declared it dead");
    assert!(took <= secs(30), "took {took:?}");
    for i in (0..10).filter(|&i| i != 7) {
        let failed = c.count_events(i, |e| matches!(e, Event::MemberFailed(id) if id.addr == 7));
        assert_eq!(failed, 1, "node {i} reports the failure once");
        let suspected = c.log.iter().any(|l| {
            l.node == i
                && l.at >= killed_at
                && matches!(&l.event, Event::MemberSuspected(id) if id.addr == 7)
        });
        assert!(suspected, "node {i} suspected it first");
    }
    // No false positive about anyone else.
    let false_positives = c
        .log
        .iter()
        .filter(|l| matches!(&l.event, Event::MemberFailed(id) if id.addr != 7))
        .count();
    assert_eq!(false_positives, 0);
}

#[test]
fn suspected_live_node_refutes() {
    let mut c = Cluster::new(6, Config::lan(), 3);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    // Nothing node 4 sends gets through for a while: the others suspect it.
    c.blocked = Box::new(|from, _| from == 4);
    let suspected = c.run_until(secs(30), |c| {
        c.count_events(
            1,
            |e| matches!(e, Event::MemberSuspected(id) if id.addr == 4),
        ) > 0
    });
    assert!(suspected.is_some(), "node 1 suspected node 4");
    c.blocked = Box::new(|_, _| false);
    let refuted = c.run_until(secs(10), |c| {
        c.count_events(4, |e| matches!(e, Event::Local(LocalEvent::Refuted { .. }))) > 0
            && (0..6).filter(|&i| i != 4).all(|i| {
                c.view(i, 4)
                    .is_some_and(|(s, inc, _)| s == MemberState::Alive && inc >= 1)
            })
    });
    assert!(
        refuted.is_some(),
        "node 4 refuted and everyone sees it alive at a higher incarnation"
    );
    assert!(c.node(4).local().incarnation >= 1);
    let deaths = c
        .log
        .iter()
        .filter(|l| matches!(&l.event, Event::MemberFailed(_)))
        .count();
    assert_eq!(deaths, 0, "a live node is never declared dead");
}

#[test]
fn leave_is_seen_as_left_everywhere() {
    let mut c = Cluster::new(8, Config::lan(), 4);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    let now = c.now;
    c.node_mut(5).leave(now).unwrap();
    c.drain(5);
    let all_left = |c: &Cluster| {
        (0..8)
            .filter(|&i| i != 5)
            .all(|i| c.view(i, 5).is_some_and(|(s, _, _)| s == MemberState::Left))
    };
    let took = c
        .run_until(secs(5), all_left)
        .expect("everyone saw the leave");
    assert!(took < secs(2), "took {took:?}");
    c.run_for(secs(3));
    assert_eq!(c.node(5).local().status, LocalStatus::Left);
    assert_eq!(
        c.count_events(5, |e| matches!(e, Event::Local(LocalEvent::Left))),
        1
    );
    for i in (0..8).filter(|&i| i != 5) {
        assert_eq!(
            c.count_events(i, |e| matches!(e, Event::MemberLeft(id) if id.addr == 5)),
            1
        );
        assert_eq!(
            c.count_events(i, |e| matches!(e, Event::MemberFailed(id) if id.addr == 5)),
            0,
            "left is not dead"
        );
    }
    let now = c.now;
    assert_eq!(
        c.node_mut(5).join(now, &[0]),
        Err(swim_core::CommandError::HasLeft)
    );
}

#[test]
fn restarted_node_with_higher_incarnation_is_alive_again() {
    let mut c = Cluster::new(8, Config::lan(), 5);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    let before = c.node(3).local().incarnation;
    c.kill(3);
    let dead_everywhere = |c: &Cluster| {
        (0..8)
            .filter(|&i| i != 3)
            .all(|i| c.view(i, 3).is_some_and(|(s, _, _)| s == MemberState::Dead))
    };
    c.run_until(secs(40), dead_everywhere)
        .expect("declared dead");
    // Same address and generation, persisted incarnation + 1.
    c.restart(3, 1, before + 1, &[0]);
    let took = c
        .run_until(secs(10), Cluster::converged)
        .expect("alive everywhere again");
    assert!(took < secs(5), "took {took:?}");
    for i in (0..8).filter(|&i| i != 3) {
        assert!(c.count_events(i, |e| matches!(e, Event::MemberAlive(id) if id.addr == 3)) >= 1);
    }
}

#[test]
fn restarted_node_with_new_generation_replaces_the_old_one() {
    let mut c = Cluster::new(6, Config::lan(), 6);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    c.kill(2);
    c.run_for(secs(2));
    c.restart(2, 2, 0, &[0]);
    let took = c.run_until(secs(10), |c| {
        c.converged()
            && (0..6)
                .filter(|&i| i != 2)
                .all(|i| c.view(i, 2).is_some_and(|(_, _, g)| g == 2))
    });
    assert!(took.is_some(), "every node knows generation 2 alive");
    for i in (0..6).filter(|&i| i != 2) {
        let joined = c.count_events(
            i,
            |e| matches!(e, Event::MemberJoined(id) if id.addr == 2 && id.generation == 2),
        );
        assert_eq!(joined, 1, "node {i} reports the new process as joined");
    }
}

#[test]
fn health_score_rises_when_the_local_node_is_slow() {
    let mut c = Cluster::new(6, Config::lan(), 7);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    assert_eq!(c.node(5).local().health, 0);
    // Node 5 takes 1.5 s to see anything sent to it: its probes time out.
    c.inbound_delay[5] = Duration::from_millis(1500);
    let rose = c.run_until(secs(20), |c| c.node(5).local().health >= 2);
    assert!(
        rose.is_some(),
        "health score is {}",
        c.node(5).local().health
    );
    // The slow node is the least healthy.
    let worst_other = (0..5).map(|i| c.node(i).local().health).max().unwrap();
    assert!(
        worst_other < c.node(5).local().health,
        "others up to {worst_other}"
    );
    // Recovery: once fast again the score decays.
    c.inbound_delay[5] = Duration::ZERO;
    let healed = c.run_until(secs(60), |c| c.node(5).local().health == 0);
    assert!(healed.is_some());
}

#[test]
fn every_datagram_fits_the_budget() {
    let mut config = Config::lan();
    config.packet_budget = 512;
    config.max_metadata_len = 256;
    config.max_payload_len = 256;
    let mut c = Cluster::new(30, config, 8);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    for i in 0..30 {
        let now = c.now;
        c.node_mut(i).set_metadata(now, &[i as u8; 100]).unwrap();
        c.node_mut(i).broadcast(now, None, &[7; 120]).unwrap();
        c.drain(i);
    }
    c.run_for(secs(10));
    // The harness asserts the budget on every datagram; check it worked hard.
    assert!(c.max_datagram > 400, "largest datagram {}", c.max_datagram);
    assert!(c.max_datagram <= 512);
}

#[test]
fn same_seed_gives_the_same_run() {
    let run = |seed| {
        let mut c = Cluster::new(8, Config::lan(), seed);
        c.join_all_via(0);
        c.run_for(secs(5));
        c.kill(4);
        c.run_for(secs(30));
        let trace: Vec<String> = c
            .log
            .iter()
            .map(|l| format!("{:?} {} {:?}", l.at, l.node, l.event))
            .collect();
        (trace, c.datagrams)
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11).0, run(12).0);
}

#[test]
fn clock_going_backwards_is_clamped_and_counted() {
    let mut c = Cluster::new(3, Config::lan(), 9);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    let now = c.now;
    let node = c.node_mut(1);
    node.handle_timeout(now - secs(100));
    assert_eq!(node.counters().clock_regressions, 1);
    c.run_for(secs(10));
    assert!(c.converged());
}

#[test]
fn simultaneous_joiners_learn_of_each_other_without_relying_on_gossip() {
    let mut config = Config::lan();
    config.gossip_interval = Duration::ZERO; // no fan-out timer
    config.retransmit_mult = 1; // and as little piggybacking as allowed
    let mut c = Cluster::new(12, config, 12);
    c.join_all_via(0);
    // The post-join push-pull (one probe interval after joining) fills the
    // holes long before the 30 s periodic push-pull.
    let took = c
        .run_until(secs(10), Cluster::converged)
        .expect("converged");
    assert!(took < secs(4), "took {took:?}");
}

#[test]
fn a_leaving_node_reaches_everyone_even_with_dead_members_around() {
    let mut c = Cluster::new(6, Config::local(), 13);
    c.join_all_via(0);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    c.kill(5);
    c.run_until(secs(30), |c| {
        (0..5).all(|i| c.view(i, 5).is_some_and(|(s, _, _)| s == MemberState::Dead))
    })
    .expect("dead");
    let now = c.now;
    c.node_mut(2).leave(now).unwrap();
    c.drain(2);
    let left = |c: &Cluster| {
        [0, 1, 3, 4]
            .iter()
            .all(|&i| c.view(i, 2).is_some_and(|(s, _, _)| s == MemberState::Left))
    };
    let took = c.run_until(secs(5), left).expect("everyone saw the leave");
    assert!(took < Config::local().leave_propagate_time, "took {took:?}");
}

/// A member that missed a refutation and gossips the old accusation is
/// answered at once with the refutation (otherwise it would declare a live
/// member dead when its own suspicion timer runs out).
#[test]
fn an_outdated_accusation_is_answered_with_the_refutation() {
    use swim_core::wire::{Message, Packet, Record};
    use swim_core::{Identity, Instant, Swim};

    let config = Config::lan();
    let tag = config.cluster_tag;
    let mut node: Swim<u32, rand_pcg::Pcg32> = Swim::new(
        Identity::new(1, 1),
        config,
        rand_core::SeedableRng::seed_from_u64(3),
        Instant::ZERO,
    )
    .unwrap();
    let packet = |message, records: &[Record<'_, u32>]| harness::packet(tag, message, records);
    let member = |state, incarnation, accuser| Record::Member {
        state,
        id: Identity::new(2, 1),
        incarnation,
        accuser,
        suspicion_age_ms: 0,
    };
    // Member 2 refuted: alive at incarnation 3.
    let sync = packet(
        Message::Sync { flags: 0 },
        &[
            member(MemberState::Alive, 3, None),
            member(MemberState::Alive, 0, None),
        ],
    );
    node.handle_datagram(Instant::ZERO, 2, &sync);
    let mut buf = [0u8; 1400];
    assert_eq!(harness::answer_pings(&mut node, Instant::ZERO, &[2]), 1);
    // Node 9 still suspects it at incarnation 2.
    let stale = packet(Message::Gossip, &[member(MemberState::Suspect, 2, Some(9))]);
    node.handle_datagram(Instant::ZERO, 9, &stale);
    let t = node
        .poll_transmit(Instant::ZERO, &mut buf)
        .expect("a reply to the accuser");
    assert_eq!(t.destination, 9);
    let reply = Packet::<u32>::decode(&buf[..t.len], tag).unwrap();
    let first = reply.records().next().unwrap().unwrap();
    assert_eq!(first, member(MemberState::Alive, 3, None));
    assert_eq!(node.counters().corrections_sent, 1);
    // A current accusation is not "corrected".
    let fresh = packet(Message::Gossip, &[member(MemberState::Suspect, 3, Some(9))]);
    node.handle_datagram(Instant::ZERO, 9, &fresh);
    assert_eq!(node.counters().corrections_sent, 1);
}

#[test]
fn sync_with_exchanges_tables_on_demand() {
    let mut config = Config::lan();
    config.gossip_interval = Duration::ZERO;
    let mut c = Cluster::new(4, config, 14);
    // Two pairs that never heard of each other.
    let now = c.now;
    c.node_mut(1).join(now, &[0]).unwrap();
    c.drain(1);
    c.node_mut(3).join(now, &[2]).unwrap();
    c.drain(3);
    c.run_for(secs(2));
    assert!(c.node(0).member(&2).is_none());
    let now = c.now;
    c.node_mut(0).sync_with(now, &2).unwrap();
    c.drain(0);
    let took = c
        .run_until(secs(5), Cluster::converged)
        .expect("one exchange merges the pairs");
    assert!(took < secs(3), "took {took:?}");
}

/// Lifeguard's last chance: a member whose refutation missed this node is
/// pinged with the suspicion one probe timeout before its deadline, and the
/// refutation riding on the ack saves it.
#[test]
fn a_suspect_gets_a_last_chance_ping_before_it_is_declared_dead() {
    use swim_core::wire::{Message, Packet, Record};
    use swim_core::{Identity, Instant, Swim};

    let config = Config::lan();
    let tag = config.cluster_tag;
    let mut node: Swim<u32, rand_pcg::Pcg32> = Swim::new(
        Identity::new(1, 1),
        config.clone(),
        rand_core::SeedableRng::seed_from_u64(5),
        Instant::ZERO,
    )
    .unwrap();
    let packet = |message, records: &[Record<'_, u32>]| harness::packet(tag, message, records);
    let member = |state, incarnation, accuser| Record::Member {
        state,
        id: Identity::new(2, 1),
        incarnation,
        accuser,
        suspicion_age_ms: 0,
    };
    let mut buf = [0u8; 1400];
    let mut now = Instant::ZERO;
    node.handle_datagram(
        now,
        2,
        &packet(
            Message::Sync { flags: 0 },
            &[member(MemberState::Alive, 0, None)],
        ),
    );
    assert_eq!(harness::answer_pings(&mut node, now, &[2]), 1, "admitted");
    node.handle_datagram(
        now,
        9,
        &packet(Message::Gossip, &[member(MemberState::Suspect, 0, Some(9))]),
    );
    assert_eq!(node.member(&2).unwrap().state, MemberState::Suspect);
    // Run the node's timers, answering nothing, until it pings member 2
    // with the suspicion on board.
    let mut last_chance = None;
    while last_chance.is_none() && now < Instant::from_secs(120) {
        now = node.poll_timeout().unwrap().max(now);
        node.handle_timeout(now);
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            let p = Packet::<u32>::decode(&buf[..t.len], tag).unwrap();
            if let (2, Message::Ping { seq, .. }) = (t.destination, &p.message) {
                let carries = p.records().flatten().any(|r| {
                    matches!(r, Record::Member { state: MemberState::Suspect, incarnation: 0, id, .. } if id.addr == 2)
                });
                if carries && node.counters().last_chance_probes == 1 {
                    last_chance = Some(*seq);
                }
            }
        }
        while node.poll_event().is_some() {}
    }
    let seq = last_chance.expect("a last-chance ping carrying the suspicion");
    assert_eq!(
        node.member(&2).unwrap().state,
        MemberState::Suspect,
        "not dead yet"
    );
    // Member 2 answers with its refutation on the ack.
    node.handle_datagram(
        now,
        2,
        &packet(Message::Ack { seq }, &[member(MemberState::Alive, 1, None)]),
    );
    assert_eq!(node.member(&2).unwrap().state, MemberState::Alive);
    assert_eq!(node.counters().drops.unexpected_ack, 0);
    now += Duration::from_secs(120);
    node.handle_timeout(now);
    assert_eq!(node.counters().members_declared_dead, 0);
}
