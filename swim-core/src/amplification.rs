//! Limits on what a node sends in answer to others: the anti-amplification
//! credit of addresses that have not proved they receive traffic, and the
//! rate limit of push-pull replies.

use heapless::Vec as FixedVec;

use crate::time::Instant;

/// Addresses whose credit is remembered at once; the oldest entry is
/// forgotten first (losing its credit only makes this node quieter).
const LEDGER_ENTRIES: usize = 32;
/// Bytes that may be sent per byte received from an unvalidated address.
pub(crate) const AMPLIFICATION_FACTOR: usize = 3;
/// Credit never grows beyond this many bytes per address.
const MAX_CREDIT: u32 = 3 * 65_507;

/// Anti-amplification credit per unvalidated source address: three times
/// the bytes received from it, minus the bytes sent to it in reply.
#[derive(Debug)]
pub(crate) struct Ledger<A> {
    entries: FixedVec<(A, u32), LEDGER_ENTRIES>,
    /// Next entry to overwrite when the ledger is full.
    oldest: usize,
}

impl<A: PartialEq + Clone> Ledger<A> {
    pub fn new() -> Self {
        Ledger {
            entries: FixedVec::new(),
            oldest: 0,
        }
    }

    /// `received` bytes arrived from `addr`.
    pub fn credit(&mut self, addr: &A, received: usize) {
        let add = received.saturating_mul(AMPLIFICATION_FACTOR);
        let add = u32::try_from(add).unwrap_or(MAX_CREDIT);
        if let Some((_, credit)) = self.entries.iter_mut().find(|(a, _)| a == addr) {
            *credit = credit.saturating_add(add).min(MAX_CREDIT);
            return;
        }
        let entry = (addr.clone(), add.min(MAX_CREDIT));
        if let Err(entry) = self.entries.push(entry) {
            self.entries[self.oldest] = entry;
            self.oldest = (self.oldest + 1) % LEDGER_ENTRIES;
        }
    }

    /// Bytes that may still be sent to `addr`.
    pub fn available(&self, addr: &A) -> usize {
        self.entries
            .iter()
            .find(|(a, _)| a == addr)
            .map_or(0, |&(_, credit)| credit as usize)
    }

    /// `sent` bytes went to `addr` (at most what was available).
    pub fn spend(&mut self, addr: &A, sent: usize) {
        if let Some((_, credit)) = self.entries.iter_mut().find(|(a, _)| a == addr) {
            *credit = credit.saturating_sub(u32::try_from(sent).unwrap_or(u32::MAX));
        }
    }
}

/// Requesters remembered for the per-source limit of push-pull replies.
const RECENT_REQUESTERS: usize = 16;

/// Rate limit of push-pull replies: a token bucket of bytes (refilled at
/// `rate` bytes per second, holding at most one second's worth; replies are
/// charged the bytes they actually send, and none starts while the bucket
/// is in debt) and at most one reply per requester per `spacing`.
#[derive(Debug)]
pub(crate) struct SyncReplyLimiter<A> {
    /// Bytes that may still be sent; negative while a reply larger than
    /// what was left is being paid off.
    tokens: i64,
    refilled_at: Instant,
    recent: FixedVec<(A, Instant), RECENT_REQUESTERS>,
    oldest: usize,
}

impl<A: PartialEq + Clone> SyncReplyLimiter<A> {
    pub fn new(rate: u32, now: Instant) -> Self {
        SyncReplyLimiter {
            tokens: i64::from(rate),
            refilled_at: now,
            recent: FixedVec::new(),
            oldest: 0,
        }
    }

    /// Whether a reply to `peer` may start now (then remembered for the
    /// spacing); its bytes are charged as they go out ([`Self::charge`]).
    pub fn admit(
        &mut self,
        peer: &A,
        now: Instant,
        rate: u32,
        spacing: core::time::Duration,
    ) -> bool {
        self.refill(now, rate);
        let recent = self.recent.iter().position(|(a, _)| a == peer);
        if let Some(i) = recent {
            if now < self.recent[i].1 + spacing {
                return false;
            }
        }
        if self.tokens <= 0 {
            return false;
        }
        match recent {
            Some(i) => self.recent[i].1 = now,
            None => {
                if let Err(entry) = self.recent.push((peer.clone(), now)) {
                    self.recent[self.oldest] = entry;
                    self.oldest = (self.oldest + 1) % RECENT_REQUESTERS;
                }
            }
        }
        true
    }

    /// `sent` bytes of a reply went out.
    pub fn charge(&mut self, sent: usize) {
        let sent = i64::try_from(sent).unwrap_or(i64::MAX);
        self.tokens = self.tokens.saturating_sub(sent);
    }

    fn refill(&mut self, now: Instant, rate: u32) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let micros = crate::time::duration_micros(elapsed);
        let refill = micros.saturating_mul(u64::from(rate)) / 1_000_000;
        let refill = i64::try_from(refill).unwrap_or(i64::MAX);
        self.tokens = self.tokens.saturating_add(refill).min(i64::from(rate));
        self.refilled_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn credit_is_three_times_what_arrived() {
        let mut ledger: Ledger<u32> = Ledger::new();
        assert_eq!(ledger.available(&7), 0);
        ledger.credit(&7, 20);
        assert_eq!(ledger.available(&7), 60);
        ledger.spend(&7, 50);
        assert_eq!(ledger.available(&7), 10);
        ledger.spend(&7, 50);
        assert_eq!(ledger.available(&7), 0);
    }

    #[test]
    fn a_full_ledger_forgets_the_oldest_address() {
        let mut ledger: Ledger<u32> = Ledger::new();
        for a in 0..LEDGER_ENTRIES as u32 + 1 {
            ledger.credit(&a, 10);
        }
        assert_eq!(ledger.available(&0), 0, "forgotten");
        assert_eq!(ledger.available(&1), 30);
        assert_eq!(ledger.available(&(LEDGER_ENTRIES as u32)), 30);
    }

    #[test]
    fn replies_are_spaced_per_requester_and_bounded_in_total() {
        let second = Duration::from_secs(1);
        let t0 = Instant::from_secs(10);
        let mut limiter: SyncReplyLimiter<u32> = SyncReplyLimiter::new(1000, t0);
        assert!(limiter.admit(&1, t0, 1000, second));
        limiter.charge(400);
        assert!(!limiter.admit(&1, t0, 1000, second), "spacing");
        assert!(limiter.admit(&2, t0, 1000, second));
        limiter.charge(900);
        assert!(!limiter.admit(&3, t0, 1000, second), "in debt");
        let later = t0 + Duration::from_millis(200);
        assert!(!limiter.admit(&3, later, 1000, second), "still in debt");
        let later = t0 + Duration::from_millis(500);
        assert!(limiter.admit(&3, later, 1000, second), "paid off");
        let much_later = t0 + Duration::from_secs(5);
        limiter.charge(5000);
        assert!(!limiter.admit(&4, much_later - Duration::from_secs(1), 1000, second));
        assert!(
            limiter.admit(&4, much_later + Duration::from_secs(5), 1000, second),
            "full again"
        );
    }
}
