//! Duplicate suppression of application broadcasts.
//!
//! Each origin that broadcasts gets a window of the last 1024 sequence
//! numbers of its current epoch (an origin draws a new random epoch when it
//! starts). The table is sorted by origin address (O(log n) lookups) and
//! holds at most `limit` origins; beyond that the least recently active
//! origin is forgotten (counted by the caller), and a late copy of one of its
//! broadcasts could then be delivered again.

use crate::address::{Address, Identity};
use crate::storage::BoundedVec;

/// Sequence numbers remembered per origin.
pub(crate) const WINDOW: u32 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// What a broadcast's identifiers say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sighting {
    /// Never seen: deliver it.
    New,
    /// Seen before.
    Duplicate,
    /// More than [`WINDOW`] behind the newest seen: cannot tell, dropped.
    TooOld,
}

#[derive(Clone, Debug)]
struct OriginWindow<A> {
    origin: Identity<A>,
    epoch: u32,
    high: u32,
    bits: [u64; WORDS],
    last_active: u64,
}

impl<A> OriginWindow<A> {
    fn bit(&self, seq: u32) -> bool {
        let i = seq % WINDOW;
        self.bits[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, seq: u32, on: bool) {
        let i = seq % WINDOW;
        let word = &mut self.bits[(i / 64) as usize];
        if on {
            *word |= 1 << (i % 64);
        } else {
            *word &= !(1 << (i % 64));
        }
    }

    fn record(&mut self, seq: u32) -> Sighting {
        let ahead = seq.wrapping_sub(self.high);
        if ahead != 0 && ahead < (1 << 31) {
            if ahead >= WINDOW {
                self.bits = [0; WORDS];
            } else {
                for s in 1..=ahead {
                    self.set(self.high.wrapping_add(s), false);
                }
            }
            self.high = seq;
            self.set(seq, true);
            return Sighting::New;
        }
        let behind = self.high.wrapping_sub(seq);
        if behind >= WINDOW {
            return Sighting::TooOld;
        }
        if self.bit(seq) {
            return Sighting::Duplicate;
        }
        self.set(seq, true);
        Sighting::New
    }
}

#[derive(Debug)]
pub(crate) struct DedupTable<A, const N: usize> {
    origins: BoundedVec<OriginWindow<A>, N>,
    limit: usize,
    clock: u64,
}

impl<A: Address, const N: usize> DedupTable<A, N> {
    pub fn new(limit: usize) -> Self {
        DedupTable {
            origins: BoundedVec::new(),
            limit,
            clock: 0,
        }
    }

    /// Records a sighting of broadcast `(origin, epoch, seq)`. Returns the
    /// verdict and whether an origin had to be forgotten to make room.
    pub fn sight(&mut self, origin: &Identity<A>, epoch: u32, seq: u32) -> (Sighting, bool) {
        self.clock += 1;
        let clock = self.clock;
        match self
            .origins
            .binary_search_by(|w| w.origin.addr.cmp(&origin.addr))
        {
            Ok(i) => {
                let w = &mut self.origins[i];
                w.last_active = clock;
                if w.origin.generation != origin.generation || w.epoch != epoch {
                    // A new process or a restart: a fresh sequence space.
                    w.origin = origin.clone();
                    w.epoch = epoch;
                    w.high = seq;
                    w.bits = [0; WORDS];
                    w.set(seq, true);
                    return (Sighting::New, false);
                }
                (w.record(seq), false)
            }
            Err(mut at) => {
                let mut evicted = false;
                if self.origins.len() >= BoundedVec::<OriginWindow<A>, N>::capacity_for(self.limit)
                {
                    let Some(oldest) =
                        (0..self.origins.len()).min_by_key(|&i| self.origins[i].last_active)
                    else {
                        return (Sighting::New, false);
                    };
                    self.origins.remove(oldest);
                    if oldest < at {
                        at -= 1;
                    }
                    evicted = true;
                }
                let mut w = OriginWindow {
                    origin: origin.clone(),
                    epoch,
                    high: seq,
                    bits: [0; WORDS],
                    last_active: clock,
                };
                w.set(seq, true);
                let _ = self.origins.insert(at, w, usize::MAX);
                (Sighting::New, evicted)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_suppresses_duplicates_and_reorders() {
        let mut t: DedupTable<u32, 8> = DedupTable::new(8);
        let o = Identity {
            addr: 1,
            generation: 0,
        };
        assert_eq!(t.sight(&o, 7, 10).0, Sighting::New);
        assert_eq!(t.sight(&o, 7, 10).0, Sighting::Duplicate);
        assert_eq!(t.sight(&o, 7, 500).0, Sighting::New);
        assert_eq!(
            t.sight(&o, 7, 11).0,
            Sighting::New,
            "late but inside the window"
        );
        assert_eq!(t.sight(&o, 7, 11).0, Sighting::Duplicate);
        assert_eq!(t.sight(&o, 7, 2000).0, Sighting::New);
        assert_eq!(t.sight(&o, 7, 12).0, Sighting::TooOld);
        assert_eq!(t.sight(&o, 8, 12).0, Sighting::New, "restarted origin");
        assert_eq!(t.sight(&o, 8, 12).0, Sighting::Duplicate);
        // Wrapping sequence numbers.
        assert_eq!(t.sight(&o, 9, u32::MAX).0, Sighting::New);
        assert_eq!(t.sight(&o, 9, 0).0, Sighting::New);
        assert_eq!(t.sight(&o, 9, u32::MAX).0, Sighting::Duplicate);
    }

    #[test]
    fn least_recently_active_origin_is_forgotten_when_full() {
        let mut t: DedupTable<u32, 8> = DedupTable::new(2);
        let id = |addr| Identity {
            addr,
            generation: 0,
        };
        t.sight(&id(1), 0, 0);
        t.sight(&id(2), 0, 0);
        t.sight(&id(1), 0, 1);
        assert_eq!(t.sight(&id(3), 0, 0), (Sighting::New, true));
        assert_eq!(t.sight(&id(1), 0, 1).0, Sighting::Duplicate, "1 was kept");
        assert_eq!(t.sight(&id(2), 0, 0).0, Sighting::New, "2 was forgotten");
    }
}
