//! Hot-path benchmarks: answering a ping with 10, 1 000 and 10 000 known
//! members, merging a full packet of already-known updates (what most of a
//! large cluster's gossip is), and encoding/decoding a full 1400-byte packet.
//!
//! Run: `cargo bench -p swim-core --features alloc --bench protocol`

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::wire::codec::Writer;
use swim_core::wire::{encode_packet_start, encode_record, Message, Packet, Record};
use swim_core::{Config, Identity, Instant, MemberState, Swim, UNBOUNDED};

type Node = Swim<SocketAddr, Pcg32, UNBOUNDED, UNBOUNDED>;

fn addr(i: u32) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 + i), 7946))
}

/// A node that knows `n` alive members and has nothing left to gossip.
fn node_with_members(n: u32) -> Node {
    let config = Config::lan();
    let me = Identity::new(addr(0), 1);
    let mut node = Node::new(me, config.clone(), Pcg32::seed_from_u64(7), Instant::ZERO).unwrap();
    let mut buf = [0u8; 1400];
    let mut next = 1;
    while next <= n {
        let mut w = Writer::new(&mut buf);
        encode_packet_start::<SocketAddr>(&mut w, config.cluster_tag, &Message::Sync { flags: 0 })
            .unwrap();
        while next <= n {
            let record = Record::Member {
                state: MemberState::Alive,
                id: Identity::new(addr(next), 1),
                incarnation: 0,
                accuser: None,
                suspicion_age_ms: 0,
            };
            if encode_record(&mut w, &record).is_none() {
                break;
            }
            next += 1;
        }
        let len = w.len();
        node.handle_datagram(Instant::ZERO, addr(1), &buf[..len]);
        admit(&mut node, &config);
    }
    drain(&mut node, &mut buf);
    // Let piggybacking use up every record's retransmissions.
    let ping = ping_from(&config, &node);
    let mut out = [0u8; 1400];
    for _ in 0..(n as usize * 25 / 100 + 64) {
        node.handle_datagram(Instant::ZERO, addr(1), &ping);
        drain(&mut node, &mut out);
    }
    assert_eq!(node.active_members(), n as usize);
    node
}

/// Answers every admission ping as the member would, until none is left:
/// members learned of become full members once they answer.
fn admit(node: &mut Node, config: &Config) {
    let mut buf = [0u8; 1400];
    loop {
        let mut acks = Vec::new();
        while let Some(t) = node.poll_transmit(Instant::ZERO, &mut buf) {
            let packet =
                swim_core::wire::Packet::<SocketAddr>::decode(&buf[..t.len], config.cluster_tag);
            if let Ok(swim_core::wire::Packet {
                message: Message::Ping { seq, .. },
                ..
            }) = packet
            {
                acks.push((t.destination, seq));
            }
        }
        if acks.is_empty() {
            return;
        }
        for (from, seq) in acks {
            let mut w = Writer::new(&mut buf);
            encode_packet_start::<SocketAddr>(&mut w, config.cluster_tag, &Message::Ack { seq })
                .unwrap();
            let len = w.len();
            node.handle_datagram(Instant::ZERO, from, &buf[..len]);
        }
    }
}

fn drain(node: &mut Node, buf: &mut [u8]) {
    while node.poll_transmit(Instant::ZERO, buf).is_some() {}
    while node.poll_event().is_some() {}
}

fn ping_from(config: &Config, node: &Node) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    let target = node.local().identity.clone();
    encode_packet_start::<SocketAddr>(
        &mut w,
        config.cluster_tag,
        &Message::Ping { seq: 42, target },
    )
    .unwrap();
    let len = w.len();
    buf[..len].to_vec()
}

fn ping_ack(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_to_ack");
    for n in [10u32, 1_000, 10_000] {
        let mut node = node_with_members(n);
        let ping = ping_from(node.config(), &node);
        let mut out = [0u8; 1400];
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                node.handle_datagram(Instant::ZERO, addr(1), black_box(&ping));
                let t = node.poll_transmit(Instant::ZERO, &mut out).unwrap();
                black_box(t.len)
            })
        });
    }
    group.finish();
}

/// A full gossip packet of Alive records that `node` already holds, about
/// members spread over its whole table.
fn known_records_packet(config: &Config, n: u32) -> Vec<u8> {
    let mut buf = [0u8; 1400];
    let mut w = Writer::new(&mut buf);
    encode_packet_start::<SocketAddr>(&mut w, config.cluster_tag, &Message::Gossip).unwrap();
    let mut i = 0u32;
    loop {
        let member = 1 + (i * 7919) % n;
        let record = Record::Member {
            state: MemberState::Alive,
            id: Identity::new(addr(member), 1),
            incarnation: 0,
            accuser: None,
            suspicion_age_ms: 0,
        };
        if encode_record(&mut w, &record).is_none() {
            break;
        }
        i += 1;
    }
    let len = w.len();
    buf[..len].to_vec()
}

fn merge_known(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge_full_packet_of_known_records");
    for n in [1_000u32, 10_000] {
        let mut node = node_with_members(n);
        let packet = known_records_packet(node.config(), n);
        let mut out = [0u8; 1400];
        let before = node.counters().stale_updates;
        node.handle_datagram(Instant::ZERO, addr(1), &packet);
        let stale = node.counters().stale_updates - before;
        assert!(stale > 100, "only {stale} records were known");
        drain(&mut node, &mut out);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                node.handle_datagram(Instant::ZERO, addr(1), black_box(&packet));
                drain(&mut node, &mut out);
            })
        });
    }
    group.finish();
}

fn full_packet(c: &mut Criterion) {
    let tag = Config::lan().cluster_tag;
    let records: Vec<Record<'static, SocketAddr>> = (0..200)
        .map(|i| Record::Member {
            state: MemberState::Alive,
            id: Identity::new(addr(i), 3),
            incarnation: i,
            accuser: None,
            suspicion_age_ms: 0,
        })
        .collect();
    let mut buf = [0u8; 1400];
    c.bench_function("encode_full_1400_byte_packet", |b| {
        b.iter(|| {
            let mut w = Writer::new(&mut buf);
            encode_packet_start::<SocketAddr>(&mut w, tag, &Message::Gossip).unwrap();
            for r in &records {
                if encode_record(&mut w, r).is_none() {
                    break;
                }
            }
            black_box(w.len())
        })
    });
    let len = {
        let mut w = Writer::new(&mut buf);
        encode_packet_start::<SocketAddr>(&mut w, tag, &Message::Gossip).unwrap();
        for r in &records {
            if encode_record(&mut w, r).is_none() {
                break;
            }
        }
        w.len()
    };
    assert!(len > 1380, "packet is {len} bytes");
    let packet = buf[..len].to_vec();
    c.bench_function("decode_full_1400_byte_packet", |b| {
        b.iter(|| {
            let p = Packet::<SocketAddr>::decode(black_box(&packet), tag).unwrap();
            black_box(p.records().count())
        })
    });
}

criterion_group!(benches, ping_ack, merge_known, full_packet);
criterion_main!(benches);
