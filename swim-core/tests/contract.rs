//! The run loop's contract: progress (a deadline handled is never handed
//! back) and no panic from any configuration that validates.

mod harness;

use std::time::Duration;

use harness::Cluster;
use swim_core::{Config, Event, Identity, Instant, LocalEvent, Swim};

#[test]
fn after_handle_timeout_the_next_deadline_is_later() {
    for (seed, loss) in [(1, 0), (2, 10), (3, 30)] {
        let mut c = Cluster::new(12, Config::lan(), seed);
        c.check_progress = true;
        c.loss_percent = loss;
        c.join_all_via(0);
        c.run_for(Duration::from_secs(20));
        c.kill(7);
        c.run_for(Duration::from_secs(30));
        let now = c.now;
        c.node_mut(3).leave(now).unwrap();
        c.run_for(Duration::from_secs(30));
    }
}

#[test]
fn extreme_durations_that_validate_never_panic() {
    let mut config = Config::lan();
    config.join_retry_initial = Duration::MAX;
    config.join_retry_max = Duration::MAX;
    config.probe_interval = Duration::MAX;
    config.probe_timeout = Duration::MAX;
    config.probe_timeout_min = Duration::MAX;
    config.push_pull_interval = Duration::MAX;
    config.gossip_interval = Duration::MAX;
    config.gossip_to_the_dead_time = Duration::MAX;
    config.dead_member_retention = Duration::MAX;
    config.leave_propagate_time = Duration::MAX;
    assert_eq!(config.validate(), Ok(()));
    let mut node: Swim<u32, rand_pcg::Pcg32> = Swim::new(
        Identity::new(1, 0),
        config,
        rand_core::SeedableRng::seed_from_u64(1),
        Instant::ZERO,
    )
    .unwrap();
    let mut buf = [0u8; 1400];
    node.join(Instant::ZERO, &[2, 3]).unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..50 {
        while node.poll_transmit(now, &mut buf).is_some() {}
        while node.poll_event().is_some() {}
        let Some(next) = node.poll_timeout() else {
            break;
        };
        now = next.max(now);
        node.handle_timeout(now);
        // A ping-req from a member starts a relay with the longest waits.
        let ping_req = harness::packet(
            node.config().cluster_tag,
            swim_core::wire::Message::PingReq {
                seq: 1,
                target: Identity::new(3, 0),
            },
            &[],
        );
        node.handle_datagram(now, 2, &ping_req);
    }
    let _ = node.leave(now);
    node.handle_timeout(Instant::MAX);
}

fn node(config: Config) -> Swim<u32, rand_pcg::Pcg32> {
    Swim::new(
        Identity::new(1, 0),
        config,
        rand_core::SeedableRng::seed_from_u64(9),
        Instant::ZERO,
    )
    .unwrap()
}

#[test]
fn a_buffer_too_small_for_a_message_is_counted_not_silent() {
    let mut n = node(Config::lan());
    n.join(Instant::ZERO, &[2]).unwrap();
    let mut tiny = [0u8; 3];
    assert!(n.poll_transmit(Instant::ZERO, &mut tiny).is_none());
    assert!(
        n.counters().drops.buffer_too_small >= 1,
        "{:?}",
        n.counters().drops
    );
}

#[test]
fn sync_with_busy_slots_is_its_own_error() {
    let mut config = Config::lan();
    config.max_concurrent_syncs = 1;
    let mut n = node(config);
    n.sync_with(Instant::ZERO, &2).unwrap();
    let err = n.sync_with(Instant::ZERO, &3).unwrap_err();
    assert_eq!(err, swim_core::CommandError::SyncSlotsBusy);
    // Errors are `core::error::Error`, with or without `std`.
    let as_error: &dyn core::error::Error = &err;
    assert_eq!(as_error.to_string(), "every push-pull slot is busy");
}

#[test]
fn events_the_application_did_not_poll_in_time_end_in_a_lagged_marker() {
    let mut node = node(Config::lan().with_event_queue_len(4));
    let ids: Vec<Identity<u32>> = (10..20).map(|a| Identity::new(a, 1)).collect();
    for id in &ids {
        let known = swim_core::KnownMember {
            identity: id,
            incarnation: 0,
            state: swim_core::MemberState::Alive,
            metadata: b"",
            metadata_version: 0,
        };
        node.import_member(Instant::ZERO, known).unwrap();
    }
    // One `Local(Joined)`, then ten removals: only the oldest fit.
    for id in &ids {
        node.refuse(Instant::ZERO, id).unwrap();
    }
    let events: Vec<_> = std::iter::from_fn(|| node.poll_event()).collect();
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0], Event::Local(LocalEvent::Joined));
    assert_eq!(events[1], Event::MemberRemoved(ids[0].clone()));
    assert_eq!(events[2], Event::MemberRemoved(ids[1].clone()));
    assert_eq!(events[3], Event::Lagged { dropped: 8 });
    assert_eq!(node.counters().events_dropped, 8);
    // Polled: the queue takes events again.
    let late = Identity::new(40, 1);
    let known = swim_core::KnownMember {
        identity: &late,
        incarnation: 0,
        state: swim_core::MemberState::Alive,
        metadata: b"",
        metadata_version: 0,
    };
    node.import_member(Instant::ZERO, known).unwrap();
    node.refuse(Instant::ZERO, &late).unwrap();
    assert_eq!(node.poll_event(), Some(Event::MemberRemoved(late)));
}
