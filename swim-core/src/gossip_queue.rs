//! The dissemination queue of membership and metadata records.
//!
//! Each member holds its current state and metadata; the queue only says
//! which of them still need piggybacking, in least-transmitted-first order.
//! New or replaced records go to the front; a record that was just sent goes
//! to the back. Since every record moves one step per transmission, the queue
//! stays ordered by transmit count. A replaced record gets a new stamp, and
//! the stale entry is skipped when reached (its member's stamp differs).

use crate::slot::Slot;
use crate::storage::BoundedDeque;

/// The local node's own records use this slot.
pub(crate) const SELF_SLOT: Slot = Slot::MAX;

/// Which record of a member an entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordOf {
    State,
    Meta,
}

/// Dissemination progress of one record: transmissions so far, and the
/// stamp of its current queue entry (older entries are stale).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tracked {
    pub sent: u8,
    pub stamp: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub slot: Slot,
    pub record: RecordOf,
    pub stamp: u32,
}

#[derive(Debug)]
pub(crate) struct GossipQueue<const N: usize> {
    entries: BoundedDeque<Entry, N>,
    next_stamp: u32,
    limit: usize,
}

impl<const N: usize> GossipQueue<N> {
    pub fn new(limit: usize) -> Self {
        GossipQueue {
            entries: BoundedDeque::new(),
            next_stamp: 1,
            limit,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A fresh stamp for a record about to be (re)queued.
    pub fn stamp(&mut self) -> u32 {
        let s = self.next_stamp;
        self.next_stamp = self.next_stamp.wrapping_add(1).max(1);
        s
    }

    /// Queues a new record at the front. When the queue is full, stale
    /// entries are compacted away first; if it is still full the oldest
    /// (most transmitted) entry is dropped, and false is returned.
    pub fn push_new(&mut self, entry: Entry, valid: impl FnMut(&Entry) -> bool) -> bool {
        let mut complete = true;
        if self.entries.len() >= crate::storage::BoundedVec::<Entry, N>::capacity_for(self.limit) {
            self.compact(valid);
            if self.entries.len()
                >= crate::storage::BoundedVec::<Entry, N>::capacity_for(self.limit)
            {
                self.entries.pop_back();
                complete = false;
            }
        }
        let _ = self.entries.push_front(entry, self.limit);
        complete
    }

    /// Puts a just-sent entry at the back.
    pub fn push_sent(&mut self, entry: Entry) {
        let _ = self.entries.push_back(entry, self.limit);
    }

    /// Puts back entries that were taken but not sent, front first.
    pub fn push_unsent(&mut self, entry: Entry) {
        let _ = self.entries.push_front(entry, self.limit);
    }

    pub fn pop(&mut self) -> Option<Entry> {
        self.entries.pop_front()
    }

    fn compact(&mut self, mut valid: impl FnMut(&Entry) -> bool) {
        for _ in 0..self.entries.len() {
            if let Some(e) = self.entries.pop_front() {
                if valid(&e) {
                    let _ = self.entries.push_back(e, self.limit);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_entries_go_first_and_sent_ones_last() {
        let mut q: GossipQueue<8> = GossipQueue::new(8);
        for slot in 0..3 {
            let stamp = q.stamp();
            assert!(q.push_new(
                Entry {
                    slot,
                    record: RecordOf::State,
                    stamp
                },
                |_| true
            ));
        }
        let first = q.pop().unwrap();
        assert_eq!(first.slot, 2);
        q.push_sent(first);
        assert_eq!(q.pop().unwrap().slot, 1);
    }

    #[test]
    fn full_queue_compacts_stale_entries() {
        let mut q: GossipQueue<4> = GossipQueue::new(4);
        for slot in 0..4 {
            let stamp = q.stamp();
            q.push_new(
                Entry {
                    slot,
                    record: RecordOf::State,
                    stamp,
                },
                |_| true,
            );
        }
        // Entries of odd slots are stale.
        let stamp = q.stamp();
        assert!(q.push_new(
            Entry {
                slot: 9,
                record: RecordOf::State,
                stamp
            },
            |e| e.slot % 2 == 0
        ));
        assert_eq!(q.len(), 3);
        // Nothing stale: the most transmitted entry is dropped.
        let stamp = q.stamp();
        q.push_new(
            Entry {
                slot: 10,
                record: RecordOf::State,
                stamp,
            },
            |_| true,
        );
        let stamp = q.stamp();
        assert!(!q.push_new(
            Entry {
                slot: 11,
                record: RecordOf::State,
                stamp
            },
            |_| true
        ));
        assert_eq!(q.len(), 4);
    }
}
