//! The event queue: a binary heap ordered by a key that starts with the
//! virtual time. Keys are unique and say how simultaneous events are
//! ordered, so a seed always gives the same trace.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One scheduled entry.
#[derive(Debug)]
struct Entry<K, T> {
    key: K,
    item: T,
}

impl<K: Ord, T> PartialEq for Entry<K, T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<K: Ord, T> Eq for Entry<K, T> {}
impl<K: Ord, T> PartialOrd for Entry<K, T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Ord, T> Ord for Entry<K, T> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap, we want the smallest first.
        other.key.cmp(&self.key)
    }
}

/// A deterministic priority queue of `T`, smallest key first. Callers give
/// every item a distinct key (for instance `(time, sequence number)`).
#[derive(Debug)]
pub struct EventQueue<K, T> {
    heap: BinaryHeap<Entry<K, T>>,
}

impl<K: Ord, T> Default for EventQueue<K, T> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
        }
    }
}

impl<K: Ord, T> EventQueue<K, T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `item` under `key`.
    pub fn push(&mut self, key: K, item: T) {
        self.heap.push(Entry { key, item });
    }

    /// Removes and returns the item with the smallest key, with its key.
    pub fn pop(&mut self) -> Option<(K, T)> {
        self.heap.pop().map(|e| (e.key, e.item))
    }

    /// The item with the smallest key, and its key, without removing it.
    pub fn peek(&self) -> Option<(&K, &T)> {
        self.heap.peek().map(|e| (&e.key, &e.item))
    }

    /// Number of queued items.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_key_first() {
        let mut q = EventQueue::new();
        q.push((5, 0), 'a');
        q.push((1, 1), 'b');
        q.push((5, 2), 'c');
        q.push((1, 3), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, c)| c)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
    }
}
