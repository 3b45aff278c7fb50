//! Properties: every message type and every record kind survives an
//! encode/decode round trip, for integer and socket addresses; and the
//! validation pass of `Packet::decode` (`Record::skip`) accepts and rejects
//! exactly what full decoding does, on valid, corrupted and arbitrary bytes.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;
use swim_core::wire::codec::{Reader, Writer};
use swim_core::wire::{
    encode_packet_start, encode_record, Message, Packet, Record, SYNC_JOIN, SYNC_WANT_REPLY,
};
use swim_core::{Address, DropReason, Identity, MemberState};

/// Owned counterpart of [`Message`], which borrows its payload.
#[derive(Clone, Debug)]
enum OwnedMessage<A> {
    Ping(u32, Identity<A>),
    Ack(u32),
    PingReq(u32, Identity<A>),
    Nack(u32),
    Gossip,
    Sync(u8),
    Direct(Vec<u8>),
}

impl<A: Address> OwnedMessage<A> {
    fn borrow(&self) -> Message<'_, A> {
        match self {
            OwnedMessage::Ping(seq, target) => Message::Ping {
                seq: *seq,
                target: target.clone(),
            },
            OwnedMessage::Ack(seq) => Message::Ack { seq: *seq },
            OwnedMessage::PingReq(seq, target) => Message::PingReq {
                seq: *seq,
                target: target.clone(),
            },
            OwnedMessage::Nack(seq) => Message::Nack { seq: *seq },
            OwnedMessage::Gossip => Message::Gossip,
            OwnedMessage::Sync(flags) => Message::Sync { flags: *flags },
            OwnedMessage::Direct(payload) => Message::Direct { payload },
        }
    }
}

/// Owned counterpart of [`Record`].
#[derive(Clone, Debug)]
enum OwnedRecord<A> {
    /// State, member, incarnation, accuser and suspicion age (both only on
    /// suspicions).
    Member(MemberState, Identity<A>, u32, Option<A>, u32),
    Meta(Identity<A>, u32, Vec<u8>),
    Broadcast(Identity<A>, u32, u32, Option<u64>, Vec<u8>),
}

impl<A: Address> OwnedRecord<A> {
    fn borrow(&self) -> Record<'_, A> {
        match self {
            OwnedRecord::Member(state, id, incarnation, accuser, age) => Record::Member {
                state: *state,
                id: id.clone(),
                incarnation: *incarnation,
                accuser: accuser.clone(),
                suspicion_age_ms: *age,
            },
            OwnedRecord::Meta(id, version, data) => Record::Meta {
                id: id.clone(),
                version: *version,
                data,
            },
            OwnedRecord::Broadcast(origin, epoch, seq, key, payload) => Record::Broadcast {
                origin: origin.clone(),
                epoch: *epoch,
                seq: *seq,
                key: *key,
                payload,
            },
        }
    }
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> + Clone {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            0,
            0
        ))),
    ]
}

fn identity<A: std::fmt::Debug + Clone>(
    addr: impl Strategy<Value = A>,
) -> impl Strategy<Value = Identity<A>> {
    (addr, any::<u32>()).prop_map(|(addr, generation)| Identity { addr, generation })
}

fn message<A: std::fmt::Debug + Clone + 'static>(
    addr: impl Strategy<Value = A> + Clone + 'static,
) -> impl Strategy<Value = OwnedMessage<A>> {
    prop_oneof![
        (any::<u32>(), identity(addr.clone())).prop_map(|(s, t)| OwnedMessage::Ping(s, t)),
        any::<u32>().prop_map(OwnedMessage::Ack),
        (any::<u32>(), identity(addr)).prop_map(|(s, t)| OwnedMessage::PingReq(s, t)),
        any::<u32>().prop_map(OwnedMessage::Nack),
        Just(OwnedMessage::Gossip),
        (0..=(SYNC_WANT_REPLY | SYNC_JOIN)).prop_map(OwnedMessage::Sync),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(OwnedMessage::Direct),
    ]
}

fn state() -> impl Strategy<Value = MemberState> {
    prop_oneof![
        Just(MemberState::Alive),
        Just(MemberState::Suspect),
        Just(MemberState::Dead),
        Just(MemberState::Left)
    ]
}

fn record<A: std::fmt::Debug + Clone + 'static>(
    addr: impl Strategy<Value = A> + Clone + 'static,
) -> impl Strategy<Value = OwnedRecord<A>> {
    let member = (
        state(),
        identity(addr.clone()),
        any::<u32>(),
        addr.clone(),
        any::<u32>(),
    )
        .prop_map(|(state, id, inc, accuser, age)| {
            // Only suspicions carry an accuser and an age on the wire.
            let suspect = state == MemberState::Suspect;
            let (accuser, age) = if suspect {
                (Some(accuser), age)
            } else {
                (None, 0)
            };
            OwnedRecord::Member(state, id, inc, accuser, age)
        });
    let meta = (
        identity(addr.clone()),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(id, v, data)| OwnedRecord::Meta(id, v, data));
    let broadcast = (
        identity(addr),
        any::<u32>(),
        any::<u32>(),
        any::<Option<u64>>(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(o, e, s, k, p)| OwnedRecord::Broadcast(o, e, s, k, p));
    prop_oneof![member, meta, broadcast]
}

/// Encodes the packet (records that do not fit are left out, as the state
/// machine does), decodes it and compares.
fn round_trip<A: Address + PartialEq>(
    tag: u32,
    message: &OwnedMessage<A>,
    records: &[OwnedRecord<A>],
) {
    let mut buf = vec![0u8; 1400];
    let mut w = Writer::new(&mut buf);
    encode_packet_start(&mut w, tag, &message.borrow()).expect("a message fits 1400 bytes");
    let mut written = Vec::new();
    for r in records {
        let before = w.len();
        match encode_record(&mut w, &r.borrow()) {
            Some(()) => written.push(r.borrow()),
            None => assert_eq!(
                w.len(),
                before,
                "a record that does not fit leaves the packet unchanged"
            ),
        }
    }
    let len = w.len();
    let packet = Packet::<A>::decode(&buf[..len], tag).expect("what was encoded decodes");
    assert_eq!(packet.message, message.borrow());
    let decoded: Vec<Record<'_, A>> = packet.records().map(|r| r.expect("valid record")).collect();
    assert_eq!(decoded, written);
    assert!(
        Packet::<A>::decode(&buf[..len], tag ^ 1).is_err(),
        "another cluster's tag is refused"
    );
    // Every encoding ends inside a field: one byte less never decodes.
    assert!(
        Packet::<A>::decode(&buf[..len - 1], tag).is_err(),
        "a truncated packet decoded"
    );
}

proptest! {
    #[test]
    fn integer_address_packets_round_trip(
        tag in any::<u32>(),
        message in message(any::<u32>()),
        records in proptest::collection::vec(record(any::<u32>()), 0..12),
    ) {
        round_trip(tag, &message, &records);
    }

    #[test]
    fn socket_address_packets_round_trip(
        tag in any::<u32>(),
        message in message(socket_addr()),
        records in proptest::collection::vec(record(socket_addr()), 0..12),
    ) {
        round_trip(tag, &message, &records);
    }
}

/// Records encoded back to back (those that fit in 1400 bytes), then
/// corrupted: each `(position, byte)` overwrites one byte, and the result is
/// cut to `keep` bytes when that is shorter.
fn corrupted<A: Address>(
    records: &[OwnedRecord<A>],
    edits: &[(usize, u8)],
    keep: usize,
) -> Vec<u8> {
    let mut buf = vec![0u8; 1400];
    let mut w = Writer::new(&mut buf);
    for r in records {
        let _ = encode_record(&mut w, &r.borrow());
    }
    let len = w.len();
    buf.truncate(len);
    if !buf.is_empty() {
        for &(at, byte) in edits {
            let at = at % buf.len();
            buf[at] = byte;
        }
    }
    buf.truncate(keep.min(buf.len()));
    buf
}

/// `Record::skip` and `Record::decode` agree record by record (verdict,
/// drop reason, position afterwards), and `Packet::decode` accepts the
/// records exactly when every one of them decodes, with the first defect's
/// reason otherwise.
fn skip_agrees_with_decode<A: Address>(records: &[u8]) {
    let mut full = Reader::new(records);
    let mut fast = full.clone();
    let mut expected: Result<(), DropReason> = Ok(());
    while !full.is_empty() {
        let decoded = Record::<A>::decode(&mut full);
        let skipped = Record::<A>::skip(&mut fast);
        assert_eq!(
            decoded.as_ref().map(drop).map_err(|e| *e),
            skipped,
            "{decoded:?} in {records:?}"
        );
        if let Err(reason) = decoded {
            expected = Err(reason);
            break;
        }
        assert_eq!(full.remaining(), fast.remaining(), "in {records:?}");
    }
    let tag = 0x0102_0304;
    let mut datagram = vec![0u8; 6 + records.len()];
    let mut w = Writer::new(&mut datagram);
    encode_packet_start::<A>(&mut w, tag, &Message::Gossip).unwrap();
    w.bytes(records).unwrap();
    let packet = Packet::<A>::decode(&datagram, tag);
    assert_eq!(packet.as_ref().map(drop).map_err(|e| *e), expected);
    if let Ok(packet) = packet {
        assert!(packet.records().all(|r| r.is_ok()));
    }
}

/// A byte, often one that matters to the format: a record kind or address
/// tag, a varint continuation or its edges.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        0u8..=7,
        0x7fu8..=0x81,
        Just(0x10),
        Just(0x15),
        Just(0xff)
    ]
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((any::<usize>(), byte()), 0..4)
}

proptest! {
    #[test]
    fn validation_agrees_with_decoding_integer_addresses(
        records in proptest::collection::vec(record(any::<u32>()), 0..12),
        edits in edits(),
        keep in any::<usize>(),
    ) {
        let bytes = corrupted(&records, &edits, keep);
        skip_agrees_with_decode::<u32>(&bytes);
        skip_agrees_with_decode::<u16>(&bytes);
        skip_agrees_with_decode::<u64>(&bytes);
    }

    #[test]
    fn validation_agrees_with_decoding_socket_addresses(
        records in proptest::collection::vec(record(socket_addr()), 0..12),
        edits in edits(),
        keep in any::<usize>(),
    ) {
        let bytes = corrupted(&records, &edits, keep);
        skip_agrees_with_decode::<SocketAddr>(&bytes);
        skip_agrees_with_decode::<SocketAddrV4>(&bytes);
        skip_agrees_with_decode::<SocketAddrV6>(&bytes);
    }

    #[test]
    fn validation_agrees_with_decoding_arbitrary_bytes(
        bytes in proptest::collection::vec(byte(), 0..200),
    ) {
        skip_agrees_with_decode::<u32>(&bytes);
        skip_agrees_with_decode::<u16>(&bytes);
        skip_agrees_with_decode::<u64>(&bytes);
        skip_agrees_with_decode::<SocketAddr>(&bytes);
        skip_agrees_with_decode::<SocketAddrV4>(&bytes);
        skip_agrees_with_decode::<SocketAddrV6>(&bytes);
    }
}
