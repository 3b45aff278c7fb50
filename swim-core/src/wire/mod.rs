//! The wire format: a versioned binary encoding written for this crate.
//!
//! See `docs/wire-format.md` at the repository root for the specification.
//! A datagram is a header, one message, then zero or more records (membership
//! updates, metadata, broadcasts) packed until the packet budget is full.

pub mod codec;
mod message;
mod record;

pub use message::{
    Message, MessageType, DIGEST_BUCKETS, DIGEST_BUCKETS_LEN, DIGEST_BUCKET_COUNT,
    DIGEST_WANT_REPLY, SYNC_JOIN, SYNC_WANT_REPLY,
};
pub(crate) use record::MemberRecord;
pub use record::{Record, RecordKind};

use crate::address::Address;
use crate::counters::DropReason;
use codec::{Reader, Writer};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes of the packet header: version (1) and cluster tag (4).
pub const HEADER_LEN: usize = 5;
/// Smallest packet budget a configuration may set.
pub const MIN_PACKET_BUDGET: usize = 512;
/// Room a metadata or payload record needs besides its bytes, header and
/// message included, with the largest address this crate ships.
pub const MAX_RECORD_OVERHEAD: usize = 64;

/// A decoded packet: its message, and its records still to be iterated.
#[derive(Debug)]
pub struct Packet<'a, A> {
    /// The message the packet carries.
    pub message: Message<'a, A>,
    records: &'a [u8],
}

impl<'a, A: Address> Packet<'a, A> {
    /// Decodes and validates a whole datagram, records included, without
    /// allocating. Any defect rejects the whole datagram with its reason.
    pub fn decode(datagram: &'a [u8], cluster_tag: u32) -> Result<Self, DropReason> {
        let mut r = Reader::new(datagram);
        let version = r.u8().ok_or(DropReason::Truncated)?;
        if version != PROTOCOL_VERSION {
            return Err(DropReason::UnknownVersion);
        }
        let tag = u32::from_le_bytes(r.array::<4>().ok_or(DropReason::Truncated)?);
        if tag != cluster_tag {
            return Err(DropReason::WrongCluster);
        }
        let message = Message::decode(&mut r)?;
        let records = r.bytes(r.remaining()).unwrap_or_default();
        // Validate every record without building it (the same decisions as
        // decoding it), so that a defect anywhere rejects the datagram
        // before the caller applies any record.
        let mut check = Reader::new(records);
        while !check.is_empty() {
            Record::<A>::skip(&mut check)?;
        }
        Ok(Packet { message, records })
    }

    /// The records' bytes (for the receive path's own iteration).
    pub(crate) fn record_bytes(&self) -> &'a [u8] {
        self.records
    }

    /// The records, in order. Each item is already validated by
    /// [`Packet::decode`], so errors only appear for hand-built packets.
    pub fn records(&self) -> RecordIter<'a, A> {
        RecordIter {
            reader: Reader::new(self.records),
            _address: core::marker::PhantomData,
        }
    }
}

/// Iterator over the records of a packet.
#[derive(Debug)]
pub struct RecordIter<'a, A> {
    reader: Reader<'a>,
    _address: core::marker::PhantomData<A>,
}

impl<'a, A: Address> Iterator for RecordIter<'a, A> {
    type Item = Result<Record<'a, A>, DropReason>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.is_empty() {
            return None;
        }
        let item = Record::decode(&mut self.reader);
        if item.is_err() {
            // Stop after the first defect: the rest cannot be framed.
            self.reader = Reader::new(&[]);
        }
        Some(item)
    }
}

/// Writes the header and the message; `None` if `out` is too small.
pub fn encode_packet_start<A: Address>(
    out: &mut Writer<'_>,
    cluster_tag: u32,
    message: &Message<'_, A>,
) -> Option<()> {
    out.u8(PROTOCOL_VERSION)?;
    out.bytes(&cluster_tag.to_le_bytes())?;
    message.encode(out)
}

/// Appends one record, or leaves `out` unchanged and returns `None` when it
/// does not fit.
pub fn encode_record<A: Address>(out: &mut Writer<'_>, record: &Record<'_, A>) -> Option<()> {
    let start = out.len();
    let written = record.encode(out);
    if written.is_none() {
        out.truncate(start);
    }
    written
}

#[cfg(test)]
mod tests;
