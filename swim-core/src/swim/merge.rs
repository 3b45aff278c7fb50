//! Merging received records into the local view, by SWIM's precedence.

use heapless::Vec as FixedVec;
use rand_core::Rng;

use super::{LocalStatus, Suspicion, Swim};
use crate::address::{Address, Identity};
use crate::broadcasts::{Queued, QueuedBroadcast};
use crate::dedup::Sighting;
use crate::event::{Event, LocalEvent};
use crate::gossip_queue::{RecordOf, SELF_SLOT};
use crate::math;
use crate::member::{Member, Precedence};
use crate::members::Slot;
use crate::state::MemberState;
use crate::storage::Payload;
use crate::time::Instant;

/// How many members, besides the accusers, tell a suspect of its suspicion
/// (see `send_suspicion_notice`).
const NOTIFYING_OBSERVERS: u32 = 8;

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// Merges one membership record received from `source`. `from_sync`
    /// marks records of a push-pull exchange, whose "dead" is merged as
    /// "suspect" (the local node then runs its own suspicion timer instead
    /// of trusting a possibly stale verdict).
    ///
    /// Nothing anyone says is believed blindly (see the `checks` module): a
    /// member nobody verified is only a candidate until it answers a ping;
    /// a newer generation replaces a member only when it answers; "dead" or
    /// "left" about a member seen active is checked with a ping first, and
    /// records about generations never verified are ignored.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn merge_member(
        &mut self,
        now: Instant,
        state: MemberState,
        id: &Identity<A>,
        incarnation: u32,
        accuser: &A,
        source: &A,
        from_sync: bool,
    ) {
        if id.addr == self.me.id.addr {
            self.merge_about_self(now, state, id, incarnation);
            return;
        }
        if !self.admission.admits(id) {
            self.counters.records_refused += 1;
            return;
        }
        let first_hand = *source == id.addr;
        let dead_in_sync = from_sync && state == MemberState::Dead;
        let state = if dead_in_sync {
            MemberState::Suspect
        } else {
            state
        };
        let Some(slot) = self.members.find(&id.addr) else {
            if state.is_active() {
                self.add_candidate(now, id.clone(), incarnation, first_hand);
            } else {
                self.counters.stale_updates += 1;
            }
            return;
        };
        let Some(member) = self.members.get(slot) else {
            return;
        };
        if !member.verified {
            self.merge_about_candidate(slot, state, id, incarnation, first_hand);
            return;
        }
        let current = member.precedence();
        if id.generation > current.generation {
            // A new process on this address, says the record: believe it
            // when that identity answers a ping. "Dead" or "left" about a
            // generation nobody verified says nothing.
            if state.is_active() && !self.generation_check_of(slot) {
                let kind = super::checks::CheckKind::Generation { incarnation };
                self.start_check(now, slot, id.clone(), kind, 1);
            } else {
                self.counters.claims_refused += 1;
            }
            return;
        }
        let incoming = Precedence {
            generation: id.generation,
            incarnation,
            state,
        };
        if incoming <= current {
            let same_suspicion = incoming == current && state == MemberState::Suspect;
            if same_suspicion && self.config.lifeguard {
                self.confirm_suspicion(now, slot, accuser);
            } else {
                self.counters.stale_updates += 1;
                // The sender still accuses a member that has refuted: it
                // missed the refutation, and will declare a live member dead
                // unless told. Answer it directly with the current record.
                let refuted = state != MemberState::Alive
                    && current.state == MemberState::Alive
                    && current.generation == incoming.generation;
                if refuted && !self.corrections.contains(&slot) {
                    let _ = self.corrections.push(slot);
                }
            }
            return;
        }
        // "Dead" or "left" said about a member seen active is checked with a
        // ping first. A member that says itself that it leaves is believed
        // when it says so again in its answer (a spoofed source cannot
        // answer the ping).
        if first_hand && state == MemberState::Left {
            self.declared_left = Some(slot);
        }
        if dead_in_sync && current.state == MemberState::Alive {
            // A push-pull peer holds a member dead that this node holds
            // alive: typical of a healed partition, where the peer's side
            // lost sight of it. Ask the member rather than report a
            // suspicion that its answer would end within a round trip.
            self.check_accusation(now, slot, state, incarnation, accuser);
            return;
        }
        let departed = matches!(state, MemberState::Dead | MemberState::Left);
        let about_to_agree =
            state == MemberState::Dead && self.about_to_declare(now, slot, incarnation);
        if departed && current.state.is_active() && !about_to_agree {
            self.check_accusation(now, slot, state, incarnation, accuser);
            return;
        }
        self.apply_member(now, slot, state, incarnation, accuser);
    }

    /// Whether this node would declare the member dead itself within one
    /// ack timeout: it times a suspicion at that very incarnation whose
    /// last-chance ping (Lifeguard) already went out unanswered. A verdict
    /// from elsewhere then only comes a little early, and a check would
    /// only delay it; a forged one would need the member to miss the
    /// last-chance ping as well.
    fn about_to_declare(&self, now: Instant, slot: Slot, incarnation: u32) -> bool {
        let timeout = self.ack_timeout();
        self.suspicions
            .iter()
            .any(|s| s.slot == slot && s.incarnation == incarnation && now + timeout >= s.deadline)
    }

    /// Pings the accused member, carrying the accusation; believed only if
    /// it does not answer. With every check slot busy, the accusation is
    /// merged as a suspicion instead (which the member can refute).
    fn check_accusation(
        &mut self,
        now: Instant,
        slot: Slot,
        state: MemberState,
        incarnation: u32,
        accuser: &A,
    ) {
        if let Some(kind) = self.accusation_check_mut(slot) {
            // One check per member: it decides the strongest accusation.
            if let super::checks::CheckKind::Accusation {
                incarnation: pending_incarnation,
                state: pending_state,
                accuser: pending_accuser,
            } = kind
            {
                if (incarnation, state) > (*pending_incarnation, *pending_state) {
                    *pending_incarnation = incarnation;
                    *pending_state = state;
                    *pending_accuser = accuser.clone();
                }
            }
            return;
        }
        let Some(target) = self.members.get(slot).map(|m| m.id.clone()) else {
            return;
        };
        self.counters.accusations_checked += 1;
        let kind = super::checks::CheckKind::Accusation {
            incarnation,
            state,
            accuser: accuser.clone(),
        };
        if !self.start_check(now, slot, target, kind, 1) {
            let suspect = Precedence {
                generation: 0,
                incarnation,
                state: MemberState::Suspect,
            };
            let current = self.members.get(slot).map(|m| Precedence {
                generation: 0,
                incarnation: m.incarnation,
                state: m.state,
            });
            if current.is_some_and(|c| suspect > c) {
                self.apply_member(now, slot, MemberState::Suspect, incarnation, accuser);
            }
        }
    }

    /// A record about a member not yet verified: it may refresh the
    /// candidate, never make it a member.
    fn merge_about_candidate(
        &mut self,
        slot: Slot,
        state: MemberState,
        id: &Identity<A>,
        incarnation: u32,
        first_hand: bool,
    ) {
        let Some(m) = self.members.get_mut(slot) else {
            return;
        };
        if id.generation != m.id.generation {
            // Only the process itself may move a candidate to another
            // generation; second-hand, it could keep a real joiner from
            // ever answering its admission ping.
            if first_hand && id.generation > m.id.generation && state.is_active() {
                // Not urgent yet: queued first below, for the new identity.
                let mut fresh = Member::new(id.clone(), incarnation, MemberState::Alive, m.since);
                fresh.wants_table = m.wants_table;
                self.members.replace(slot, fresh);
            } else {
                self.counters.claims_refused += 1;
                return;
            }
        } else if state.is_active() && incarnation > m.incarnation {
            m.incarnation = incarnation;
            self.members.refresh_digest(slot);
        } else {
            self.counters.stale_updates += 1;
        }
        if first_hand {
            self.queue_admission(slot, true);
        }
    }

    /// Applies a membership record that passed every check.
    pub(super) fn apply_member(
        &mut self,
        now: Instant,
        slot: Slot,
        state: MemberState,
        incarnation: u32,
        accuser: &A,
    ) {
        let Some(member) = self.members.get(slot) else {
            return;
        };
        let old_state = member.state;
        let id = member.id.clone();
        if let Some(m) = self.members.get_mut(slot) {
            m.incarnation = incarnation;
            m.since = now;
        }
        self.members.set_state(slot, state);
        self.requeue_member_state(slot);
        self.remove_suspicion(slot);
        match state {
            MemberState::Alive => {
                if old_state != MemberState::Alive {
                    self.emit(Event::MemberAlive(id));
                }
            }
            MemberState::Suspect => {
                self.start_suspicion(now, slot, incarnation, accuser.clone());
                self.emit(Event::MemberSuspected(id));
            }
            MemberState::Dead => {
                self.schedule_reap(slot, now);
                if old_state != MemberState::Dead {
                    self.emit(Event::MemberFailed(id));
                }
            }
            MemberState::Left => {
                self.schedule_reap(slot, now);
                self.emit(Event::MemberLeft(id));
            }
        }
    }

    /// A member nobody verified yet: remembered as a candidate and pinged
    /// (first-hand ones first). A full table makes room for one heard from
    /// first-hand by forgetting a second-hand candidate.
    fn add_candidate(&mut self, now: Instant, id: Identity<A>, incarnation: u32, first_hand: bool) {
        if self.members.is_full()
            && !self.evict_one_departed()
            && !(first_hand && self.evict_one_unverified())
        {
            self.counters.members_refused += 1;
            return;
        }
        let member = Member::new(id, incarnation, MemberState::Alive, now);
        let Ok(slot) = self.members.insert(member, &mut self.rng) else {
            self.counters.members_refused += 1;
            return;
        };
        if !self.queue_admission(slot, first_hand) {
            self.counters.members_refused += 1;
            self.forget_unverified(slot);
        }
    }

    /// Frees a slot by forgetting the longest-departed dead or left member.
    pub(super) fn evict_one_departed(&mut self) -> bool {
        while let Some((slot, since)) = self.reap_queue.pop_front() {
            if self
                .members
                .get(slot)
                .is_some_and(|m| !m.state.is_active() && m.since == since)
            {
                self.forget(slot);
                return true;
            }
        }
        false
    }

    pub(super) fn forget(&mut self, slot: Slot) {
        self.remove_suspicion(slot);
        self.drop_checks_of(slot);
        if let Some(m) = self.members.remove(slot) {
            self.emit(Event::MemberRemoved(m.id));
        }
    }

    pub(super) fn schedule_reap(&mut self, slot: Slot, since: Instant) {
        if let Err(item) = self.reap_queue.push_back((slot, since), usize::MAX) {
            // Full: the oldest entry is due first anyway; make room.
            if let Some((old, old_since)) = self.reap_queue.pop_front() {
                if self
                    .members
                    .get(old)
                    .is_some_and(|m| !m.state.is_active() && m.since == old_since)
                {
                    self.forget(old);
                }
            }
            let _ = self.reap_queue.push_back(item, usize::MAX);
        }
    }

    /// Records about the local node: refute any accusation at or above the
    /// current incarnation; re-gossip the current state over a stale one.
    fn merge_about_self(
        &mut self,
        now: Instant,
        state: MemberState,
        id: &Identity<A>,
        incarnation: u32,
    ) {
        if id.generation > self.me.id.generation {
            // A newer process claims this address. Others believe it only if
            // that identity answers their ping, which this process does not:
            // say again who lives here.
            self.counters.claims_refused += 1;
            self.requeue_self_state();
            return;
        }
        let mine = self.self_state();
        if id.generation < self.me.id.generation {
            if state != MemberState::Alive {
                self.requeue_self_state();
            }
            return;
        }
        if mine == MemberState::Left {
            // Leaving: the departure is what must spread.
            if state != MemberState::Left {
                self.requeue_self_state();
            }
            return;
        }
        match state {
            MemberState::Alive => {
                if incarnation > self.me.incarnation {
                    // A previous life of this process with the same generation
                    // went further: move past it.
                    match incarnation.checked_add(1) {
                        Some(next) => self.me.incarnation = next,
                        None => self.start_new_generation(),
                    }
                    self.requeue_self_state();
                }
            }
            _ if incarnation >= self.me.incarnation => {
                self.counters.suspicions_refuted += 1;
                if self.config.lifeguard && self.refutation_counts_against_health(now, incarnation)
                {
                    self.health = (self.health + 1).min(self.config.awareness_max);
                }
                if incarnation == u32::MAX {
                    // No higher incarnation exists: start a new life, which
                    // outranks every record of the old one (reported as
                    // `NewGeneration` instead of `Refuted`).
                    self.start_new_generation();
                    self.requeue_self_state();
                    return;
                }
                self.me.incarnation = incarnation + 1;
                self.requeue_self_state();
                self.answer_accuser();
                let was_declared_dead = state != MemberState::Suspect;
                let incarnation = self.me.incarnation;
                self.emit(Event::Local(LocalEvent::Refuted {
                    incarnation,
                    was_declared_dead,
                }));
            }
            _ => {
                // A stale accusation (memberlist#311): the sender missed our
                // refutation; send the current state again.
                self.requeue_self_state();
                self.answer_accuser();
            }
        }
    }

    /// Sends the local node's current record straight back to the sender
    /// of the datagram that accused it, besides gossiping it: the sender
    /// holds the accusation (often a suspicion notice from an accuser), so
    /// it is the one that must hear the refutation first.
    fn answer_accuser(&mut self) {
        if !self.corrections.contains(&SELF_SLOT) {
            let _ = self.corrections.push(SELF_SLOT);
        }
    }

    /// Lifeguard: having to refute a suspicion hints that this node is slow.
    /// Anyone can write an accusation, though, so only one that names the
    /// incarnation peers know (an honest suspicion does; a higher one was
    /// invented) counts, at most once per shortest suspicion timeout: a
    /// stream of forged accusations cannot slow this node's probing down.
    fn refutation_counts_against_health(&mut self, now: Instant, incarnation: u32) -> bool {
        if incarnation != self.me.incarnation {
            return false;
        }
        let (min, _) = self.suspicion_bounds();
        let quiet = self.last_refutation_penalty.is_none_or(|at| {
            crate::time::duration_micros(now.saturating_duration_since(at)) >= min
        });
        if quiet {
            self.last_refutation_penalty = Some(now);
        }
        quiet
    }

    /// Moves the local node to the next generation at incarnation 0, when
    /// its incarnation cannot grow any more; reported as
    /// [`LocalEvent::NewGeneration`].
    fn start_new_generation(&mut self) {
        let Some(generation) = self.me.id.generation.checked_add(1) else {
            // Both counters exhausted: nothing outranks the accusation.
            self.counters.stale_updates += 1;
            return;
        };
        self.me.id.generation = generation;
        self.me.incarnation = 0;
        self.requeue(crate::gossip_queue::SELF_SLOT, RecordOf::Meta);
        self.emit(Event::Local(LocalEvent::NewGeneration { generation }));
    }

    pub(super) fn merge_meta(&mut self, id: Identity<A>, version: u32, data: &[u8]) {
        if id.addr == self.me.id.addr {
            self.refute_meta_about_self(&id, version, data);
            return;
        }
        if data.len() > usize::from(self.config.max_metadata_len) {
            self.counters.blobs_refused += 1;
            return;
        }
        let Some(slot) = self.members.find(&id.addr) else {
            return;
        };
        let Some(m) = self.members.get_mut(slot) else {
            return;
        };
        let newer = version.wrapping_sub(m.meta_version) as i32 > 0;
        if m.id != id || !newer {
            self.counters.stale_updates += 1;
            return;
        }
        let Some(meta) = Payload::from_slice(data) else {
            self.counters.blobs_refused += 1;
            return;
        };
        m.meta = meta;
        m.meta_version = version;
        let verified = m.verified;
        self.members.refresh_digest(slot);
        if !verified {
            return; // shown and relayed once admitted
        }
        self.requeue(slot, RecordOf::Meta);
        self.emit(Event::MemberUpdated(id));
    }

    /// Metadata said about the local node that is not its own (forged, or
    /// from a previous life that reused its version numbers): the node
    /// reasserts its metadata at a version above it, as it refutes an
    /// accusation with a higher incarnation, so that its own wins
    /// everywhere.
    fn refute_meta_about_self(&mut self, id: &Identity<A>, version: u32, data: &[u8]) {
        if *id != self.me.id {
            return;
        }
        let ahead = version.wrapping_sub(self.me.meta_version) as i32;
        let foreign = ahead > 0 || (ahead == 0 && data != self.me.meta.as_slice());
        if !foreign {
            return;
        }
        self.me.meta_version = version.wrapping_add(1);
        self.counters.metadata_refuted += 1;
        self.requeue(SELF_SLOT, RecordOf::Meta);
    }

    pub(super) fn merge_broadcast(
        &mut self,
        origin: Identity<A>,
        epoch: u32,
        seq: u32,
        key: Option<u64>,
        payload: &[u8],
    ) {
        if origin.addr == self.me.id.addr {
            return;
        }
        if payload.len() > usize::from(self.config.max_payload_len) {
            self.counters.blobs_refused += 1;
            return;
        }
        let Some(slot) = self.members.find(&origin.addr) else {
            self.counters.broadcasts_unknown_origin += 1;
            return;
        };
        if self
            .members
            .get(slot)
            .is_none_or(|m| m.id != origin || !m.verified)
        {
            self.counters.broadcasts_unknown_origin += 1;
            return;
        }
        let (sighting, evicted) = self.dedup.sight(&origin, epoch, seq);
        if evicted {
            self.counters.broadcast_origins_forgotten += 1;
        }
        match sighting {
            Sighting::New => {}
            Sighting::Duplicate => {
                self.counters.broadcasts_duplicate += 1;
                return;
            }
            Sighting::TooOld => {
                self.counters.broadcasts_too_old += 1;
                return;
            }
        }
        let Some(payload) = Payload::from_slice(payload) else {
            self.counters.blobs_refused += 1;
            return;
        };
        let item = QueuedBroadcast {
            origin: origin.clone(),
            epoch,
            seq,
            key,
            payload: payload.clone(),
            sent: 0,
            local: false,
        };
        match self.broadcasts.push(item) {
            Queued::Superseded => {
                self.counters.broadcasts_superseded += 1;
                return;
            }
            Queued::Full => self.counters.broadcasts_dropped += 1,
            Queued::Added | Queued::Replaced | Queued::Evicted => {}
        }
        self.emit(Event::Broadcast {
            origin,
            key,
            payload,
        });
    }

    // ----- suspicion timers (Lifeguard) -----

    pub(super) fn suspicion_bounds(&self) -> (u64, u64) {
        let min = math::suspicion_min(
            self.config.suspicion_mult,
            self.cluster_size(),
            self.config.probe_interval,
        );
        if !self.config.lifeguard {
            return (min, min);
        }
        (
            min,
            min.saturating_mul(u64::from(self.config.suspicion_max_timeout_mult)),
        )
    }

    /// Confirmations Lifeguard waits for before using the shortest timeout.
    fn expected_confirmations(&self) -> u32 {
        if !self.config.lifeguard {
            return 0;
        }
        let k = u32::from(self.config.suspicion_mult).saturating_sub(2);
        // No more confirmations can come than there are other members.
        k.min(self.members.active().saturating_sub(1) as u32)
    }

    pub(super) fn start_suspicion(
        &mut self,
        now: Instant,
        slot: Slot,
        incarnation: u32,
        accuser: A,
    ) {
        self.remove_suspicion(slot);
        let (_, max) = self.suspicion_bounds();
        // An accuser tells the suspect at once; a few other nodes (all, in
        // small clusters) if no refutation reached them shortly after.
        let next_notice = if !self.config.lifeguard {
            None
        } else if accuser == self.me.id.addr {
            Some(now)
        } else if self.is_notifying_observer() {
            Some(now + self.notice_interval())
        } else {
            None
        };
        let mut accusers = heapless::Vec::new();
        let _ = accusers.push(accuser);
        let suspicion = Suspicion {
            slot,
            incarnation,
            started: now,
            deadline: Instant::from_micros(now.as_micros().saturating_add(max)),
            accusers,
            last_chance_sent: false,
            next_notice,
        };
        if let Err(s) = self.suspicions.push(suspicion, usize::MAX) {
            // No room: time it with the shortest timeout by replacing the
            // suspicion that expires last.
            if let Some(i) = (0..self.suspicions.len()).max_by_key(|&i| self.suspicions[i].deadline)
            {
                self.suspicions[i] = s;
            }
        }
        self.update_suspicion_deadline(slot);
    }

    /// Counts the time the sender of a suspicion record had already timed
    /// it as time spent here too, up to an eighth of the shortest suspicion
    /// timeout, if that record just started this node's timer (at `now`;
    /// a confirmation of a suspicion already timed changes nothing). A
    /// node that heard of the suspicion late (gossip missed it for a round
    /// or two) then declares about when the accuser does, rather than that
    /// much later. The bound keeps a lying sender from cutting a suspect's
    /// time to refute by more than that eighth.
    pub(super) fn count_suspicion_age(
        &mut self,
        now: Instant,
        id: &Identity<A>,
        incarnation: u32,
        age_ms: u32,
    ) {
        let (min, _) = self.suspicion_bounds();
        let head_start = (u64::from(age_ms).saturating_mul(1000)).min(min / 8);
        let Some(slot) = self.members.find(&id.addr) else {
            return;
        };
        if head_start == 0 || self.members.get(slot).is_none_or(|m| m.id != *id) {
            return;
        }
        let Some(s) = self.suspicions.iter_mut().find(|s| s.slot == slot) else {
            return;
        };
        if s.started != now || s.incarnation != incarnation {
            return;
        }
        s.started = Instant::from_micros(now.as_micros().saturating_sub(head_start));
        self.update_suspicion_deadline(slot);
    }

    fn confirm_suspicion(&mut self, now: Instant, slot: Slot, accuser: &A) {
        let Some(s) = self.suspicions.iter_mut().find(|s| s.slot == slot) else {
            return;
        };
        if s.accusers.contains(accuser) || s.accusers.is_full() {
            self.counters.stale_updates += 1;
            return;
        }
        let _ = s.accusers.push(accuser.clone());
        if *accuser == self.me.id.addr && self.config.lifeguard {
            s.next_notice = Some(s.next_notice.map_or(now, |at| at.min(now)));
        }
        self.update_suspicion_deadline(slot);
        // Re-gossip so that the confirmation spreads too.
        self.requeue_member_state(slot);
    }

    fn update_suspicion_deadline(&mut self, slot: Slot) {
        let (min, max) = self.suspicion_bounds();
        let expected = self.expected_confirmations();
        let Some(s) = self.suspicions.iter_mut().find(|s| s.slot == slot) else {
            return;
        };
        let confirmations = s.accusers.len().saturating_sub(1) as u32;
        let timeout = math::suspicion_timeout(min, max, confirmations, expected);
        s.deadline = Instant::from_micros(s.started.as_micros().saturating_add(timeout));
    }

    pub(super) fn remove_suspicion(&mut self, slot: Slot) {
        if let Some(i) = self.suspicions.iter().position(|s| s.slot == slot) {
            self.suspicions.swap_remove(i);
        }
    }

    /// Declares dead every suspect whose timer ran out.
    pub(super) fn expire_suspicions(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.suspicions.len() {
            if self.suspicions[i].deadline > now {
                if self.suspicions[i].next_notice.is_some_and(|at| at <= now) {
                    self.suspicions[i].next_notice = Some(now + self.notice_interval());
                    let slot = self.suspicions[i].slot;
                    self.send_suspicion_notice(slot);
                }
                let (timeout, lifeguard) = (self.ack_timeout(), self.config.lifeguard);
                if self.suspicions[i].next_step(timeout, lifeguard) <= now {
                    self.suspicions[i].last_chance_sent = true;
                    let slot = self.suspicions[i].slot;
                    self.send_last_chance_ping(slot);
                }
                i += 1;
                continue;
            }
            let s = self.suspicions.swap_remove(i);
            let Some(m) = self.members.get(s.slot) else {
                continue;
            };
            if m.state != MemberState::Suspect || m.incarnation != s.incarnation {
                continue;
            }
            let id = m.id.clone();
            if let Some(m) = self.members.get_mut(s.slot) {
                m.since = now;
            }
            self.members.set_state(s.slot, MemberState::Dead);
            self.requeue_member_state(s.slot);
            self.schedule_reap(s.slot, now);
            self.counters.members_declared_dead += 1;
            self.emit(Event::MemberFailed(id));
        }
    }

    /// Time between two suspicion notices from one node: a quarter of the
    /// probe interval (at least the clock's resolution, so that a notice
    /// sent is never due again at once). At 40% loss a notice and the
    /// refutation it draws get through about one time in three, so the
    /// accuser needs many tries within the shortest suspicion timeout
    /// (4 s at n = 10): every half interval left about one run in 40
    /// with a false failure (3 of seeds 1-100), every quarter none in 300.
    fn notice_interval(&self) -> core::time::Duration {
        (self.config.probe_interval / 4).max(core::time::Duration::from_micros(1))
    }

    /// Whether this node, which learned of a suspicion from others, tells
    /// the suspect too: every node in clusters of up to `NOTIFYING_OBSERVERS`
    /// other members, about that many at random in larger ones.
    fn is_notifying_observer(&mut self) -> bool {
        let others = self.members.active().saturating_sub(1) as u32;
        others <= NOTIFYING_OBSERVERS
            || crate::members::bounded_random(&mut self.rng, others) < NOTIFYING_OBSERVERS
    }

    /// Tells a suspect that this node suspects it, every quarter probe
    /// interval while the suspicion runs: from the start if this node's
    /// own failed probe is part of it; for a few other nodes, from a
    /// quarter interval after they learned of it (the suspect's refutation
    /// usually reached them by then, which ends the suspicion). A live
    /// suspect must not depend on being probed or gossiped to by chance to
    /// learn of it, nor an observer on gossip to learn of the refutation:
    /// under heavy loss either can take longer than the suspicion timeout.
    /// The suspect refutes, or repeats its refutation, straight back to the
    /// sender (`merge_about_self`). However large the cluster, a suspect
    /// gets notices from its accusers and about `NOTIFYING_OBSERVERS`
    /// others.
    fn send_suspicion_notice(&mut self, slot: Slot) {
        let Some(to) = self.members.get(slot).map(|m| m.id.addr.clone()) else {
            return;
        };
        let mut slots = FixedVec::new();
        let _ = slots.push(slot);
        self.counters.suspicion_notices += 1;
        self.send(super::Outgoing::Correction { to, slots });
    }

    /// Lifeguard: one probe timeout before declaring a suspect dead, ping it
    /// once more with the suspicion on board (buddy system). A live member
    /// that never heard of the suspicion refutes at once; one that already
    /// refuted but whose refutation missed this node sends it again with
    /// the ack. Either way its Alive record arrives before the deadline.
    fn send_last_chance_ping(&mut self, slot: Slot) {
        let Some(target) = self.members.get(slot).map(|m| m.id.clone()) else {
            return;
        };
        let seq = self.next_seq();
        if self.last_chance_seqs.is_full() {
            self.last_chance_seqs.remove(0);
        }
        let _ = self.last_chance_seqs.push(seq);
        self.counters.last_chance_probes += 1;
        self.send(super::Outgoing::Ping {
            to: target.addr.clone(),
            seq,
            target,
            slot,
            carry: super::Carry::Buddy,
        });
    }

    /// Suspects a member after a failed probe (accuser: the local node).
    pub(super) fn suspect(&mut self, now: Instant, slot: Slot, target: &Identity<A>) {
        let Some(m) = self.members.get(slot) else {
            return;
        };
        if m.id != *target || !m.is_full_active() {
            return;
        }
        let incarnation = m.incarnation;
        self.counters.suspicions_raised += 1;
        let me = self.me.id.addr.clone();
        // Already suspect: this failed probe is an independent confirmation.
        let source = me.clone();
        self.merge_member(
            now,
            MemberState::Suspect,
            target,
            incarnation,
            &me,
            &source,
            false,
        );
    }

    pub(super) fn is_joined(&self) -> bool {
        self.me.status == LocalStatus::Joined
    }
}
