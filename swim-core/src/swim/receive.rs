//! Incoming datagrams.

use rand_core::Rng;

use super::{LocalStatus, Outgoing, Relay, Swim, SyncJob};
use crate::address::Address;
use crate::counters::DropReason;
use crate::event::{Event, LocalEvent};
use crate::state::MemberState;
use crate::storage::Payload;
use crate::time::Instant;
use crate::wire::codec::Reader;
use crate::wire::{MemberRecord, Message, Packet, Record};

use crate::wire::{DIGEST_BUCKETS, DIGEST_BUCKET_COUNT, DIGEST_WANT_REPLY, SYNC_WANT_REPLY};

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// Handles one datagram received from `from` (the packet's source
    /// address: replies go there, never to an address named in a payload).
    ///
    /// Bad input never panics: truncated, oversized, malformed,
    /// wrong-cluster or unknown-version datagrams are dropped and counted in
    /// [`Counters::drops`](crate::Counters). Afterwards, drain
    /// [`Swim::poll_transmit`] and [`Swim::poll_event`] and ask
    /// [`Swim::poll_timeout`] again.
    pub fn handle_datagram(&mut self, now: Instant, from: A, datagram: &[u8]) {
        let now = self.clamp(now);
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += datagram.len() as u64;
        if self.me.status == LocalStatus::Left {
            self.counters.drops.count(DropReason::NotMember);
            return;
        }
        if from == self.me.id.addr {
            self.counters.drops.count(DropReason::FromSelf);
            return;
        }
        if datagram.len() > usize::from(self.config.packet_budget) {
            self.counters.drops.count(DropReason::Oversized);
            return;
        }
        let packet = match Packet::<A>::decode(datagram, self.config.cluster_tag) {
            Ok(p) => p,
            Err(reason) => {
                self.counters.drops.count(reason);
                return;
            }
        };
        let source = self.members.find(&from);
        let source_verified = source
            .and_then(|slot| self.members.get(slot))
            .map(|m| m.verified);
        if source_verified != Some(true) {
            // Replies to this address may total three times what it sent.
            self.ledger.credit(&from, datagram.len());
        } else if let Some(m) = source.and_then(|slot| self.members.get_mut(slot)) {
            m.last_heard = now;
        }
        // A target check comes first: a ping meant for a previous process on
        // this address must not be answered, nor its records trusted. The
        // prober is told who lives here now, so that it checks and adopts
        // this generation rather than declare the address dead.
        if let Message::Ping { target, .. } = &packet.message {
            if *target != self.me.id {
                self.counters.drops.count(DropReason::WrongTarget);
                if target.addr == self.me.id.addr && self.me.status == LocalStatus::Joined {
                    self.send(Outgoing::Announce { to: from });
                }
                return;
            }
        }
        if let (Some(slot), Some(false)) = (source, source_verified) {
            // A candidate speaks for itself: check it first.
            self.queue_admission(slot, true);
        }
        // A joining node is answered by a seed (or by a member it verified);
        // anyone else's datagram must not end its join attempts.
        let answers_join = self.me.status == LocalStatus::Idle
            || self.seeds.contains(&from)
            || source_verified == Some(true);
        if answers_join && matches!(self.me.status, LocalStatus::Idle | LocalStatus::Joining) {
            self.finish_join(now, &from);
        }
        let from_sync = matches!(
            packet.message,
            Message::Sync { .. } | Message::SyncBuckets { .. }
        );
        let was_dead = source
            .and_then(|slot| self.members.get(slot))
            .is_some_and(|m| m.verified && m.state == MemberState::Dead);
        self.corrections.clear();
        self.declared_left = None;
        // Every record was validated by `Packet::decode`. Membership
        // records, most of the traffic, take a path of their own.
        let mut records = Reader::new(packet.record_bytes());
        while !records.is_empty() {
            if let Some(m) = MemberRecord::<A>::decode(&mut records) {
                self.merge_member_record(now, &from, &m, from_sync);
                continue;
            }
            let Ok(record) = Record::decode(&mut records) else {
                break;
            };
            self.apply_record(now, &from, &record, from_sync);
        }
        if !self.corrections.is_empty() {
            let slots = core::mem::take(&mut self.corrections);
            self.counters.corrections_sent += 1;
            self.send(Outgoing::Correction {
                to: from.clone(),
                slots,
            });
        }
        // Known before, or introduced by its own records just now.
        let known = source.is_some() || self.members.find(&from).is_some();
        if was_dead {
            self.digest_with_reappeared(now, &from);
        }
        self.handle_message(now, from, packet.message, known);
        self.pump_admissions(now);
        self.end_join_once_others_are_known();
    }

    /// Join attempts go on (with their backoff) until the node knows a
    /// member other than its seeds: a seed's first answer may be only its
    /// own records (the joiner was not verified yet), and its table may be
    /// refused by the push-pull rate limit while many nodes join at once.
    fn end_join_once_others_are_known(&mut self) {
        if self.join.is_none() || self.me.status != LocalStatus::Joined {
            return;
        }
        let seeds_known = self
            .seeds
            .iter()
            .filter(|s| {
                self.members
                    .find(s)
                    .and_then(|slot| self.members.get(slot))
                    .is_some_and(|m| m.is_full_active())
            })
            .count();
        if self.members.active() > seeds_known {
            self.join = None;
        }
    }

    /// `known`: the source is in the table (as a member or a candidate).
    fn handle_message(&mut self, now: Instant, from: A, message: Message<'_, A>, known: bool) {
        let probe = matches!(message, Message::Ping { .. } | Message::PingReq { .. });
        if probe && !known {
            self.sync_with_unknown_prober(&from);
        }
        match message {
            Message::Ping { seq, .. } => self.send(Outgoing::Ack { to: from, seq }),
            Message::Ack { seq } => self.handle_ack(now, seq),
            Message::Nack { seq } => match &mut self.probe {
                Some(p) if p.seq == seq && p.indirect_sent => {
                    p.nacks_received = p.nacks_received.saturating_add(1);
                    self.counters.nacks_received += 1;
                    self.settle_probe(now);
                }
                _ => self.counters.drops.count(DropReason::UnexpectedAck),
            },
            Message::PingReq { seq, target } => self.handle_ping_req(now, from, seq, target),
            Message::Gossip => {}
            Message::Sync { flags } => {
                if flags & SYNC_WANT_REPLY != 0 {
                    self.answer_sync_request(now, from);
                }
            }
            Message::SyncBuckets { flags, buckets } => {
                // Only between members: it follows a digest exchange.
                if flags & SYNC_WANT_REPLY != 0 && self.is_validated(&from) {
                    self.reply_with_table(now, from, buckets);
                }
            }
            Message::Digest {
                flags,
                root,
                count,
                buckets,
            } => self.handle_digest(now, from, flags, root, count, buckets),
            Message::Direct { payload } => {
                let fits = payload.len() <= usize::from(self.config.max_payload_len);
                match Payload::from_slice(payload).filter(|_| fits) {
                    Some(payload) => self.emit(Event::Message { from, payload }),
                    None => self.counters.blobs_refused += 1,
                }
            }
        }
    }

    /// A member we do not know probes us: dissemination missed it (or us).
    /// Send it our own records and ask for its table (a datagram within the
    /// anti-amplification limit), so that the hole closes now rather than at
    /// the next periodic push-pull; its table introduces it, and it becomes
    /// a member once it answers our admission ping.
    fn sync_with_unknown_prober(&mut self, from: &A) {
        if *from == self.me.id.addr || self.me.status != LocalStatus::Joined {
            return;
        }
        self.start_sync_job(SyncJob {
            peer: from.clone(),
            flags: SYNC_WANT_REPLY,
            cursor: None,
            self_only: true,
            reply: true,
            buckets: u32::MAX,
        });
    }

    /// A push-pull request. A verified member gets the whole table (rate
    /// limited); any other source gets only this node's own records, within
    /// the anti-amplification limit, and the table once it answers its
    /// admission ping.
    fn answer_sync_request(&mut self, now: Instant, from: A) {
        if self.is_validated(&from) {
            self.reply_with_table(now, from, u32::MAX);
            return;
        }
        if let Some(m) = self
            .members
            .find(&from)
            .and_then(|s| self.members.get_mut(s))
        {
            m.wants_table = true;
        }
        self.start_sync_job(SyncJob {
            peer: from,
            flags: 0,
            cursor: None,
            self_only: true,
            reply: true,
            buckets: u32::MAX,
        });
    }

    /// Sends the table (the members of the digest buckets in `buckets`;
    /// all of them for `u32::MAX`) to the verified member at `peer`, unless
    /// the push-pull reply rate limit refuses it (counted).
    pub(super) fn reply_with_table(&mut self, now: Instant, peer: A, buckets: u32) {
        let (rate, spacing) = (self.config.sync_reply_rate, self.config.probe_interval / 4);
        if !self.sync_limiter.admit(&peer, now, rate, spacing) {
            self.counters.sync_replies_limited += 1;
            return;
        }
        self.start_sync_job(SyncJob {
            peer,
            flags: 0,
            cursor: None,
            self_only: false,
            reply: true,
            buckets,
        });
    }

    /// A digest from a member (anti-entropy), in three steps that never
    /// answer a datagram with a larger one, so that nobody can use them to
    /// amplify traffic toward a member's address:
    ///
    /// 1. a request (`DIGEST_WANT_REPLY`, the requester's root) is answered
    ///    with the local root;
    /// 2. the requester, if the roots differ, sends its bucket hashes (only
    ///    to a peer it asked, within a probe interval);
    /// 3. the peer compares them with its own and sends the members of the
    ///    buckets that differ (the whole table when more than half do),
    ///    asking for the requester's members of the same buckets; this step
    ///    is held to the push-pull reply rate limit, like a push-pull
    ///    request.
    ///
    /// Equal views cost the two small datagrams of step 1. Digests from
    /// others than verified members are dropped: a joiner asks for the
    /// table with a join push-pull.
    fn handle_digest(
        &mut self,
        now: Instant,
        from: A,
        flags: u8,
        root: u64,
        count: u32,
        buckets: &[u8],
    ) {
        if !self.is_validated(&from) || !self.is_joined() {
            self.counters.drops.count(DropReason::NotMember);
            return;
        }
        if flags & DIGEST_WANT_REPLY != 0 {
            if self.digest_budget(now) {
                self.send(Outgoing::Digest { to: from, flags: 0 });
            }
            return;
        }
        if flags & DIGEST_BUCKETS == 0 {
            // Step 2: the answer to one of this node's requests.
            let expiry = self.config.probe_interval;
            let Some(i) = self
                .digest_requests
                .iter()
                .position(|(peer, at)| *peer == from && now < *at + expiry)
            else {
                self.counters.drops.count(DropReason::UnexpectedAck);
                return;
            };
            self.digest_requests.swap_remove(i);
            if !self.digest_budget(now) {
                return;
            }
            let mine = self.view_digest();
            if mine.root() == root && mine.count == count {
                self.counters.digests_equal += 1;
            } else {
                self.send(Outgoing::Digest {
                    to: from,
                    flags: DIGEST_BUCKETS,
                });
            }
            return;
        }
        // Step 3.
        let (rate, spacing) = (self.config.sync_reply_rate, self.config.probe_interval / 4);
        if !self.digest_budget(now) {
            return;
        }
        let Some(mask) = self.view_digest().differing(buckets) else {
            return;
        };
        if mask == 0 {
            self.counters.digests_equal += 1;
            return;
        }
        if !self.sync_limiter.admit(&from, now, rate, spacing) {
            self.counters.sync_replies_limited += 1;
            return;
        }
        let mask = if mask.count_ones() as usize > DIGEST_BUCKET_COUNT / 2 {
            self.counters.syncs_started += 1;
            u32::MAX
        } else {
            self.counters.digest_repairs += 1;
            mask
        };
        self.start_sync_job(SyncJob {
            peer: from,
            flags: SYNC_WANT_REPLY,
            cursor: None,
            self_only: false,
            reply: true,
            buckets: mask,
        });
    }

    /// A member this node holds dead spoke: it may be back from the other
    /// side of a partition. Compare views with it now rather than at the
    /// next anti-entropy round.
    fn digest_with_reappeared(&mut self, now: Instant, from: &A) {
        let spacing = self.config.probe_interval / 4;
        if self.last_reappearance.is_some_and(|at| now < at + spacing) {
            return;
        }
        self.last_reappearance = Some(now);
        self.start_digest(now, from.clone());
    }

    fn handle_ack(&mut self, now: Instant, seq: u32) {
        if let Some(p) = &mut self.probe {
            if p.seq == seq {
                p.acked = true;
                let rtt = now.saturating_duration_since(p.sent_at);
                self.rtt.sample(rtt);
                let target = self.members.get_mut(p.slot).filter(|m| m.id == p.target);
                if let Some(m) = target {
                    let micros = crate::time::duration_micros(rtt);
                    m.rtt_micros = u32::try_from(micros).unwrap_or(u32::MAX).max(1);
                }
                self.settle_probe(now);
                return;
            }
        }
        if let Some(i) = self.last_chance_seqs.iter().position(|&s| s == seq) {
            // What matters arrived with it: the suspect's Alive record.
            self.last_chance_seqs.swap_remove(i);
            return;
        }
        if let Some(i) = self.relays.iter().position(|r| r.seq == seq) {
            let relay = self.relays.swap_remove(i);
            self.send(Outgoing::Ack {
                to: relay.requester,
                seq: relay.requester_seq,
            });
            return;
        }
        if self.handle_check_ack(now, seq) {
            return;
        }
        self.counters.drops.count(DropReason::UnexpectedAck);
    }

    /// Serves a ping-req only for a verified, active member with exactly
    /// that identity, so this node cannot be used to send traffic to
    /// arbitrary addresses. Any other is answered with a nack at once: the
    /// requester then knows that the failure is not its own (Lifeguard).
    fn handle_ping_req(&mut self, now: Instant, from: A, seq: u32, target: crate::Identity<A>) {
        let known = self
            .members
            .find(&target.addr)
            .and_then(|s| self.members.get(s));
        if !known.is_some_and(|m| m.is_full_active() && m.id == target) {
            self.counters.drops.count(DropReason::UnknownTarget);
            if self.config.lifeguard {
                self.counters.ping_reqs_refused += 1;
                self.send(Outgoing::Nack { to: from, seq });
            }
            return;
        }
        let local_seq = self.next_seq();
        // Lifeguard: nack if the target is silent for this node's own
        // adaptive ack wait (as for its direct probes), at most 80% of the
        // probe timeout (memberlist's fixed patience, which made every
        // first suspicion of a dead node wait 0.4 s for the nacks on a LAN
        // with 2 ms round trips). A late ack is still relayed until the
        // probe interval ends.
        let timeout = self.config.probe_timeout;
        let relay = Relay {
            seq: local_seq,
            requester: from,
            requester_seq: seq,
            nack_at: now + self.ack_timeout().min(timeout / 5 * 4),
            expires: now + self.config.probe_interval,
            nack_sent: !self.config.lifeguard,
        };
        if self.relays.push(relay, usize::MAX).is_err() {
            self.counters.drops.count(DropReason::TransmitQueueFull);
            return;
        }
        self.counters.indirect_probes_relayed += 1;
        let slot = self
            .members
            .find(&target.addr)
            .unwrap_or(crate::gossip_queue::SELF_SLOT);
        self.send(Outgoing::Ping {
            to: target.addr.clone(),
            seq: local_seq,
            target,
            slot,
            carry: super::Carry::Buddy,
        });
    }

    fn finish_join(&mut self, now: Instant, answered_by: &A) {
        self.me.status = LocalStatus::Joined;
        // One more push-pull with the node that answered, a probe interval
        // later: nodes that joined through it at the same moment then learn
        // of each other from its fuller table, instead of waiting for gossip
        // or the periodic push-pull.
        self.resync = Some((now + self.config.probe_interval, answered_by.clone()));
        self.emit(Event::Local(LocalEvent::Joined));
    }

    /// Merges one membership record from `from`: its accuser defaults to
    /// the sender, and a suspicion's age counts once its timer started.
    #[inline]
    fn merge_member_record(
        &mut self,
        now: Instant,
        from: &A,
        m: &MemberRecord<A>,
        from_sync: bool,
    ) {
        let accuser = m.accuser.as_ref().unwrap_or(from);
        self.merge_member(now, m.state, &m.id, m.incarnation, accuser, from, from_sync);
        // Only suspicions carry an age.
        if m.suspicion_age_ms > 0 {
            self.count_suspicion_age(now, &m.id, m.incarnation, m.suspicion_age_ms);
        }
    }

    /// Takes the record by reference: membership records, the common case,
    /// are merged without copying their identities.
    fn apply_record(&mut self, now: Instant, from: &A, record: &Record<'_, A>, from_sync: bool) {
        match record {
            Record::Member {
                state,
                id,
                incarnation,
                accuser,
                suspicion_age_ms,
            } => {
                let m = MemberRecord {
                    state: *state,
                    id: id.clone(),
                    incarnation: *incarnation,
                    accuser: accuser.clone(),
                    suspicion_age_ms: *suspicion_age_ms,
                };
                self.merge_member_record(now, from, &m, from_sync);
            }
            Record::Meta { id, version, data } => self.merge_meta(id.clone(), *version, data),
            Record::Broadcast {
                origin,
                epoch,
                seq,
                key,
                payload,
            } => self.merge_broadcast(origin.clone(), *epoch, *seq, *key, payload),
        }
    }
}
