//! Clusters of QUIC nodes on loopback: formation, failure detection,
//! graceful leave, exclusion of nodes certified by another CA, and of nodes
//! whose certificate names another address than the one they speak from or
//! answer at.
//!
//! Every wait polls a condition with a generous deadline, so that a loaded
//! machine only makes the tests slower, not flaky.

use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use swim_transport_quic::cert::ClusterCa;
use swim_transport_quic::{
    Config, Credentials, LocalEvent, LocalStatus, MemberState, Node, NodeOptions, TransportOptions,
};

/// Longest wait for any condition.
const DEADLINE: Duration = Duration::from_secs(40);
/// Pause between two checks of a condition.
const POLL: Duration = Duration::from_millis(50);

/// Fast failure detection on loopback: probes every 500 ms and a fixed
/// suspicion timeout of one second (no Lifeguard stretching).
fn fast_config() -> Config {
    let mut config = Config::local();
    config.probe_interval = Duration::from_millis(500);
    config.probe_timeout = Duration::from_millis(200);
    config.suspicion_mult = 2;
    config.suspicion_max_timeout_mult = 1;
    config.gossip_interval = Duration::from_millis(50);
    config.leave_propagate_time = Duration::from_millis(500);
    config
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("a socket address")
}

/// A socket bound to `bind` (port 0: a free port), and its address: the
/// address a node certificate must name before the node starts.
fn bound(bind: &str) -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind(bind).expect("bind");
    let addr = socket.local_addr().expect("bound");
    (socket, addr)
}

/// Options for a node on `socket` with `credentials`, the fast config and
/// `seeds`.
fn options_on(socket: UdpSocket, credentials: Credentials, seeds: &[SocketAddr]) -> NodeOptions {
    NodeOptions::with_socket(socket, credentials)
        .expect("socket address")
        .config(fast_config())
        .seeds(seeds.iter().copied())
}

/// A node on a free loopback port, certified by `ca` for that address.
async fn start(ca: &ClusterCa, seeds: &[SocketAddr]) -> Node {
    let (socket, addr) = bound("127.0.0.1:0");
    let credentials = ca.issue(addr).expect("cert");
    Node::start(options_on(socket, credentials, seeds))
        .await
        .expect("node starts")
}

/// Polls `check` until it returns true; panics with `what` after
/// [`DEADLINE`].
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting until {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The state of the member at `addr` as `node` sees it.
async fn state_of(node: &Node, addr: SocketAddr) -> Option<MemberState> {
    node.member(addr)
        .await
        .expect("node running")
        .map(|m| m.state)
}

/// True if every node sees every other one alive.
async fn all_alive(nodes: &[&Node]) -> bool {
    for node in nodes {
        for other in nodes {
            if node.local_addr() != other.local_addr()
                && state_of(node, other.local_addr()).await != Some(MemberState::Alive)
            {
                return false;
            }
        }
    }
    true
}

/// Three nodes certified by one CA, joined through the first one.
async fn three_nodes(ca: &ClusterCa) -> (Node, Node, Node) {
    let a = start(ca, &[]).await;
    let b = start(ca, &[a.local_addr()]).await;
    let c = start(ca, &[a.local_addr()]).await;
    let nodes = [&a, &b, &c];
    wait_until("everyone sees everyone alive", || all_alive(&nodes)).await;
    (a, b, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_forms_and_carries_application_data() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let (mut a, b, c) = three_nodes(&ca).await;
    for node in [&a, &b, &c] {
        let local = node.local().await.expect("running");
        assert_eq!(local.status, LocalStatus::Joined);
        assert_eq!(node.members().await.expect("running").len(), 2);
    }

    // Metadata, broadcasts and direct messages travel over QUIC too.
    b.set_state(b"role", b"db").await.expect("state set");
    wait_until("a and c see b's state", || async {
        for node in [&a, &c] {
            let member = node.member(b.local_addr()).await.expect("running");
            if member.and_then(|m| m.state_value(b"role").map(<[u8]>::to_vec))
                != Some(b"db".to_vec())
            {
                return false;
            }
        }
        true
    })
    .await;
    // The largest payload the default config allows still fits the
    // clamped packet budget, hence one QUIC datagram.
    let big = vec![0xabu8; usize::from(Config::local().max_payload_len)];
    c.broadcast(Some(7), &big).await.expect("queued");
    b.send_message(a.local_addr(), b"direct")
        .await
        .expect("sent");
    let (mut broadcast, mut message) = (false, false);
    let events = a.events();
    tokio::time::timeout(DEADLINE, async {
        while !(broadcast && message) {
            match events.recv().await.expect("node running") {
                swim_transport_quic::Event::Broadcast {
                    origin,
                    key,
                    payload,
                } => {
                    assert_eq!((origin.addr, key), (c.local_addr(), Some(7)));
                    assert_eq!(&payload[..], &big[..]);
                    broadcast = true;
                }
                swim_transport_quic::Event::Message { from, payload } => {
                    assert_eq!(from, b.local_addr());
                    assert_eq!(&payload[..], b"direct");
                    message = true;
                }
                _ => {}
            }
        }
    })
    .await
    .expect("broadcast and message arrive");

    // Every certificate names its node's address: nothing was refused.
    for node in [&a, &b, &c] {
        let t = node.counters().await.expect("running").transport;
        assert_eq!(
            (
                t.incoming_address_mismatch,
                t.connects_address_mismatch,
                t.refused_by_peer,
                t.incoming_failed,
                t.connects_failed
            ),
            (0, 0, 0, 0, 0),
            "{t:?}"
        );
        assert!(t.incoming_accepted + t.connects_succeeded >= 1, "{t:?}");
    }
    let counters = a.counters().await.expect("running");
    assert!(counters.transport.datagrams_sent > 0);
    assert!(counters.transport.datagrams_received > 0);
    assert_eq!(counters.transport.send_too_large, 0);
    assert_eq!(counters.protocol.drops.oversized, 0);
    // Everything read from connections went to the protocol, nothing else.
    assert_eq!(
        counters.protocol.datagrams_in,
        counters.transport.datagrams_received
    );
    for node in [a, b, c] {
        node.shutdown(false).await.expect("clean shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_node_is_declared_dead() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let (a, b, c) = three_nodes(&ca).await;
    let gone = c.local_addr();
    drop(c); // no leave, no shutdown
    wait_until("a and b declare c dead", || async {
        state_of(&a, gone).await == Some(MemberState::Dead)
            && state_of(&b, gone).await == Some(MemberState::Dead)
    })
    .await;
    // The survivors still see each other (a momentary suspicion under load
    // is refuted).
    let survivors = [&a, &b];
    wait_until("a and b see each other alive", || all_alive(&survivors)).await;
    // At least one survivor timed the suspicion out itself.
    let declared = a
        .counters()
        .await
        .expect("running")
        .protocol
        .members_declared_dead
        + b.counters()
            .await
            .expect("running")
            .protocol
            .members_declared_dead;
    assert!(declared >= 1);
    a.shutdown(false).await.expect("clean shutdown");
    b.shutdown(false).await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_node_is_reported_left() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let (a, b, c) = three_nodes(&ca).await;
    let gone = c.local_addr();
    c.leave().await.expect("leave finishes");
    assert_eq!(c.local().await.expect("running").status, LocalStatus::Left);
    // Its own `Left` event is queued by the time `leave` returns.
    let mut own_events = Vec::new();
    while let Some(event) = c.try_recv_event() {
        own_events.push(event);
    }
    assert_eq!(
        own_events.last(),
        Some(&swim_transport_quic::Event::Local(LocalEvent::Left)),
        "{own_events:?}"
    );
    wait_until("a and b report c as left", || async {
        state_of(&a, gone).await == Some(MemberState::Left)
            && state_of(&b, gone).await == Some(MemberState::Left)
    })
    .await;
    c.shutdown(true).await.expect("leaving twice is fine");
    a.shutdown(false).await.expect("clean shutdown");
    b.shutdown(false).await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_from_another_ca_is_never_admitted() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let (a, b, c) = three_nodes(&ca).await;

    // The intruder's certificate comes from another CA, but it trusts the
    // cluster CA too: its own handshakes to cluster nodes succeed on its
    // side (TLS 1.3 clients finish first), so it does send datagrams.
    let other = ClusterCa::generate("another cluster").expect("CA");
    let (socket, addr) = bound("127.0.0.1:0");
    let mut intruder_credentials = other.issue(addr).expect("cert");
    intruder_credentials.ca.push(ca.certificate().clone());
    let seeds = [a.local_addr(), b.local_addr()];
    let intruder = Node::start(options_on(socket, intruder_credentials, &seeds))
        .await
        .expect("node starts");
    let intruder_addr = intruder.local_addr();

    // And a cluster node is told to join through the intruder: it must
    // refuse the intruder's server certificate.
    c.join(&[intruder_addr]).await.expect("join accepted");

    // Until the intruder has demonstrably tried both ways, no cluster node
    // may ever list it, at any point.
    let cluster = [&a, &b, &c];
    wait_until(
        "the intruder sent datagrams and both sides refused it",
        || async {
            for node in cluster {
                let seen = state_of(node, intruder_addr).await;
                assert_eq!(seen, None, "{} admitted the intruder", node.local_addr());
            }
            let mine = intruder.counters().await.expect("running").transport;
            let a_counters = a.counters().await.expect("running").transport;
            let c_counters = c.counters().await.expect("running").transport;
            mine.connects_succeeded >= 2
                && mine.refused_by_peer >= 2
                && mine.datagrams_sent >= 1
                && a_counters.incoming_failed >= 1
                && c_counters.connects_failed >= 1
        },
    )
    .await;

    for node in [&a, &b, &c] {
        assert_eq!(
            state_of(node, intruder_addr).await,
            None,
            "{} admitted the intruder",
            node.local_addr()
        );
    }
    let intruder_view = intruder.local().await.expect("running");
    assert_eq!(
        intruder_view.status,
        LocalStatus::Joining,
        "nobody answered it"
    );
    assert!(intruder.members().await.expect("running").is_empty());
    let intruder_counters = intruder.counters().await.expect("running");
    eprintln!("intruder counters: {:?}", intruder_counters.transport);
    assert_eq!(intruder_counters.transport.datagrams_received, 0);
    assert_eq!(intruder_counters.protocol.datagrams_in, 0);
    // The cluster itself is unharmed.
    wait_until("the cluster is whole", || all_alive(&cluster)).await;

    intruder.shutdown(false).await.expect("clean shutdown");
    for node in [a, b, c] {
        node.shutdown(false).await.expect("clean shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_node_restarts_on_its_address() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let (a, b, c) = three_nodes(&ca).await;
    let addr = c.local_addr();
    let old = c.identity().generation;
    drop(c);

    // Its port may stay busy while the old endpoint drains.
    let start_time = tokio::time::Instant::now();
    let restarted = loop {
        let options = NodeOptions::new(addr, ca.issue(addr).expect("cert"))
            .config(fast_config())
            .generation(old + 1)
            .seed(a.local_addr());
        match Node::start(options).await {
            Ok(node) => break node,
            Err(e) => {
                assert!(
                    start_time.elapsed() < DEADLINE,
                    "cannot bind {addr} again: {e}"
                );
                tokio::time::sleep(POLL).await;
            }
        }
    };
    assert_eq!(restarted.local_addr(), addr);

    wait_until("a and b see the new generation alive", || async {
        for node in [&a, &b] {
            let member = node.member(addr).await.expect("running");
            if !member.is_some_and(|m| m.identity.generation == old + 1 && m.is_active()) {
                return false;
            }
        }
        true
    })
    .await;
    let nodes = [&a, &b, &restarted];
    wait_until("everyone sees everyone alive again", || all_alive(&nodes)).await;

    for node in [a, b, restarted] {
        node.shutdown(false).await.expect("clean shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_peers_cost_bounded_resources() {
    // Sockets that swallow every packet: handshakes to them never finish.
    let sinks: Vec<std::net::UdpSocket> = (0..3)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let seeds: Vec<SocketAddr> = sinks
        .iter()
        .map(|s| s.local_addr().expect("bound"))
        .collect();

    let ca = ClusterCa::generate("test cluster").expect("CA");
    let mut config = fast_config();
    config.join_retry_initial = Duration::from_millis(100);
    config.join_retry_max = Duration::from_millis(200);
    let transport = TransportOptions {
        connect_timeout: Duration::from_millis(1500),
        reconnect_backoff: Duration::from_secs(1),
        max_pending_connects: 1,
        peer_queue_len: 1,
        ..TransportOptions::default()
    };
    let (socket, addr) = bound("127.0.0.1:0");
    let options = options_on(socket, ca.issue(addr).expect("cert"), &seeds)
        .config(config)
        .transport(transport);
    let node = Node::start(options).await.expect("node starts");

    // Join retries keep producing datagrams for the seeds: one handshake
    // at a time, one queued datagram, the rest dropped and counted, then
    // a timeout and a backoff.
    wait_until("every kind of bounded drop happened", || async {
        let t = node.counters().await.expect("running").transport;
        assert!(t.pending_connects <= 1, "{t:?}");
        t.connect_limit_drops >= 1
            && t.queue_full_drops >= 1
            && t.connects_failed >= 1
            && t.connect_failed_drops >= 1
            && t.backoff_drops >= 1
    })
    .await;
    let counters = node.counters().await.expect("running");
    assert_eq!(counters.transport.connects_succeeded, 0);
    assert_eq!(counters.transport.datagrams_sent, 0);
    assert_eq!(
        node.local().await.expect("running").status,
        LocalStatus::Joining
    );
    node.shutdown(false).await.expect("clean shutdown");
    drop(sinks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_and_dual_stack_nodes_join() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let v6 = |bind: &str| {
        let (socket, addr) = bound(bind);
        options_on(socket, ca.issue(addr).expect("cert"), &[])
    };

    // Two nodes on the IPv6 loopback.
    let a = Node::start(v6("[::1]:0")).await.expect("node starts");
    let b = Node::start(v6("[::1]:0").seed(a.local_addr()))
        .await
        .expect("node starts");
    assert!(a.local_addr().is_ipv6());

    // A dual-stack node (wildcard IPv6 bind) known by its IPv4 loopback
    // address: IPv4 peers reach it, and it reports them as IPv4 addresses.
    // It never opens connections itself, so everything it exchanges with
    // the IPv4 node goes over the connection that node opened, whose
    // remote address it sees as IPv4-mapped.
    let passive = TransportOptions {
        max_pending_connects: 0,
        ..TransportOptions::default()
    };
    // Its certificate names the address it is known by, not the wildcard.
    let (socket, wildcard) = bound("[::]:0");
    let known = SocketAddr::from(([127, 0, 0, 1], wildcard.port()));
    let dual = Node::start(
        options_on(socket, ca.issue(known).expect("cert"), &[])
            .advertise(known)
            .transport(passive),
    )
    .await
    .expect("node starts");
    assert_eq!(
        dual.advertise_addr(),
        SocketAddr::from(([127, 0, 0, 1], dual.local_addr().port()))
    );
    let v4 = start(&ca, &[dual.advertise_addr()]).await;

    wait_until("both pairs see each other alive", || async {
        state_of(&a, b.local_addr()).await == Some(MemberState::Alive)
            && state_of(&b, a.local_addr()).await == Some(MemberState::Alive)
            && state_of(&dual, v4.local_addr()).await == Some(MemberState::Alive)
            && state_of(&v4, dual.advertise_addr()).await == Some(MemberState::Alive)
    })
    .await;
    // No member under an IPv4-mapped IPv6 address, and a message from the
    // IPv4 node comes from its member address.
    let seen = dual.members().await.expect("running");
    assert!(seen.iter().all(|m| m.addr().is_ipv4()), "{seen:?}");
    v4.send_message(dual.advertise_addr(), b"over v4")
        .await
        .expect("sent");
    let from = loop {
        match dual.recv_event(DEADLINE).await.expect("an event") {
            swim_transport_quic::Event::Message { from, .. } => break from,
            _ => continue,
        }
    };
    assert_eq!(from, v4.local_addr());

    for node in [a, b, dual, v4] {
        node.shutdown(false).await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn unusable_options_are_refused() {
    let ca = ClusterCa::generate("test cluster").expect("CA");

    // A wildcard bind needs an advertise address.
    let any: SocketAddr = "0.0.0.0:0".parse().expect("addr");
    let wildcard = NodeOptions::new(any, ca.issue(any).expect("cert"));
    assert!(matches!(
        Node::start(wildcard).await,
        Err(swim_transport_quic::Error::NoAdvertiseAddress)
    ));

    // Blobs must fit the packet budget once it is lowered for QUIC.
    let mut config = Config::lan();
    config.max_payload_len = 1100;
    assert_eq!(config.validate(), Ok(()), "fits the UDP budget");
    let too_big = NodeOptions::new(loopback(), ca.issue(loopback()).expect("cert")).config(config);
    assert!(matches!(
        Node::start(too_big).await,
        Err(swim_transport_quic::Error::Config(
            swim_transport_quic::ConfigError::BlobLargerThanPacket
        ))
    ));

    // A certificate for another address than the node's own: every peer
    // would refuse it, so the node does not start.
    let (socket, addr) = bound("127.0.0.1:0");
    let elsewhere: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let misnamed = options_on(socket, ca.issue(elsewhere).expect("cert"), &[]);
    match Node::start(misnamed).await {
        Err(swim_transport_quic::Error::CertificateAddress { advertise, named }) => {
            assert_eq!((advertise, named), (addr, vec![elsewhere]));
        }
        other => panic!("expected CertificateAddress, got {other:?}"),
    }
}

/// The generation `node` reports for the member at `addr`, if it lists one.
async fn generation_of(node: &Node, addr: SocketAddr) -> Option<u32> {
    node.member(addr)
        .await
        .expect("node running")
        .map(|m| m.identity.generation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_certified_for_another_address_is_refused() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let (a, b, c) = three_nodes(&ca).await;
    let claimed = b.local_addr();
    let genuine = b.identity().generation;

    // The impostor holds a valid cluster certificate, but for b's address,
    // while it listens (and so speaks) on its own port. It claims b's
    // address with a newer generation: any of its datagrams that reached
    // a protocol would replace b's identity there.
    let (socket, own) = bound("127.0.0.1:0");
    let mut config = fast_config();
    config.join_retry_max = Duration::from_secs(1);
    let impostor = Node::start(
        options_on(
            socket,
            ca.issue(claimed).expect("cert"),
            &[a.local_addr(), c.local_addr()],
        )
        .config(config)
        .advertise(claimed)
        .generation(genuine + 1000),
    )
    .await
    .expect("starts: its certificate names the address it advertises");
    assert_eq!(impostor.advertise_addr(), claimed);

    // Nobody lists the impostor's own address, nor b under the impostor's
    // generation, at any point.
    wait_until(
        "the impostor sent datagrams and a and c refused it",
        || async {
            for node in [&a, &b, &c] {
                assert_eq!(state_of(node, own).await, None);
            }
            for node in [&a, &c] {
                assert_eq!(generation_of(node, claimed).await, Some(genuine));
            }
            let b_local = b.local().await.expect("running");
            assert_eq!(b_local.identity.generation, genuine);
            let mine = impostor.counters().await.expect("running").transport;
            let a_t = a.counters().await.expect("running").transport;
            let c_t = c.counters().await.expect("running").transport;
            mine.connects_succeeded >= 2
                && mine.refused_by_peer >= 2
                && mine.datagrams_sent >= 1
                && a_t.incoming_address_mismatch >= 1
                && c_t.incoming_address_mismatch >= 1
        },
    )
    .await;
    for node in [&a, &c] {
        let t = node.counters().await.expect("running").transport;
        // Counted as failed incoming handshakes too; never accepted.
        assert!(t.incoming_failed >= t.incoming_address_mismatch, "{t:?}");
    }

    // b crashes; its address is free to take over, as far as the protocol
    // knows. The impostor keeps trying to join as b's address.
    drop(b);
    wait_until("a and c declare b dead", || async {
        state_of(&a, claimed).await == Some(MemberState::Dead)
            && state_of(&c, claimed).await == Some(MemberState::Dead)
    })
    .await;
    let refused_before = impostor
        .counters()
        .await
        .expect("running")
        .transport
        .refused_by_peer;
    wait_until("the impostor was refused twice more", || async {
        for node in [&a, &c] {
            assert_eq!(state_of(node, own).await, None);
            assert_eq!(generation_of(node, claimed).await, Some(genuine));
            assert_eq!(state_of(node, claimed).await, Some(MemberState::Dead));
        }
        let mine = impostor.counters().await.expect("running").transport;
        mine.refused_by_peer >= refused_before + 2
    })
    .await;

    // Nothing reached the impostor either: nobody answered it.
    let counters = impostor.counters().await.expect("running");
    assert_eq!(counters.transport.datagrams_received, 0);
    assert_eq!(counters.protocol.datagrams_in, 0);
    assert!(impostor.members().await.expect("running").is_empty());
    assert_eq!(
        impostor.local().await.expect("running").status,
        LocalStatus::Joining
    );
    let survivors = [&a, &c];
    wait_until("a and c see each other alive", || all_alive(&survivors)).await;

    impostor.shutdown(false).await.expect("clean shutdown");
    for node in [a, c] {
        node.shutdown(false).await.expect("clean shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_certified_for_another_address_is_refused() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let a = start(&ca, &[]).await;
    let b = start(&ca, &[a.local_addr()]).await;
    let pair = [&a, &b];
    wait_until("a and b see each other alive", || all_alive(&pair)).await;
    let genuine = b.identity().generation;

    // A listener at its own address whose certificate names b's address
    // (it claims b's address; it joins nobody by itself).
    let (socket, own) = bound("127.0.0.1:0");
    let listener = Node::start(
        options_on(socket, ca.issue(b.local_addr()).expect("cert"), &[])
            .advertise(b.local_addr())
            .generation(genuine + 1000),
    )
    .await
    .expect("node starts");

    // a dials the listener's address: the certificate it is shown names
    // another one, so a refuses it during the handshake.
    a.join(&[own]).await.expect("join accepted");
    wait_until("a refused the listener's certificate", || async {
        assert_eq!(state_of(&a, own).await, None);
        assert_eq!(generation_of(&a, b.local_addr()).await, Some(genuine));
        let a_t = a.counters().await.expect("running").transport;
        let l_t = listener.counters().await.expect("running").transport;
        // Refused during the handshake, before a sent anything.
        assert_eq!(
            (l_t.incoming_accepted, l_t.datagrams_received),
            (0, 0),
            "{l_t:?}"
        );
        a_t.connects_address_mismatch >= 1 && a_t.connects_failed >= 1 && l_t.incoming_failed >= 1
    })
    .await;

    // The refusal came before a sent anything: the listener received
    // nothing, accepted nothing, and knows nobody.
    let counters = listener.counters().await.expect("running");
    eprintln!("listener counters: {:?}", counters.transport);
    assert_eq!(counters.transport.incoming_accepted, 0);
    assert_eq!(counters.transport.datagrams_received, 0);
    assert_eq!(counters.protocol.datagrams_in, 0);
    assert!(listener.members().await.expect("running").is_empty());
    assert_eq!(
        a.counters()
            .await
            .expect("running")
            .transport
            .incoming_address_mismatch,
        0
    );
    assert_eq!(state_of(&a, own).await, None);
    wait_until("a and b still see each other alive", || all_alive(&pair)).await;

    listener.shutdown(false).await.expect("clean shutdown");
    for node in [a, b] {
        node.shutdown(false).await.expect("clean shutdown");
    }
}

/// The `generation=` and `incarnation=` values of an identity file.
fn stored_identity(dir: &std::path::Path) -> (u32, u32) {
    let text = std::fs::read_to_string(dir.join(swim_transport_quic::IDENTITY_FILE))
        .expect("identity file");
    let value = |key: &str| -> u32 {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text:?}"))
    };
    (value("generation="), value("incarnation="))
}

/// A QUIC node with a data directory persists every incarnation it moves
/// to while it runs, and a restart on the same directory comes back with
/// a higher generation and a higher incarnation than any it used before:
/// it never reuses an incarnation, even when the user pins the
/// generation.
///
/// Node `a` runs on a runtime of its own that the test drives only when
/// it wants `a` to run: not driving it freezes `a` (its endpoint and task
/// stop), so that `b` suspects it and `a` has to refute, raising its
/// incarnation.
#[test]
fn a_restarted_node_never_reuses_an_incarnation() {
    let runtime_b = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let runtime_a = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let dir = tempfile::tempdir().expect("data directory");
    let b = runtime_b.block_on(start(&ca, &[]));
    let b_addr = b.local_addr();
    let (socket, addr) = bound("127.0.0.1:0");
    let credentials = ca.issue(addr).expect("cert");
    // Above any clock-derived generation (seconds since 2025): the user
    // pins it, as a node without a data directory would have to.
    let pinned = 1_000_000_000;
    let a_options = |socket| {
        options_on(socket, credentials.clone(), &[b_addr])
            .data_dir(dir.path())
            .generation(pinned)
    };
    let a = runtime_a.block_on(async {
        let a = Node::start(a_options(socket)).await.expect("a starts");
        wait_until("a and b see each other alive", || async {
            all_alive(&[&a, &b]).await
        })
        .await;
        a
    });
    let first = a.identity().generation;
    assert_eq!(first, pinned);
    assert_eq!(stored_identity(dir.path()), (first, 0));

    // Freeze a until b no longer holds it alive.
    runtime_b.block_on(wait_until("b suspects a", || async {
        state_of(&b, addr).await != Some(MemberState::Alive)
    }));
    // Let a run: it hears the accusation and refutes it.
    let refuted = runtime_a.block_on(async {
        wait_until("a refuted and b sees it alive again", || async {
            a.local().await.expect("running").incarnation > 0
                && state_of(&b, addr).await == Some(MemberState::Alive)
        })
        .await;
        let incarnation = a.local().await.expect("running").incarnation;
        // Written while the node runs, not only at shutdown.
        wait_until("the new incarnation is on disk", || async {
            stored_identity(dir.path()) >= (first, incarnation)
        })
        .await;
        let counters = a.counters().await.expect("running").driver;
        assert!(counters.identity_writes >= 1, "{counters:?}");
        assert_eq!(counters.identity_write_errors, 0);
        let counters = a.shutdown(false).await.expect("clean shutdown");
        assert!(counters.protocol.suspicions_refuted >= 1, "{counters:?}");
        incarnation
    });
    assert!(stored_identity(dir.path()) >= (first, refuted));

    // Restart on the same address and directory, same pinned generation.
    let restarted = runtime_a.block_on(async {
        let start_time = tokio::time::Instant::now();
        loop {
            match UdpSocket::bind(addr) {
                Ok(socket) => break Node::start(a_options(socket)).await.expect("restarts"),
                Err(e) => {
                    assert!(start_time.elapsed() < DEADLINE, "cannot bind {addr}: {e}");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
    let second = restarted.identity().generation;
    runtime_a.block_on(async {
        let local = restarted.local().await.expect("running");
        assert!(second > first, "generation {first} then {second}");
        assert!(
            local.incarnation > refuted,
            "incarnation {refuted} in the first life, {} after the restart",
            local.incarnation
        );
        wait_until("b sees the new life alive", || async {
            let member = b.member(addr).await.expect("running");
            member.is_some_and(|m| m.identity.generation == second && m.is_active())
        })
        .await;
        restarted.shutdown(false).await.expect("clean shutdown");
    });
    runtime_b.block_on(async { b.shutdown(false).await.expect("clean shutdown") });
}

/// Four nodes whose probe round (4 members x 500 ms) is longer than the
/// QUIC idle timeout (1 s), with connections kept warm or not.
async fn sparse_cluster(ca: &ClusterCa, keep_warm: bool) -> Vec<Node> {
    let transport = TransportOptions {
        idle_timeout: Duration::from_secs(1),
        keep_warm,
        ..TransportOptions::default()
    };
    let mut nodes: Vec<Node> = Vec::new();
    for _ in 0..4 {
        let (socket, addr) = bound("127.0.0.1:0");
        let seeds: Vec<SocketAddr> = nodes.first().map(Node::local_addr).into_iter().collect();
        let options =
            options_on(socket, ca.issue(addr).expect("cert"), &seeds).transport(transport.clone());
        nodes.push(Node::start(options).await.expect("node starts"));
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_until("everyone sees everyone alive", || all_alive(&refs)).await;
    nodes
}

/// Outgoing handshakes started by all of `nodes`.
async fn handshakes(nodes: &[Node]) -> u64 {
    let mut total = 0;
    for node in nodes {
        total += node
            .counters()
            .await
            .expect("running")
            .transport
            .connects_started;
    }
    total
}

/// With connections kept warm, a cluster whose probe round is longer than
/// the idle timeout stops handshaking once every pair is connected;
/// without, connections idle out between probes and are dialed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_connections_outlive_the_idle_timeout_between_probes() {
    let ca = ClusterCa::generate("test cluster").expect("CA");
    let (warm, cold) = tokio::join!(sparse_cluster(&ca, true), sparse_cluster(&ca, false));
    // Let every pair connect (each node probes each other one within a
    // round of 2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (warm_before, cold_before) = (handshakes(&warm).await, handshakes(&cold).await);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (warm_after, cold_after) = (handshakes(&warm).await, handshakes(&cold).await);
    assert_eq!(
        warm_after, warm_before,
        "warm connections were dialed again ({warm_before} then {warm_after})"
    );
    assert!(
        cold_after > cold_before,
        "without keep-warm, connections should idle out between probes ({cold_before} then {cold_after})"
    );
    for node in warm.into_iter().chain(cold) {
        node.shutdown(false).await.expect("clean shutdown");
    }
}
