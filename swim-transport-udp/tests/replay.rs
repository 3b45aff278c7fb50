//! Replay protection of sealed datagrams: the filter on its own, with
//! datagrams sealed and opened by the crate's API, then real nodes on
//! loopback receiving captured datagrams again.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{join_datagram, options, sees_active, wait_until};
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use swim_transport_udp::{
    Config, DecryptDrops, Keyring, Node, NodeOptions, OpenError, Opened, ReplayConfig,
    ReplayFilter, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD, REPLAY_WINDOW,
};

const KEY: [u8; 32] = [0x7E; 32];
const TAG: u32 = 0x5151_0000;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `plaintext` sealed by `ring` for `tag`, stamped `time`.
fn seal_at(ring: &Keyring, tag: u32, plaintext: &[u8], time: u64) -> Vec<u8> {
    let mut buf = vec![0u8; plaintext.len() + ENVELOPE_OVERHEAD];
    buf[ENVELOPE_HEADER_LEN..][..plaintext.len()].copy_from_slice(plaintext);
    let len = ring.seal_at(tag, &mut buf, plaintext.len(), time).unwrap();
    buf.truncate(len);
    buf
}

/// Opens a copy of `datagram` (it must authenticate) and runs it through
/// `filter` at `time`.
fn deliver(
    filter: &mut ReplayFilter,
    ring: &Keyring,
    datagram: &[u8],
    time: u64,
) -> Result<(), OpenError> {
    let mut copy = datagram.to_vec();
    let opened = ring.open(TAG, &mut copy).expect("authentic");
    filter.check(&opened, time)
}

/// `count` datagrams sealed in a row by one sender, at `time`.
fn sealed_in_a_row(ring: &Keyring, count: u64, time: u64) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| seal_at(ring, TAG, &i.to_le_bytes(), time))
        .collect()
}

#[test]
fn a_datagram_is_accepted_once_then_refused_as_replayed() {
    let sender = Keyring::new(&KEY).unwrap();
    let receiver = Keyring::new(&KEY).unwrap();
    let mut filter = ReplayFilter::new(ReplayConfig::default());
    let t = now();
    let datagrams = sealed_in_a_row(&sender, 3, t);
    for d in &datagrams {
        assert_eq!(deliver(&mut filter, &receiver, d, t), Ok(()));
    }
    for _ in 0..3 {
        for d in &datagrams {
            assert_eq!(
                deliver(&mut filter, &receiver, d, t + 1),
                Err(OpenError::Replayed)
            );
        }
    }
    // The next one still gets through; another sender with the same key
    // has a window of its own.
    let next = seal_at(&sender, TAG, b"next", t);
    assert_eq!(deliver(&mut filter, &receiver, &next, t), Ok(()));
    let other = sender.clone();
    let first = seal_at(&other, TAG, b"first", t);
    assert_eq!(deliver(&mut filter, &receiver, &first, t), Ok(()));
    assert_eq!(
        deliver(&mut filter, &receiver, &first, t),
        Err(OpenError::Replayed)
    );
    assert_eq!(filter.len(), 2);
}

#[test]
fn out_of_order_delivery_within_the_window_is_accepted_once() {
    let sender = Keyring::new(&KEY).unwrap();
    let mut filter = ReplayFilter::new(ReplayConfig::default());
    let t = now();
    let mut datagrams = sealed_in_a_row(&sender, REPLAY_WINDOW, t);
    // Shuffled, but the newest first: everything else then lies within
    // the window below it.
    let newest = datagrams.pop().unwrap();
    let mut rng = Pcg32::seed_from_u64(3);
    for i in (1..datagrams.len()).rev() {
        let j = (rng.next_u32() as usize) % (i + 1);
        datagrams.swap(i, j);
    }
    assert_eq!(deliver(&mut filter, &sender, &newest, t), Ok(()));
    for d in &datagrams {
        assert_eq!(deliver(&mut filter, &sender, d, t), Ok(()));
    }
    for d in datagrams.iter().chain([&newest]) {
        assert_eq!(
            deliver(&mut filter, &sender, d, t),
            Err(OpenError::Replayed)
        );
    }
    // Gaps (datagrams the sender sent elsewhere) are fine too, in any
    // order.
    let more = sealed_in_a_row(&sender, 40, t);
    for i in [30, 10, 39, 0, 20, 5] {
        assert_eq!(deliver(&mut filter, &sender, &more[i], t), Ok(()));
    }
}

#[test]
fn counters_older_than_the_window_are_refused() {
    let sender = Keyring::new(&KEY).unwrap();
    let mut filter = ReplayFilter::new(ReplayConfig::default());
    let t = now();
    // Counters 0 ..= REPLAY_WINDOW + 1.
    let datagrams = sealed_in_a_row(&sender, REPLAY_WINDOW + 2, t);
    let top = datagrams.len() - 1;
    assert_eq!(deliver(&mut filter, &sender, &datagrams[top], t), Ok(()));
    // top − REPLAY_WINDOW and below: too old, never seen or not.
    for d in &datagrams[..=top - REPLAY_WINDOW as usize] {
        assert_eq!(
            deliver(&mut filter, &sender, d, t),
            Err(OpenError::Replayed)
        );
    }
    // top − REPLAY_WINDOW + 1: the oldest still in the window.
    let oldest_in = top - REPLAY_WINDOW as usize + 1;
    assert_eq!(
        deliver(&mut filter, &sender, &datagrams[oldest_in], t),
        Ok(())
    );
    assert_eq!(
        deliver(&mut filter, &sender, &datagrams[oldest_in], t),
        Err(OpenError::Replayed)
    );
    // A jump far ahead slides the whole window past the rest.
    let far = sealed_in_a_row(&sender, 5 * REPLAY_WINDOW, t);
    assert_eq!(
        deliver(&mut filter, &sender, far.last().unwrap(), t),
        Ok(())
    );
    assert_eq!(
        deliver(&mut filter, &sender, &datagrams[top - 1], t),
        Err(OpenError::Replayed)
    );
    assert_eq!(
        deliver(&mut filter, &sender, &far[far.len() - 2], t),
        Ok(())
    );
}

#[test]
fn timestamps_outside_the_freshness_window_are_stale() {
    let sender = Keyring::new(&KEY).unwrap();
    let t = now();
    let mut filter = ReplayFilter::new(ReplayConfig::default());
    assert_eq!(filter.config().freshness, Duration::from_secs(120));
    for (offset, expected) in [
        (-121i64, Err(OpenError::Stale)),
        (121, Err(OpenError::Stale)),
        (-3600, Err(OpenError::Stale)),
        (-120, Ok(())),
        (120, Ok(())),
        (0, Ok(())),
    ] {
        let d = seal_at(&sender, TAG, b"x", t.saturating_add_signed(offset));
        assert_eq!(deliver(&mut filter, &sender, &d, t), expected, "{offset} s");
    }
    // A stale datagram moved nothing: sealed first, delivered late, then
    // on time it is accepted.
    let d = seal_at(&sender, TAG, b"y", t);
    assert_eq!(
        deliver(&mut filter, &sender, &d, t + 500),
        Err(OpenError::Stale)
    );
    assert_eq!(deliver(&mut filter, &sender, &d, t), Ok(()));
    // Configurable.
    let mut strict =
        ReplayFilter::new(ReplayConfig::default().with_freshness(Duration::from_secs(5)));
    let d = seal_at(&sender, TAG, b"z", t - 6);
    assert_eq!(deliver(&mut strict, &sender, &d, t), Err(OpenError::Stale));
    assert_eq!(deliver(&mut strict, &sender, &d, t - 1), Ok(()));
}

#[test]
fn the_sender_table_stays_bounded_under_many_sender_ids() {
    let max = 512;
    let mut filter = ReplayFilter::new(ReplayConfig::default().with_max_senders(max));
    let header = |sender_id: u64, counter: u64| Opened {
        plaintext: 0..0,
        key_index: 0,
        sender_id,
        counter,
        timestamp: 1_000_000,
    };
    // Sender 0 stays active throughout; 100 000 others appear once each.
    let mut counter = 0;
    for id in 1..=100_000u64 {
        assert_eq!(filter.check(&header(id, 7), 1_000_000), Ok(()));
        if id % 100 == 0 {
            assert_eq!(filter.check(&header(0, counter), 1_000_000), Ok(()));
            counter += 1;
        }
        assert!(filter.len() <= max);
    }
    assert_eq!(filter.len(), max);
    // Evicted: every sender beyond the bound, less the active one.
    assert_eq!(filter.evictions(), 100_000 + 1 - max as u64);
    assert!(filter.contains(0), "the active sender was kept");
    assert!(filter.contains(100_000));
    assert!(!filter.contains(1));
    // The active sender's window survived.
    assert_eq!(
        filter.check(&header(0, 0), 1_000_000),
        Err(OpenError::Replayed)
    );
    // A forgotten sender is new again (the freshness window is what
    // bounds this).
    assert_eq!(filter.check(&header(1, 7), 1_000_000), Ok(()));
}

fn drops(node: &Node) -> DecryptDrops {
    node.counters().unwrap().transport.decrypt_drops
}

fn datagrams_in(node: &Node) -> u64 {
    node.counters().unwrap().protocol.datagrams_in
}

/// Datagrams the node has received, handed to the protocol or dropped.
fn received(node: &Node) -> u64 {
    datagrams_in(node) + drops(node).total()
}

fn encrypted_node(label: &str) -> (Node, Config) {
    let config = Config::local().with_label(label);
    let node = Node::start(
        NodeOptions::new(common::loopback())
            .config(config.clone())
            .keyring(Keyring::new(&KEY).unwrap()),
    )
    .unwrap();
    (node, config)
}

/// Sends `datagram` from `socket` to `node` and waits until the node has
/// handled it.
fn send_and_wait(socket: &UdpSocket, datagram: &[u8], node: &Node) {
    let before = received(node);
    socket.send_to(datagram, node.local_addr()).unwrap();
    wait_until("the node handles the datagram", || received(node) > before);
}

#[test]
fn a_node_delivers_a_sealed_join_request_once_however_often_it_is_replayed() {
    let (node, config) = encrypted_node("replay-node");
    let first = UdpSocket::bind("127.0.0.1:0").unwrap();
    let second = UdpSocket::bind("127.0.0.1:0").unwrap();
    // A join request from `first`, sealed with the cluster's key (by
    // another ring: another sender), as the node would accept it.
    let mut plain_config = config.clone();
    plain_config.packet_budget -= ENVELOPE_OVERHEAD as u16;
    let plaintext = join_datagram(first.local_addr().unwrap(), plain_config, node.local_addr());
    let sealed = seal_at(
        &Keyring::new(&KEY).unwrap(),
        config.cluster_tag,
        &plaintext,
        now(),
    );

    send_and_wait(&first, &sealed, &node);
    assert_eq!(
        datagrams_in(&node),
        1,
        "the first copy reaches the protocol"
    );
    assert_eq!(drops(&node), DecryptDrops::default());
    // The join answer (the node's member table) went to `first`.
    first.set_read_timeout(Some(common::DEADLINE)).unwrap();
    let mut buf = [0u8; 2048];
    let (_, from) = first.recv_from(&mut buf).unwrap();
    assert_eq!(from, node.local_addr());

    // Again from the same socket, then from another one, then again.
    send_and_wait(&first, &sealed, &node);
    send_and_wait(&second, &sealed, &node);
    send_and_wait(&first, &sealed, &node);
    let counted = drops(&node);
    assert_eq!(counted.replayed, 3, "{counted:?}");
    assert_eq!(counted.total(), 3, "{counted:?}");
    assert_eq!(datagrams_in(&node), 1, "no copy reached the protocol");
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(
        second.recv_from(&mut buf).is_err(),
        "nothing to the replayer"
    );
}

#[test]
fn a_datagram_captured_between_real_nodes_is_refused_when_replayed() {
    let label = "replay-capture";
    let config = Config::local().with_label(label);
    let target = Node::start(
        NodeOptions::new(common::loopback())
            .config(config.clone())
            .keyring(Keyring::new(&KEY).unwrap()),
    )
    .unwrap();
    // A node whose seed is the attacker's socket: its sealed join request
    // is captured there.
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    attacker.set_read_timeout(Some(common::DEADLINE)).unwrap();
    let victim = Node::start(
        NodeOptions::new(common::loopback())
            .config(config)
            .keyring(Keyring::new(&KEY).unwrap())
            .seed(attacker.local_addr().unwrap()),
    )
    .unwrap();
    let mut buf = vec![0u8; 65_536];
    let (len, from) = attacker.recv_from(&mut buf).unwrap();
    assert_eq!(from, victim.local_addr());
    let captured = buf[..len].to_vec();

    // Sent back to its own sender: refused as a replay.
    send_and_wait(&attacker, &captured, &victim);
    assert_eq!(drops(&victim).replayed, 1, "{:?}", drops(&victim));

    // To another member, once the victim is gone (so that only these
    // copies reach the target): the first copy is news to it (it never
    // heard from the victim), every later one is refused.
    drop(victim);
    send_and_wait(&attacker, &captured, &target);
    assert_eq!(datagrams_in(&target), 1);
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    for socket in [&attacker, &other, &attacker] {
        send_and_wait(socket, &captured, &target);
    }
    assert_eq!(drops(&target).replayed, 3, "{:?}", drops(&target));
    assert_eq!(datagrams_in(&target), 1);
}

#[test]
fn a_node_refuses_stale_datagrams_and_forged_headers_move_no_window() {
    let (node, config) = encrypted_node("replay-stale");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut plain_config = config.clone();
    plain_config.packet_budget -= ENVELOPE_OVERHEAD as u16;
    let plaintext = join_datagram(
        socket.local_addr().unwrap(),
        plain_config,
        node.local_addr(),
    );
    let sender = Keyring::new(&KEY).unwrap();

    // Ten minutes old, and ten minutes ahead.
    let old = seal_at(&sender, config.cluster_tag, &plaintext, now() - 600);
    let ahead = seal_at(&sender, config.cluster_tag, &plaintext, now() + 600);
    send_and_wait(&socket, &old, &node);
    send_and_wait(&socket, &ahead, &node);
    assert_eq!(drops(&node).stale, 2, "{:?}", drops(&node));
    assert_eq!(datagrams_in(&node), 0);

    // A genuine datagram whose counter an attacker raised: it does not
    // authenticate, and must not slide the window past the genuine one.
    let genuine = seal_at(&sender, config.cluster_tag, &plaintext, now());
    let mut forged = genuine.clone();
    forged[9..17].copy_from_slice(&(1u64 << 40).to_le_bytes());
    send_and_wait(&socket, &forged, &node);
    assert_eq!(drops(&node).unauthenticated, 1);
    send_and_wait(&socket, &genuine, &node);
    assert_eq!(datagrams_in(&node), 1, "{:?}", drops(&node));
    assert_eq!(drops(&node).replayed, 0);
}

#[test]
fn an_encrypted_cluster_converges_without_replay_drops() {
    let label = "replay-cluster";
    let start = |seed: Option<SocketAddr>| {
        let mut o = options(label).keyring(Keyring::new(&KEY).unwrap());
        if let Some(seed) = seed {
            o = o.seed(seed);
        }
        Node::start(o).unwrap()
    };
    let mut nodes = vec![start(None)];
    let seed = nodes[0].local_addr();
    for _ in 0..4 {
        nodes.push(start(Some(seed)));
    }
    wait_until("the five nodes see each other", || {
        nodes.iter().all(|a| {
            nodes
                .iter()
                .filter(|b| b.local_addr() != a.local_addr())
                .all(|b| sees_active(a, b.local_addr()))
        })
    });
    // Some more rounds of probes and gossip.
    let start_in: Vec<u64> = nodes.iter().map(datagrams_in).collect();
    wait_until("traffic flows", || {
        nodes
            .iter()
            .zip(&start_in)
            .all(|(n, s)| datagrams_in(n) >= s + 20)
    });
    for node in &nodes {
        let c = node.counters().unwrap();
        assert_eq!(
            c.transport.decrypt_drops,
            DecryptDrops::default(),
            "{:?}",
            c.transport
        );
        assert_eq!(c.transport.replay_evictions, 0);
    }
}
