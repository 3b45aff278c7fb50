use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::{Config, Identity, Instant, Swim};
type Node = Swim<u32, Pcg32, 64, 256>;
#[test]
fn dump() {
    let config = Config::lan();
    let mut now = Instant::from_secs(1);
    let mut nodes: Vec<Node> = (0..4)
        .map(|i| {
            Node::new(
                Identity::new(i, 1),
                config.clone(),
                Pcg32::seed_from_u64(i as u64),
                now,
            )
            .unwrap()
        })
        .collect();
    for i in 1..4 {
        nodes[i].join(now, &[0]).unwrap();
    }
    let mut flight: Vec<(u32, u32, Vec<u8>)> = Vec::new();
    let mut buf = vec![0u8; 1400];
    let mut n = 0;
    for round in 0..400 {
        if round == 50 {
            nodes[1].set_metadata(now, b"meta-one").unwrap();
            nodes[2].broadcast(now, Some(3), b"hello").unwrap();
            nodes[2].broadcast(now, None, b"world").unwrap();
            nodes[3].send_message(now, &0, b"direct").unwrap();
        }
        if round == 300 {
            nodes[2].leave(now).unwrap();
        }
        for (from, to, bytes) in flight.drain(..) {
            if to == 3 && round > 100 {
                continue;
            }
            if n < 400 {
                std::fs::write(format!("/tmp/seedgen/seed-{n:04}"), &bytes).unwrap();
                n += 1;
            }
            nodes[to as usize].handle_datagram(now, from, &bytes);
        }
        for node in nodes.iter_mut() {
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
        }
        for (a, node) in nodes.iter_mut().enumerate() {
            if a == 3 && round > 100 {
                continue;
            }
            while let Some(t) = node.poll_transmit(now, &mut buf) {
                flight.push((a as u32, t.destination, buf[..t.len].to_vec()));
            }
            while node.poll_event().is_some() {}
        }
        now = now + std::time::Duration::from_millis(100);
    }
}
