//! Clusters of QUIC nodes on loopback: formation, failure detection,
//! graceful leave, and exclusion of nodes certified by another CA.
//!
//! Every wait polls a condition with a generous deadline, so that a loaded
//! machine only makes the tests slower, not flaky.

use std::future::Future;
use std::net::SocketAddr;
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

async fn start(credentials: Credentials, seeds: &[SocketAddr]) -> Node {
    let options = NodeOptions::new(loopback(), credentials)
        .config(fast_config())
        .seeds(seeds.iter().copied());
    Node::start(options).await.expect("node starts")
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
    let a = start(ca.issue("swim").expect("cert"), &[]).await;
    let b = start(ca.issue("swim").expect("cert"), &[a.local_addr()]).await;
    let c = start(ca.issue("swim").expect("cert"), &[a.local_addr()]).await;
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
                    assert_eq!((origin, key), (c.local_addr(), Some(7)));
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
    let mut intruder_credentials = other.issue("swim").expect("cert");
    intruder_credentials.ca.push(ca.certificate().clone());
    let intruder = start(intruder_credentials, &[a.local_addr(), b.local_addr()]).await;
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
        let options = NodeOptions::new(addr, ca.issue("swim").expect("cert"))
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
    let options = NodeOptions::new(loopback(), ca.issue("swim").expect("cert"))
        .config(config)
        .seeds(seeds)
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
    let v6 = |addr: &str| {
        let bind: SocketAddr = addr.parse().expect("a socket address");
        NodeOptions::new(bind, ca.issue("swim").expect("cert")).config(fast_config())
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
    let dual = Node::start(
        v6("[::]:0")
            .advertise("127.0.0.1:0".parse().expect("addr"))
            .transport(passive),
    )
    .await
    .expect("node starts");
    assert_eq!(
        dual.advertise_addr(),
        SocketAddr::from(([127, 0, 0, 1], dual.local_addr().port()))
    );
    let v4 = start(ca.issue("swim").expect("cert"), &[dual.advertise_addr()]).await;

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
    let wildcard = NodeOptions::new(
        "0.0.0.0:0".parse().expect("addr"),
        ca.issue("swim").expect("cert"),
    );
    assert!(matches!(
        Node::start(wildcard).await,
        Err(swim_transport_quic::Error::NoAdvertiseAddress)
    ));

    // Blobs must fit the packet budget once it is lowered for QUIC.
    let mut config = Config::lan();
    config.max_payload_len = 1100;
    assert_eq!(config.validate(), Ok(()), "fits the UDP budget");
    let too_big = NodeOptions::new(loopback(), ca.issue("swim").expect("cert")).config(config);
    assert!(matches!(
        Node::start(too_big).await,
        Err(swim_transport_quic::Error::Config(
            swim_transport_quic::ConfigError::BlobLargerThanPacket
        ))
    ));
}
