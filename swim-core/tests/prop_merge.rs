//! Property: membership updates merge like a join-semilattice. Merging the
//! same set of updates in any order, any number of times, gives the same
//! table: for each member, the update of highest precedence (incarnation,
//! then alive < suspect < dead < left) within the generation it answered
//! at. Records claiming a generation that never answered a ping change
//! nothing, and "dead" or "left" said by others about a member that answers
//! its check ping are never believed.

mod harness;

use std::collections::BTreeSet;

use proptest::prelude::*;
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::wire::codec::Writer;
use swim_core::wire::{encode_packet_start, encode_record, Message, Record};
use swim_core::{Config, Identity, Instant, MemberState, Swim};

type Node = Swim<u32, Pcg32, 64, 64>;

/// Members 1..=MEMBERS; the node under test is 0; updates come from 9.
const MEMBERS: u32 = 5;
const SENDER: u32 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Update {
    addr: u32,
    generation: u32,
    incarnation: u32,
    state: u8,
    accuser: u32,
    /// Carried by a push-pull chunk, where "dead" counts as "suspect".
    via_sync: bool,
}

fn member_state(rank: u8) -> MemberState {
    [
        MemberState::Alive,
        MemberState::Suspect,
        MemberState::Dead,
        MemberState::Left,
    ][usize::from(rank)]
}

fn update() -> impl Strategy<Value = Update> {
    (
        1..=MEMBERS,
        0..3u32,
        0..5u32,
        0..4u8,
        6..9u32,
        any::<bool>(),
    )
        .prop_map(
            |(addr, generation, incarnation, state, accuser, via_sync)| Update {
                addr,
                generation,
                incarnation,
                state,
                accuser,
                via_sync,
            },
        )
}

fn datagram(config: &Config, u: &Update) -> Vec<u8> {
    let mut buf = vec![0u8; usize::from(config.packet_budget)];
    let mut w = Writer::new(&mut buf);
    let message = if u.via_sync {
        Message::Sync { flags: 0 }
    } else {
        Message::Gossip
    };
    encode_packet_start::<u32>(&mut w, config.cluster_tag, &message).unwrap();
    let state = member_state(u.state);
    let record = Record::Member {
        state,
        id: Identity::new(u.addr, u.generation),
        incarnation: u.incarnation,
        accuser: (state == MemberState::Suspect).then_some(u.accuser),
        suspicion_age_ms: 0,
    };
    encode_record(&mut w, &record).unwrap();
    let len = w.len();
    buf.truncate(len);
    buf
}

/// A configuration whose own timers stay out of the way: no probe, no
/// push-pull and no suspicion timeout within the test, only checks (one
/// probe timeout each, one retry).
fn quiet_config() -> Config {
    Config::lan()
        .with_probe_interval(std::time::Duration::from_secs(100_000))
        .with_probe_timeout(std::time::Duration::from_secs(1))
        .with_push_pull_interval(std::time::Duration::ZERO)
}

/// A node that knows every member alive at generation 0, incarnation 0,
/// each admitted after answering its ping (as after a join), fed `updates`
/// in order. Members at `answering` answer every later ping; the others are
/// silent, and each update's checks run out before the next update.
fn table_with(
    updates: &[Update],
    answering: &[u32],
) -> (Node, BTreeSet<(u32, u32, u32, MemberState)>) {
    let config = quiet_config();
    let mut now = Instant::from_secs(1);
    let mut node = Node::new(
        Identity::new(0, 1),
        config.clone(),
        Pcg32::seed_from_u64(7),
        now,
    )
    .unwrap();
    let known: Vec<Update> = (1..=MEMBERS)
        .map(|addr| Update {
            addr,
            generation: 0,
            incarnation: 0,
            state: 0,
            accuser: SENDER,
            via_sync: false,
        })
        .collect();
    let everyone: Vec<u32> = (1..=MEMBERS).collect();
    for u in known.iter() {
        node.handle_datagram(now, SENDER, &datagram(&config, u));
        harness::answer_pings(&mut node, now, &everyone);
        while node.poll_event().is_some() {}
    }
    assert_eq!(node.active_members(), MEMBERS as usize, "all admitted");
    for u in updates {
        node.handle_datagram(now, SENDER, &datagram(&config, u));
        harness::answer_pings(&mut node, now, answering);
        // Let unanswered checks (and their retry) run out.
        for _ in 0..2 {
            now += config.probe_timeout + std::time::Duration::from_millis(1);
            node.handle_timeout(now);
            harness::answer_pings(&mut node, now, answering);
        }
        while node.poll_event().is_some() {}
    }
    assert_eq!(
        node.counters().drops.total(),
        0,
        "every update was accepted"
    );
    let table = node
        .members()
        .map(|m| {
            (
                m.identity.addr,
                m.identity.generation,
                m.incarnation,
                m.state,
            )
        })
        .collect();
    (node, table)
}

/// [`table_with`] where every member is silent.
fn table(updates: &[Update]) -> BTreeSet<(u32, u32, u32, MemberState)> {
    table_with(updates, &[]).1
}

/// What the table must hold: the highest-precedence update per member at
/// generation 0 (the one that answered; later generations never do here).
fn expected(updates: &[Update]) -> BTreeSet<(u32, u32, u32, MemberState)> {
    (1..=MEMBERS)
        .map(|addr| {
            let best = updates
                .iter()
                .filter(|u| u.addr == addr && u.generation == 0)
                .map(|u| {
                    let state = if u.via_sync && u.state == 2 {
                        1
                    } else {
                        u.state
                    };
                    (u.generation, u.incarnation, state)
                })
                .fold((0, 0, 0), |a, b| a.max(b));
            (addr, best.0, best.1, member_state(best.2))
        })
        .collect()
}

/// `updates` shuffled, each repeated one to three times.
fn reordered() -> impl Strategy<Value = (Vec<Update>, Vec<Update>)> {
    proptest::collection::vec((update(), 1..=3usize), 0..24).prop_flat_map(|items| {
        let original: Vec<Update> = items.iter().map(|(u, _)| *u).collect();
        let repeated: Vec<Update> = items
            .iter()
            .flat_map(|(u, n)| std::iter::repeat_n(*u, *n))
            .collect();
        (Just(original), Just(repeated).prop_shuffle())
    })
}

proptest! {
    #[test]
    fn merging_is_order_and_repetition_independent((original, shuffled) in reordered()) {
        let want = expected(&original);
        prop_assert_eq!(table(&original), want.clone());
        prop_assert_eq!(table(&shuffled), want);
    }

    #[test]
    fn members_that_answer_are_never_declared_departed_by_others(updates in proptest::collection::vec(update(), 0..24)) {
        let everyone: Vec<u32> = (1..=MEMBERS).collect();
        let (node, table) = table_with(&updates, &everyone);
        for (addr, _, _, state) in &table {
            prop_assert!(
                !matches!(state, MemberState::Dead | MemberState::Left),
                "member {} declared {:?}", addr, state
            );
        }
        let c = node.counters();
        prop_assert!(c.accusations_disproved <= c.accusations_checked);
    }
}

/// A pinned case: a suspicion and a death at the same incarnation, in both
/// orders, with the death repeated.
#[test]
fn dead_outranks_suspect_in_either_order() {
    let suspect = Update {
        addr: 1,
        generation: 0,
        incarnation: 3,
        state: 1,
        accuser: 6,
        via_sync: false,
    };
    let dead = Update {
        state: 2,
        ..suspect
    };
    let want = expected(&[suspect, dead]);
    assert_eq!(table(&[suspect, dead]), want);
    assert_eq!(table(&[dead, suspect, dead]), want);
    assert!(want.contains(&(1, 0, 3, MemberState::Dead)));
}

/// Found while writing the packet-assembly fuzz target. Without `alloc`, a
/// node whose blob capacity `B` is below the configured `max_payload_len`
/// or `max_metadata_len` (the default `B` is 64 bytes, the LAN preset
/// allows 1024 and 512) drops a larger relayed broadcast or metadata record
/// without an event and without counting it, and does not relay it.
#[test]
fn blobs_over_the_storage_capacity_are_not_dropped_silently() {
    type Small = Swim<u32, Pcg32, 64, 16>;
    let config = Config::lan();
    let now = Instant::from_secs(1);
    let mut node = Small::new(
        Identity::new(0, 1),
        config.clone(),
        Pcg32::seed_from_u64(1),
        now,
    )
    .unwrap();
    let member = Identity::new(1u32, 0);
    let payload = [7u8; 100];
    let alive = Record::Member {
        state: MemberState::Alive,
        id: member.clone(),
        incarnation: 0,
        accuser: None,
        suspicion_age_ms: 0,
    };
    node.handle_datagram(
        now,
        1,
        &harness::packet(config.cluster_tag, Message::Gossip, &[alive]),
    );
    assert_eq!(harness::answer_pings(&mut node, now, &[1]), 1, "admitted");
    let mut buf = vec![0u8; usize::from(config.packet_budget)];
    let mut w = Writer::new(&mut buf);
    encode_packet_start::<u32>(&mut w, config.cluster_tag, &Message::Gossip).unwrap();
    let meta = Record::Meta {
        id: member.clone(),
        version: 1,
        data: &payload,
    };
    encode_record(&mut w, &meta).unwrap();
    let broadcast = Record::Broadcast {
        origin: member,
        epoch: 1,
        seq: 1,
        key: None,
        payload: &payload,
    };
    encode_record(&mut w, &broadcast).unwrap();
    let len = w.len();
    let before = node.counters();
    node.handle_datagram(now, 1, &buf[..len]);
    let events: Vec<_> = std::iter::from_fn(|| node.poll_event()).collect();
    let after = node.counters();
    let broadcast_seen = events
        .iter()
        .any(|e| matches!(e, swim_core::Event::Broadcast { .. }))
        || after.broadcasts_dropped > before.broadcasts_dropped
        || after.blobs_refused > before.blobs_refused
        || after.drops.total() > before.drops.total();
    let meta_seen = events
        .iter()
        .any(|e| matches!(e, swim_core::Event::MemberUpdated(_)))
        || after.blobs_refused >= before.blobs_refused + 2
        || after.drops.total() > before.drops.total();
    assert!(
        broadcast_seen,
        "a 100-byte broadcast vanished without a trace"
    );
    assert!(meta_seen, "100-byte metadata vanished without a trace");
}

/// Found while writing the packet-assembly fuzz target's model of keyed
/// broadcasts. A relayed broadcast replaces any queued one with the same
/// origin and key, even an older one (lower sequence number, same epoch)
/// arriving late: the relay then stops forwarding the newest value and
/// forwards the stale one instead.
#[test]
fn a_late_older_keyed_broadcast_does_not_replace_the_newer_one() {
    let config = Config::lan();
    let mut now = Instant::from_secs(1);
    let mut node = Node::new(
        Identity::new(0, 1),
        config.clone(),
        Pcg32::seed_from_u64(3),
        now,
    )
    .unwrap();
    let origin = Identity::new(1u32, 0);
    let send = |node: &mut Node, now: Instant, records: &[Record<'_, u32>]| {
        let mut buf = vec![0u8; usize::from(config.packet_budget)];
        let mut w = Writer::new(&mut buf);
        encode_packet_start::<u32>(&mut w, config.cluster_tag, &Message::Gossip).unwrap();
        for r in records {
            encode_record(&mut w, r).unwrap();
        }
        let len = w.len();
        node.handle_datagram(now, 1, &buf[..len]);
    };
    let alive = Record::Member {
        state: MemberState::Alive,
        id: origin.clone(),
        incarnation: 0,
        accuser: None,
        suspicion_age_ms: 0,
    };
    send(&mut node, now, &[alive]);
    assert_eq!(harness::answer_pings(&mut node, now, &[1]), 1, "admitted");
    let keyed = |seq: u32, payload: &'static [u8]| Record::Broadcast {
        origin: origin.clone(),
        epoch: 7,
        seq,
        key: Some(9),
        payload,
    };
    send(&mut node, now, &[keyed(5, b"new")]);
    send(&mut node, now, &[keyed(3, b"old")]);
    // Gossip until the queue is empty, collecting the broadcasts sent.
    let mut payloads = Vec::new();
    let mut buf = vec![0u8; usize::from(config.packet_budget)];
    for _ in 0..100 {
        now += config.gossip_interval;
        node.handle_timeout(now);
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            let packet =
                swim_core::wire::Packet::<u32>::decode(&buf[..t.len], config.cluster_tag).unwrap();
            for r in packet.records().flatten() {
                if let Record::Broadcast { payload, .. } = r {
                    payloads.push(payload.to_vec());
                }
            }
        }
        while node.poll_event().is_some() {}
    }
    assert!(
        payloads.iter().any(|p| p == b"new"),
        "the newest value was never relayed: {payloads:?}"
    );
}
