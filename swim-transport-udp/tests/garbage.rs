//! Hostile and broken datagrams sent at a real node: it keeps working and
//! counts every drop.

mod common;

use std::net::{SocketAddr, UdpSocket};

use common::{options, sees_active, wait_until};
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use swim_transport_udp::swim_core::{Identity, Instant, Swim};
use swim_transport_udp::{Config, Node};

const LABEL: &str = "garbage-test";

/// The first datagram a fresh core with `config` sends to join `seed`:
/// real, well-formed bytes to truncate or replay.
fn join_datagram(from: SocketAddr, config: Config, seed: SocketAddr) -> Vec<u8> {
    let mut swim: Swim<SocketAddr, Pcg32> = Swim::new(
        Identity::new(from, 1),
        config,
        Pcg32::seed_from_u64(1),
        Instant::ZERO,
    )
    .unwrap();
    swim.join(Instant::ZERO, &[seed]).unwrap();
    let mut buf = vec![0u8; 1400];
    let t = swim
        .poll_transmit(Instant::ZERO, &mut buf)
        .expect("a join datagram");
    buf.truncate(t.len);
    buf
}

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
