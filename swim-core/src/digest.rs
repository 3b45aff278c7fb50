//! A compact, order-independent summary of a node's view, so that two
//! nodes can tell whether their views agree before exchanging them, and
//! which parts differ when they do not.
//!
//! The view is the set of active (alive or suspect) verified members, the
//! node itself included, each as (address, generation, incarnation,
//! metadata version). Each member falls into one of
//! [`DIGEST_BUCKET_COUNT`] buckets by a hash of its address; a bucket's
//! hash is the wrapping sum of its members' hashes, so the order in which
//! members were learned does not matter; the root hashes the buckets and
//! the count. Equal views give equal digests; a view that differs in a few
//! members differs in the buckets of those members only, and only those
//! travel. Whether a member is alive or suspect is left out: suspicions
//! spread by gossip and would make views differ all the time.
//!
//! The hashes are not keyed (both sides must agree on them): a forger can
//! make two views look equal or different, which costs it one exchange's
//! worth of repair, no more than not answering.

use crate::address::Address;
use crate::wire::codec::Writer;
use crate::wire::DIGEST_BUCKET_COUNT;

/// The digest of one view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ViewDigest {
    /// Per-bucket hashes.
    pub buckets: [u64; DIGEST_BUCKET_COUNT],
    /// Members summarised.
    pub count: u32,
}

impl Default for ViewDigest {
    fn default() -> Self {
        ViewDigest {
            buckets: [0; DIGEST_BUCKET_COUNT],
            count: 0,
        }
    }
}

/// One member's share of a digest: its bucket and its hash. The member
/// table keeps each active verified member's share (the hash; the bucket
/// follows from the address) and their sum, so that a digest costs
/// nothing to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DigestPart {
    /// The bucket of the member's address.
    pub bucket: usize,
    /// Never 0, so that 0 can stand for "no share".
    pub hash: u64,
}

impl DigestPart {
    /// The share of the member `addr` at these versions.
    pub fn of<A: Address>(addr: &A, generation: u32, incarnation: u32, meta_version: u32) -> Self {
        let key = address_key(addr);
        let versions = u64::from(generation) << 32 | u64::from(incarnation);
        let hash = mix(key ^ mix(versions) ^ mix(u64::from(meta_version) ^ 0x6d65_7461));
        DigestPart {
            bucket: bucket_of_key(key),
            hash: hash.max(1),
        }
    }
}

impl ViewDigest {
    /// Adds one member.
    pub fn add<A: Address>(
        &mut self,
        addr: &A,
        generation: u32,
        incarnation: u32,
        meta_version: u32,
    ) {
        self.include(DigestPart::of(addr, generation, incarnation, meta_version));
    }

    /// Adds one member's share.
    pub fn include(&mut self, part: DigestPart) {
        let b = part.bucket % DIGEST_BUCKET_COUNT;
        self.buckets[b] = self.buckets[b].wrapping_add(part.hash);
        self.count = self.count.wrapping_add(1);
    }

    /// Takes back a share added before.
    pub fn exclude(&mut self, part: DigestPart) {
        let b = part.bucket % DIGEST_BUCKET_COUNT;
        self.buckets[b] = self.buckets[b].wrapping_sub(part.hash);
        self.count = self.count.wrapping_sub(1);
    }

    /// Hash of the whole view.
    pub fn root(&self) -> u64 {
        let mut h = mix(u64::from(self.count));
        for (i, b) in self.buckets.iter().enumerate() {
            h = mix(h ^ b.wrapping_add(i as u64));
        }
        h
    }

    /// The bucket hashes as on the wire (little-endian).
    pub fn bucket_bytes(&self) -> [u8; DIGEST_BUCKET_COUNT * 8] {
        let mut out = [0u8; DIGEST_BUCKET_COUNT * 8];
        for (chunk, b) in out.chunks_exact_mut(8).zip(self.buckets.iter()) {
            chunk.copy_from_slice(&b.to_le_bytes());
        }
        out
    }

    /// Buckets (as a bit set) whose hash differs from the wire bytes
    /// `theirs`; `None` if `theirs` is not a whole set of buckets.
    pub fn differing(&self, theirs: &[u8]) -> Option<u32> {
        if theirs.len() != DIGEST_BUCKET_COUNT * 8 {
            return None;
        }
        let mut mask = 0u32;
        for (i, chunk) in theirs.chunks_exact(8).enumerate() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            if u64::from_le_bytes(bytes) != self.buckets[i] {
                mask |= 1 << i;
            }
        }
        Some(mask)
    }
}

/// The bucket a member's address falls into.
pub(crate) fn bucket_of<A: Address>(addr: &A) -> usize {
    bucket_of_key(address_key(addr))
}

fn bucket_of_key(key: u64) -> usize {
    (key >> 59) as usize % DIGEST_BUCKET_COUNT
}

/// FNV-1a over the address's wire encoding, then mixed.
fn address_key<A: Address>(addr: &A) -> u64 {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    let len = match addr.encode(&mut w) {
        Some(()) => w.len(),
        None => 0,
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &buf[..len] {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(members: &[(u32, u32, u32, u32)]) -> ViewDigest {
        let mut d = ViewDigest::default();
        for &(addr, g, i, m) in members {
            d.add(&addr, g, i, m);
        }
        d
    }

    #[test]
    fn order_does_not_matter() {
        let a = view(&[(1, 0, 0, 0), (2, 0, 3, 1), (3, 1, 0, 0)]);
        let b = view(&[(3, 1, 0, 0), (1, 0, 0, 0), (2, 0, 3, 1)]);
        assert_eq!(a, b);
        assert_eq!(a.root(), b.root());
        assert_eq!(a.differing(&b.bucket_bytes()), Some(0));
    }

    #[test]
    fn one_member_changed_differs_in_its_bucket_only() {
        let members: std::vec::Vec<_> = (0..500).map(|a| (a, 0, 0, 0)).collect();
        let a = view(&members);
        let mut changed = members.clone();
        changed[123].2 = 1; // a refutation
        let b = view(&changed);
        assert_ne!(a.root(), b.root());
        let mask = a.differing(&b.bucket_bytes()).unwrap();
        assert_eq!(mask, 1 << bucket_of(&123u32));
        // A metadata update and a new generation are seen too.
        let mut meta = members.clone();
        meta[7].3 = 2;
        assert_ne!(view(&meta).root(), a.root());
        let mut generation = members;
        generation[9].1 = 1;
        assert_ne!(view(&generation).root(), a.root());
    }

    #[test]
    fn a_missing_member_changes_the_root() {
        let a = view(&[(1, 0, 0, 0), (2, 0, 0, 0)]);
        let b = view(&[(1, 0, 0, 0)]);
        assert_ne!(a.root(), b.root());
        assert_eq!(b.count, 1);
    }

    #[test]
    fn members_spread_over_the_buckets() {
        let mut used = [0u32; DIGEST_BUCKET_COUNT];
        for a in 0..3200u32 {
            used[bucket_of(&a)] += 1;
        }
        assert!(used.iter().all(|&n| n > 50 && n < 150), "{used:?}");
    }

    #[test]
    fn wrong_length_bucket_bytes_are_refused() {
        assert_eq!(ViewDigest::default().differing(&[0u8; 7]), None);
    }
}
