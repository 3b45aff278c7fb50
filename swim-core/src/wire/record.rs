//! Records: the piggybacked updates that follow the message of a packet.

use crate::address::{Address, Identity};
use crate::counters::DropReason;
use crate::state::MemberState;

use super::codec::{Reader, Writer};

/// Numeric record kinds on the wire (low four bits of the tag byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// Member is alive at an incarnation.
    Alive = 0,
    /// Member is suspected at an incarnation, by an accuser.
    Suspect = 1,
    /// Member was declared dead at an incarnation.
    Dead = 2,
    /// Member left at an incarnation.
    Left = 3,
    /// Member's metadata at a version.
    Meta = 4,
    /// Application broadcast.
    Broadcast = 5,
}

impl RecordKind {
    /// The kind of a membership record about a member in `state`.
    pub fn of(state: MemberState) -> RecordKind {
        match state {
            MemberState::Alive => RecordKind::Alive,
            MemberState::Suspect => RecordKind::Suspect,
            MemberState::Dead => RecordKind::Dead,
            MemberState::Left => RecordKind::Left,
        }
    }
}

/// The inverse of [`RecordKind::of`]: the state of each membership record
/// tag, in tag order (a test checks that the two agree).
const STATES_BY_TAG: [MemberState; 4] = [
    MemberState::Alive,
    MemberState::Suspect,
    MemberState::Dead,
    MemberState::Left,
];

/// Tag bit of a broadcast record that carries a key.
const HAS_KEY: u8 = 0x10;

/// One decoded record; byte strings borrow from the datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record<'a, A> {
    /// A membership update.
    Member {
        /// Alive, suspect, dead or left.
        state: MemberState,
        /// Which member.
        id: Identity<A>,
        /// The member's incarnation the update is about.
        incarnation: u32,
        /// For suspicions: who suspects (confirmations are counted per accuser).
        accuser: Option<A>,
        /// For suspicions: how long the sender has been timing it, in
        /// milliseconds. A receiver that starts its own timer counts this
        /// (up to a bound) as time already spent, so that every observer's
        /// timer runs out at about the same moment, however late gossip
        /// reached it. Not on the wire for other states (zero).
        suspicion_age_ms: u32,
    },
    /// A member's metadata.
    Meta {
        /// Which member.
        id: Identity<A>,
        /// Metadata version; higher replaces lower.
        version: u32,
        /// The metadata bytes.
        data: &'a [u8],
    },
    /// An application broadcast.
    Broadcast {
        /// Member that sent it first.
        origin: Identity<A>,
        /// Random number the origin drew at start; with `seq`, identifies
        /// the broadcast for duplicate suppression.
        epoch: u32,
        /// Origin's sequence number within its epoch.
        seq: u32,
        /// Invalidation key: a newer broadcast with the same key replaces it.
        key: Option<u64>,
        /// The application's bytes.
        payload: &'a [u8],
    },
}

impl<'a, A: Address> Record<'a, A> {
    pub(crate) fn encode(&self, out: &mut Writer<'_>) -> Option<()> {
        match self {
            Record::Member {
                state,
                id,
                incarnation,
                accuser,
                suspicion_age_ms,
            } => {
                out.u8(RecordKind::of(*state) as u8)?;
                id.encode(out)?;
                out.varint(u64::from(*incarnation))?;
                if *state == MemberState::Suspect {
                    accuser.as_ref()?.encode(out)?;
                    out.varint(u64::from(*suspicion_age_ms))?;
                }
                Some(())
            }
            Record::Meta { id, version, data } => {
                out.u8(RecordKind::Meta as u8)?;
                id.encode(out)?;
                out.varint(u64::from(*version))?;
                out.blob(data)
            }
            Record::Broadcast {
                origin,
                epoch,
                seq,
                key,
                payload,
            } => {
                let flag = if key.is_some() { HAS_KEY } else { 0 };
                out.u8(RecordKind::Broadcast as u8 | flag)?;
                origin.encode(out)?;
                out.bytes(&epoch.to_le_bytes())?;
                out.varint(u64::from(*seq))?;
                if let Some(key) = key {
                    out.varint(*key)?;
                }
                out.blob(payload)
            }
        }
    }

    /// Checks one record and moves past it without building it: the same
    /// accept/reject decision and drop reason as [`Record::decode`], with
    /// `r` left at the same position when the record is valid.
    #[inline]
    pub fn skip(r: &mut Reader<'a>) -> Result<(), DropReason> {
        use DropReason::Malformed;
        let tag = r.u8().ok_or(DropReason::Truncated)?;
        let kind = tag & 0x0f;
        if kind != RecordKind::Broadcast as u8 && tag & 0xf0 != 0 {
            return Err(Malformed);
        }
        let body = match kind {
            // Alive, dead, left.
            0 | 2 | 3 => Identity::<A>::skip(r).and_then(|()| r.varint_u32().map(drop)),
            // Suspect: with its accuser and its age.
            1 => Identity::<A>::skip(r)
                .and_then(|()| r.varint_u32())
                .and_then(|_| A::skip(r))
                .and_then(|()| r.varint_u32().map(drop)),
            // Meta.
            4 => Identity::<A>::skip(r)
                .and_then(|()| r.varint_u32())
                .and_then(|_| r.blob(usize::MAX).map(drop)),
            // Broadcast.
            5 => {
                if tag & !HAS_KEY & 0xf0 != 0 {
                    return Err(Malformed);
                }
                Identity::<A>::skip(r)
                    .and_then(|()| r.skip(4))
                    .and_then(|()| r.varint_u32())
                    .and_then(|_| {
                        if tag & HAS_KEY != 0 {
                            r.varint().map(drop)
                        } else {
                            Some(())
                        }
                    })
                    .and_then(|()| r.blob(usize::MAX).map(drop))
            }
            _ => return Err(DropReason::UnknownType),
        };
        body.ok_or(Malformed)
    }

    /// Decodes one record. Whole datagrams go through
    /// [`Packet::decode`](super::Packet::decode) and
    /// [`Packet::records`](super::Packet::records) instead.
    #[inline]
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DropReason> {
        use DropReason::Malformed;
        let tag = r.u8().ok_or(DropReason::Truncated)?;
        let kind = tag & 0x0f;
        if kind != RecordKind::Broadcast as u8 && tag & 0xf0 != 0 {
            return Err(Malformed);
        }
        if let Some(state) = MemberRecord::<A>::state_of_tag(kind) {
            let m = MemberRecord::decode_body(state, r).ok_or(Malformed)?;
            return Ok(Record::Member {
                state,
                id: m.id,
                incarnation: m.incarnation,
                accuser: m.accuser,
                suspicion_age_ms: m.suspicion_age_ms,
            });
        }
        match kind {
            4 => {
                let id = Identity::decode(r).ok_or(Malformed)?;
                let version = r.varint_u32().ok_or(Malformed)?;
                let data = r.blob(usize::MAX).ok_or(Malformed)?;
                Ok(Record::Meta { id, version, data })
            }
            5 => {
                if tag & !HAS_KEY & 0xf0 != 0 {
                    return Err(Malformed);
                }
                let origin = Identity::decode(r).ok_or(Malformed)?;
                let epoch = u32::from_le_bytes(r.array::<4>().ok_or(Malformed)?);
                let seq = r.varint_u32().ok_or(Malformed)?;
                let key = if tag & HAS_KEY != 0 {
                    Some(r.varint().ok_or(Malformed)?)
                } else {
                    None
                };
                let payload = r.blob(usize::MAX).ok_or(Malformed)?;
                Ok(Record::Broadcast {
                    origin,
                    epoch,
                    seq,
                    key,
                    payload,
                })
            }
            _ => Err(DropReason::UnknownType),
        }
    }
}

/// The fields of a membership record, decoded on their own. The receive
/// path merges most records through this struct rather than [`Record`]:
/// assembling the enum (whose variants share storage) and copying it out
/// again cost more than the merge itself (store-forwarding stalls).
pub(crate) struct MemberRecord<A> {
    pub state: MemberState,
    pub id: Identity<A>,
    pub incarnation: u32,
    /// Only on suspicions.
    pub accuser: Option<A>,
    /// Only on suspicions (zero otherwise): see `Record::Member`.
    pub suspicion_age_ms: u32,
}

impl<A: Address> MemberRecord<A> {
    /// The state a membership record's tag byte stands for; `None` for
    /// other kinds and for tags with flag bits (which are malformed).
    #[inline]
    pub fn state_of_tag(tag: u8) -> Option<MemberState> {
        STATES_BY_TAG.get(usize::from(tag)).copied()
    }

    /// Decodes a membership record whose tag (already read) gave `state`;
    /// exactly the rules of [`Record::decode`].
    #[inline(always)]
    pub fn decode_body(state: MemberState, r: &mut Reader<'_>) -> Option<Self> {
        let id = Identity::decode(r)?;
        let incarnation = r.varint_u32()?;
        let (accuser, suspicion_age_ms) = match state {
            MemberState::Suspect => (Some(A::decode(r)?), r.varint_u32()?),
            _ => (None, 0),
        };
        Some(MemberRecord {
            state,
            id,
            incarnation,
            accuser,
            suspicion_age_ms,
        })
    }

    /// Decodes the next record if it is a valid membership record; leaves
    /// `r` unchanged otherwise.
    #[inline(always)]
    pub fn decode(r: &mut Reader<'_>) -> Option<Self> {
        let state = Self::state_of_tag(r.peek()?)?;
        let mut body = r.clone();
        body.skip(1)?;
        let m = Self::decode_body(state, &mut body)?;
        *r = body;
        Some(m)
    }
}
