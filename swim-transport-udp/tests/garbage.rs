//! Hostile and broken datagrams sent at a real node: it keeps working and
//! counts every drop.

mod common;

use std::net::UdpSocket;

use common::{join_datagram, options, sees_active, wait_until};
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use swim_transport_udp::{
    Config, Keyring, Node, NodeOptions, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD, ENVELOPE_VERSION,
};

const LABEL: &str = "garbage-test";

#[test]
fn garbage_is_dropped_and_counted_and_the_node_keeps_working() {
    let node = Node::start(options(LABEL)).unwrap();
    let target = node.local_addr();
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let from = attacker.local_addr().unwrap();
    let foreigner = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = Pcg32::seed_from_u64(0x5eed);
    let mut datagrams: Vec<(&UdpSocket, Vec<u8>)> = Vec::new();

    // Random bytes of random lengths within the packet budget, empty
    // datagrams included.
    for _ in 0..300 {
        let mut bytes = vec![0u8; (rng.next_u32() % 1400) as usize];
        rng.fill_bytes(&mut bytes);
        datagrams.push((&attacker, bytes));
    }
    // Every strict prefix of a real datagram of this cluster.
    let valid = join_datagram(from, Config::local().with_label(LABEL), target);
    for len in 0..valid.len() {
        datagrams.push((&attacker, valid[..len].to_vec()));
    }
    // The largest UDP datagram (above the packet budget).
    datagrams.push((&attacker, vec![0xAB; 65_507]));
    // A real datagram from another cluster, from another socket.
    let foreign = join_datagram(
        foreigner.local_addr().unwrap(),
        Config::local().with_label("other"),
        target,
    );
    datagrams.push((&foreigner, foreign));

    // Paced, so that the kernel's receive buffer never overflows: every
    // datagram must reach the node.
    let sent = datagrams.len() as u64;
    for (i, batch) in datagrams.chunks(16).enumerate() {
        for (socket, bytes) in batch {
            socket.send_to(bytes, target).unwrap();
        }
        let expected = (i * 16 + batch.len()) as u64;
        wait_until("the node handled the batch", || {
            node.counters().unwrap().protocol.datagrams_in >= expected
        });
    }
    let counters = node.counters().unwrap();
    let drops = counters.protocol.drops;
    assert_eq!(drops.oversized, 1, "{drops:?}");
    assert!(drops.wrong_cluster >= 1, "{drops:?}");
    assert!(drops.truncated > 0, "{drops:?}");
    eprintln!(
        "{sent} datagrams sent, {} dropped: {drops:?}",
        drops.total()
    );
    // One prefix ends exactly where the join datagram's records start: a
    // well-formed, record-less packet. Everything else is dropped.
    assert!(
        drops.total() + 1 >= sent,
        "every other datagram was dropped: {drops:?}"
    );
    assert_eq!(
        node.members().unwrap().len(),
        0,
        "no garbage made it into the table"
    );

    // Still a working member.
    let peer = Node::start(options(LABEL).seed(target)).unwrap();
    wait_until("the node accepts a real member", || {
        sees_active(&node, peer.local_addr())
    });
    wait_until("the real member sees the node", || {
        sees_active(&peer, target)
    });
}

/// Seals `plaintext` with `ring` for the cluster `tag`.
fn seal(ring: &Keyring, tag: u32, plaintext: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; plaintext.len() + ENVELOPE_OVERHEAD];
    buf[ENVELOPE_HEADER_LEN..][..plaintext.len()].copy_from_slice(plaintext);
    let len = ring.seal(tag, &mut buf, plaintext.len()).unwrap();
    buf.truncate(len);
    buf
}

#[test]
fn garbage_at_an_encrypted_node_never_reaches_the_protocol() {
    const KEY: [u8; 32] = [0x5A; 32];
    let label = "garbage-encrypted";
    let config = Config::local().with_label(label);
    let ring = Keyring::new(&KEY).unwrap();
    let node = Node::start(
        NodeOptions::new("127.0.0.1:0".parse().unwrap())
            .config(config.clone())
            .keyring(ring.clone()),
    )
    .unwrap();
    let target = node.local_addr();
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let from = attacker.local_addr().unwrap();
    let mut rng = Pcg32::seed_from_u64(0xC1A0);
    let mut datagrams: Vec<Vec<u8>> = Vec::new();

    // Random bytes of random lengths, empty included; then the same with
    // the envelope's version byte in front.
    for _ in 0..200 {
        let mut bytes = vec![0u8; (rng.next_u32() % 1400) as usize];
        rng.fill_bytes(&mut bytes);
        datagrams.push(bytes);
    }
    for _ in 0..100 {
        let mut bytes = vec![0u8; 1 + (rng.next_u32() % 1399) as usize];
        rng.fill_bytes(&mut bytes);
        bytes[0] = ENVELOPE_VERSION;
        datagrams.push(bytes);
    }
    // A real join datagram of this cluster, sealed with the right key: every
    // strict prefix, every single-bit flip (at each byte, a varying bit),
    // and the whole of it under another key and for another cluster.
    let mut plain_config = config.clone();
    plain_config.packet_budget -= ENVELOPE_OVERHEAD as u16;
    let plaintext = join_datagram(from, plain_config, target);
    let valid = seal(&ring, config.cluster_tag, &plaintext);
    for len in 0..valid.len() {
        datagrams.push(valid[..len].to_vec());
    }
    for at in 0..valid.len() {
        let mut flipped = valid.clone();
        flipped[at] ^= 1 << (at % 8);
        datagrams.push(flipped);
    }
    let other_key = Keyring::new(&[0xA5; 32]).unwrap();
    datagrams.push(seal(&other_key, config.cluster_tag, &plaintext));
    let other_cluster = Config::local().with_label("elsewhere").cluster_tag;
    datagrams.push(seal(&ring, other_cluster, &plaintext));
    // The plaintext itself, and the largest UDP datagram.
    datagrams.push(plaintext.clone());
    datagrams.push(vec![ENVELOPE_VERSION; 65_507]);

    let received = |node: &Node| {
        let c = node.counters().unwrap();
        c.protocol.datagrams_in + c.transport.decrypt_drops.total()
    };
    let sent = datagrams.len() as u64;
    for (i, batch) in datagrams.chunks(16).enumerate() {
        for bytes in batch {
            attacker.send_to(bytes, target).unwrap();
        }
        let expected = (i * 16 + batch.len()) as u64;
        wait_until("the node handled the batch", || received(&node) >= expected);
    }
    let counters = node.counters().unwrap();
    let drops = counters.transport.decrypt_drops;
    eprintln!("{sent} datagrams sent: {drops:?}");
    assert_eq!(drops.total(), sent, "every datagram was dropped: {drops:?}");
    assert_eq!(
        counters.protocol.datagrams_in, 0,
        "none reached the protocol"
    );
    assert_eq!(drops.oversized, 1, "{drops:?}");
    assert!(drops.truncated >= ENVELOPE_OVERHEAD as u64, "{drops:?}");
    assert!(drops.plaintext >= 1, "{drops:?}");
    assert!(drops.unknown_version > 0, "{drops:?}");
    assert!(drops.unauthenticated > valid.len() as u64, "{drops:?}");
    assert!(node.members().unwrap().is_empty());

    // The intact sealed datagram does reach the protocol (so the altered
    // ones above were meaningful), and a real encrypted member still joins.
    attacker.send_to(&valid, target).unwrap();
    wait_until("the sealed datagram reaches the protocol", || {
        node.counters().unwrap().protocol.datagrams_in == 1
    });
    let peer = Node::start(
        NodeOptions::new("127.0.0.1:0".parse().unwrap())
            .config(config)
            .keyring(ring)
            .seed(target),
    )
    .unwrap();
    wait_until("the node accepts a real member", || {
        sees_active(&node, peer.local_addr())
    });
    wait_until("the real member sees the node", || {
        sees_active(&peer, target)
    });
}
