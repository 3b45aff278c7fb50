//! Forged input, sent as an attacker would: well-formed datagrams with
//! records about real members at any generation and incarnation, invented
//! members, requests from spoofed sources. None of it may evict, hide or
//! silence a live member, and no node may be used as a reflector.

mod harness;

use std::time::Duration;

use harness::{packet, Cluster};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::wire::{Message, Record, SYNC_JOIN, SYNC_WANT_REPLY};
use swim_core::{Config, Event, Identity, Instant, MemberState, Swim};

/// An address where no node lives: the attacker's, or a spoofed one.
const ATTACKER: u32 = 1_000;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn converged(n: u32, seed: u64) -> Cluster {
    let mut c = Cluster::new(n, Config::lan(), seed);
    c.join_all_via(0);
    c.run_until(secs(20), Cluster::converged)
        .expect("converged");
    c.run_for(secs(2));
    c
}

fn member(
    state: MemberState,
    addr: u32,
    generation: u32,
    incarnation: u32,
) -> Record<'static, u32> {
    Record::Member {
        state,
        id: Identity::new(addr, generation),
        incarnation,
        accuser: (state == MemberState::Suspect).then_some(ATTACKER),
        // A liar claims the largest age: the most it can shorten timers.
        suspicion_age_ms: if state == MemberState::Suspect {
            u32::MAX
        } else {
            0
        },
    }
}

/// Sends `records` in one Gossip datagram to every node but `except`, from
/// `from`.
fn forge_to_all(c: &mut Cluster, from: u32, except: u32, records: &[Record<'_, u32>]) {
    let bytes = packet(c.config.cluster_tag, Message::Gossip, records);
    for to in 0..c.len() {
        if to != except && to != from && c.is_running(to) {
            c.inject(from, to, &bytes);
        }
    }
}

/// Events about `addr` matching `what`, at any node.
fn events_about(c: &Cluster, addr: u32, what: fn(&Event<u32, 128>) -> bool) -> usize {
    c.log
        .iter()
        .filter(|l| l.event.member().is_some_and(|id| id.addr == addr) && what(&l.event))
        .count()
}

fn departed(e: &Event<u32, 128>) -> bool {
    matches!(e, Event::MemberFailed(_) | Event::MemberLeft(_))
}

/// "Dead" and "left" about a live member, at its generation with a higher
/// incarnation and at a generation it never had, from an outsider, from a
/// spoofed member address and from the victim's own address: nobody ever
/// reports it failed or left, and it stays alive everywhere.
#[test]
fn forged_deaths_and_departures_never_reach_the_application() {
    let mut c = converged(6, 1);
    let victim = 3;
    let (generation, incarnation) = {
        let l = c.node(victim).local();
        (l.identity.generation, l.incarnation)
    };
    let forged = [
        member(MemberState::Dead, victim, generation, incarnation + 5),
        member(MemberState::Left, victim, generation, incarnation),
        member(MemberState::Dead, victim, generation + 1, 0),
        member(MemberState::Left, victim, generation + 1, 0),
        member(MemberState::Suspect, victim, generation + 1, 0),
    ];
    for from in [ATTACKER, 1, victim] {
        for record in &forged {
            forge_to_all(&mut c, from, victim, std::slice::from_ref(record));
        }
        c.run_for(Duration::from_millis(300));
    }
    c.run_for(secs(30));
    assert_eq!(events_about(&c, victim, departed), 0, "{:#?}", c.log);
    for i in (0..6).filter(|&i| i != victim) {
        let (state, _, seen_generation) = c.view(i, victim).expect("still known");
        assert_eq!(state, MemberState::Alive, "at node {i}");
        assert_eq!(seen_generation, generation, "at node {i}");
    }
    let checked: u64 = (0..6)
        .map(|i| c.node(i).counters().accusations_disproved)
        .sum();
    let refused: u64 = (0..6).map(|i| c.node(i).counters().claims_refused).sum();
    assert!(
        checked >= 5,
        "accusations were checked and disproved: {checked}"
    );
    assert!(refused >= 5, "unseen generations were refused: {refused}");
}

/// "Alive" about a live member at a generation it never had: nobody adopts
/// it (the new identity never answers), so nobody probes the member under
/// an identity it ignores, and it is never declared failed.
#[test]
fn a_forged_newer_generation_is_never_adopted() {
    let mut c = converged(6, 2);
    let victim = 4;
    let generation = c.node(victim).local().identity.generation;
    for from in [ATTACKER, 0, victim] {
        forge_to_all(
            &mut c,
            from,
            victim,
            &[member(MemberState::Alive, victim, generation + 1, 0)],
        );
        forge_to_all(
            &mut c,
            from,
            victim,
            &[member(MemberState::Alive, victim, u32::MAX, 9)],
        );
    }
    c.run_for(secs(40));
    assert_eq!(events_about(&c, victim, departed), 0);
    for i in (0..6).filter(|&i| i != victim) {
        assert_eq!(
            c.view(i, victim),
            Some((MemberState::Alive, c.view(i, victim).unwrap().1, generation))
        );
    }
    let verified: u64 = (0..6)
        .map(|i| c.node(i).counters().generations_verified)
        .sum();
    assert_eq!(verified, 0);
}

/// A real restart with a new generation is still adopted (it answers the
/// ping naming it), so the checks do not lock out restarted processes.
#[test]
fn a_real_restart_with_a_new_generation_is_adopted() {
    let mut c = converged(6, 3);
    c.kill(2);
    c.restart(2, 7, 0, &[0]);
    let adopted = |c: &Cluster| {
        (0..6).filter(|&i| i != 2).all(|i| {
            c.view(i, 2)
                .is_some_and(|v| v == (MemberState::Alive, v.1, 7))
        })
    };
    c.run_until(secs(10), adopted)
        .expect("the new generation is adopted everywhere");
}

/// A forged suspicion at a high incarnation is refuted by the member: it may
/// be reported suspect for a moment, never failed.
#[test]
fn a_forged_suspicion_is_refuted() {
    let mut c = converged(6, 4);
    let victim = 5;
    let l = c.node(victim).local();
    let (generation, incarnation) = (l.identity.generation, l.incarnation);
    forge_to_all(
        &mut c,
        ATTACKER,
        victim,
        &[member(
            MemberState::Suspect,
            victim,
            generation,
            incarnation + 5,
        )],
    );
    c.run_for(secs(60));
    assert_eq!(events_about(&c, victim, departed), 0);
    assert!(
        c.node(victim).local().incarnation > incarnation + 5,
        "refuted"
    );
    for i in (0..6).filter(|&i| i != victim) {
        assert_eq!(c.view(i, victim).unwrap().0, MemberState::Alive);
    }
}

/// Invented members (addresses where nobody listens) are never listed,
/// counted, probed or relayed; detection of a real crash is as fast as
/// without them and Lifeguard health of honest nodes stays at 0.
#[test]
fn invented_members_do_not_dilute_detection() {
    let detect = |fakes: u32| {
        let mut c = converged(8, 5);
        let tag = c.config.cluster_tag;
        for chunk in (0..fakes).collect::<Vec<_>>().chunks(100) {
            let records: Vec<_> = chunk
                .iter()
                .map(|&k| member(MemberState::Alive, 10_000 + k, 1, 0))
                .collect();
            let bytes = packet(tag, Message::Gossip, &records);
            for to in 0..8 {
                c.inject(ATTACKER, to, &bytes);
            }
        }
        c.run_for(secs(5));
        let crash_at = c.now;
        c.kill(6);
        let mut max_health = 0;
        let took = c
            .run_until(secs(120), |c| {
                max_health = max_health.max(
                    (0..8)
                        .filter(|&i| c.is_running(i))
                        .map(|i| c.node(i).local().health)
                        .max()
                        .unwrap(),
                );
                (0..8)
                    .filter(|&i| c.is_running(i))
                    .all(|i| c.view(i, 6).is_some_and(|v| v.0 == MemberState::Dead))
            })
            .expect("the crash is detected");
        for i in (0..8).filter(|&i| c.is_running(i)) {
            assert!(
                c.node(i).members().all(|m| m.identity.addr < 8),
                "a fake is listed at {i}"
            );
            assert_eq!(c.node(i).active_members(), 6);
        }
        let fakes_pinged = c.to_outsiders.keys().filter(|&&a| a >= 10_000).count();
        let _ = crash_at;
        (took, max_health, fakes_pinged, c)
    };
    let (baseline, _, _, _) = detect(0);
    let (attacked, health, pinged, mut c) = detect(2_000);
    println!("detection without invented members {baseline:?}, with 2000: {attacked:?}; {pinged} fakes pinged");
    assert!(attacked <= baseline * 2, "{attacked:?} vs {baseline:?}");
    assert_eq!(health, 0, "Lifeguard health of honest nodes");
    // Each invented address got at most one bare ping per node that heard
    // of it (18 bytes for the ping per record naming it).
    for (&addr, &(bytes, datagrams)) in &c.to_outsiders {
        if addr >= 10_000 {
            assert!(
                datagrams <= 8 && bytes <= 8 * 18,
                "{addr}: {datagrams} datagrams, {bytes} B"
            );
        }
    }
    // Candidates that never answer are forgotten.
    c.run_for(secs(60));
    for i in (0..8).filter(|&i| c.is_running(i)) {
        assert_eq!(c.node(i).queue_lengths().unverified, 0, "at node {i}");
    }
}

/// Nodes 0-3 joined, with tables of 16 members filled up by invented
/// members learned second-hand; node 4 has not joined yet.
fn tables_full_of_invented_members() -> Cluster {
    let config = Config::lan().with_max_members(16);
    let mut c = Cluster::new(5, config, 6);
    for i in 1..4 {
        let now = c.now;
        c.node_mut(i).join(now, &[0]).unwrap();
        c.drain(i);
    }
    c.run_for(secs(5));
    let tag = c.config.cluster_tag;
    let records: Vec<_> = (0..64)
        .map(|k| member(MemberState::Alive, 10_000 + k, 1, 0))
        .collect();
    for to in 0..4 {
        c.inject(ATTACKER, to, &packet(tag, Message::Gossip, &records));
        assert_eq!(c.node(to).queue_lengths().members, 16, "full");
    }
    c
}

/// A table filled with invented members still admits a real node that
/// joins afterwards.
#[test]
fn a_full_table_still_admits_a_real_joiner() {
    let mut c = tables_full_of_invented_members();
    let now = c.now;
    c.node_mut(4).join(now, &[0]).unwrap();
    c.drain(4);
    let admitted =
        |c: &Cluster| (0..4).all(|i| c.view(i, 4).is_some_and(|v| v.0 == MemberState::Alive));
    c.run_until(secs(20), admitted)
        .expect("the real joiner is admitted everywhere");
}

/// A full table makes room at once for a node heard from first-hand by
/// forgetting a candidate learned second-hand; a table full of verified
/// members refuses forged newcomers, whatever they claim, and keeps every
/// member.
#[test]
fn a_full_table_evicts_only_second_hand_candidates_for_a_first_hand_newcomer() {
    let mut c = tables_full_of_invented_members();
    let tag = c.config.cluster_tag;
    let evicted = c.node(0).counters().unverified_evicted;
    let now = c.now;
    c.node_mut(4).join(now, &[0]).unwrap();
    c.drain(4);
    // Long before any invented candidate's admission could fail (and
    // before the joiner's first retry).
    c.run_until(Duration::from_millis(300), |c| {
        c.view(0, 4).is_some_and(|v| v.0 == MemberState::Alive)
    })
    .unwrap_or_else(|| {
        panic!(
            "the joiner is admitted at once: {:?} {:?} {:?}",
            c.view(0, 4),
            c.node(0).counters().unverified_evicted,
            c.node(0).counters().members_refused
        )
    });
    assert_eq!(c.node(0).counters().unverified_evicted, evicted + 1);

    // Sixteen verified members: no candidate to evict, nothing to scan.
    let mut c = Cluster::new(17, Config::lan().with_max_members(16), 7);
    c.join_all_via(0);
    c.run_until(secs(30), Cluster::converged)
        .expect("converged");
    let refused = c.node(0).counters().members_refused;
    for k in 0..200 {
        // Each claims to be the sender itself: first-hand.
        let forger = 20_000 + k;
        let bytes = packet(
            tag,
            Message::Gossip,
            &[member(MemberState::Alive, forger, 1, 0)],
        );
        c.inject(forger, 0, &bytes);
    }
    assert_eq!(c.node(0).counters().members_refused, refused + 200);
    assert!(c.node(0).members().all(|m| m.identity.addr < 17));
    assert_eq!(c.node(0).active_members(), 16);
}

/// Replies to an address that never proved it receives traffic stay within
/// three times what it sent, for every message type; printed per type (the
/// README's amplification table).
#[test]
fn no_reply_exceeds_three_times_the_request_to_an_unvalidated_source() {
    type Node = Swim<u32, Pcg32, 320, 128>;
    let config = Config::lan();
    let tag = config.cluster_tag;
    let now = Instant::from_secs(1);
    let me = Identity::new(0u32, 1);
    let mut node = Node::new(me.clone(), config, Pcg32::seed_from_u64(1), now).unwrap();
    // A node that knows 300 verified members.
    let members: Vec<_> = (1..=300)
        .map(|a| member(MemberState::Alive, a, 1, 0))
        .collect();
    let everyone: Vec<u32> = (1..=300).collect();
    for chunk in members.chunks(100) {
        node.handle_datagram(now, 1, &packet(tag, Message::Sync { flags: 0 }, chunk));
        harness::answer_pings(&mut node, now, &everyone);
    }
    // Member 7 refuted a suspicion: a stale accusation about it is
    // answered with a correction.
    let refuted = packet(tag, Message::Gossip, &[member(MemberState::Alive, 7, 1, 1)]);
    node.handle_datagram(now, 7, &refuted);
    harness::answer_pings(&mut node, now, &everyone);
    while node.poll_event().is_some() {}
    assert_eq!(node.active_members(), 300);
    assert_eq!(node.member(&7).map(|m| m.incarnation), Some(1));
    let mut buf = vec![0u8; 1400];
    let mut measure = |name: &str, bytes: &[u8], answered_by: &[u32]| {
        let mut sent = 0usize;
        let mut received = 0usize;
        for k in 0..50u32 {
            let source = ATTACKER + k;
            let t = now + Duration::from_millis(u64::from(k) * 10);
            sent += bytes.len();
            node.handle_datagram(t, source, bytes);
            while let Some(out) = node.poll_transmit(t, &mut buf) {
                if out.destination == source {
                    received += out.len;
                } else {
                    assert!(
                        out.destination <= 300 || answered_by.is_empty(),
                        "{name}: to {}",
                        out.destination
                    );
                }
            }
            while node.poll_event().is_some() {}
        }
        let factor = received as f64 / sent as f64;
        println!("amplification {name}: sent {sent} B, received {received} B, factor {factor:.2}");
        assert!(received <= 3 * sent, "{name}: {received} B for {sent} B");
        factor
    };
    let join_request = packet(
        tag,
        Message::Sync {
            flags: SYNC_WANT_REPLY | SYNC_JOIN,
        },
        &[member(MemberState::Alive, ATTACKER, 1, 0)],
    );
    measure("sync (want reply, join, own record)", &join_request, &[]);
    measure(
        "sync (want reply, empty)",
        &packet(
            tag,
            Message::Sync {
                flags: SYNC_WANT_REPLY,
            },
            &[],
        ),
        &[],
    );
    measure(
        "ping (right target)",
        &packet(
            tag,
            Message::Ping {
                seq: 7,
                target: me.clone(),
            },
            &[],
        ),
        &[],
    );
    measure(
        "ping-req (unknown target)",
        &packet(
            tag,
            Message::PingReq {
                seq: 7,
                target: Identity::new(5_000, 1),
            },
            &[],
        ),
        &[],
    );
    measure(
        "ping-req (known target)",
        &packet(
            tag,
            Message::PingReq {
                seq: 7,
                target: Identity::new(5, 1),
            },
            &[],
        ),
        &[5],
    );
    measure(
        "gossip (stale accusation)",
        &packet(
            tag,
            Message::Gossip,
            &[Record::Member {
                state: MemberState::Suspect,
                id: Identity::new(7, 1),
                incarnation: 0,
                accuser: Some(ATTACKER),
                suspicion_age_ms: 0,
            }],
        ),
        &[7],
    );
    measure(
        "ack (unknown seq)",
        &packet(tag, Message::Ack { seq: 99 }, &[]),
        &[],
    );
    measure(
        "nack (unknown seq)",
        &packet(tag, Message::Nack { seq: 99 }, &[]),
        &[],
    );
    measure(
        "direct message",
        &packet(tag, Message::Direct { payload: b"hi" }, &[]),
        &[],
    );
    assert!(node.counters().replies_limited > 0 || node.counters().drops.total() > 0);
}

/// A verified member asking for the table again and again gets it at most
/// once per quarter probe interval.
#[test]
fn push_pull_replies_are_rate_limited_per_member() {
    type Node = Swim<u32, Pcg32, 64, 128>;
    let config = Config::lan();
    let tag = config.cluster_tag;
    let mut now = Instant::from_secs(1);
    let mut node = Node::new(Identity::new(0u32, 1), config, Pcg32::seed_from_u64(2), now).unwrap();
    let members: Vec<_> = (1..=50)
        .map(|a| member(MemberState::Alive, a, 1, 0))
        .collect();
    node.handle_datagram(now, 1, &packet(tag, Message::Sync { flags: 0 }, &members));
    harness::answer_pings(&mut node, now, &(1..=50).collect::<Vec<_>>());
    let request = packet(
        tag,
        Message::Sync {
            flags: SYNC_WANT_REPLY,
        },
        &[],
    );
    let mut buf = vec![0u8; 1400];
    let mut tables = 0;
    for _ in 0..100 {
        now += Duration::from_millis(20);
        node.handle_datagram(now, 7, &request);
        let mut got = 0;
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            if t.destination == 7 && t.len > 200 {
                got += 1;
            }
        }
        tables += usize::from(got > 0);
    }
    // 100 requests over 2 s: at most one table per 250 ms.
    assert!((2..=9).contains(&tables), "{tables} tables");
    assert!(node.counters().sync_replies_limited >= 90);
}

/// A member forges another member's metadata at a far higher version: the
/// victim republishes its own above it, and every view ends with the
/// victim's real metadata.
#[test]
fn forged_metadata_about_a_live_member_is_refuted_by_it() {
    let mut c = Cluster::new(5, Config::lan(), 21);
    for i in 0..5 {
        let now = c.now;
        c.node_mut(i)
            .set_local_state(now, b"role", b"real")
            .unwrap();
    }
    c.join_all_via(0);
    c.run_for(secs(20));
    assert!(c.converged());
    let tag = c.config.cluster_tag;
    let victim = Identity::new(2, 1);
    // The victim's own key-value bytes with another value of the same
    // length.
    let real = c.node(2).local().metadata.to_vec();
    let at = real.windows(4).position(|w| w == b"real").unwrap();
    let mut forged_meta = real.clone();
    forged_meta[at..at + 4].copy_from_slice(b"evil");
    let forged = packet(
        tag,
        Message::Gossip,
        &[Record::Meta {
            id: victim.clone(),
            version: 1_000,
            data: &forged_meta,
        }],
    );
    for to in [0, 1, 2, 3] {
        c.inject(4, to, &forged);
    }
    assert_eq!(
        c.node(0).member(&2).unwrap().state_value(b"role"),
        Some(&b"evil"[..]),
        "the forgery is believed at first"
    );
    c.run_for(secs(15));
    for i in [0, 1, 3, 4] {
        let view = c.node(i).member(&2).unwrap();
        assert_eq!(view.state_value(b"role"), Some(&b"real"[..]), "node {i}");
        assert!(view.metadata_version > 1_000);
    }
    assert!(c.node(2).counters().metadata_refuted >= 1);
    assert_eq!(c.node(2).local().state_value(b"role"), Some(&b"real"[..]));
}
