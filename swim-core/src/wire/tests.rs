use core::net::SocketAddr;

use super::*;
use crate::address::Identity;
use crate::state::MemberState;
use std::println;

const TAG: u32 = 0x1234_5678;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn encode(
    message: &Message<'_, SocketAddr>,
    records: &[Record<'_, SocketAddr>],
) -> ([u8; 1400], usize) {
    let mut buf = [0u8; 1400];
    let mut w = Writer::new(&mut buf);
    encode_packet_start(&mut w, TAG, message).unwrap();
    for r in records {
        encode_record(&mut w, r).unwrap();
    }
    let n = w.len();
    (buf, n)
}

fn sample_records() -> [Record<'static, SocketAddr>; 5] {
    let id = Identity::new(addr("10.1.2.3:7946"), 3);
    [
        Record::Member {
            state: MemberState::Alive,
            id: id.clone(),
            incarnation: 7,
            accuser: None,
            suspicion_age_ms: 0,
        },
        Record::Member {
            state: MemberState::Suspect,
            id: id.clone(),
            incarnation: 8,
            accuser: Some(addr("[::1]:9")),
            suspicion_age_ms: 1_234,
        },
        Record::Member {
            state: MemberState::Left,
            id: id.clone(),
            incarnation: 9,
            accuser: None,
            suspicion_age_ms: 0,
        },
        Record::Meta {
            id: id.clone(),
            version: 2,
            data: b"zone=a",
        },
        Record::Broadcast {
            origin: id,
            epoch: 0xdead_beef,
            seq: 77,
            key: Some(5),
            payload: b"hello",
        },
    ]
}

#[test]
fn every_message_type_round_trips_with_records() {
    let target = Identity::new(addr("192.168.0.9:1000"), 1);
    let messages = [
        Message::Ping {
            seq: 1,
            target: target.clone(),
        },
        Message::Ack { seq: u32::MAX },
        Message::PingReq { seq: 300, target },
        Message::Nack { seq: 0 },
        Message::Gossip,
        Message::Sync {
            flags: SYNC_WANT_REPLY | SYNC_JOIN,
        },
        Message::Direct { payload: b"direct" },
        Message::Digest {
            flags: DIGEST_WANT_REPLY,
            root: u64::MAX - 7,
            count: 1000,
            buckets: &[],
        },
        Message::Digest {
            flags: DIGEST_BUCKETS,
            root: 3,
            count: 0,
            buckets: &[0xa5; DIGEST_BUCKETS_LEN],
        },
        Message::SyncBuckets {
            flags: SYNC_WANT_REPLY,
            buckets: 0x8000_0001,
        },
    ];
    let records = sample_records();
    for m in &messages {
        let (buf, n) = encode(m, &records);
        let packet = Packet::<SocketAddr>::decode(&buf[..n], TAG).unwrap();
        assert_eq!(&packet.message, m);
        let decoded: std::vec::Vec<_> = packet.records().map(|r| r.unwrap()).collect();
        assert_eq!(decoded.as_slice(), &records[..]);
    }
}

#[test]
fn every_truncation_is_rejected_without_panic() {
    let (buf, n) = encode(
        &Message::Ping {
            seq: 5,
            target: Identity::new(addr("1.2.3.4:5"), 0),
        },
        &sample_records(),
    );
    for cut in 0..n {
        let result = Packet::<SocketAddr>::decode(&buf[..cut], TAG);
        // A cut exactly between records is a valid shorter packet.
        if let Ok(p) = result {
            assert!(p.records().all(|r| r.is_ok()));
        }
    }
    assert_eq!(
        Packet::<SocketAddr>::decode(&[], TAG).unwrap_err(),
        DropReason::Truncated
    );
}

#[test]
fn foreign_and_unknown_packets_are_classified() {
    let (mut buf, n) = encode(&Message::Gossip, &[]);
    assert_eq!(
        Packet::<SocketAddr>::decode(&buf[..n], TAG + 1).unwrap_err(),
        DropReason::WrongCluster
    );
    buf[0] = 9;
    assert_eq!(
        Packet::<SocketAddr>::decode(&buf[..n], TAG).unwrap_err(),
        DropReason::UnknownVersion
    );
    buf[0] = PROTOCOL_VERSION;
    buf[HEADER_LEN] = 200;
    assert_eq!(
        Packet::<SocketAddr>::decode(&buf[..n], TAG).unwrap_err(),
        DropReason::UnknownType
    );
    let (mut buf, n) = encode(&Message::Gossip, &sample_records()[..1]);
    buf[HEADER_LEN + 1] = 0x0e; // unknown record kind
    assert!(Packet::<SocketAddr>::decode(&buf[..n], TAG).is_err());
}

#[test]
fn garbage_never_panics() {
    // A deterministic byte soup: every prefix of every rotation.
    let mut state: u32 = 0x9e37_79b9;
    let mut soup = [0u8; 256];
    for b in soup.iter_mut() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *b = state as u8;
    }
    soup[0] = PROTOCOL_VERSION;
    soup[1..5].copy_from_slice(&TAG.to_le_bytes());
    for start in 5..64 {
        for len in 0..soup.len() - start {
            let mut data = [0u8; 256];
            data[..5].copy_from_slice(&soup[..5]);
            data[5..5 + len].copy_from_slice(&soup[start..start + len]);
            let _ =
                Packet::<SocketAddr>::decode(&data[..5 + len], TAG).map(|p| p.records().count());
        }
    }
}

/// Prints the encoded sizes and asserts the targets: ping <= 24, ack <= 16,
/// one membership update <= 12 bytes with an IPv4 socket address (for a
/// generation and incarnation below 2^14, as a persisted counter gives).
#[test]
fn size_targets_with_ipv4_identity() {
    // What real nodes send: sequence numbers start at a random 31-bit value
    // (a 4- or 5-byte varint; 5 bytes for 7 in 8 of them) and drivers take
    // the generation from the clock (seconds since 2025: 4 bytes until
    // 2029). The incarnation stays small.
    let generation = 60_000_000;
    let target = Identity::new(addr("10.0.0.17:7946"), generation);
    let sizes = |seq: u32| {
        let ping = encode(
            &Message::Ping {
                seq,
                target: target.clone(),
            },
            &[],
        )
        .1;
        (ping, encode(&Message::Ack { seq }, &[]).1)
    };
    let (ping_short, ack_short) = sizes((1 << 28) - 1);
    let (ping, ack) = sizes((1 << 31) - 1);
    let header_only = encode(&Message::Gossip, &[]).1;
    let alive = Record::Member {
        state: MemberState::Alive,
        id: target.clone(),
        incarnation: 3,
        accuser: None,
        suspicion_age_ms: 0,
    };
    let update = encode(&Message::Gossip, &[alive]).1 - header_only;
    let suspect = Record::Member {
        state: MemberState::Suspect,
        id: target,
        incarnation: 3,
        accuser: Some(addr("10.0.0.18:7946")),
        // Two bytes: a suspicion gossiped within 16 s of its start.
        suspicion_age_ms: 300,
    };
    let suspect_len = encode(&Message::Gossip, &[suspect]).1 - header_only;
    println!(
        "wire sizes (IPv4): ping {ping_short}-{ping} B, ack {ack_short}-{ack} B, \
         membership update {update} B, suspicion {suspect_len} B"
    );
    assert_eq!((ping - ping_short, ack - ack_short), (1, 1));
    assert!(ping <= 24, "ping is {ping} bytes");
    assert!(ack <= 16, "ack is {ack} bytes");
    assert!(update <= 14, "update is {update} bytes");
}

#[test]
fn digest_flags_and_lengths_are_checked() {
    let mut buf = [0u8; 600];
    let mut w = Writer::new(&mut buf);
    // Buckets announced but not present: refused when encoding.
    let lying: Message<'_, SocketAddr> = Message::Digest {
        flags: DIGEST_BUCKETS,
        root: 1,
        count: 1,
        buckets: &[],
    };
    assert!(encode_packet_start(&mut w, TAG, &lying).is_none());
    // Unknown flag bits, and cut bucket hashes: dropped when decoding.
    let (good, n) = encode(
        &Message::Digest {
            flags: DIGEST_BUCKETS,
            root: 1,
            count: 1,
            buckets: &[1; DIGEST_BUCKETS_LEN],
        },
        &[],
    );
    let mut bad_flags = good[..n].to_vec();
    bad_flags[HEADER_LEN + 1] |= 0x80;
    assert!(Packet::<SocketAddr>::decode(&bad_flags, TAG).is_err());
    assert!(Packet::<SocketAddr>::decode(&good[..n - 1], TAG).is_err());
    let (sync, n) = encode(
        &Message::SyncBuckets {
            flags: 0,
            buckets: 1,
        },
        &[],
    );
    let mut bad_sync = sync[..n].to_vec();
    bad_sync[HEADER_LEN + 1] = SYNC_JOIN;
    assert!(Packet::<SocketAddr>::decode(&bad_sync, TAG).is_err());
}

#[test]
fn membership_tags_map_to_states_and_back() {
    for (tag, state) in STATES_BY_TAG_FOR_TESTS.iter().enumerate() {
        assert_eq!(RecordKind::of(*state) as usize, tag);
        assert_eq!(MemberRecord::<u32>::state_of_tag(tag as u8), Some(*state));
    }
    assert_eq!(MemberRecord::<u32>::state_of_tag(4), None);
    assert_eq!(MemberRecord::<u32>::state_of_tag(0x10), None);
}

const STATES_BY_TAG_FOR_TESTS: [MemberState; 4] = [
    MemberState::Alive,
    MemberState::Suspect,
    MemberState::Dead,
    MemberState::Left,
];
