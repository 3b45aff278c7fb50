//! The tokio node (feature `tokio`) against real loopback sockets: it
//! forms a cluster with thread-driven nodes, carries application data,
//! rotates keys, leaves, and persists its identity like the thread node.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use swim_transport_udp::tokio::Node as AsyncNode;
use swim_transport_udp::{Config, Event, Keyring, LocalEvent, MemberState, Node, NodeOptions};

const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

fn options(label: &str) -> NodeOptions {
    let mut config = Config::local().with_label(label);
    config.leave_propagate_time = Duration::from_millis(200);
    NodeOptions::new("127.0.0.1:0".parse().expect("addr")).config(config)
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(POLL).await;
    }
}

async fn state_of(node: &AsyncNode, addr: SocketAddr) -> Option<MemberState> {
    node.member(addr).await.expect("running").map(|m| m.state)
}

async fn next_event(node: &AsyncNode, what: &str, wanted: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match node.recv_event(left).await {
            Some(event) if wanted(&event) => return event,
            Some(_) => {}
            None => panic!("timed out waiting for {what}"),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn tokio_and_thread_nodes_form_one_cluster_and_carry_data() {
    let a = AsyncNode::start(options("tokio-mixed")).await.expect("a");
    // A thread node joins the tokio node...
    let b = Node::start(options("tokio-mixed").seed(a.local_addr())).expect("b");
    // ...and another tokio node joins the thread node.
    let c = AsyncNode::start(options("tokio-mixed").seed(b.local_addr()))
        .await
        .expect("c");
    let (a_addr, b_addr, c_addr) = (a.local_addr(), b.local_addr(), c.local_addr());
    wait_until("everyone sees everyone alive", || async {
        state_of(&a, b_addr).await == Some(MemberState::Alive)
            && state_of(&a, c_addr).await == Some(MemberState::Alive)
            && state_of(&c, a_addr).await == Some(MemberState::Alive)
            && state_of(&c, b_addr).await == Some(MemberState::Alive)
    })
    .await;
    assert_eq!(a.members().await.expect("running").len(), 2);

    c.set_state(b"role", b"db").await.expect("state set");
    wait_until("a sees c's state", || async {
        a.member(c_addr)
            .await
            .expect("running")
            .and_then(|m| m.state_value(b"role").map(<[u8]>::to_vec))
            == Some(b"db".to_vec())
    })
    .await;
    a.broadcast(Some(3), b"to all").await.expect("queued");
    let got = next_event(&c, "a's broadcast", |e| {
        matches!(e, Event::Broadcast { .. })
    })
    .await;
    assert!(
        matches!(&got, Event::Broadcast { origin, key: Some(3), payload } if origin.addr == a_addr && &payload[..] == b"to all"),
        "{got:?}"
    );
    c.send_message(a_addr, b"just you").await.expect("sent");
    next_event(&a, "c's message", |e| {
        matches!(e, Event::Message { from, payload } if *from == c_addr && &payload[..] == b"just you")
    })
    .await;

    // A graceful leave of a tokio node is seen as such by the others.
    c.leave().await.expect("left");
    next_event(&c, "c's own Left", |e| *e == Event::Local(LocalEvent::Left)).await;
    wait_until("a sees c left", || async {
        state_of(&a, c_addr).await == Some(MemberState::Left)
    })
    .await;
    let counters = c.shutdown(false).await.expect("stopped");
    assert!(counters.transport.datagrams_sent > 0);
    assert_eq!(counters.transport.send_errors(), 0, "{counters:?}");
    assert!(counters.driver.timer_runs > 0);
    b.shutdown(false).expect("stopped");
    a.shutdown(false).await.expect("stopped");
}

#[tokio::test(flavor = "current_thread")]
async fn tokio_nodes_rotate_keys_and_refuse_plaintext() {
    let key = Keyring::generate_key().expect("key");
    let next = Keyring::generate_key().expect("key");
    let sealed = |label| options(label).keyring(Keyring::new(&key[..]).expect("ring"));
    let a = AsyncNode::start(sealed("tokio-keys")).await.expect("a");
    let b = AsyncNode::start(sealed("tokio-keys").seed(a.local_addr()))
        .await
        .expect("b");
    let b_addr = b.local_addr();
    wait_until("a sees b alive", || async {
        state_of(&a, b_addr).await == Some(MemberState::Alive)
    })
    .await;
    for node in [&a, &b] {
        node.install_key(&next[..]).await.expect("installed");
    }
    for node in [&a, &b] {
        node.use_key(&next[..]).await.expect("in use");
    }
    for node in [&a, &b] {
        node.remove_key(&key[..]).await.expect("removed");
        assert_eq!(node.key_ids().await.expect("running").len(), 1);
    }
    let before = a.counters().await.expect("running").protocol.datagrams_in;
    wait_until("a still hears b under the new key", || async {
        a.counters().await.expect("running").protocol.datagrams_in > before + 2
    })
    .await;
    // A plaintext node cannot take part: everything it sends is dropped
    // before the protocol sees it.
    let plain = AsyncNode::start(options("tokio-keys").seed(a.local_addr()))
        .await
        .expect("plain");
    wait_until("a drops the plaintext node's datagrams", || async {
        a.counters()
            .await
            .expect("running")
            .transport
            .decrypt_drops
            .total()
            > 0
    })
    .await;
    assert_eq!(state_of(&a, plain.local_addr()).await, None);
    assert!(matches!(
        a.install_key(&[1u8; 3]).await,
        Err(swim_transport_udp::Error::Key(_))
    ));
    for node in [plain, b, a] {
        node.shutdown(false).await.expect("stopped");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_tokio_node_persists_its_identity_like_the_thread_node() {
    let dir = tempfile::tempdir().expect("dir");
    let first = AsyncNode::start(options("tokio-id").data_dir(dir.path()))
        .await
        .expect("first");
    let (g1, i1) = (
        first.identity().generation,
        first.local().await.expect("running").incarnation,
    );
    first.shutdown(false).await.expect("stopped");
    let second = AsyncNode::start(options("tokio-id").data_dir(dir.path()))
        .await
        .expect("second");
    let (g2, i2) = (
        second.identity().generation,
        second.local().await.expect("running").incarnation,
    );
    assert!(g2 > g1 && i2 > i1, "({g1}, {i1}) then ({g2}, {i2})");
    second.shutdown(false).await.expect("stopped");
}
