//! The failure detector's timing and its conversations with a suspect: a
//! failed probe turns into a suspicion as soon as every helper has nacked,
//! the wait for an ack adapts to measured round trips, accusers tell the
//! suspect, the suspect answers its accuser directly, and a push-pull peer
//! that holds a live member dead does not make it a suspect.

mod harness;

use std::time::Duration;

use swim_core::wire::{Message, Packet, Record};
use swim_core::{Config, Event, Identity, Instant, MemberState, Swim};

use harness::Cluster;

type Node = Swim<u32, rand_pcg::Pcg32>;

fn node(addr: u32, seed: u64, start: Instant) -> Node {
    Swim::new(
        Identity::new(addr, 1),
        Config::lan(),
        rand_core::SeedableRng::seed_from_u64(seed),
        start,
    )
    .unwrap()
}

fn member(
    addr: u32,
    state: MemberState,
    incarnation: u32,
    accuser: Option<u32>,
) -> Record<'static, u32> {
    Record::Member {
        state,
        id: Identity::new(addr, 1),
        incarnation,
        accuser,
        suspicion_age_ms: 0,
    }
}

/// A node that knows members `others`, all admitted.
fn node_with_members(addr: u32, others: &[u32]) -> Node {
    node_with_members_at(addr, others, Instant::ZERO)
}

/// A node started at `start` that knows members `others`, all admitted.
fn node_with_members_at(addr: u32, others: &[u32], start: Instant) -> Node {
    let mut n = node(addr, 11, start);
    let tag = n.config().cluster_tag;
    for &other in others {
        let sync = harness::packet(
            tag,
            Message::Sync { flags: 0 },
            &[member(other, MemberState::Alive, 0, None)],
        );
        n.handle_datagram(start, other, &sync);
    }
    assert_eq!(harness::answer_pings(&mut n, start, others), others.len());
    while n.poll_event().is_some() {}
    n
}

/// Every datagram the node sends until `until`, running its timers and
/// answering nothing: (time, destination, decoded message kind, records).
fn run_silent(
    n: &mut Node,
    from: Instant,
    until: Instant,
) -> Vec<(Instant, u32, String, Vec<Record<'static, u32>>)> {
    let tag = n.config().cluster_tag;
    let mut buf = [0u8; 1400];
    let mut sent = Vec::new();
    let mut now = from;
    loop {
        while let Some(t) = n.poll_transmit(now, &mut buf) {
            let p = Packet::<u32>::decode(&buf[..t.len], tag).unwrap();
            let kind = format!("{:?}", p.message);
            let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
            let records = p
                .records()
                .flatten()
                .filter_map(|r| match r {
                    Record::Member {
                        state,
                        id,
                        incarnation,
                        accuser,
                        suspicion_age_ms,
                    } => Some(Record::Member {
                        state,
                        id,
                        incarnation,
                        accuser,
                        suspicion_age_ms,
                    }),
                    _ => None,
                })
                .collect();
            sent.push((now, t.destination, kind, records));
        }
        while n.poll_event().is_some() {}
        let Some(next) = n.poll_timeout() else { break };
        if next > until {
            break;
        }
        now = next.max(now);
        n.handle_timeout(now);
    }
    sent
}

#[test]
fn a_failed_probe_becomes_a_suspicion_once_every_helper_nacked() {
    let mut c = Cluster::new(6, Config::lan(), 21);
    c.join_all_via(0);
    c.run_until(Duration::from_secs(10), Cluster::converged)
        .expect("converged");
    // Let acks teach every node the round trips, and gossip settle.
    c.run_for(Duration::from_secs(20));
    c.log_sends = true;
    let killed_at = c.now;
    c.kill(5);
    let suspected = c.run_until(Duration::from_secs(30), |c| {
        c.log.iter().any(|l| {
            l.at >= killed_at && matches!(&l.event, Event::MemberSuspected(id) if id.addr == 5)
        })
    });
    assert!(suspected.is_some(), "node 5 suspected");
    let first_suspicion = c
        .log
        .iter()
        .find(|l| matches!(&l.event, Event::MemberSuspected(id) if id.addr == 5))
        .map(|l| l.at)
        .unwrap();
    let (first_ping, prober) = c
        .sends
        .iter()
        .find(|(at, _, to)| *at >= killed_at && *to == 5)
        .map(|&(at, from, _)| (at, from))
        .expect("someone probed node 5");
    let took = first_suspicion - first_ping;
    // The direct wait adapted to the round trips (`probe_timeout_min`,
    // 50 ms, on this fast network), then the relays' own adaptive wait
    // (50 ms too) and their nacks: well under the 1 s probe period that a
    // fixed 500 ms wait and the end of the period took, and under the 0.5 s
    // that the relays' fixed patience (80% of `probe_timeout`) added.
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(150),
        "probe of 5 by {prober} at {first_ping:?}, suspicion at {first_suspicion:?}: {took:?}"
    );
    let helpers_nacked = c.node(prober).counters().nacks_received;
    assert!(helpers_nacked > 0, "helpers nacked");
}

#[test]
fn before_any_round_trip_the_longest_wait_is_used() {
    let mut n = node_with_members(1, &[2, 3]);
    // No probe was answered yet: the first probe waits `probe_timeout`.
    let sent = run_silent(&mut n, Instant::ZERO, Instant::from_secs(3));
    let ping = sent.iter().find(|(_, _, kind, _)| kind == "Ping").unwrap();
    let ping_req = sent
        .iter()
        .find(|(_, _, kind, _)| kind == "PingReq")
        .expect("a ping-req after the direct wait");
    assert_eq!(ping_req.0 - ping.0, Duration::from_millis(500));
}

#[test]
fn an_accuser_tells_the_suspect_until_it_refutes() {
    let mut n = node_with_members(1, &[2, 3]);
    let tag = n.config().cluster_tag;
    // Nobody answers: the node's probes fail and it suspects the target.
    let sent = run_silent(&mut n, Instant::ZERO, Instant::from_secs(6));
    let suspect = [2, 3]
        .into_iter()
        .find(|&a| n.member(&a).unwrap().state == MemberState::Suspect)
        .expect("a suspect");
    let notices: Vec<Instant> = sent
        .iter()
        .filter(|(_, to, kind, records)| {
            *to == suspect
                && kind == "Gossip"
                && records.first().is_some_and(|r| {
                    matches!(r, Record::Member { state: MemberState::Suspect, id, accuser: Some(1), .. } if id.addr == suspect)
                })
        })
        .map(|s| s.0)
        .collect();
    assert!(notices.len() >= 2, "repeated notices: {notices:?}");
    for pair in notices.windows(2) {
        // A quarter of the 1 s probe interval.
        assert_eq!(pair[1] - pair[0], Duration::from_millis(250), "{notices:?}");
    }
    assert!(n.counters().suspicion_notices as usize >= notices.len());
    // The suspect refutes: the notices stop.
    let now = Instant::from_secs(6);
    let refutation = harness::packet(
        tag,
        Message::Gossip,
        &[member(suspect, MemberState::Alive, 1, None)],
    );
    n.handle_datagram(now, suspect, &refutation);
    let later = run_silent(&mut n, now, Instant::from_secs(8));
    let to_suspect = later.iter().any(|(_, to, kind, records)| {
        *to == suspect
            && kind == "Gossip"
            && records.iter().any(|r| {
                matches!(r, Record::Member { state: MemberState::Suspect, id, .. } if id.addr == suspect)
            })
    });
    assert!(!to_suspect, "no notice after the refutation");
}

#[test]
fn a_suspect_answers_its_accuser_with_the_refutation() {
    let mut n = node_with_members(1, &[2]);
    let tag = n.config().cluster_tag;
    let mut buf = [0u8; 1400];
    let notice = harness::packet(
        tag,
        Message::Gossip,
        &[member(1, MemberState::Suspect, 0, Some(2))],
    );
    n.handle_datagram(Instant::ZERO, 2, &notice);
    assert_eq!(n.local().incarnation, 1, "refuted");
    let t = n
        .poll_transmit(Instant::ZERO, &mut buf)
        .expect("an answer to the accuser");
    assert_eq!(t.destination, 2);
    let reply = Packet::<u32>::decode(&buf[..t.len], tag).unwrap();
    let first = reply.records().next().unwrap().unwrap();
    assert_eq!(first, member(1, MemberState::Alive, 1, None));
}

#[test]
fn a_live_member_held_dead_by_a_push_pull_peer_is_checked_not_suspected() {
    let mut n = node_with_members(1, &[2, 3]);
    let tag = n.config().cluster_tag;
    let mut buf = [0u8; 1400];
    // Member 3 (say, across a partition that just healed) holds 2 dead.
    let sync = harness::packet(
        tag,
        Message::Sync { flags: 0 },
        &[member(2, MemberState::Dead, 0, None)],
    );
    n.handle_datagram(Instant::ZERO, 3, &sync);
    assert_eq!(n.member(&2).unwrap().state, MemberState::Alive);
    // Member 2 is pinged, with the accusation on board so that it refutes
    // for the others too; it answers.
    let mut check = None;
    while let Some(t) = n.poll_transmit(Instant::ZERO, &mut buf) {
        let p = Packet::<u32>::decode(&buf[..t.len], tag).unwrap();
        if let (2, Message::Ping { seq, .. }) = (t.destination, &p.message) {
            let carries = p.records().flatten().any(|r| {
                matches!(r, Record::Member { state: MemberState::Suspect, id, .. } if id.addr == 2)
            });
            assert!(carries, "the ping carries the accusation");
            check = Some(*seq);
        }
    }
    let seq = check.expect("a check of member 2");
    let ack = harness::packet(tag, Message::Ack { seq }, &[]);
    n.handle_datagram(Instant::from_millis(2), 2, &ack);
    assert_eq!(n.member(&2).unwrap().state, MemberState::Alive);
    assert_eq!(n.counters().accusations_disproved, 1);
    let suspected =
        std::iter::from_fn(|| n.poll_event()).any(|e| matches!(e, Event::MemberSuspected(_)));
    assert!(!suspected, "the application saw no suspicion");

    // Unanswered, the same claim becomes a suspicion (not a death).
    n.handle_datagram(Instant::from_millis(10), 3, &sync);
    let sent = run_silent(&mut n, Instant::from_millis(10), Instant::from_secs(2));
    assert!(sent
        .iter()
        .any(|(_, to, kind, _)| *to == 2 && kind == "Ping"));
    assert_eq!(n.member(&2).unwrap().state, MemberState::Suspect);
}

/// How long after it heard, from 3, of a suspicion of 2 that 3 says it
/// has timed for `age_ms`, node 1 (knowing 2-5, none of which answers)
/// declares 2 dead.
fn declared_after_a_suspicion_aged(age_ms: u32) -> Duration {
    let start = Instant::from_secs(100);
    let mut n = node_with_members_at(1, &[2, 3, 4, 5], start);
    let tag = n.config().cluster_tag;
    let suspicion = Record::Member {
        state: MemberState::Suspect,
        id: Identity::new(2, 1),
        incarnation: 0,
        accuser: Some(3),
        suspicion_age_ms: age_ms,
    };
    n.handle_datagram(
        start,
        3,
        &harness::packet(tag, Message::Gossip, &[suspicion]),
    );
    assert_eq!(n.member(&2).unwrap().state, MemberState::Suspect);
    let mut buf = [0u8; 1400];
    let mut now = start;
    loop {
        while n.poll_transmit(now, &mut buf).is_some() {}
        while let Some(event) = n.poll_event() {
            if matches!(event, Event::MemberFailed(id) if id.addr == 2) {
                return now - start;
            }
        }
        now = n.poll_timeout().expect("timers run").max(now);
        assert!(
            now < start + Duration::from_secs(60),
            "2 never declared dead"
        );
        n.handle_timeout(now);
    }
}

#[test]
fn a_suspicion_heard_late_counts_its_age_up_to_an_eighth_of_the_floor() {
    // Gossip that reached this node late says how long the suspicion has
    // run: the node's timer ends about when the accuser's does.
    let fresh = declared_after_a_suspicion_aged(0);
    let aged = declared_after_a_suspicion_aged(300);
    assert_eq!(fresh - aged, Duration::from_millis(300));
    // A lying sender claims the largest age: the suspect loses at most an
    // eighth of the shortest suspicion timeout (4 s with 5 members) of its
    // time to refute.
    let forged = declared_after_a_suspicion_aged(u32::MAX);
    assert_eq!(fresh - forged, Duration::from_millis(500));
}
