//! The message at the start of every packet.

use crate::address::{Address, Identity};
use crate::counters::DropReason;

use super::codec::{Reader, Writer};

/// Numeric message types on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// Direct probe.
    Ping = 1,
    /// Probe answer.
    Ack = 2,
    /// Request to probe a target on the sender's behalf.
    PingReq = 3,
    /// A ping-req helper got no answer from the target in time.
    Nack = 4,
    /// Records only (gossip fan-out).
    Gossip = 5,
    /// One chunk of a push-pull state exchange.
    Sync = 6,
    /// Application payload for this node only.
    Direct = 7,
    /// A summary of the sender's view (anti-entropy, before any transfer).
    Digest = 8,
    /// One chunk of a push-pull exchange limited to some digest buckets.
    SyncBuckets = 9,
}

/// Sync flag: the receiver should answer with its own state.
pub const SYNC_WANT_REPLY: u8 = 0b01;
/// Sync flag: the sender is joining through the receiver.
pub const SYNC_JOIN: u8 = 0b10;

/// Digest flag: the receiver should answer with its own digest.
pub const DIGEST_WANT_REPLY: u8 = 0b01;
/// Digest flag: the per-bucket hashes follow the root (the views differ).
pub const DIGEST_BUCKETS: u8 = 0b10;
/// Buckets a digest splits the view into (by a hash of each address).
pub const DIGEST_BUCKET_COUNT: usize = 32;
/// Bytes of the per-bucket hashes in a digest with [`DIGEST_BUCKETS`].
pub const DIGEST_BUCKETS_LEN: usize = DIGEST_BUCKET_COUNT * 8;

/// A decoded message; payloads borrow from the datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a, A> {
    /// "Are you alive, `target`?" Answered with an ack carrying `seq`,
    /// only by the node whose identity is `target`.
    Ping {
        /// Sequence number echoed by the ack.
        seq: u32,
        /// Identity the sender believes it is talking to.
        target: Identity<A>,
    },
    /// Answer to a ping (or relayed answer to a ping-req).
    Ack {
        /// The ping's (or ping-req's) sequence number.
        seq: u32,
    },
    /// "Please ping `target` for me and relay its ack under `seq`."
    PingReq {
        /// Sequence number the relayed ack or nack carries.
        seq: u32,
        /// Member to probe.
        target: Identity<A>,
    },
    /// "I asked `target` and got no answer in time."
    Nack {
        /// The ping-req's sequence number.
        seq: u32,
    },
    /// Nothing but records.
    Gossip,
    /// A push-pull chunk: the records are member states.
    Sync {
        /// [`SYNC_WANT_REPLY`] and [`SYNC_JOIN`] bits.
        flags: u8,
    },
    /// Application payload for the receiving node.
    Direct {
        /// The bytes.
        payload: &'a [u8],
    },
    /// A summary of the sender's view of the active members (see
    /// `docs/wire-format.md`, "Anti-entropy").
    Digest {
        /// [`DIGEST_WANT_REPLY`] and [`DIGEST_BUCKETS`] bits.
        flags: u8,
        /// Hash of the whole view.
        root: u64,
        /// Active members in the view, the sender included.
        count: u32,
        /// With [`DIGEST_BUCKETS`]: [`DIGEST_BUCKET_COUNT`] little-endian
        /// `u64` bucket hashes ([`DIGEST_BUCKETS_LEN`] bytes); else empty.
        buckets: &'a [u8],
    },
    /// A push-pull chunk carrying only the members of the digest buckets
    /// set in `buckets` (bit i: bucket i).
    SyncBuckets {
        /// [`SYNC_WANT_REPLY`] (the reply covers the same buckets).
        flags: u8,
        /// The buckets covered.
        buckets: u32,
    },
}

impl<'a, A: Address> Message<'a, A> {
    /// Its wire type.
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Ping { .. } => MessageType::Ping,
            Message::Ack { .. } => MessageType::Ack,
            Message::PingReq { .. } => MessageType::PingReq,
            Message::Nack { .. } => MessageType::Nack,
            Message::Gossip => MessageType::Gossip,
            Message::Sync { .. } => MessageType::Sync,
            Message::Direct { .. } => MessageType::Direct,
            Message::Digest { .. } => MessageType::Digest,
            Message::SyncBuckets { .. } => MessageType::SyncBuckets,
        }
    }

    pub(crate) fn encode(&self, out: &mut Writer<'_>) -> Option<()> {
        out.u8(self.kind() as u8)?;
        match self {
            Message::Ping { seq, target } | Message::PingReq { seq, target } => {
                out.varint(u64::from(*seq))?;
                target.encode(out)
            }
            Message::Ack { seq } | Message::Nack { seq } => out.varint(u64::from(*seq)),
            Message::Gossip => Some(()),
            Message::Sync { flags } => out.u8(*flags),
            Message::Direct { payload } => out.blob(payload),
            Message::Digest {
                flags,
                root,
                count,
                buckets,
            } => {
                out.u8(*flags)?;
                out.bytes(&root.to_le_bytes())?;
                out.varint(u64::from(*count))?;
                let expected = if flags & DIGEST_BUCKETS != 0 {
                    DIGEST_BUCKETS_LEN
                } else {
                    0
                };
                if buckets.len() != expected {
                    return None;
                }
                out.bytes(buckets)
            }
            Message::SyncBuckets { flags, buckets } => {
                out.u8(*flags)?;
                out.bytes(&buckets.to_le_bytes())
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, DropReason> {
        use DropReason::{Malformed, Truncated};
        let kind = r.u8().ok_or(Truncated)?;
        let seq = |r: &mut Reader<'a>| r.varint_u32().ok_or(Malformed);
        let message = match kind {
            1 => Message::Ping {
                seq: seq(r)?,
                target: Identity::decode(r).ok_or(Malformed)?,
            },
            2 => Message::Ack { seq: seq(r)? },
            3 => Message::PingReq {
                seq: seq(r)?,
                target: Identity::decode(r).ok_or(Malformed)?,
            },
            4 => Message::Nack { seq: seq(r)? },
            5 => Message::Gossip,
            6 => {
                let flags = r.u8().ok_or(Truncated)?;
                if flags & !(SYNC_WANT_REPLY | SYNC_JOIN) != 0 {
                    return Err(Malformed);
                }
                Message::Sync { flags }
            }
            7 => Message::Direct {
                payload: r.blob(usize::MAX).ok_or(Malformed)?,
            },
            8 => {
                let flags = r.u8().ok_or(Truncated)?;
                if flags & !(DIGEST_WANT_REPLY | DIGEST_BUCKETS) != 0 {
                    return Err(Malformed);
                }
                let root = u64::from_le_bytes(r.array::<8>().ok_or(Truncated)?);
                let count = r.varint_u32().ok_or(Malformed)?;
                let buckets = if flags & DIGEST_BUCKETS != 0 {
                    r.bytes(DIGEST_BUCKETS_LEN).ok_or(Truncated)?
                } else {
                    &[]
                };
                Message::Digest {
                    flags,
                    root,
                    count,
                    buckets,
                }
            }
            9 => {
                let flags = r.u8().ok_or(Truncated)?;
                if flags & !SYNC_WANT_REPLY != 0 {
                    return Err(Malformed);
                }
                let buckets = u32::from_le_bytes(r.array::<4>().ok_or(Truncated)?);
                Message::SyncBuckets { flags, buckets }
            }
            _ => return Err(DropReason::UnknownType),
        };
        Ok(message)
    }
}
