//! The node handle against real loopback sockets, in one process.

mod common;

use std::net::SocketAddr;

use common::{options, sees_active, wait_event, wait_until};
use swim_transport_udp::{CommandError, Error, Event, LocalStatus, MemberState, Node, NodeOptions};

#[test]
fn port_zero_reports_the_chosen_port_and_advertises_it() {
    let node = Node::start(options("api-port")).unwrap();
    assert_ne!(node.local_addr().port(), 0);
    assert_eq!(node.advertise_addr(), node.local_addr());
    assert_eq!(node.local().unwrap().identity.addr, node.local_addr());
    assert_eq!(node.local().unwrap().status, LocalStatus::Idle);
}

#[test]
fn metadata_broadcasts_and_messages_reach_the_other_node() {
    let a = Node::start(options("api-data").metadata(b"role=db".to_vec())).unwrap();
    let b = Node::start(options("api-data").seed(a.local_addr())).unwrap();
    wait_until("a and b see each other", || {
        sees_active(&a, b.local_addr()) && sees_active(&b, a.local_addr())
    });
    assert_eq!(a.metadata().unwrap(), b"role=db");
    wait_until("b has a's metadata", || {
        b.member(a.local_addr()).unwrap().unwrap().metadata == b"role=db"
    });

    b.set_metadata(b"role=web").unwrap();
    wait_event(
        &a,
        "b's metadata update",
        |e| matches!(e, Event::MemberUpdated(id) if id.addr == b.local_addr()),
    );
    assert_eq!(
        a.member(b.local_addr()).unwrap().unwrap().metadata,
        b"role=web"
    );

    a.broadcast(Some(7), b"hello all").unwrap();
    let got = wait_event(&b, "a's broadcast", |e| {
        matches!(e, Event::Broadcast { .. })
    });
    let Event::Broadcast {
        origin,
        key,
        payload,
    } = got
    else {
        unreachable!()
    };
    assert_eq!(
        (origin.addr, key, &payload[..]),
        (a.local_addr(), Some(7), &b"hello all"[..])
    );

    b.send_message(a.local_addr(), b"just you").unwrap();
    let got = wait_event(&a, "b's message", |e| matches!(e, Event::Message { .. }));
    assert!(
        matches!(got, Event::Message { from, payload } if from == b.local_addr() && &payload[..] == b"just you")
    );

    let stranger: SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert!(matches!(
        a.send_message(stranger, b"x"),
        Err(Error::Command(CommandError::UnknownMember))
    ));
    let counters = a.counters().unwrap();
    assert!(counters.protocol.datagrams_in > 0 && counters.transport.datagrams_sent > 0);
    assert!(counters.transport.wakeups > 0, "commands wake the thread");
}

#[test]
fn leave_is_reported_as_left_and_shutdown_joins_the_thread() {
    let a = Node::start(options("api-leave")).unwrap();
    let b = Node::start(options("api-leave").seed(a.local_addr())).unwrap();
    wait_until("a sees b", || sees_active(&a, b.local_addr()));
    let b_addr = b.local_addr();
    b.leave().unwrap();
    assert_eq!(b.local().unwrap().status, LocalStatus::Left);
    b.leave().unwrap(); // again: already left, fine
    assert!(matches!(
        b.broadcast(None, b"late"),
        Err(Error::Command(CommandError::HasLeft))
    ));
    let counters = b.shutdown(true).unwrap();
    assert!(counters.protocol.datagrams_out > 0);
    wait_event(
        &a,
        "b's departure",
        |e| matches!(e, Event::MemberLeft(id) if id.addr == b_addr),
    );
    assert_eq!(a.member(b_addr).unwrap().unwrap().state, MemberState::Left);
}

#[test]
fn a_dropped_node_is_detected_as_failed() {
    let a = Node::start(options("api-drop")).unwrap();
    let b = Node::start(options("api-drop").seed(a.local_addr())).unwrap();
    let c = Node::start(options("api-drop").seed(a.local_addr())).unwrap();
    wait_until("all three see each other", || {
        a.members().unwrap().len() == 2 && c.members().unwrap().len() == 2
    });
    let b_addr = b.local_addr();
    drop(b); // stops without leaving, like a crash
    wait_event(
        &a,
        "b's failure",
        |e| matches!(e, Event::MemberFailed(id) if id.addr == b_addr),
    );
    wait_until("c sees b dead", || {
        c.member(b_addr)
            .unwrap()
            .is_some_and(|m| m.state == MemberState::Dead)
    });
}

#[test]
fn a_restart_with_a_data_dir_comes_back_with_a_higher_generation_and_incarnation() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(options("api-restart")).unwrap();
    let b = Node::start(
        options("api-restart")
            .seed(a.local_addr())
            .data_dir(dir.path()),
    )
    .unwrap();
    let first = b.identity().clone();
    let first_incarnation = b.local().unwrap().incarnation;
    wait_until("a sees b", || sees_active(&a, first.addr));
    drop(b);
    // Same address and directory: a new life of the same node.
    let again = NodeOptions {
        bind: first.addr,
        ..options("api-restart")
            .seed(a.local_addr())
            .data_dir(dir.path())
    };
    let b = Node::start(again).unwrap();
    assert!(b.identity().generation > first.generation);
    assert!(b.local().unwrap().incarnation > first_incarnation);
    let second = b.identity().clone();
    wait_until("a sees the new life alive", || {
        a.member(second.addr)
            .unwrap()
            .is_some_and(|m| m.identity == second && m.state == MemberState::Alive)
    });
    let text = std::fs::read_to_string(dir.path().join(swim_transport_udp::IDENTITY_FILE)).unwrap();
    assert!(
        text.contains(&format!("generation={}", second.generation)),
        "{text}"
    );
}

#[test]
fn ipv6_loopback_works() {
    let Ok(probe) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine: nothing to test");
        return;
    };
    drop(probe);
    let v6: SocketAddr = "[::1]:0".parse().unwrap();
    let a = Node::start(NodeOptions {
        bind: v6,
        ..options("api-v6")
    })
    .unwrap();
    let b = Node::start(NodeOptions {
        bind: v6,
        ..options("api-v6").seed(a.local_addr())
    })
    .unwrap();
    assert!(a.local_addr().is_ipv6());
    wait_until("both see each other over IPv6", || {
        sees_active(&a, b.local_addr()) && sees_active(&b, a.local_addr())
    });
}

#[test]
fn a_dual_stack_socket_sees_ipv4_peers_as_ipv4() {
    let Ok(probe) = std::net::UdpSocket::bind("[::]:0") else {
        eprintln!("no IPv6 on this machine: nothing to test");
        return;
    };
    drop(probe);
    // Bound to every address, advertised on IPv4 loopback with the bound port.
    let wildcard: SocketAddr = "[::]:0".parse().unwrap();
    let a = Node::start(
        NodeOptions {
            bind: wildcard,
            ..options("api-dual")
        }
        .advertise("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap();
    assert_eq!(a.advertise_addr().port(), a.local_addr().port());
    let b = Node::start(options("api-dual").seed(a.advertise_addr())).unwrap();
    wait_until("both see each other", || {
        sees_active(&a, b.local_addr()) && sees_active(&b, a.advertise_addr())
    });
    assert!(a.members().unwrap().iter().all(|m| m.addr().is_ipv4()));
}

#[test]
fn a_wildcard_bind_without_advertise_or_seed_is_refused() {
    let wildcard: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let result = Node::start(NodeOptions {
        bind: wildcard,
        ..options("api-wild")
    });
    assert!(matches!(result, Err(Error::NoAdvertiseAddress)));
}

#[test]
fn unreachable_seeds_are_counted_not_fatal() {
    // A seed on a closed port (ICMP port unreachable) and an IPv6 seed the
    // IPv4 socket cannot reach.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let v6: SocketAddr = "[::1]:7".parse().unwrap();
    let node = Node::start(options("api-unreach").seed(closed).seed(v6)).unwrap();
    wait_until("the v6 seed was counted unreachable", || {
        node.counters().unwrap().transport.send_unreachable > 0
    });
    assert_eq!(node.local().unwrap().status, LocalStatus::Joining);
    let counters = node.shutdown(false).unwrap();
    assert!(counters.transport.datagrams_sent > 0);
}

#[test]
fn a_full_event_channel_drops_and_counts_instead_of_blocking() {
    let a = Node::start(options("api-events").event_capacity(1)).unwrap();
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(Node::start(options("api-events").seed(a.local_addr())).unwrap());
    }
    wait_until("a sees the three others", || {
        a.members().unwrap().len() == 3
    });
    assert!(a.counters().unwrap().driver.events_dropped > 0);
    assert!(a.try_recv_event().is_some());
    assert!(
        a.try_recv_event().is_none(),
        "one event fits in the channel"
    );
}

#[test]
fn nodes_joining_through_one_seed_at_once_converge_well_before_push_pull() {
    // With the `local` preset the first periodic push-pull comes 15 to 30 s
    // after the start; the push-pull with the seed one probe interval after joining makes it a matter of seconds.
    let seed = Node::start(options("api-converge")).unwrap();
    let others: Vec<Node> = (0..5)
        .map(|_| Node::start(options("api-converge").seed(seed.local_addr())).unwrap())
        .collect();
    let start = std::time::Instant::now();
    let everyone_sees_everyone = || {
        std::iter::once(&seed).chain(&others).all(|n| {
            n.members()
                .unwrap()
                .iter()
                .filter(|m| m.is_active())
                .count()
                == 5
        })
    };
    while !everyone_sees_everyone() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(12),
            "no convergence within 12 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_node_is_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Node>();
    let a = std::sync::Arc::new(Node::start(options("api-share")).unwrap());
    let b = Node::start(options("api-share").seed(a.local_addr())).unwrap();
    let events = a.take_events();
    let watcher = std::thread::spawn(move || {
        events
            .into_iter()
            .find(|e| matches!(e, Event::MemberJoined(_)))
            .is_some()
    });
    let reader = std::sync::Arc::clone(&a);
    let b_addr = b.local_addr();
    std::thread::spawn(move || wait_until("a sees b", || sees_active(&reader, b_addr)))
        .join()
        .unwrap();
    assert!(a.try_recv_event().is_none(), "the events were taken");
    drop(b);
    std::sync::Arc::into_inner(a)
        .unwrap()
        .shutdown(false)
        .unwrap();
    assert!(
        watcher.join().unwrap(),
        "the taken channel saw the join and ended with the node"
    );
}

#[test]
fn an_advertise_address_other_than_the_source_address_works_like_behind_nat() {
    // Bound to every IPv4 address, announced as 127.0.0.2: its datagrams
    // leave from 127.0.0.1, as a node's would through NAT, while the others
    // reach it at the announced address.
    let wildcard: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let a = Node::start(
        NodeOptions {
            bind: wildcard,
            ..options("api-nat")
        }
        .advertise("127.0.0.2:0".parse().unwrap()),
    )
    .unwrap();
    let announced = a.advertise_addr();
    assert_eq!(
        announced,
        SocketAddr::new("127.0.0.2".parse().unwrap(), a.local_addr().port())
    );
    let b = Node::start(options("api-nat").seed(announced)).unwrap();
    let c = Node::start(options("api-nat").seed(b.local_addr())).unwrap();
    wait_until("everyone sees everyone", || {
        sees_active(&a, b.local_addr())
            && sees_active(&a, c.local_addr())
            && sees_active(&b, announced)
            && sees_active(&c, announced)
    });
    // Probes of and by the node behind "NAT" succeed: were its replies
    // (from 127.0.0.1) not matched, every probe would fail.
    let nodes = [&a, &b, &c];
    wait_until("each node probed a few times", || {
        nodes
            .iter()
            .all(|n| n.counters().unwrap().protocol.probes_sent >= 4)
    });
    for node in nodes {
        let counters = node.counters().unwrap().protocol;
        assert!(
            counters.probes_failed * 2 < counters.probes_sent,
            "{counters:?}"
        );
    }
}

#[test]
fn a_refused_node_is_forgotten_and_kept_out_while_others_see_it() {
    let a = Node::start(options("api-refuse")).unwrap();
    let b = Node::start(options("api-refuse").seed(a.local_addr())).unwrap();
    let c = Node::start(options("api-refuse").seed(a.local_addr())).unwrap();
    wait_until("all three see each other", || {
        a.members().unwrap().len() == 2 && b.members().unwrap().len() == 2
    });
    a.refuse(c.identity().clone()).unwrap();
    assert_eq!(a.member(c.local_addr()).unwrap(), None);
    wait_event(
        &a,
        "c's removal",
        |e| matches!(e, Event::MemberRemoved(id) if id.addr == c.local_addr()),
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(a.member(c.local_addr()).unwrap(), None, "kept out");
    assert!(sees_active(&b, c.local_addr()), "b still sees c");
    assert!(a.counters().unwrap().protocol.records_refused > 0);
    assert!(matches!(
        a.refuse(a.identity().clone()),
        Err(Error::Command(CommandError::LocalAddress))
    ));
    assert!(a.lift_refusal(c.local_addr()).unwrap());
}

#[test]
fn a_restart_with_a_data_dir_and_no_seed_rejoins_from_the_saved_table() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(options("api-table")).unwrap();
    let b = Node::start(
        options("api-table")
            .seed(a.local_addr())
            .data_dir(dir.path()),
    )
    .unwrap();
    let first = b.identity().clone();
    wait_until("b sees a", || sees_active(&b, a.local_addr()));
    let counters = b.shutdown(false).unwrap();
    assert_eq!(counters.driver.member_table_saves, 1, "saved at the end");
    // Same address and directory, and no seed at all.
    let again = NodeOptions {
        bind: first.addr,
        ..options("api-table").data_dir(dir.path())
    };
    let b = Node::start(again).unwrap();
    assert_eq!(b.counters().unwrap().driver.members_loaded, 1);
    let second = b.identity().clone();
    assert!(second.generation > first.generation);
    wait_until("a sees the new life alive", || {
        a.member(second.addr)
            .unwrap()
            .is_some_and(|m| m.identity == second && m.state == MemberState::Alive)
    });
    assert!(sees_active(&b, a.local_addr()));
}
