//! Checks: pings that verify what a record claims before it is believed.
//!
//! Anyone can write a record about anyone. Three kinds of claims are
//! therefore checked with a ping naming the identity in question, which only
//! that identity answers (and only if it receives traffic at its address):
//!
//! * **admission**: a member learned of from others, or heard from once,
//!   becomes a full member (probed, relayed, counted, shown to the
//!   application) only when it answers;
//! * **generation**: a newer generation of a known member (a restarted
//!   process) replaces the old one only when the new identity answers;
//! * **accusation**: "dead" or "left" said by others about a member this
//!   node sees active is believed only if the member does not answer a ping
//!   that carries the accusation (so that a live member refutes it).

use rand_core::Rng;

use super::{Carry, Outgoing, Swim};
use crate::address::{Address, Identity};
use crate::event::Event;
use crate::member::Member;
use crate::members::Slot;
use crate::state::MemberState;
use crate::time::Instant;

/// Checks in flight at once.
pub(super) const MAX_CHECKS: usize = 64;
/// Of those, admissions (so that a flood of invented members never delays
/// the checks of accusations and generations).
const MAX_ADMISSIONS_IN_FLIGHT: usize = 32;
/// An unverified member waits at most this many probe intervals for its
/// admission ping before it is forgotten.
const ADMISSION_WAIT_INTERVALS: u32 = 30;

/// What a check is about.
#[derive(Clone, Debug)]
pub(super) enum CheckKind<A> {
    Admission,
    Generation {
        incarnation: u32,
    },
    Accusation {
        incarnation: u32,
        state: MemberState,
        accuser: A,
    },
}

/// A ping in flight whose answer decides a claim.
#[derive(Clone, Debug)]
pub(super) struct Check<A> {
    seq: u32,
    slot: Slot,
    target: Identity<A>,
    deadline: Instant,
    retries_left: u8,
    kind: CheckKind<A>,
}

impl<A> Check<A> {
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    fn is_generation(&self) -> bool {
        matches!(self.kind, CheckKind::Generation { .. })
    }
}

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// Queues the admission of the unverified member at `slot`; `first_hand`
    /// (it sent a datagram itself) moves it to the front.
    pub(super) fn queue_admission(&mut self, slot: Slot, first_hand: bool) -> bool {
        let Some(m) = self.members.get_mut(slot) else {
            return false;
        };
        let entry = (slot, m.since);
        let limit = (self.config.max_members as usize).saturating_mul(2);
        if first_hand {
            if m.urgent {
                return true;
            }
            m.urgent = true;
            if let Err(entry) = self.admissions.push_front(entry, limit) {
                // Full: the newest entry (second-hand, most likely) makes
                // room, and its candidate, left without a place, goes.
                if let Some((last, last_since)) = self.admissions.pop_back() {
                    let stale = self.members.get(last).is_none_or(|m| m.since != last_since);
                    if !stale && last != slot {
                        self.counters.unverified_evicted += 1;
                        self.forget_unverified(last);
                    }
                }
                let _ = self.admissions.push_front(entry, limit);
            }
            return true;
        }
        self.admissions.push_back(entry, limit).is_ok()
    }

    /// Queues the candidate at `slot` at the front again, for its current
    /// identity (its earlier entry was used by a check of another one).
    fn requeue_admission(&mut self, slot: Slot) {
        if let Some(m) = self.members.get_mut(slot) {
            m.urgent = false;
        }
        self.queue_admission(slot, true);
    }

    /// Starts admission pings while fewer than the cap are in flight.
    pub(super) fn pump_admissions(&mut self, now: Instant) {
        if self.admissions.is_empty() {
            return;
        }
        let wait = self
            .config
            .probe_interval
            .saturating_mul(ADMISSION_WAIT_INTERVALS);
        while self.admissions_in_flight() < MAX_ADMISSIONS_IN_FLIGHT && !self.checks.is_full() {
            let Some((slot, since)) = self.admissions.pop_front() else {
                return;
            };
            let Some(m) = self.members.get(slot) else {
                continue;
            };
            if m.verified || m.since != since || self.check_of(slot).is_some() {
                continue; // stale entry, or already being checked
            }
            if now.saturating_duration_since(since) > wait {
                self.counters.admissions_failed += 1;
                self.forget_unverified(slot);
                continue;
            }
            let target = m.id.clone();
            let retries = u8::from(m.urgent);
            self.start_check(now, slot, target, CheckKind::Admission, retries);
        }
    }

    fn admissions_in_flight(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| matches!(c.kind, CheckKind::Admission))
            .count()
    }

    /// The check in flight about the member now at `slot`, if any.
    pub(super) fn check_of(&self, slot: Slot) -> Option<&Check<A>> {
        let addr = &self.members.get(slot)?.id.addr;
        self.checks
            .iter()
            .find(|c| c.slot == slot && c.target.addr == *addr)
    }

    /// The accusation check in flight about `slot`, if any.
    pub(super) fn accusation_check_mut(&mut self, slot: Slot) -> Option<&mut CheckKind<A>> {
        self.checks
            .iter_mut()
            .find(|c| c.slot == slot && matches!(c.kind, CheckKind::Accusation { .. }))
            .map(|c| &mut c.kind)
    }

    /// Whether a generation check is in flight about `slot`.
    pub(super) fn generation_check_of(&self, slot: Slot) -> bool {
        self.checks
            .iter()
            .any(|c| c.slot == slot && matches!(c.kind, CheckKind::Generation { .. }))
    }

    /// How long a check waits for its ack. An accusation is checked with the
    /// wait of a probe (the accused is a member whose round trips are those
    /// this node measures); a new member or generation, which may sit on
    /// another network, gets the longest wait.
    fn check_timeout(&self, kind: &CheckKind<A>) -> core::time::Duration {
        match kind {
            CheckKind::Accusation { .. } => self.ack_timeout(),
            CheckKind::Admission | CheckKind::Generation { .. } => self.config.probe_timeout,
        }
    }

    /// Sends the check's ping; false if every check slot is busy.
    pub(super) fn start_check(
        &mut self,
        now: Instant,
        slot: Slot,
        target: Identity<A>,
        kind: CheckKind<A>,
        retries_left: u8,
    ) -> bool {
        // Unpredictable, so that nobody who cannot see the ping can answer it.
        let seq = self.rng.next_u32();
        let carry = match &kind {
            // Nothing but the ping to an address nobody verified.
            CheckKind::Admission => Carry::Nothing,
            CheckKind::Generation { .. } => Carry::Buddy,
            CheckKind::Accusation {
                incarnation, state, ..
            } => Carry::Accusation {
                state: *state,
                incarnation: *incarnation,
            },
        };
        let check = Check {
            seq,
            slot,
            target: target.clone(),
            deadline: now + self.check_timeout(&kind),
            retries_left,
            kind,
        };
        if self.checks.push(check).is_err() {
            return false;
        }
        self.send(Outgoing::Ping {
            to: target.addr.clone(),
            seq,
            target,
            slot,
            carry,
        });
        true
    }

    /// An ack: true if it answered a check (then handled). Its source does
    /// not matter (a node behind NAT answers from another address than the
    /// one it announces): the random sequence number proves that whoever
    /// answered received the ping sent to the target's address.
    pub(super) fn handle_check_ack(&mut self, now: Instant, seq: u32) -> bool {
        let Some(i) = self.checks.iter().position(|c| c.seq == seq) else {
            return false;
        };
        let check = self.checks.swap_remove(i);
        let current = self.members.get(check.slot);
        if current.is_none_or(|m| m.id.addr != check.target.addr) {
            return true; // forgotten meanwhile
        }
        if current.is_some_and(|m| !m.verified && m.id != check.target) {
            // The candidate moved to another generation meanwhile: check that.
            self.requeue_admission(check.slot);
            return true;
        }
        match check.kind {
            CheckKind::Admission => self.admit(now, check.slot, &check.target),
            CheckKind::Generation { incarnation } => {
                self.adopt_generation(now, check.slot, check.target, incarnation)
            }
            CheckKind::Accusation {
                incarnation,
                state,
                accuser,
            } => {
                if state == MemberState::Left && self.declared_left == Some(check.slot) {
                    // It answered saying itself that it leaves.
                    self.confirm_accusation(now, check.slot, state, incarnation, &accuser);
                } else {
                    // It answered: alive, whatever was said. The ping carried
                    // the accusation, so it refutes it for everyone.
                    self.counters.accusations_disproved += 1;
                }
            }
        }
        true
    }

    /// Checks whose ping went unanswered: retry, or decide.
    pub(super) fn expire_checks(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.checks.len() {
            if self.checks[i].deadline > now {
                i += 1;
                continue;
            }
            let check = self.checks.swap_remove(i);
            let current = self.members.get(check.slot);
            let same_address = current.is_some_and(|m| m.id.addr == check.target.addr);
            let same_identity = current.is_some_and(|m| m.id == check.target);
            let unverified = current.is_some_and(|m| !m.verified);
            if !same_address {
                continue; // forgotten meanwhile
            }
            if check.retries_left > 0 && (same_identity || check.is_generation()) {
                let retries = check.retries_left - 1;
                self.start_check(now, check.slot, check.target, check.kind, retries);
                continue;
            }
            match check.kind {
                CheckKind::Admission if unverified && same_identity => {
                    self.counters.admissions_failed += 1;
                    self.forget_unverified(check.slot);
                }
                // The candidate moved to another generation meanwhile: check that.
                CheckKind::Admission if unverified => self.requeue_admission(check.slot),
                CheckKind::Admission => {}
                CheckKind::Generation { .. } => self.counters.claims_refused += 1,
                CheckKind::Accusation {
                    incarnation,
                    state,
                    accuser,
                } => {
                    if same_identity {
                        self.confirm_accusation(now, check.slot, state, incarnation, &accuser);
                    }
                }
            }
        }
        self.pump_admissions(now);
    }

    /// The unverified member at `slot` answered: a full member now.
    fn admit(&mut self, now: Instant, slot: Slot, target: &Identity<A>) {
        let Some(m) = self.members.get(slot) else {
            return;
        };
        if m.verified || m.id != *target {
            return;
        }
        let wants_table = m.wants_table;
        self.members.set_verified(slot);
        if let Some(m) = self.members.get_mut(slot) {
            m.since = now;
            m.wants_table = false;
        }
        // It answered: alive, whatever the record that introduced it said.
        self.members.set_state(slot, MemberState::Alive);
        self.counters.members_admitted += 1;
        self.requeue_member_state(slot);
        if self.members.get(slot).is_some_and(|m| !m.meta.is_empty()) {
            self.requeue(slot, crate::gossip_queue::RecordOf::Meta);
        }
        self.emit(Event::MemberJoined(target.clone()));
        if wants_table {
            self.reply_with_table(now, target.addr.clone(), u32::MAX);
        }
    }

    /// A newer generation of the member at `slot` answered its ping: the
    /// restarted process replaces the old one.
    fn adopt_generation(&mut self, now: Instant, slot: Slot, id: Identity<A>, incarnation: u32) {
        let Some(m) = self.members.get(slot) else {
            return;
        };
        if id.generation <= m.id.generation {
            return; // adopted meanwhile
        }
        self.remove_suspicion(slot);
        self.members.replace(
            slot,
            Member::verified(id.clone(), incarnation, MemberState::Alive, now),
        );
        self.counters.generations_verified += 1;
        self.requeue_member_state(slot);
        self.emit(Event::MemberJoined(id));
    }

    /// An accusation whose member did not answer: believe it, unless
    /// something newer arrived meanwhile.
    fn confirm_accusation(
        &mut self,
        now: Instant,
        slot: Slot,
        state: MemberState,
        incarnation: u32,
        accuser: &A,
    ) {
        let Some(m) = self.members.get(slot) else {
            return;
        };
        let incoming = crate::member::Precedence {
            generation: m.id.generation,
            incarnation,
            state,
        };
        if incoming <= m.precedence() || !m.verified {
            return;
        }
        self.apply_member(now, slot, state, incarnation, accuser);
    }

    /// Forgets an unverified member: it was never reported, so no event.
    pub(super) fn forget_unverified(&mut self, slot: Slot) {
        if self.members.get(slot).is_some_and(|m| !m.verified) {
            self.remove_suspicion(slot);
            self.drop_checks_of(slot);
            self.members.remove(slot);
        }
    }

    /// Forgets the checks about the member at `slot` (being forgotten).
    pub(super) fn drop_checks_of(&mut self, slot: Slot) {
        self.checks.retain(|c| c.slot != slot);
    }

    /// Frees a slot for a member heard from first-hand by forgetting an
    /// unverified member learned second-hand: the newest one queued for
    /// admission (second-hand candidates queue at the back, first-hand
    /// ones at the front), else one whose admission ping is in flight.
    /// Bounded work, whatever the table size: every queue entry looked at
    /// is removed, and at most [`MAX_CHECKS`] checks are looked at, so a
    /// table full of verified members, or of candidates that spoke
    /// first-hand, refuses a forged newcomer without a scan.
    pub(super) fn evict_one_unverified(&mut self) -> bool {
        // Stale entries, and old ones of candidates heard second-hand and
        // then first-hand (those have their own entry at the front, or
        // their check runs already), are dropped on the way.
        let evictable = |m: &Member<A, B>| !m.verified && !m.urgent;
        let mut queued = None;
        while let Some((slot, since)) = self.admissions.pop_back() {
            if self
                .members
                .get(slot)
                .is_some_and(|m| m.since == since && evictable(m))
            {
                queued = Some(slot);
                break;
            }
        }
        // None queued: one whose admission ping is in flight.
        let pick = queued.or_else(|| {
            self.checks.iter().find_map(|c| {
                let m = self.members.get(c.slot)?;
                (matches!(c.kind, CheckKind::Admission) && evictable(m)).then_some(c.slot)
            })
        });
        let Some(slot) = pick else {
            return false;
        };
        self.counters.unverified_evicted += 1;
        self.forget_unverified(slot);
        true
    }
}
