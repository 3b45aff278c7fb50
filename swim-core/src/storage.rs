//! Bounded collections whose backing store depends on the `alloc` feature.
//!
//! Their capacity is the same in every build: at most `N` items (or bytes),
//! and at most the runtime limit of the [`Config`](crate::Config) given to
//! each operation. `alloc` only moves the storage: without it they are
//! `heapless` containers of capacity `N`, inline; with it they are heap
//! vectors that grow as needed, so that `N` may be [`UNBOUNDED`] (the
//! configuration alone then decides). Turning `alloc` on in a build never
//! changes what a `Swim<_, _, N, B>` of another crate holds.

/// A capacity (`N` or `B` of [`Swim`](crate::Swim)) that sets no bound of
/// its own: the [`Config`](crate::Config)'s runtime limits decide. Needs the
/// `alloc` feature (inline storage of that size cannot exist).
pub const UNBOUNDED: usize = usize::MAX;

#[cfg(feature = "alloc")]
extern crate alloc;

/// A vector of at most `N` items, inline without `alloc`, on the heap with it.
#[derive(Clone, Debug)]
pub struct BoundedVec<T, const N: usize> {
    #[cfg(feature = "alloc")]
    items: alloc::vec::Vec<T>,
    #[cfg(not(feature = "alloc"))]
    items: heapless::Vec<T, N>,
}

impl<T, const N: usize> BoundedVec<T, N> {
    /// An empty vector.
    pub fn new() -> Self {
        BoundedVec {
            items: Default::default(),
        }
    }

    /// How many items fit, given the runtime `limit`: the smaller of the
    /// two, in every build.
    pub fn capacity_for(limit: usize) -> usize {
        limit.min(N)
    }

    /// Appends `item` unless the vector holds `limit` items (or `N`); gives
    /// the item back when full.
    pub fn push(&mut self, item: T, limit: usize) -> Result<(), T> {
        if self.items.len() >= Self::capacity_for(limit) {
            return Err(item);
        }
        #[cfg(feature = "alloc")]
        {
            self.items.push(item);
            Ok(())
        }
        #[cfg(not(feature = "alloc"))]
        {
            self.items.push(item)
        }
    }

    /// Removes and returns the last item.
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop()
    }

    /// Removes the item at `index`, replacing it with the last one.
    pub fn swap_remove(&mut self, index: usize) -> T {
        self.items.swap_remove(index)
    }

    /// Inserts at `index`, shifting later items (O(n); for small tables).
    #[cfg_attr(feature = "alloc", allow(dead_code))]
    pub fn insert(&mut self, index: usize, item: T, limit: usize) -> Result<(), T> {
        if self.items.len() >= Self::capacity_for(limit) {
            return Err(item);
        }
        #[cfg(feature = "alloc")]
        {
            self.items.insert(index, item);
            Ok(())
        }
        #[cfg(not(feature = "alloc"))]
        {
            self.items.insert(index, item)
        }
    }

    /// Removes the item at `index`, shifting later items.
    pub fn remove(&mut self, index: usize) -> T {
        self.items.remove(index)
    }

    /// Keeps the items for which `keep` returns true.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
    }
}

impl<T, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> core::ops::Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T, const N: usize> core::ops::DerefMut for BoundedVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items
    }
}

/// A first-in first-out queue with the same capacity rules as [`BoundedVec`].
#[derive(Clone, Debug)]
pub struct BoundedDeque<T, const N: usize> {
    #[cfg(feature = "alloc")]
    items: alloc::collections::VecDeque<T>,
    #[cfg(not(feature = "alloc"))]
    items: heapless::Deque<T, N>,
}

impl<T, const N: usize> BoundedDeque<T, N> {
    /// An empty queue.
    pub fn new() -> Self {
        BoundedDeque {
            items: Default::default(),
        }
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends unless full at `limit`; gives the item back when full.
    pub fn push_back(&mut self, item: T, limit: usize) -> Result<(), T> {
        if self.items.len() >= BoundedVec::<T, N>::capacity_for(limit) {
            return Err(item);
        }
        #[cfg(feature = "alloc")]
        {
            self.items.push_back(item);
            Ok(())
        }
        #[cfg(not(feature = "alloc"))]
        {
            self.items.push_back(item)
        }
    }

    /// Prepends unless full at `limit`; gives the item back when full.
    pub fn push_front(&mut self, item: T, limit: usize) -> Result<(), T> {
        if self.items.len() >= BoundedVec::<T, N>::capacity_for(limit) {
            return Err(item);
        }
        #[cfg(feature = "alloc")]
        {
            self.items.push_front(item);
            Ok(())
        }
        #[cfg(not(feature = "alloc"))]
        {
            self.items.push_front(item)
        }
    }

    /// Removes the newest item.
    pub fn pop_back(&mut self) -> Option<T> {
        self.items.pop_back()
    }

    /// Removes the oldest item.
    pub fn pop_front(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// The item at `index`, counted from the oldest.
    pub fn get(&self, index: usize) -> Option<&T> {
        self.items.get(index)
    }

    /// The oldest item.
    pub fn front(&self) -> Option<&T> {
        self.items.front()
    }

    /// The newest item, to change in place.
    pub fn back_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }
}

impl<T, const N: usize> Default for BoundedDeque<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// An owned byte string of at most `N` bytes: inline without `alloc`, a
/// heap vector with it. Used for metadata and application payloads.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Payload<const N: usize> {
    #[cfg(feature = "alloc")]
    bytes: alloc::vec::Vec<u8>,
    #[cfg(not(feature = "alloc"))]
    bytes: heapless::Vec<u8, N>,
}

impl<const N: usize> Payload<N> {
    /// An empty payload.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies `data`; `None` if it exceeds the capacity `N`.
    pub fn from_slice(data: &[u8]) -> Option<Self> {
        #[cfg(feature = "alloc")]
        {
            (data.len() <= N).then(|| Payload {
                bytes: data.to_vec(),
            })
        }
        #[cfg(not(feature = "alloc"))]
        {
            heapless::Vec::from_slice(data)
                .ok()
                .map(|bytes| Payload { bytes })
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// Builds a payload of exactly `len` bytes written by `fill`; `None` if
    /// `len` exceeds the storage capacity or `fill` fails.
    pub(crate) fn build(len: usize, fill: impl FnOnce(&mut [u8]) -> Option<()>) -> Option<Self> {
        let mut bytes: Self = Self::default();
        #[cfg(feature = "alloc")]
        if len > N {
            return None;
        }
        #[cfg(feature = "alloc")]
        bytes.bytes.resize(len, 0);
        #[cfg(not(feature = "alloc"))]
        bytes.bytes.resize(len, 0).ok()?;
        fill(&mut bytes.bytes)?;
        Some(bytes)
    }
}

impl<const N: usize> core::ops::Deref for Payload<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl<const N: usize> core::fmt::Debug for Payload<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Payload({} bytes)", self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_limit_is_enforced() {
        let mut v: BoundedVec<u32, 4> = BoundedVec::new();
        assert!(v.push(1, 2).is_ok());
        assert!(v.push(2, 2).is_ok());
        assert_eq!(v.push(3, 2), Err(3));
        let mut q: BoundedDeque<u32, 4> = BoundedDeque::new();
        assert!(q.push_back(1, 1).is_ok());
        assert_eq!(q.push_back(2, 1), Err(2));
        assert_eq!(q.pop_front(), Some(1));
    }

    /// The capacity `N` holds in every build: `alloc` only moves storage.
    #[test]
    fn static_capacity_is_enforced_with_or_without_alloc() {
        let mut v: BoundedVec<u32, 2> = BoundedVec::new();
        assert!(v.push(1, 100).is_ok());
        assert!(v.push(2, 100).is_ok());
        assert_eq!(v.push(3, 100), Err(3));
        let mut q: BoundedDeque<u32, 1> = BoundedDeque::new();
        assert!(q.push_back(1, 100).is_ok());
        assert_eq!(q.push_front(2, 100), Err(2));
        assert!(Payload::<2>::from_slice(&[1, 2, 3]).is_none());
        assert!(Payload::<2>::build(3, |_| Some(())).is_none());
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn unbounded_storage_follows_the_runtime_limit() {
        let mut v: BoundedVec<u32, UNBOUNDED> = BoundedVec::new();
        for i in 0..1000 {
            assert!(v.push(i, 1000).is_ok());
        }
        assert_eq!(v.push(0, 1000), Err(0));
        assert!(Payload::<UNBOUNDED>::from_slice(&[7; 100_000]).is_some());
    }
}
