//! Timer-driven work: probes, gossip fan-out, push-pull, suspicion
//! timeouts, reaping, join retries and the end of a leave.

use rand_core::Rng;

use super::{LocalStatus, Outgoing, Probe, Swim, SyncJob};
use crate::address::Address;
use crate::event::{Event, LocalEvent};
use crate::math::scale;
use crate::members::Slot;
use crate::state::MemberState;
use crate::time::duration_micros;
use crate::time::Instant;
use crate::wire::{SYNC_JOIN, SYNC_WANT_REPLY};

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// Runs every timer due at `now`. Call it when `now` reaches
    /// [`Swim::poll_timeout`] (calling it earlier is harmless); then drain
    /// [`Swim::poll_transmit`] and [`Swim::poll_event`] and ask
    /// `poll_timeout` again.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clamp(now);
        match self.me.status {
            LocalStatus::Left => return,
            LocalStatus::Leaving if self.leave_done_at.is_some_and(|at| now >= at) => {
                self.finish_leave();
                return;
            }
            _ => {}
        }
        if self.join.is_some_and(|j| now >= j.next_attempt) {
            self.attempt_join(now);
        }
        if self.resync.as_ref().is_some_and(|(at, _)| now >= *at) {
            if let Some((_, peer)) = self.resync.take() {
                // Only to a peer that proved it receives traffic there.
                if self.is_validated(&peer) {
                    self.counters.syncs_started += 1;
                    self.start_sync(peer, SYNC_WANT_REPLY);
                }
            }
        }
        if self.me.status != LocalStatus::Leaving {
            self.run_probe(now);
        }
        self.run_relays(now);
        self.expire_checks(now);
        self.expire_suspicions(now);
        self.reap(now);
        self.rejoin_if_alone(now);
        if now >= self.next_gossip_at && !self.config.gossip_interval.is_zero() {
            if self.me.status == LocalStatus::Leaving {
                // Until the leave completes, every gossip tick carries the
                // departure afresh, so it reaches members directly rather
                // than relying on a few relays.
                self.requeue_self_state();
            }
            if self.has_pending_gossip() {
                self.gossip_to_random_members(now);
            }
            self.next_gossip_at = now + self.config.gossip_interval;
        }
        if now >= self.next_sync_at && !self.config.push_pull_interval.is_zero() {
            if self.me.status != LocalStatus::Leaving {
                self.periodic_sync(now);
            }
            self.next_sync_at = now + self.config.push_pull_interval;
        }
    }

    fn finish_leave(&mut self) {
        self.me.status = LocalStatus::Left;
        self.leave_done_at = None;
        self.probe = None;
        self.emit(Event::Local(LocalEvent::Left));
    }

    /// Lifeguard's multiplier applied to probe interval and timeout.
    fn health_factor(&self) -> u32 {
        if self.config.lifeguard {
            u32::from(self.health) + 1
        } else {
            1
        }
    }

    fn adjust_health(&mut self, delta: i32) {
        if !self.config.lifeguard {
            return;
        }
        let value = (i32::from(self.health) + delta).clamp(0, i32::from(self.config.awareness_max));
        self.health = value as u8;
    }

    fn run_probe(&mut self, now: Instant) {
        if let Some(p) = self.probe.clone() {
            if !p.acked && !p.indirect_sent && now >= p.direct_deadline {
                self.send_ping_reqs(now, &p);
            }
            if now < p.period_end {
                return;
            }
            self.finish_probe(now, &p);
        }
        if now >= self.next_probe_at {
            self.start_probe(now);
        }
    }

    /// Ends the probe in flight as soon as its outcome is known, rather than
    /// at the end of its period: when it is acked, or when every member
    /// asked to probe indirectly said that the target did not answer them
    /// either (Lifeguard's nacks), which makes the suspicion start at once.
    /// The next probe still waits for the (health-scaled) probe interval.
    pub(super) fn settle_probe(&mut self, now: Instant) {
        let Some(p) = &self.probe else { return };
        let all_nacked =
            p.indirect_sent && p.nacks_expected > 0 && p.nacks_received >= p.nacks_expected;
        if p.acked || all_nacked {
            let p = p.clone();
            self.finish_probe(now, &p);
        }
    }

    fn start_probe(&mut self, now: Instant) {
        let factor = self.health_factor();
        let period = scale(self.config.probe_interval, factor);
        self.next_probe_at = now + period;
        let Some(slot) = self
            .members
            .next_probe_target(&mut self.rng, |m| m.is_full_active())
        else {
            return;
        };
        let Some(target) = self.members.get(slot).map(|m| m.id.clone()) else {
            return;
        };
        let seq = self.next_seq();
        self.probe = Some(Probe {
            slot,
            target: target.clone(),
            seq,
            sent_at: now,
            direct_deadline: now + scale(self.ack_timeout(), factor),
            period_end: now + period,
            acked: false,
            indirect_sent: false,
            nacks_expected: 0,
            nacks_received: 0,
        });
        self.counters.probes_sent += 1;
        self.send(Outgoing::Ping {
            to: target.addr.clone(),
            seq,
            target,
            slot,
            carry: super::Carry::Buddy,
        });
    }

    fn send_ping_reqs(&mut self, now: Instant, p: &Probe<A>) {
        let mut chosen: heapless::Vec<Slot, 16> = heapless::Vec::new();
        // Helpers heard from lately first: one cut off from this node (a
        // partition) can neither help nor nack, and its missing nack would
        // count against this node's health.
        let recent = now
            .as_micros()
            .saturating_sub(2 * duration_micros(self.config.probe_interval));
        for _ in 0..self.config.indirect_checks {
            let helper = self.members.random_preferring(
                &mut self.rng,
                |m| m.last_heard.as_micros() >= recent,
                |slot, m| {
                    slot != p.slot
                        && m.verified
                        && m.state == MemberState::Alive
                        && !chosen.contains(&slot)
                },
            );
            let Some(helper) = helper else { break };
            let _ = chosen.push(helper);
        }
        for &helper in chosen.iter() {
            let Some(to) = self.members.get(helper).map(|m| m.id.addr.clone()) else {
                continue;
            };
            self.counters.indirect_probes_sent += 1;
            self.send(Outgoing::PingReq {
                to,
                seq: p.seq,
                target: p.target.clone(),
            });
        }
        if let Some(probe) = &mut self.probe {
            probe.indirect_sent = true;
            probe.nacks_expected = if self.config.lifeguard {
                chosen.len() as u8
            } else {
                0
            };
        }
    }

    fn finish_probe(&mut self, now: Instant, p: &Probe<A>) {
        self.probe = None;
        if p.acked {
            self.adjust_health(-1);
            return;
        }
        self.counters.probes_failed += 1;
        // Lifeguard: each missing nack points at us; with no helper to
        // nack, the failed probe itself does. Helpers that all nacked prove
        // that this node's own traffic flows: the target failed, not us
        // (as memberlist counts it).
        let missing_nacks = p.nacks_expected.saturating_sub(p.nacks_received);
        let delta = if p.nacks_expected > 0 {
            i32::from(missing_nacks)
        } else {
            1
        };
        self.adjust_health(delta);
        self.suspect(now, p.slot, &p.target);
    }

    fn run_relays(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.relays.len() {
            let r = &mut self.relays[i];
            if now >= r.expires {
                self.relays.swap_remove(i);
                continue;
            }
            if !r.nack_sent && now >= r.nack_at {
                r.nack_sent = true;
                let (to, seq) = (r.requester.clone(), r.requester_seq);
                self.send(Outgoing::Nack { to, seq });
            }
            i += 1;
        }
    }

    /// Sends pending records to `gossip_nodes` random members. One of them
    /// may be a suspect or a member dead for less than
    /// `gossip_to_the_dead_time` (so that such members learn what is said
    /// of them and refute); the others are members believed alive, so that
    /// news keeps reaching the members that can pass it on when part of the
    /// cluster is unreachable (a partition makes every member on the other
    /// side a suspect, then dead).
    pub(super) fn gossip_to_random_members(&mut self, now: Instant) {
        let mut chosen: heapless::Vec<Slot, 16> = heapless::Vec::new();
        let dead_window = self.config.gossip_to_the_dead_time;
        for i in 0..self.config.gossip_nodes.min(16) {
            // Without Lifeguard, gossip is the only way suspects learn of
            // their suspicion (no notices, no buddy system): any target.
            let alive_only = i > 0 && self.config.lifeguard;
            let mut pick = |alive_only: bool| {
                self.members.random(&mut self.rng, |slot, m| {
                    let eligible = if alive_only {
                        m.state == MemberState::Alive
                    } else {
                        m.state.is_active()
                            || (m.state == MemberState::Dead
                                && now.saturating_duration_since(m.since) < dead_window)
                    };
                    m.verified && eligible && !chosen.contains(&slot)
                })
            };
            let slot = match pick(alive_only) {
                Some(slot) => Some(slot),
                None if alive_only => pick(false),
                None => None,
            };
            let Some(slot) = slot else { break };
            let _ = chosen.push(slot);
        }
        for &slot in chosen.iter() {
            if let Some(to) = self.members.get(slot).map(|m| m.id.addr.clone()) {
                self.send(Outgoing::Gossip { to });
            }
        }
    }

    /// Anti-entropy round: compares digests with one random active member
    /// and, for partition healing, with one random dead member
    /// (memberlist#222): if it is alive on the other side of a healed
    /// partition, its answer starts the repair. Equal views cost one small
    /// datagram each way, so the round runs at a fixed interval whatever
    /// the cluster size.
    fn periodic_sync(&mut self, now: Instant) {
        let alive = if self.members.active() > 0 {
            self.members.random(&mut self.rng, |_, m| {
                m.verified && m.state == MemberState::Alive
            })
        } else {
            None
        };
        for pick in [alive, self.random_dead_member()] {
            if let Some(peer) = pick
                .and_then(|slot| self.members.get(slot))
                .map(|m| m.id.addr.clone())
            {
                self.start_digest(now, peer);
            }
        }
    }

    /// A random verified dead member, drawn from the reap queue (where
    /// every departed member waits to be forgotten) in a few tries: no scan
    /// of the table, and no work at all when nobody is dead.
    fn random_dead_member(&mut self) -> Option<Slot> {
        let queued = u32::try_from(self.reap_queue.len()).unwrap_or(u32::MAX);
        if queued == 0 {
            return None;
        }
        (0..8).find_map(|_| {
            let i = crate::members::bounded_random(&mut self.rng, queued) as usize;
            let &(slot, since) = self.reap_queue.get(i)?;
            let m = self.members.get(slot)?;
            (m.verified && m.state == MemberState::Dead && m.since == since).then_some(slot)
        })
    }

    /// Sends the root of the local view's digest to `peer`, asking for its
    /// own (see `handle_digest`).
    pub(super) fn start_digest(&mut self, now: Instant, peer: A) {
        if !self.digest_budget(now) {
            return;
        }
        let expiry = self.config.probe_interval;
        self.digest_requests.retain(|(_, at)| now < *at + expiry);
        if self.digest_requests.is_full() {
            self.digest_requests.remove(0);
        }
        let _ = self.digest_requests.push((peer.clone(), now));
        self.counters.digests_started += 1;
        self.send(Outgoing::Digest {
            to: peer,
            flags: crate::wire::DIGEST_WANT_REPLY,
        });
    }

    /// Starts sending the local table to `peer` on this node's own
    /// initiative; `flags` ask for a reply.
    pub(super) fn start_sync(&mut self, peer: A, flags: u8) {
        self.start_sync_job(SyncJob {
            peer,
            flags,
            cursor: None,
            self_only: false,
            reply: false,
            buckets: u32::MAX,
        });
    }

    /// Queues a push-pull job. Dropped and counted when every slot is busy;
    /// ignored when one already serves this peer the same way.
    pub(super) fn start_sync_job(&mut self, job: SyncJob<A>) {
        if self
            .syncs
            .iter()
            .any(|j| j.peer == job.peer && j.flags == job.flags && j.self_only == job.self_only)
        {
            return;
        }
        let limit = usize::from(self.config.max_concurrent_syncs);
        if self.syncs.push(job, limit).is_err() {
            self.counters
                .drops
                .count(crate::counters::DropReason::SyncBusy);
        }
    }

    pub(super) fn attempt_join(&mut self, now: Instant) {
        let Some(mut state) = self.join else { return };
        // As many seeds as there are free push-pull slots, taking turns
        // from one attempt to the next, so that every seed is tried even
        // when there are more seeds than slots.
        let count = self.seeds.len();
        let free = usize::from(self.config.max_concurrent_syncs).saturating_sub(self.syncs.len());
        for i in 0..count.min(free) {
            let seed = self.seeds[(state.next_seed + i) % count].clone();
            self.start_sync(seed, SYNC_WANT_REPLY | SYNC_JOIN);
        }
        state.next_seed = (state.next_seed + count.min(free)) % count.max(1);
        state.next_attempt = now + state.backoff;
        state.backoff = state
            .backoff
            .saturating_mul(2)
            .min(self.config.join_retry_max);
        self.join = Some(state);
    }

    /// Forgets members dead or left for longer than `dead_member_retention`.
    fn reap(&mut self, now: Instant) {
        let retention = self.config.dead_member_retention;
        while let Some(&(slot, since)) = self.reap_queue.front() {
            if since + retention > now {
                break;
            }
            self.reap_queue.pop_front();
            let still_departed = self
                .members
                .get(slot)
                .is_some_and(|m| !m.state.is_active() && m.since == since);
            if still_departed {
                self.forget(slot);
            }
        }
    }

    /// Alone although seeds are known (every member dead, left or
    /// forgotten): the view has collapsed, so join through the seeds again,
    /// with the usual backoff. The first attempt goes out now, so that no
    /// deadline is left due once the timers ran (the progress promise).
    fn rejoin_if_alone(&mut self, now: Instant) {
        let alone = self.is_joined() && self.members.active() == 0;
        if alone && !self.seeds.is_empty() && self.join.is_none() {
            self.join = Some(super::JoinState {
                next_attempt: now,
                backoff: self.config.join_retry_initial,
                next_seed: 0,
            });
            self.attempt_join(now);
        }
    }
}
