//! Encrypted clusters on real loopback sockets: convergence, failure
//! detection, wrong keys, plaintext nodes, live key rotation.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{options, sees_active, wait_event, wait_until};
use swim_transport_udp::{
    Config, Error, Event, KeyError, Keyring, MemberState, Node, NodeCounters, NodeOptions,
    ENVELOPE_OVERHEAD, ENVELOPE_VERSION,
};

const K1: [u8; 32] = [0x11; 32];
const K2: [u8; 32] = [0x22; 32];
const K3: [u8; 32] = [0x33; 32];

fn encrypted(label: &str, key: &[u8]) -> NodeOptions {
    options(label).keyring(Keyring::new(key).unwrap())
}

fn counters(node: &Node) -> NodeCounters {
    node.counters().unwrap()
}

/// Datagrams the node received, opened or not.
fn received(node: &Node) -> u64 {
    let c = counters(node);
    c.protocol.datagrams_in + c.transport.decrypt_drops.total()
}

/// Waits until every node has received `more` datagrams past this point.
fn let_traffic_flow(nodes: &[&Node], more: u64) {
    let start: Vec<u64> = nodes.iter().map(|n| received(n)).collect();
    wait_until("traffic flows", || {
        nodes
            .iter()
            .zip(&start)
            .all(|(n, s)| received(n) >= s + more)
    });
}

fn all_see_each_other(nodes: &[&Node]) -> bool {
    nodes.iter().all(|a| {
        nodes
            .iter()
            .filter(|b| b.local_addr() != a.local_addr())
            .all(|b| sees_active(a, b.local_addr()))
    })
}

#[test]
fn an_encrypted_cluster_converges_and_sees_a_crash_and_a_leave() {
    let label = "enc-basic";
    let a = Node::start(encrypted(label, &K1)).unwrap();
    let b = Node::start(encrypted(label, &K1).seed(a.local_addr())).unwrap();
    let c = Node::start(encrypted(label, &K1).seed(a.local_addr())).unwrap();
    wait_until("the three nodes see each other", || {
        all_see_each_other(&[&a, &b, &c])
    });

    let c_addr = c.local_addr();
    drop(c); // a crash: no leave
    wait_event(
        &a,
        "c's failure",
        |e| matches!(e, Event::MemberFailed(id) if id.addr == c_addr),
    );
    wait_until("b sees c dead", || {
        b.member(c_addr)
            .unwrap()
            .is_some_and(|m| m.state == MemberState::Dead)
    });

    let b_addr = b.local_addr();
    b.shutdown(true).unwrap();
    wait_event(
        &a,
        "b's departure",
        |e| matches!(e, Event::MemberLeft(id) if id.addr == b_addr),
    );
    let counters = counters(&a);
    assert!(counters.protocol.datagrams_in > 0);
    assert_eq!(
        counters.transport.decrypt_drops.unauthenticated, 0,
        "{counters:?}"
    );
    // No legitimate datagram was taken for a replay.
    assert_eq!(counters.transport.decrypt_drops.replayed, 0);
    assert_eq!(counters.transport.decrypt_drops.stale, 0);
    assert_eq!(counters.transport.seal_errors, 0);
}

#[test]
fn datagrams_on_the_wire_are_sealed_and_within_the_configured_size() {
    let label = "enc-wire";
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut config = Config::local().with_label(label);
    config.packet_budget = 600;
    config.max_metadata_len = 400;
    config.max_payload_len = 400;
    let metadata = vec![b'm'; 400];
    let node = Node::start(
        NodeOptions::new(common::loopback())
            .config(config.clone())
            .keyring(Keyring::new(&K1).unwrap())
            .metadata(metadata.clone())
            .seed(listener.local_addr().unwrap()),
    )
    .unwrap();
    // The node's join request, which carries its 400-byte metadata.
    let mut buf = vec![0u8; 65_536];
    let (len, from) = listener.recv_from(&mut buf).unwrap();
    assert_eq!(from, node.local_addr());
    let datagram = &mut buf[..len];
    assert!(len <= 600, "{len} bytes, over the configured 600");
    assert_eq!(datagram[0], ENVELOPE_VERSION);
    assert!(
        !datagram.windows(16).any(|w| w == &metadata[..16]),
        "the metadata travels in the clear"
    );
    let opened = Keyring::new(&K1)
        .unwrap()
        .open(config.cluster_tag, datagram)
        .unwrap();
    let plaintext = &datagram[opened.plaintext];
    assert_eq!(plaintext.len() + ENVELOPE_OVERHEAD, len);
    assert_eq!(
        plaintext[0],
        swim_transport_udp::swim_core::wire::PROTOCOL_VERSION
    );
    assert_eq!(plaintext[1..5], config.cluster_tag.to_le_bytes());
    assert!(plaintext.windows(400).any(|w| w == &metadata[..]));
}

#[test]
fn too_small_a_budget_for_the_envelope_is_a_typed_error() {
    let mut config = Config::local();
    config.packet_budget = 540;
    config.max_metadata_len = 100;
    config.max_payload_len = 100;
    let options = NodeOptions::new(common::loopback())
        .config(config)
        .keyring(Keyring::new(&K1).unwrap());
    match Node::start(options) {
        Err(Error::PacketBudgetTooSmall {
            configured: 540,
            minimum: 553,
        }) => {}
        other => panic!("expected PacketBudgetTooSmall, got {other:?}"),
    }
}

#[test]
fn a_node_with_another_key_cannot_join_and_its_datagrams_are_counted() {
    let label = "enc-wrong-key";
    let a = Node::start(encrypted(label, &K1)).unwrap();
    let b = Node::start(encrypted(label, &K1).seed(a.local_addr())).unwrap();
    wait_until("a and b see each other", || all_see_each_other(&[&a, &b]));
    // The intruder joins through both (it retries with backoff).
    let intruder =
        Node::start(encrypted(label, &K2).seeds([a.local_addr(), b.local_addr()])).unwrap();
    wait_until("a and b drop several of the intruder's datagrams", || {
        counters(&a).transport.decrypt_drops.unauthenticated >= 2
            && counters(&b).transport.decrypt_drops.unauthenticated >= 2
    });
    for node in [&a, &b] {
        assert!(node.member(intruder.local_addr()).unwrap().is_none());
        assert_eq!(node.members().unwrap().len(), 1);
    }
    assert!(intruder.members().unwrap().is_empty());
    // Nothing the cluster sent reached the intruder's protocol either.
    assert_eq!(counters(&intruder).protocol.datagrams_in, 0);
}

#[test]
fn a_plaintext_node_and_an_encrypted_cluster_ignore_each_other() {
    let label = "enc-plaintext";
    let secure = Node::start(encrypted(label, &K1)).unwrap();
    let plain = Node::start(options(label).seed(secure.local_addr())).unwrap();
    wait_until("the encrypted node drops the plaintext join", || {
        counters(&secure).transport.decrypt_drops.plaintext >= 2
    });
    // The other way round: the plaintext node's protocol drops the sealed
    // datagrams as an unknown wire version.
    let plain_seed = Node::start(options(label)).unwrap();
    let secure_joiner = Node::start(encrypted(label, &K1).seed(plain_seed.local_addr())).unwrap();
    wait_until("the plaintext node drops the sealed join", || {
        counters(&plain_seed).protocol.drops.unknown_version >= 2
    });
    assert!(secure.members().unwrap().is_empty());
    assert!(plain.members().unwrap().is_empty());
    assert!(plain_seed.members().unwrap().is_empty());
    assert!(secure_joiner.members().unwrap().is_empty());
    assert_eq!(counters(&secure).protocol.datagrams_in, 0);
}

#[test]
fn keys_rotate_live_without_any_failure() {
    let label = "enc-rotation";
    let a = Node::start(encrypted(label, &K1)).unwrap();
    let b = Node::start(encrypted(label, &K1).seed(a.local_addr())).unwrap();
    let c = Node::start(encrypted(label, &K1).seed(a.local_addr())).unwrap();
    let nodes = [&a, &b, &c];
    wait_until("the three nodes see each other", || {
        all_see_each_other(&nodes)
    });
    let id = |key: &[u8]| Keyring::new(key).unwrap().primary_id();

    // 1. Install the new key everywhere.
    for node in nodes {
        node.install_key(&K2).unwrap();
        assert_eq!(node.key_ids().unwrap(), vec![id(&K1), id(&K2)]);
    }
    let_traffic_flow(&nodes, 5);

    // 2. Make it primary, one node at a time: the others open its
    //    datagrams with their secondary key.
    a.use_key(&K2).unwrap();
    wait_until("b and c open a's datagrams with their second key", || {
        counters(&b).transport.opened_with_secondary_key > 0
            && counters(&c).transport.opened_with_secondary_key > 0
    });
    let_traffic_flow(&nodes, 5);
    b.use_key(&K2).unwrap();
    c.use_key(&K2).unwrap();
    let_traffic_flow(&nodes, 10);

    // 3. Remove the old key everywhere.
    for node in nodes {
        assert!(matches!(
            node.remove_key(&K2),
            Err(Error::Key(KeyError::RemovePrimary))
        ));
        node.remove_key(&K1).unwrap();
        assert_eq!(node.key_ids().unwrap(), vec![id(&K2)]);
    }
    let_traffic_flow(&nodes, 10);

    assert!(all_see_each_other(&nodes));
    for node in nodes {
        let counters = counters(node);
        assert_eq!(
            counters.transport.decrypt_drops.total(),
            0,
            "{:?}",
            counters.transport
        );
        while let Some(event) = node.try_recv_event() {
            assert!(
                !matches!(event, Event::MemberFailed(_) | Event::MemberLeft(_)),
                "{event:?} during the rotation"
            );
        }
    }

    // A node that only knows the retired key is now a stranger.
    let stale = Node::start(encrypted(label, &K1).seed(a.local_addr())).unwrap();
    wait_until("a drops the stale node's datagrams", || {
        counters(&a).transport.decrypt_drops.unauthenticated >= 1
    });
    assert!(a.member(stale.local_addr()).unwrap().is_none());
}

#[test]
fn key_commands_return_typed_errors() {
    let plain = Node::start(options("enc-errors")).unwrap();
    assert!(matches!(
        plain.install_key(&K1),
        Err(Error::Key(KeyError::EncryptionDisabled))
    ));
    assert!(plain.key_ids().unwrap().is_empty());

    let node = Node::start(encrypted("enc-errors", &K1)).unwrap();
    assert!(matches!(
        node.install_key(&K1[..31]),
        Err(Error::Key(KeyError::InvalidLength { len: 31 }))
    ));
    assert!(matches!(
        node.use_key(&K3),
        Err(Error::Key(KeyError::NotInstalled))
    ));
    assert!(matches!(
        node.remove_key(&K1),
        Err(Error::Key(KeyError::RemovePrimary))
    ));
    node.remove_key(&K3).unwrap(); // not installed: nothing to do
    assert_eq!(
        node.key_ids().unwrap(),
        vec![Keyring::new(&K1).unwrap().primary_id()]
    );
    // Debug output of the options shows key ids, not keys.
    let text = format!("{:?}", encrypted("enc-errors", &K3));
    assert!(text.contains("Keyring"), "{text}");
    assert!(!text.contains("51, 51, 51"), "{text}");
}
