//! The member table's address index in the `alloc` build: a
//! `hashbrown::HashTable` of `(hash, slot)` pairs, hashed with a fixed,
//! keyed hasher.
//!
//! Lookups are O(1) on average. The table stores only the pairs; the
//! caller compares addresses against its own storage. It allocates only
//! when it grows, so its size is bounded by the member table's limit, and
//! it never allocates in steady state.
//!
//! The hasher is keyed with a number the node draws from its own RNG when it
//! starts, so whoever forges addresses cannot aim them at one bucket chain,
//! and the same seed still gives the same behaviour. (Iteration order never
//! comes from this table: it only answers lookups.)

use core::hash::{Hash, Hasher};

use crate::slot::Slot;

/// 32-bit hash of `value` under `key` (FxHash-style mixing, then a
/// finalizer so that the high bits, which pick the bucket, depend on every
/// input bit and on the key).
#[inline]
pub(crate) fn hash_of<T: Hash + ?Sized>(key: u64, value: &T) -> u32 {
    let mut h = FixedHasher(key);
    value.hash(&mut h);
    (h.finish() >> 32) as u32
}

/// A deterministic, non-cryptographic, keyed hasher for addresses.
struct FixedHasher(u64);

impl FixedHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FixedHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

/// Hash → slot index.
#[derive(Debug, Default)]
pub(crate) struct HashIndex {
    /// `(hash, slot)`: the stored hash rehashes an entry when the table
    /// grows, without looking addresses up again.
    table: hashbrown::HashTable<(u32, Slot)>,
}

/// The 64-bit hash the table works with: the 32-bit hash in both halves,
/// so that the table's bucket bits (low) and tag bits (high) both depend
/// on it.
#[inline]
fn wide(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

impl HashIndex {
    /// Bytes of index per member at a load of one half: an 8-byte entry
    /// and a control byte per bucket (the table's load stays between
    /// 7/16 and 7/8 once it has grown).
    pub const BYTES_PER_ENTRY: usize = 2 * (core::mem::size_of::<(u32, Slot)>() + 1);

    /// The slot stored under `hash` for which `matches` is true.
    #[inline]
    pub fn get(&self, hash: u32, mut matches: impl FnMut(Slot) -> bool) -> Option<Slot> {
        self.table
            .find(wide(hash), |&(h, slot)| h == hash && matches(slot))
            .map(|&(_, slot)| slot)
    }

    /// Adds `slot` under `hash`; the caller guarantees it is absent. Grows
    /// (the only allocation) when full.
    pub fn insert(&mut self, hash: u32, slot: Slot) {
        self.table
            .insert_unique(wide(hash), (hash, slot), |&(h, _)| wide(h));
    }

    /// Removes `slot`, stored under `hash`, if present.
    pub fn remove(&mut self, hash: u32, slot: Slot) {
        if let Ok(entry) = self.table.find_entry(wide(hash), |&(_, s)| s == slot) {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random inserts and removes against a reference map, with every key
    /// checked after each step.
    fn agrees_with_a_map(hash: impl Fn(u32) -> u32) {
        let mut index = HashIndex::default();
        let mut reference: BTreeMap<u32, Slot> = BTreeMap::new();
        let mut x: u64 = 1;
        let mut next_slot = 0;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = (x % 200) as u32;
            match reference.get(&key).copied() {
                Some(slot) => {
                    if !x.is_multiple_of(3) {
                        index.remove(hash(key), slot);
                        reference.remove(&key);
                    }
                }
                None => {
                    index.insert(hash(key), next_slot);
                    reference.insert(key, next_slot);
                    next_slot += 1;
                }
            }
            // `matches` compares keys, as the member table compares addresses.
            let key_of: BTreeMap<Slot, u32> = reference.iter().map(|(&k, &s)| (s, k)).collect();
            for k in 0..200 {
                let found = index.get(hash(k), |s| key_of.get(&s) == Some(&k));
                assert_eq!(found, reference.get(&k).copied(), "key {k}");
            }
            assert_eq!(index.table.len(), reference.len());
        }
    }

    #[test]
    fn agrees_with_a_map_with_the_keyed_hash() {
        agrees_with_a_map(|k| hash_of(0x1234_5678, &k));
    }

    #[test]
    fn agrees_with_a_map_with_colliding_hashes() {
        // Few distinct hashes, all in neighbouring buckets: long runs that
        // wrap around the end of the table.
        agrees_with_a_map(|k| (k % 5).wrapping_sub(2).wrapping_mul(0x0100_0000));
    }

    #[test]
    fn hash_depends_on_value_and_key_only() {
        assert_eq!(hash_of(1, &7u32), hash_of(1, &7u32));
        assert_ne!(hash_of(1, &7u32), hash_of(1, &8u32));
        // Another key moves addresses to other buckets: most of 64
        // neighbouring addresses get a different top byte.
        let moved = (0..64u32)
            .filter(|a| hash_of(1, a) >> 24 != hash_of(2, a) >> 24)
            .count();
        assert!(moved > 56, "{moved}");
    }
}
