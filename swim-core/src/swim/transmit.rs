//! Outgoing datagrams: messages with piggybacked records, and push-pull
//! chunks, each written into the caller's buffer within the packet budget.

use rand_core::Rng;

use super::{Carry, Outgoing, Swim, SyncJob};
use crate::address::Address;
use crate::address::Identity;
use crate::counters::DropReason;
use crate::digest::bucket_of;
use crate::gossip_queue::{Entry, RecordOf, SELF_SLOT};
use crate::members::Slot;
use crate::state::MemberState;
use crate::wire::codec::Writer;
use crate::wire::{encode_packet_start, encode_record, Message, Record, DIGEST_BUCKETS};

use super::Transmit;

/// Queue entries that may be set aside in one packet because they did not
/// fit, before assembly stops looking further.
const MAX_SKIPPED: usize = 8;
/// Broadcasts placed in one packet at most.
const MAX_BROADCASTS_PER_PACKET: usize = 64;

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// Writes the next datagram into `buf` and says where to send it, or
    /// returns `None` when nothing is waiting. Call it until `None` after
    /// every input; each datagram is at most
    /// `min(buf.len(), packet_budget)` bytes (a buffer of at least the
    /// packet budget is expected: anything smaller limits what is sent).
    pub fn poll_transmit(&mut self, now: crate::Instant, buf: &mut [u8]) -> Option<Transmit<A>> {
        let _ = self.clamp(now);
        if self.me.status == super::LocalStatus::Left {
            return None;
        }
        let budget = buf.len().min(usize::from(self.config.packet_budget));
        let buf = &mut buf[..budget];
        while let Some(message) = self.outgoing.pop_front() {
            if let Some(t) = self.write_message(message, buf) {
                return Some(self.count_out(t));
            }
        }
        while !self.syncs.is_empty() {
            if let Some(t) = self.write_sync_chunk(buf) {
                return Some(self.count_out(t));
            }
        }
        None
    }

    fn count_out(&mut self, t: Transmit<A>) -> Transmit<A> {
        self.counters.datagrams_out += 1;
        self.counters.bytes_out += t.len as u64;
        t
    }

    fn write_message(&mut self, outgoing: Outgoing<A, B>, buf: &mut [u8]) -> Option<Transmit<A>> {
        let tag = self.config.cluster_tag;
        let to = match &outgoing {
            Outgoing::Ping { to, .. }
            | Outgoing::Ack { to, .. }
            | Outgoing::PingReq { to, .. }
            | Outgoing::Nack { to, .. }
            | Outgoing::Gossip { to }
            | Outgoing::Correction { to, .. }
            | Outgoing::Direct { to, .. }
            | Outgoing::Announce { to }
            | Outgoing::Digest { to, .. } => to.clone(),
        };
        let is_reply = matches!(
            outgoing,
            Outgoing::Ack { .. }
                | Outgoing::Nack { .. }
                | Outgoing::Correction { .. }
                | Outgoing::Announce { .. }
        );
        let validated = self.is_validated(&to);
        // A reply to an address that has not proved it receives traffic
        // carries nothing extra and stays within its credit (three times
        // what it sent): this node is nobody's amplifier.
        let limited = is_reply && !validated;
        let limit = if limited {
            self.ledger.available(&to).min(buf.len())
        } else {
            buf.len()
        };
        let small_buffer = buf.len() < usize::from(self.config.packet_budget);
        let mut w = Writer::new(&mut buf[..limit]);
        let Some(header_len) = self.write_message_start(&mut w, tag, &outgoing) else {
            if limited {
                self.counters.replies_limited += 1;
            } else if small_buffer {
                self.counters.drops.count(DropReason::BufferTooSmall);
            }
            return None;
        };
        if let Outgoing::Ping {
            slot,
            target,
            carry,
            ..
        } = &outgoing
        {
            self.write_carried(&mut w, *slot, target, *carry);
        }
        let leaving = self.me.status == super::LocalStatus::Leaving;
        if leaving && validated && matches!(outgoing, Outgoing::Ack { .. }) {
            // A leaving node's answers say so first: whoever checks a
            // second-hand "left" learns it from the member itself.
            self.write_state(&mut w, SELF_SLOT);
        }
        let bare = matches!(
            outgoing,
            Outgoing::Ping {
                carry: Carry::Nothing,
                ..
            } | Outgoing::Announce { .. }
                | Outgoing::Digest { .. }
        );
        if validated && !bare {
            self.fill_piggyback(&mut w);
        }
        if matches!(outgoing, Outgoing::Gossip { .. }) && w.len() == header_len {
            return None;
        }
        let len = w.len();
        if limited {
            self.ledger.spend(&to, len);
        }
        Some(Transmit {
            destination: to,
            len,
        })
    }

    /// Writes the header and the message, and the records a correction
    /// carries; returns the length so far.
    fn write_message_start(
        &mut self,
        w: &mut Writer<'_>,
        tag: u32,
        outgoing: &Outgoing<A, B>,
    ) -> Option<usize> {
        match outgoing {
            Outgoing::Ping { seq, target, .. } => encode_packet_start(
                w,
                tag,
                &Message::Ping {
                    seq: *seq,
                    target: target.clone(),
                },
            )?,
            Outgoing::Ack { seq, .. } => {
                encode_packet_start::<A>(w, tag, &Message::Ack { seq: *seq })?
            }
            Outgoing::PingReq { seq, target, .. } => encode_packet_start(
                w,
                tag,
                &Message::PingReq {
                    seq: *seq,
                    target: target.clone(),
                },
            )?,
            Outgoing::Nack { seq, .. } => {
                encode_packet_start::<A>(w, tag, &Message::Nack { seq: *seq })?
            }
            Outgoing::Gossip { .. } => encode_packet_start::<A>(w, tag, &Message::Gossip)?,
            Outgoing::Correction { slots, .. } => {
                encode_packet_start::<A>(w, tag, &Message::Gossip)?;
                let start = w.len();
                for &slot in slots {
                    let mark = w.len();
                    if !self.write_state(w, slot) {
                        w.truncate(mark);
                    }
                }
                if w.len() == start {
                    return None; // nothing fitted: pointless
                }
            }
            Outgoing::Direct { payload, .. } => {
                encode_packet_start::<A>(w, tag, &Message::Direct { payload })?
            }
            Outgoing::Announce { .. } => {
                encode_packet_start::<A>(w, tag, &Message::Gossip)?;
                if !self.write_state(w, SELF_SLOT) {
                    return None;
                }
            }
            Outgoing::Digest { flags, .. } => {
                let digest = self.view_digest();
                let bytes = (flags & DIGEST_BUCKETS != 0).then(|| digest.bucket_bytes());
                let message = Message::Digest {
                    flags: *flags,
                    root: digest.root(),
                    count: digest.count,
                    buckets: bytes.as_ref().map_or(&[], |b| &b[..]),
                };
                encode_packet_start::<A>(w, tag, &message)?;
            }
        }
        Some(w.len())
    }

    /// What a ping carries about its target before the piggyback.
    fn write_carried(&self, w: &mut Writer<'_>, slot: Slot, target: &Identity<A>, carry: Carry) {
        match carry {
            Carry::Nothing => {}
            // Buddy system: a ping to a suspect carries the suspicion first,
            // so the member learns of it at once and can refute.
            Carry::Buddy => {
                let suspect = self
                    .members
                    .get(slot)
                    .is_some_and(|m| m.state == MemberState::Suspect);
                if suspect && self.config.lifeguard {
                    let mark = w.len();
                    if !self.write_member_state(w, slot) {
                        w.truncate(mark);
                    }
                }
            }
            Carry::Accusation { state, incarnation } => {
                let accuser = (state == MemberState::Suspect).then(|| self.me.id.addr.clone());
                let record = Record::Member {
                    state,
                    id: target.clone(),
                    incarnation,
                    accuser,
                    suspicion_age_ms: 0,
                };
                let mark = w.len();
                if encode_record(w, &record).is_none() {
                    w.truncate(mark);
                }
            }
        }
    }

    /// Packs records until the packet is full: broadcasts up to their
    /// reserved share first, then membership and metadata records least
    /// transmitted first, then more broadcasts if room remains.
    fn fill_piggyback(&mut self, w: &mut Writer<'_>) {
        let reserve = w.remaining() * usize::from(self.config.broadcast_share_percent) / 100;
        let mut placed: heapless::Vec<u16, MAX_BROADCASTS_PER_PACKET> = heapless::Vec::new();
        let reserved_end = w.len() + reserve;
        self.pack_broadcasts(w, &mut placed, reserved_end);
        self.pack_gossip(w);
        let end = w.len() + w.remaining();
        self.pack_broadcasts(w, &mut placed, end);
        let mult = self.config.broadcast_retransmit_mult;
        let limit = crate::math::retransmit_limit(mult, self.cluster_size());
        self.broadcasts.mark_sent(&placed, limit);
    }

    fn pack_broadcasts(
        &mut self,
        w: &mut Writer<'_>,
        placed: &mut heapless::Vec<u16, MAX_BROADCASTS_PER_PACKET>,
        end: usize,
    ) {
        let mut skipped: heapless::Vec<u16, MAX_SKIPPED> = heapless::Vec::new();
        while !placed.is_full() && w.len() < end {
            let skip = |i: usize| placed.contains(&(i as u16)) || skipped.contains(&(i as u16));
            let Some(i) = self.broadcasts.least_sent(skip) else {
                break;
            };
            let q = self.broadcasts.get(i);
            let record = Record::Broadcast {
                origin: q.origin.clone(),
                epoch: q.epoch,
                seq: q.seq,
                key: q.key,
                payload: &q.payload,
            };
            let start = w.len();
            if encode_record(w, &record).is_some() && w.len() <= end {
                let _ = placed.push(i as u16);
            } else {
                w.truncate(start);
                if skipped.push(i as u16).is_err() {
                    break;
                }
            }
        }
    }

    fn pack_gossip(&mut self, w: &mut Writer<'_>) {
        let limit = self.retransmit_limit();
        let mut skipped: heapless::Vec<Entry, MAX_SKIPPED> = heapless::Vec::new();
        let mut budget = self.gossip.len();
        while budget > 0 && w.remaining() > 0 {
            budget -= 1;
            let Some(entry) = self.gossip.pop() else {
                break;
            };
            let Some(sent) = self.entry_sent_count(&entry) else {
                continue;
            }; // stale
            if sent >= limit {
                continue; // retransmitted enough
            }
            let written = match entry.record {
                RecordOf::State => self.write_state(w, entry.slot),
                RecordOf::Meta => self.write_meta(w, entry.slot),
            };
            if written {
                self.bump_sent(&entry);
                if sent + 1 < limit {
                    self.gossip.push_sent(entry);
                }
            } else if skipped.push(entry).is_err() {
                self.gossip.push_unsent(entry);
                break;
            }
        }
        for entry in skipped.into_iter().rev() {
            self.gossip.push_unsent(entry);
        }
    }

    /// Transmissions so far of the record `entry` stands for; `None` if the
    /// entry is stale.
    fn entry_sent_count(&self, e: &Entry) -> Option<u8> {
        let t = super::tracked_of(&self.members, &self.me, e.slot, e.record)?;
        (t.stamp == e.stamp).then_some(t.sent)
    }

    fn bump_sent(&mut self, e: &Entry) {
        if let Some(t) = super::tracked_mut(&mut self.members, &mut self.me, e.slot, e.record) {
            t.sent = t.sent.saturating_add(1);
        }
    }

    fn write_state(&self, w: &mut Writer<'_>, slot: Slot) -> bool {
        if slot == SELF_SLOT {
            let record = Record::Member {
                state: self.self_state(),
                id: self.me.id.clone(),
                incarnation: self.me.incarnation,
                accuser: None,
                suspicion_age_ms: 0,
            };
            return encode_record(w, &record).is_some();
        }
        self.write_member_state(w, slot)
    }

    fn write_member_state(&self, w: &mut Writer<'_>, slot: Slot) -> bool {
        let Some(m) = self.members.get(slot) else {
            return false;
        };
        // A suspect record names its (latest) accuser and the suspicion's age.
        let (accuser, suspicion_age_ms) = if m.state == MemberState::Suspect {
            let suspicion = self.suspicions.iter().find(|s| s.slot == slot);
            let accuser = suspicion
                .and_then(|s| s.accusers.last().cloned())
                .unwrap_or_else(|| self.me.id.addr.clone());
            let age = suspicion.map_or(0, |s| {
                let age = self.last_now.saturating_duration_since(s.started);
                u32::try_from(age.as_millis()).unwrap_or(u32::MAX)
            });
            (Some(accuser), age)
        } else {
            (None, 0)
        };
        let record = Record::Member {
            state: m.state,
            id: m.id.clone(),
            incarnation: m.incarnation,
            accuser,
            suspicion_age_ms,
        };
        encode_record(w, &record).is_some()
    }

    fn write_meta(&self, w: &mut Writer<'_>, slot: Slot) -> bool {
        let record = if slot == SELF_SLOT {
            Record::Meta {
                id: self.me.id.clone(),
                version: self.me.meta_version,
                data: &self.me.meta,
            }
        } else {
            let Some(m) = self.members.get(slot) else {
                return false;
            };
            Record::Meta {
                id: m.id.clone(),
                version: m.meta_version,
                data: &m.meta,
            }
        };
        encode_record(w, &record).is_some()
    }

    /// Writes the next chunk of the first push-pull job: the local node's
    /// own records first, then every verified member with its metadata.
    /// A reply to a peer not yet verified is only the local node's records,
    /// within the anti-amplification credit.
    fn write_sync_chunk(&mut self, buf: &mut [u8]) -> Option<Transmit<A>> {
        let SyncJob {
            peer,
            flags,
            cursor,
            self_only,
            reply,
            buckets,
        } = self.syncs.first()?.clone();
        let tag = self.config.cluster_tag;
        let limited = reply && !self.is_validated(&peer);
        let self_only = self_only || limited;
        let limit = if limited {
            self.ledger.available(&peer).min(buf.len())
        } else {
            buf.len()
        };
        let mut w = Writer::new(&mut buf[..limit]);
        let message = if buckets == u32::MAX {
            Message::Sync { flags }
        } else {
            Message::SyncBuckets {
                flags: flags & crate::wire::SYNC_WANT_REPLY,
                buckets,
            }
        };
        let in_buckets = |addr: &A| buckets == u32::MAX || buckets & (1 << bucket_of(addr)) != 0;
        if encode_packet_start::<A>(&mut w, tag, &message).is_none() {
            self.syncs.remove(0);
            if limited {
                self.counters.replies_limited += 1;
            } else {
                self.counters.drops.count(DropReason::BufferTooSmall);
            }
            return None;
        }
        let first_chunk = cursor.is_none();
        let mut next = cursor.unwrap_or(0);
        let mut wrote_any = false;
        if first_chunk && in_buckets(&self.me.id.addr) {
            let mark = w.len();
            if self.write_state(&mut w, SELF_SLOT) {
                wrote_any = true;
                let mark = w.len();
                let has_meta = !self.me.meta.is_empty() || self.me.meta_version != 0;
                if has_meta && !self.write_meta(&mut w, SELF_SLOT) {
                    w.truncate(mark);
                }
            } else {
                w.truncate(mark);
            }
        }
        let slot_count = if self_only {
            0
        } else {
            self.members.slot_count() as u32
        };
        while next < slot_count {
            if self
                .members
                .get(next)
                .is_some_and(|m| m.verified && in_buckets(&m.id.addr))
            {
                let mark = w.len();
                // Metadata emptied after being set has a version the digest
                // covers: it travels too, or the views would never agree.
                let has_meta = self
                    .members
                    .get(next)
                    .is_some_and(|m| !m.meta.is_empty() || m.meta_version != 0);
                let ok = self.write_member_state(&mut w, next)
                    && (!has_meta || self.write_meta(&mut w, next));
                if !ok {
                    w.truncate(mark);
                    if wrote_any {
                        break; // next chunk
                    }
                    // Cannot fit even an empty packet: skip rather than stall.
                }
                wrote_any = true;
            }
            next += 1;
        }
        if next >= slot_count {
            self.syncs.remove(0);
        } else if let Some(job) = self.syncs.first_mut() {
            // Later chunks never ask for another reply.
            job.cursor = Some(next);
            job.flags &= !crate::wire::SYNC_WANT_REPLY;
        }
        if !wrote_any && !first_chunk {
            return None;
        }
        if limited && !wrote_any {
            self.counters.replies_limited += 1;
            return None;
        }
        let len = w.len();
        if limited {
            self.ledger.spend(&peer, len);
        }
        if reply && !self_only {
            self.sync_limiter.charge(len);
        }
        Some(Transmit {
            destination: peer,
            len,
        })
    }
}
