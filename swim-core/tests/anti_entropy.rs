//! Anti-entropy, partition healing, restarts, metadata, broadcasts and
//! cluster isolation, driven by the in-memory harness.

mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::Cluster;
use swim_core::{CommandError, Config, Event, Identity, Instant, MemberState, Swim};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn healed_partition_merges_without_any_join_call() {
    let config = Config::lan();
    let push_pull = config.push_pull_interval;
    let mut c = Cluster::new(20, config, 21);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    let side = |i: u32| i < 10;
    c.blocked = Box::new(move |from, to| side(from) != side(to));
    let split = |c: &Cluster| {
        (0..20).all(|i| {
            (0..20)
                .filter(|&j| side(j) != side(i))
                .all(|j| c.view(i, j).is_some_and(|(s, _, _)| s == MemberState::Dead))
        })
    };
    c.run_until(secs(120), split)
        .expect("each side declared the other dead");
    c.blocked = Box::new(|_, _| false);
    let healed_in = c.run_until(push_pull + secs(20), Cluster::converged);
    let healed_in = healed_in.expect("full agreement after the heal, with no join call");
    println!("partition healed in {healed_in:?} (push-pull interval {push_pull:?})");
    assert!(healed_in <= push_pull + secs(1), "took {healed_in:?}");
}

#[test]
fn mass_restart_of_30_percent_recovers() {
    let mut c = Cluster::new(20, Config::lan(), 22);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    let restarted: Vec<u32> = (14..20).collect();
    for &i in &restarted {
        c.kill(i);
    }
    let dead_everywhere = |c: &Cluster| {
        (0..14)
            .all(|i| (14..20).all(|j| c.view(i, j).is_some_and(|(s, _, _)| s == MemberState::Dead)))
    };
    c.run_until(secs(60), dead_everywhere)
        .expect("declared dead");
    // Same addresses, same generation, incarnation lost (not persisted).
    for &i in &restarted {
        c.restart(i, 1, 0, &[0, 1]);
    }
    let took = c
        .run_until(secs(30), Cluster::converged)
        .expect("all alive everywhere");
    println!("mass restart recovered in {took:?}");
    assert!(took <= secs(10), "took {took:?}");
    for &i in &restarted {
        assert!(
            c.node(i).local().incarnation >= 1,
            "node {i} refuted the stale death"
        );
    }
}

#[test]
fn stale_accusation_at_a_high_incarnation_is_refuted_after_restart() {
    let mut c = Cluster::new(5, Config::lan(), 23);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    // Node 4 raised its incarnation to 9 in a previous life.
    c.kill(4);
    c.restart(4, 1, 9, &[0]);
    c.run_until(secs(10), Cluster::converged)
        .expect("converged");
    c.kill(4);
    c.run_until(secs(60), |c| {
        (0..4).all(|i| c.view(i, 4).is_some_and(|(s, _, _)| s == MemberState::Dead))
    })
    .expect("dead at incarnation 9");
    c.restart(4, 1, 0, &[0]);
    c.run_until(secs(10), Cluster::converged)
        .expect("alive again");
    assert!(c.node(4).local().incarnation >= 10);
}

#[test]
fn metadata_reaches_every_node_and_oversize_is_refused() {
    let mut config = Config::lan();
    config.max_metadata_len = 100;
    let mut c = Cluster::new(10, config, 24);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    let now = c.now;
    c.node_mut(3).set_metadata(now, b"role=db zone=b").unwrap();
    c.drain(3);
    let everywhere = |c: &Cluster| {
        (0..10)
            .filter(|&i| i != 3)
            .all(|i| c.node(i).member(&3).unwrap().metadata == b"role=db zone=b")
    };
    let took = c.run_until(secs(10), everywhere).expect("metadata spread");
    assert!(took < secs(3), "took {took:?}");
    for i in (0..10).filter(|&i| i != 3) {
        assert_eq!(
            c.count_events(i, |e| matches!(e, Event::MemberUpdated(id) if id.addr == 3)),
            1
        );
    }
    assert_eq!(
        c.node_mut(3).set_metadata(now, &[0; 101]),
        Err(CommandError::MetadataTooLarge)
    );
    assert_eq!(c.node(3).local().metadata, b"role=db zone=b");
    // The default limit is 512: 600 bytes is refused as well.
    let mut node: Swim<u32, rand_pcg::Pcg32> = Swim::new(
        Identity::new(1, 1),
        Config::lan(),
        rand_core::SeedableRng::seed_from_u64(1),
        Instant::ZERO,
    )
    .unwrap();
    assert_eq!(
        node.set_metadata(Instant::ZERO, &[0; 600]),
        Err(CommandError::MetadataTooLarge)
    );
}

#[test]
fn late_joiner_learns_metadata_through_push_pull() {
    let mut c = Cluster::new(6, Config::lan(), 25);
    for i in 0..5 {
        c.node_mut(i)
            .set_metadata(Instant::from_secs(1), format!("node-{i}").as_bytes())
            .unwrap();
    }
    for i in 1..5 {
        c.node_mut(i).join(Instant::from_secs(1), &[0]).unwrap();
        c.drain(i);
    }
    c.run_for(secs(60)); // long after every record stopped being gossiped
    let now = c.now;
    c.node_mut(5).join(now, &[2]).unwrap();
    c.drain(5);
    let knows = |c: &Cluster| {
        (0..5).all(|i| {
            c.node(5)
                .member(&i)
                .is_some_and(|m| m.metadata == format!("node-{i}").as_bytes())
        })
    };
    assert!(c.run_until(secs(5), knows).is_some());
}

#[test]
fn a_thousand_broadcasts_during_churn_arrive_once_everywhere() {
    let mut c = Cluster::new(20, Config::lan(), 26);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    let senders = [1u32, 2, 3, 4, 5];
    let churners = [16u32, 17, 18, 19];
    let stable: Vec<u32> = (0..16).collect();
    let mut next = BTreeMap::new();
    let mut step = 0u64;
    while next.values().sum::<u32>() < 1000 || step < 10 {
        for &s in &senders {
            let k = next.entry(s).or_insert(0u32);
            if *k >= 200 {
                continue;
            }
            let now = c.now;
            let payload = format!("{s}:{k}");
            match c.node_mut(s).broadcast(now, None, payload.as_bytes()) {
                Ok(()) => *k += 1,
                Err(CommandError::BroadcastQueueFull) => {}
                Err(e) => panic!("{e}"),
            }
            c.drain(s);
        }
        // Churn: every 2 s one churner leaves or crashes, and comes back.
        if step.is_multiple_of(40) {
            let who = churners[(step / 40) as usize % churners.len()];
            if c.is_running(who) {
                if step.is_multiple_of(80) {
                    let now = c.now;
                    c.node_mut(who).leave(now).unwrap();
                    c.drain(who);
                } else {
                    c.kill(who);
                }
            }
        }
        if step % 40 == 20 {
            for &who in &churners {
                let gone = !c.is_running(who)
                    || c.node(who).local().status == swim_core::LocalStatus::Left;
                if gone {
                    let generation = 2 + (step / 40) as u32;
                    c.restart(who, generation, 0, &[0]);
                }
            }
        }
        c.run_for(Duration::from_millis(50));
        step += 1;
    }
    c.run_for(secs(30));
    for &node in &stable {
        let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for l in c.log.iter().filter(|l| l.node == node) {
            if let Event::Broadcast { payload, .. } = &l.event {
                *seen.entry(payload.to_vec()).or_default() += 1;
            }
        }
        let expected = if senders.contains(&node) { 800 } else { 1000 };
        assert_eq!(
            seen.len(),
            expected,
            "node {node} got {} distinct broadcasts",
            seen.len()
        );
        assert!(
            seen.values().all(|&n| n == 1),
            "node {node} got a duplicate"
        );
    }
}

#[test]
fn newer_broadcast_with_the_same_key_replaces_the_queued_one() {
    let mut c = Cluster::new(4, Config::lan(), 27);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    // Node 3 is cut off while two versions of key 7 are broadcast.
    c.blocked = Box::new(|from, to| from == 3 || to == 3);
    let now = c.now;
    c.node_mut(1).broadcast(now, Some(7), b"v1").unwrap();
    c.node_mut(1).broadcast(now, Some(7), b"v2").unwrap();
    c.drain(1);
    c.run_for(secs(1));
    c.blocked = Box::new(|_, _| false);
    c.run_for(secs(5));
    let got: Vec<Vec<u8>> = c
        .log
        .iter()
        .filter(|l| l.node == 2)
        .filter_map(|l| match &l.event {
            Event::Broadcast { payload, key, .. } if *key == Some(7) => Some(payload.to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![b"v2".to_vec()], "v1 never left the queue");
}

#[test]
fn direct_message_reaches_only_its_destination() {
    let mut c = Cluster::new(4, Config::lan(), 28);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    let now = c.now;
    c.node_mut(1).send_message(now, &2, b"hi two").unwrap();
    c.drain(1);
    c.run_for(secs(1));
    assert_eq!(
        c.count_events(
            2,
            |e| matches!(e, Event::Message { from: 1, payload } if &payload[..] == b"hi two")
        ),
        1
    );
    assert_eq!(c.count_events(3, |e| matches!(e, Event::Message { .. })), 0);
    assert_eq!(
        c.node_mut(1).send_message(now, &99, b"x"),
        Err(CommandError::UnknownMember)
    );
}

#[test]
fn packets_of_another_cluster_or_version_are_dropped_and_counted() {
    let run = |label: &str| {
        let mut a: Swim<u32, rand_pcg::Pcg32> = Swim::new(
            Identity::new(1, 1),
            Config::lan().with_label(label),
            rand_core::SeedableRng::seed_from_u64(1),
            Instant::ZERO,
        )
        .unwrap();
        a.join(Instant::ZERO, &[2]).unwrap();
        let mut buf = [0u8; 1400];
        let t = a.poll_transmit(Instant::ZERO, &mut buf).unwrap();
        buf[..t.len].to_vec()
    };
    let mut c = Cluster::new(2, Config::lan().with_label("prod"), 29);
    let foreign = run("staging");
    c.inject(1, 0, &foreign);
    assert_eq!(c.node(0).counters().drops.wrong_cluster, 1);
    let mut other_version = run("prod");
    c.inject(1, 0, &other_version);
    c.run_for(Duration::from_millis(100));
    assert_eq!(c.node(0).active_members(), 1, "same label is accepted");
    other_version[0] = 2;
    c.inject(1, 0, &other_version);
    assert_eq!(c.node(0).counters().drops.unknown_version, 1);
    c.inject(1, 0, &[]);
    c.inject(1, 0, &vec![1u8; 70_000]);
    let drops = c.node(0).counters().drops;
    assert_eq!((drops.truncated, drops.oversized), (1, 1));
    // A datagram claiming to come from the node itself is never answered.
    c.inject(0, 0, &with_current_version(&other_version));
    assert_eq!(c.node(0).counters().drops.from_self, 1);
}

#[test]
fn key_value_state_reaches_every_node() {
    let mut c = Cluster::new(6, Config::lan(), 30);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    let now = c.now;
    c.node_mut(2)
        .set_local_state(now, b"somekey", b"somevalue")
        .unwrap();
    c.node_mut(2).set_local_state(now, b"zone", b"b").unwrap();
    c.node_mut(2).remove_local_state(now, b"zone").unwrap();
    c.drain(2);
    let everywhere = |c: &Cluster| {
        (0..6).filter(|&i| i != 2).all(|i| {
            let m = c.node(i).member(&2).unwrap();
            m.state_value(b"somekey") == Some(&b"somevalue"[..]) && m.state_value(b"zone").is_none()
        })
    };
    assert!(c.run_until(secs(5), everywhere).is_some());
    assert_eq!(
        c.node(2).local().state_value(b"somekey"),
        Some(&b"somevalue"[..])
    );
    let too_big = vec![b'x'; 600];
    assert_eq!(
        c.node_mut(2).set_local_state(now, b"k", &too_big),
        Err(CommandError::MetadataTooLarge)
    );
}

/// The packet with its version byte restored (any valid packet will do).
fn with_current_version(packet: &[u8]) -> Vec<u8> {
    let mut p = packet.to_vec();
    p[0] = swim_core::wire::PROTOCOL_VERSION;
    p
}

/// Two nodes that know each other and 40 members in common (admitted, never
/// heard from again), as `(node 1, node 2)`.
fn two_views() -> (harness::Node, harness::Node) {
    use swim_core::wire::{Message, Record};
    let mut config = Config::lan();
    // No probe and no gossip in the window: only the anti-entropy timer.
    config.probe_interval = secs(3600);
    config.probe_timeout = secs(1);
    config.gossip_interval = Duration::ZERO;
    config.push_pull_interval = secs(5);
    let tag = config.cluster_tag;
    let make = |addr: u32| -> harness::Node {
        let mut n = Swim::new(
            Identity::new(addr, 1),
            config.clone(),
            rand_core::SeedableRng::seed_from_u64(u64::from(addr)),
            Instant::ZERO,
        )
        .unwrap();
        let others: Vec<u32> = (1..=42).filter(|&a| a != addr).collect();
        let records: Vec<Record<'_, u32>> = others
            .iter()
            .map(|&a| Record::Member {
                state: MemberState::Alive,
                id: Identity::new(a, 1),
                incarnation: 0,
                accuser: None,
                suspicion_age_ms: 0,
            })
            .collect();
        for chunk in records.chunks(20) {
            let sync = harness::packet(tag, Message::Sync { flags: 0 }, chunk);
            n.handle_datagram(Instant::ZERO, others[0], &sync);
        }
        harness::answer_pings(&mut n, Instant::ZERO, &others);
        // Every member but the two nodes is suspect (for far longer than
        // the test runs): each node's anti-entropy round then picks the
        // other one, the only alive member, whatever its random draws.
        // Digests leave alive or suspect out, so the views stay equal.
        let suspects: Vec<Record<'_, u32>> = others
            .iter()
            .filter(|&&a| a > 2)
            .map(|&a| Record::Member {
                state: MemberState::Suspect,
                id: Identity::new(a, 1),
                incarnation: 0,
                accuser: Some(3),
                suspicion_age_ms: 0,
            })
            .collect();
        for chunk in suspects.chunks(20) {
            let gossip = harness::packet(tag, Message::Gossip, chunk);
            n.handle_datagram(Instant::ZERO, 3, &gossip);
        }
        let mut buf = [0u8; 1400];
        while n.poll_transmit(Instant::ZERO, &mut buf).is_some() {}
        while n.poll_event().is_some() {}
        assert_eq!(n.members().count(), 41);
        assert_eq!(
            n.members()
                .filter(|m| m.state == MemberState::Suspect)
                .count(),
            40
        );
        n
    };
    (make(1), make(2))
}

/// Runs both nodes' timers until `until`, delivering everything each sends
/// to the other (and dropping what goes elsewhere); returns the kinds of
/// the messages exchanged, with how many records each carried.
fn shuttle(
    a: &mut harness::Node,
    b: &mut harness::Node,
    from: Instant,
    until: Instant,
) -> Vec<(u32, String, usize)> {
    use swim_core::wire::Packet;
    let tag = a.config().cluster_tag;
    let mut log = Vec::new();
    let mut now = from;
    let mut buf = [0u8; 1400];
    loop {
        let mut moved = true;
        while moved {
            moved = false;
            for me in [1u32, 2] {
                let mut out = Vec::new();
                {
                    let node = if me == 1 { &mut *a } else { &mut *b };
                    while let Some(t) = node.poll_transmit(now, &mut buf) {
                        let p = Packet::<u32>::decode(&buf[..t.len], tag).unwrap();
                        let kind = format!("{:?}", p.message);
                        let kind = kind.split([' ', '{']).next().unwrap().to_string();
                        log.push((me, kind, p.records().count()));
                        if t.destination == 3 - me {
                            out.push(buf[..t.len].to_vec());
                        }
                    }
                    while node.poll_event().is_some() {}
                }
                let other = if me == 1 { &mut *b } else { &mut *a };
                for bytes in out {
                    other.handle_datagram(now, me, &bytes);
                    moved = true;
                }
            }
        }
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= until => {
                now = t.max(now);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
            _ => return log,
        }
    }
}

#[test]
fn equal_views_exchange_two_small_digests_and_nothing_else() {
    let (mut a, mut b) = two_views();
    let log = shuttle(&mut a, &mut b, Instant::ZERO, Instant::from_secs(60));
    let digests = log.iter().filter(|(_, k, _)| k == "Digest").count();
    assert!(digests >= 2, "{log:?}");
    assert!(
        log.iter().all(|(_, k, _)| k == "Digest" || k == "Ping"),
        "only digests (and admission pings elsewhere): {log:?}"
    );
    assert!(a.counters().digests_equal + b.counters().digests_equal >= 1);
    assert_eq!(a.counters().digest_repairs + b.counters().digest_repairs, 0);
}

#[test]
fn a_missed_update_is_repaired_with_the_members_of_its_bucket_only() {
    let (mut a, mut b) = two_views();
    // Node 2 changes its metadata; node 1 does not hear of it.
    b.set_metadata(Instant::ZERO, b"v2").unwrap();
    let mut buf = [0u8; 1400];
    while b.poll_transmit(Instant::ZERO, &mut buf).is_some() {}
    assert_ne!(
        a.member(&2).unwrap().metadata,
        b"v2".as_slice(),
        "not known yet"
    );
    let log = shuttle(&mut a, &mut b, Instant::ZERO, Instant::from_secs(30));
    assert_eq!(a.member(&2).unwrap().metadata, b"v2".as_slice(), "{log:?}");
    assert_eq!(a.counters().digest_repairs + b.counters().digest_repairs, 1);
    let parts: Vec<_> = log.iter().filter(|(_, k, _)| k == "SyncBuckets").collect();
    assert!(!parts.is_empty(), "{log:?}");
    assert!(
        !log.iter().any(|(_, k, _)| k == "Sync"),
        "no whole table: {log:?}"
    );
    // 42 members in 32 buckets: a bucket holds a few, not the table.
    let records: usize = parts.iter().map(|(_, _, n)| n).sum();
    assert!((2..20).contains(&records), "{log:?}");
}

#[test]
fn a_quiet_cluster_only_exchanges_equal_digests() {
    let mut c = Cluster::new(12, Config::lan(), 5);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    c.run_for(secs(30));
    let total = |c: &Cluster, f: fn(&swim_core::Counters) -> u64| -> u64 {
        (0..c.len()).map(|i| f(&c.node(i).counters())).sum()
    };
    let before = (
        total(&c, |k| k.digests_equal),
        total(&c, |k| k.digest_repairs),
        total(&c, |k| k.syncs_started),
    );
    c.run_for(secs(60));
    let after = (
        total(&c, |k| k.digests_equal),
        total(&c, |k| k.digest_repairs),
        total(&c, |k| k.syncs_started),
    );
    // 12 nodes, one round each per 5 s: about 144 exchanges in 60 s.
    assert!(after.0 - before.0 >= 100, "{before:?} -> {after:?}");
    assert_eq!(after.1, before.1, "no repair");
    assert_eq!(after.2, before.2, "no whole-table exchange");
}

#[test]
fn digests_from_strangers_and_answers_nobody_asked_for_draw_nothing() {
    use swim_core::wire::{Message, DIGEST_BUCKETS, DIGEST_BUCKETS_LEN, DIGEST_WANT_REPLY};
    let (mut a, _) = two_views();
    let tag = a.config().cluster_tag;
    let mut buf = [0u8; 1400];
    let digest = |flags, buckets: &'static [u8]| {
        harness::packet(
            tag,
            Message::Digest {
                flags,
                root: 7,
                count: 3,
                buckets,
            },
            &[],
        )
    };
    let buckets: &'static [u8] = &[0xee; DIGEST_BUCKETS_LEN];
    // From an address that is no member (spoofed or a stranger): dropped.
    for flags in [DIGEST_WANT_REPLY, 0, DIGEST_BUCKETS] {
        let bytes = if flags == DIGEST_BUCKETS {
            digest(flags, buckets)
        } else {
            digest(flags, &[])
        };
        a.handle_datagram(Instant::ZERO, 99, &bytes);
        assert!(a.poll_transmit(Instant::ZERO, &mut buf).is_none());
    }
    assert_eq!(a.counters().drops.not_member, 3);
    // A root "answer" in a member's name that this node never asked for:
    // no bucket hashes go out (which would be 16x the forged datagram).
    a.handle_datagram(Instant::ZERO, 2, &digest(0, &[]));
    assert!(a.poll_transmit(Instant::ZERO, &mut buf).is_none());
    assert_eq!(a.counters().drops.unexpected_ack, 1);
    // A request in a member's name is answered with a root of the same size.
    let request = digest(DIGEST_WANT_REPLY, &[]);
    a.handle_datagram(Instant::ZERO, 2, &request);
    let t = a.poll_transmit(Instant::ZERO, &mut buf).expect("the root");
    assert_eq!((t.destination, t.len), (2, request.len()));
}

/// Metadata emptied after being set: a node that missed the change gets it
/// from anti-entropy (the digest covers the metadata version, so the empty
/// record must travel in the repair too).
#[test]
fn emptied_metadata_missed_by_gossip_is_repaired() {
    let mut c = Cluster::new(3, Config::lan(), 31);
    let now = c.now;
    c.node_mut(0).set_metadata(now, b"zone=a").unwrap();
    c.join_all_via(0);
    c.run_for(Duration::from_secs(10));
    assert_eq!(c.node(2).member(&0).unwrap().metadata, b"zone=a");
    // Node 2 hears nothing while node 0 empties its metadata and the
    // change is gossiped out.
    c.blocked = Box::new(|_, to| to == 2);
    let now = c.now;
    c.node_mut(0).set_metadata(now, b"").unwrap();
    c.run_for(Duration::from_secs(3));
    c.blocked = Box::new(|_, _| false);
    assert_eq!(c.node(2).member(&0).unwrap().metadata, b"zone=a", "missed");
    let repaired = c.run_until(Duration::from_secs(40), |c| {
        c.node(2)
            .member(&0)
            .is_some_and(|m| m.metadata.is_empty() && m.metadata_version == 2)
    });
    assert!(repaired.is_some(), "node 2 still holds the old metadata");
}
