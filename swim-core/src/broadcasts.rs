//! The queue of application broadcasts awaiting dissemination.
//!
//! Bounded by `Config::broadcast_queue_len`. A broadcast with the same origin
//! and key as a queued one replaces it. When the queue is full, a local
//! `broadcast` call gets [`CommandError::BroadcastQueueFull`]
//! (crate::CommandError); a relayed broadcast evicts the most transmitted
//! relayed entry, or is dropped if none has been sent yet (both counted).

use crate::address::Identity;
use crate::storage::{BoundedVec, Payload};

#[derive(Clone, Debug)]
pub(crate) struct QueuedBroadcast<A, const B: usize> {
    pub origin: Identity<A>,
    pub epoch: u32,
    pub seq: u32,
    pub key: Option<u64>,
    pub payload: Payload<B>,
    pub sent: u8,
    pub local: bool,
}

/// Outcome of queueing a broadcast.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    Added,
    /// It replaced a queued broadcast with the same origin and key.
    Replaced,
    /// Added after evicting a relayed entry.
    Evicted,
    /// Not queued: full.
    Full,
    /// Not queued: a newer broadcast with the same origin and key is queued.
    Superseded,
}

#[derive(Debug)]
pub(crate) struct BroadcastQueue<A, const Q: usize, const B: usize> {
    items: BoundedVec<QueuedBroadcast<A, B>, Q>,
    limit: usize,
}

impl<A: PartialEq, const Q: usize, const B: usize> BroadcastQueue<A, Q, B> {
    pub fn new(limit: usize) -> Self {
        BroadcastQueue {
            items: BoundedVec::new(),
            limit,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn push(&mut self, item: QueuedBroadcast<A, B>) -> Queued {
        if let Some(key) = item.key {
            if let Some(old) = self
                .items
                .iter_mut()
                .find(|q| q.key == Some(key) && q.origin == item.origin)
            {
                let newer_queued =
                    old.epoch == item.epoch && (old.seq.wrapping_sub(item.seq) as i32) > 0;
                if newer_queued {
                    return Queued::Superseded;
                }
                *old = item;
                return Queued::Replaced;
            }
        }
        let local = item.local;
        match self.items.push(item, self.limit) {
            Ok(()) => Queued::Added,
            Err(item) => {
                if local {
                    return Queued::Full;
                }
                let victim = self
                    .items
                    .iter()
                    .enumerate()
                    .filter(|(_, q)| !q.local && q.sent > 0)
                    .max_by_key(|(_, q)| q.sent)
                    .map(|(i, _)| i);
                match victim {
                    Some(i) => {
                        self.items[i] = item;
                        Queued::Evicted
                    }
                    None => Queued::Full,
                }
            }
        }
    }

    /// Index of the least transmitted broadcast not in `skip`.
    pub fn least_sent(&self, skip: impl Fn(usize) -> bool) -> Option<usize> {
        self.items
            .iter()
            .enumerate()
            .filter(|(i, _)| !skip(*i))
            .min_by_key(|(_, q)| q.sent)
            .map(|(i, _)| i)
    }

    pub fn get(&self, i: usize) -> &QueuedBroadcast<A, B> {
        &self.items[i]
    }

    /// Counts one transmission of each index in `sent`, then drops those
    /// that reached `limit`.
    pub fn mark_sent(&mut self, sent: &[u16], limit: u8) {
        for &i in sent {
            if let Some(q) = self.items.get_mut(usize::from(i)) {
                q.sent = q.sent.saturating_add(1);
            }
        }
        self.items.retain(|q| q.sent < limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(seq: u32, key: Option<u64>, local: bool) -> QueuedBroadcast<u32, 16> {
        QueuedBroadcast {
            origin: Identity {
                addr: 1,
                generation: 0,
            },
            epoch: 0,
            seq,
            key,
            payload: Payload::from_slice(&[seq as u8]).unwrap(),
            sent: 0,
            local,
        }
    }

    #[test]
    fn same_key_replaces() {
        let mut q: BroadcastQueue<u32, 4, 16> = BroadcastQueue::new(4);
        assert_eq!(q.push(item(1, Some(7), true)), Queued::Added);
        assert_eq!(q.push(item(2, Some(7), true)), Queued::Replaced);
        assert_eq!(q.len(), 1);
        assert_eq!(q.get(0).seq, 2);
    }

    #[test]
    fn full_queue_refuses_local_and_evicts_for_relays() {
        let mut q: BroadcastQueue<u32, 4, 16> = BroadcastQueue::new(2);
        q.push(item(1, None, false));
        q.push(item(2, None, true));
        assert_eq!(q.push(item(3, None, true)), Queued::Full);
        assert_eq!(
            q.push(item(4, None, false)),
            Queued::Full,
            "nothing sent yet"
        );
        q.mark_sent(&[0], 10);
        assert_eq!(q.push(item(5, None, false)), Queued::Evicted);
        assert_eq!(q.get(0).seq, 5);
    }

    #[test]
    fn retransmit_limit_removes() {
        let mut q: BroadcastQueue<u32, 4, 16> = BroadcastQueue::new(4);
        q.push(item(1, None, true));
        q.mark_sent(&[0], 2);
        assert_eq!(q.len(), 1);
        q.mark_sent(&[0], 2);
        assert!(q.is_empty());
    }
}
