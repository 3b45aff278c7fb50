//! The member table: slab storage with stable slots, an address index
//! (hashed with `alloc`, sorted without), and the shuffled probe order.

#[cfg(feature = "alloc")]
extern crate alloc;

use rand_core::Rng;

use crate::address::Address;
use crate::digest::{DigestPart, ViewDigest};
use crate::member::Member;
use crate::state::MemberState;
use crate::storage::BoundedVec;

pub(crate) use crate::slot::Slot;

/// Address → slot index: a hash table of slot numbers with `alloc` (O(1)
/// lookups, addresses compared against the slots), a sorted array without
/// (O(log n) lookups).
#[derive(Debug)]
struct AddressIndex<A, const N: usize> {
    #[cfg(feature = "alloc")]
    table: crate::hash_index::HashIndex,
    #[cfg(feature = "alloc")]
    _address: core::marker::PhantomData<A>,
    /// Key of the address hash (drawn from the node's RNG).
    #[cfg(feature = "alloc")]
    key: u64,
    #[cfg(not(feature = "alloc"))]
    sorted: BoundedVec<(A, Slot), N>,
}

impl<A: Address, const N: usize> AddressIndex<A, N> {
    fn new(key: u64) -> Self {
        #[cfg(not(feature = "alloc"))]
        let _ = key;
        AddressIndex {
            #[cfg(feature = "alloc")]
            table: Default::default(),
            #[cfg(feature = "alloc")]
            _address: core::marker::PhantomData,
            #[cfg(feature = "alloc")]
            key,
            #[cfg(not(feature = "alloc"))]
            sorted: BoundedVec::new(),
        }
    }

    /// Bytes of index per member.
    fn bytes_per_member() -> usize {
        #[cfg(feature = "alloc")]
        {
            crate::hash_index::HashIndex::BYTES_PER_ENTRY
        }
        #[cfg(not(feature = "alloc"))]
        {
            core::mem::size_of::<(A, Slot)>()
        }
    }

    /// The slot of `addr`; `slots` is the table's storage.
    #[inline]
    fn get<const B: usize>(&self, addr: &A, slots: &[Option<Member<A, B>>]) -> Option<Slot> {
        #[cfg(feature = "alloc")]
        {
            let hash = crate::hash_index::hash_of(self.key, addr);
            self.table.get(hash, |slot| {
                slots
                    .get(slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|m| m.id.addr == *addr)
            })
        }
        #[cfg(not(feature = "alloc"))]
        {
            let _ = slots;
            let i = self.sorted.binary_search_by(|(a, _)| a.cmp(addr)).ok()?;
            Some(self.sorted[i].1)
        }
    }

    /// Caller guarantees `addr` is absent and capacity remains.
    fn insert(&mut self, addr: A, slot: Slot) {
        #[cfg(feature = "alloc")]
        {
            self.table
                .insert(crate::hash_index::hash_of(self.key, &addr), slot);
        }
        #[cfg(not(feature = "alloc"))]
        {
            if let Err(i) = self.sorted.binary_search_by(|(a, _)| a.cmp(&addr)) {
                let _ = self.sorted.insert(i, (addr, slot), usize::MAX);
            }
        }
    }

    /// Forgets `addr`, which was stored at `slot`.
    fn remove(&mut self, addr: &A, slot: Slot) {
        #[cfg(feature = "alloc")]
        {
            self.table
                .remove(crate::hash_index::hash_of(self.key, addr), slot);
        }
        #[cfg(not(feature = "alloc"))]
        {
            let _ = slot;
            if let Ok(i) = self.sorted.binary_search_by(|(a, _)| a.cmp(addr)) {
                self.sorted.remove(i);
            }
        }
    }
}

/// All remembered members except the local node.
#[derive(Debug)]
pub(crate) struct MemberTable<A, const N: usize, const B: usize> {
    slots: BoundedVec<Option<Member<A, B>>, N>,
    free: BoundedVec<Slot, N>,
    index: AddressIndex<A, N>,
    /// Every occupied slot, in probe order; `cursor` is the next position.
    order: BoundedVec<Slot, N>,
    /// Position of each slot in `order` (same length as `slots`).
    position: BoundedVec<u32, N>,
    cursor: usize,
    active: usize,
    verified: usize,
    limit: usize,
    /// The digest of the active verified members, kept up to date with
    /// every change that [`MemberTable::refresh_digest`] is told of.
    digest: ViewDigest,
}

impl<A: Address, const N: usize, const B: usize> MemberTable<A, N, B> {
    /// An empty table of at most `limit` members; `hash_key` keys the
    /// address hash of the `alloc` build (draw it from the node's RNG).
    pub fn new(limit: usize, hash_key: u64) -> Self {
        MemberTable {
            slots: BoundedVec::new(),
            free: BoundedVec::new(),
            index: AddressIndex::new(hash_key),
            order: BoundedVec::new(),
            position: BoundedVec::new(),
            cursor: 0,
            active: 0,
            verified: 0,
            limit,
            digest: ViewDigest::default(),
        }
    }

    /// Bytes of storage per member: slot, probe order, position, free list
    /// and address index.
    pub fn bytes_per_member() -> usize {
        core::mem::size_of::<Option<Member<A, B>>>()
            + 3 * core::mem::size_of::<Slot>()
            + AddressIndex::<A, N>::bytes_per_member()
    }

    /// Members remembered, of any state.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Verified members remembered, of any state.
    pub fn verified_len(&self) -> usize {
        self.verified
    }

    /// Verified alive or suspect members (unverified ones are not counted).
    pub fn active(&self) -> usize {
        self.active
    }

    /// True when no further member fits.
    pub fn is_full(&self) -> bool {
        self.len() >= BoundedVec::<Slot, N>::capacity_for(self.limit)
    }

    #[inline]
    pub fn find(&self, addr: &A) -> Option<Slot> {
        self.index.get(addr, &self.slots)
    }

    pub fn get(&self, slot: Slot) -> Option<&Member<A, B>> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// Mutable access. Callers that change `state` must go through
    /// [`MemberTable::set_state`] so the active count stays right, and
    /// callers that change the incarnation or the metadata version must
    /// call [`MemberTable::refresh_digest`] afterwards.
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Member<A, B>> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// The digest of the active verified members (the local node is not
    /// in the table: add it). O(1).
    pub fn digest(&self) -> &ViewDigest {
        &self.digest
    }

    /// Brings the member at `slot`'s share of the digest up to date after
    /// a change to its state, verification, incarnation or metadata
    /// version. O(1).
    pub fn refresh_digest(&mut self, slot: Slot) {
        let Some(m) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        // The bucket follows from the address, which a slot keeps.
        if m.digest_hash == 0 && !m.is_full_active() {
            return; // no share, and none due
        }
        let part = DigestPart::of(&m.id.addr, m.id.generation, m.incarnation, m.meta_version);
        let hash = if m.is_full_active() { part.hash } else { 0 };
        if hash == m.digest_hash {
            return;
        }
        if m.digest_hash != 0 {
            self.digest.exclude(DigestPart {
                hash: m.digest_hash,
                ..part
            });
        }
        if hash != 0 {
            self.digest.include(part);
        }
        m.digest_hash = hash;
    }

    pub fn set_state(&mut self, slot: Slot, state: MemberState) {
        if let Some(m) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) {
            if m.verified {
                match (m.state.is_active(), state.is_active()) {
                    (true, false) => self.active -= 1,
                    (false, true) => self.active += 1,
                    _ => {}
                }
            }
            m.state = state;
        }
        self.refresh_digest(slot);
    }

    /// Marks an unverified member verified: from now on a full member.
    pub fn set_verified(&mut self, slot: Slot) {
        if let Some(m) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) {
            if !m.verified {
                m.verified = true;
                m.urgent = false;
                self.verified += 1;
                if m.state.is_active() {
                    self.active += 1;
                }
            }
        }
        self.refresh_digest(slot);
    }

    /// Replaces the member at `slot` (same address) with `member`, keeping
    /// its place in the probe order and the active count right.
    pub fn replace(&mut self, slot: Slot, member: Member<A, B>) {
        let Some(m) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let was = m.is_full_active();
        let now = member.is_full_active();
        self.verified = self.verified + usize::from(member.verified) - usize::from(m.verified);
        // The new record (same address) starts with the old one's share,
        // which the refresh then corrects.
        let hash = m.digest_hash;
        *m = member;
        m.digest_hash = hash;
        match (was, now) {
            (true, false) => self.active -= 1,
            (false, true) => self.active += 1,
            _ => {}
        }
        self.refresh_digest(slot);
    }

    /// Adds a member at a random position of the probe order not yet
    /// visited this round. Gives it back when the table is full.
    pub fn insert(
        &mut self,
        mut member: Member<A, B>,
        rng: &mut impl Rng,
    ) -> Result<Slot, Member<A, B>> {
        if self.is_full() || self.find(&member.id.addr).is_some() {
            return Err(member);
        }
        member.digest_hash = 0;
        let active = member.is_full_active();
        let verified = member.verified;
        let addr = member.id.addr.clone();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(member);
                slot
            }
            None => {
                let slot = self.slots.len() as Slot;
                if let Err(Some(member)) = self.slots.push(Some(member), usize::MAX) {
                    return Err(member);
                }
                let _ = self.position.push(0, usize::MAX);
                slot
            }
        };
        self.index.insert(addr, slot);
        let at = self.order.len();
        let _ = self.order.push(slot, usize::MAX);
        self.position[slot as usize] = at as u32;
        // Swap into a random position among those not yet probed this round.
        let lo = self.cursor.min(at);
        let span = (at - lo + 1) as u32;
        let target = lo + (bounded_random(rng, span) as usize);
        self.swap_order(at, target);
        if active {
            self.active += 1;
        }
        if verified {
            self.verified += 1;
        }
        self.refresh_digest(slot);
        Ok(slot)
    }

    /// Forgets a member.
    pub fn remove(&mut self, slot: Slot) -> Option<Member<A, B>> {
        let member = self.slots.get_mut(slot as usize)?.take()?;
        if member.digest_hash != 0 {
            self.digest.exclude(DigestPart {
                bucket: crate::digest::bucket_of(&member.id.addr),
                hash: member.digest_hash,
            });
        }
        self.index.remove(&member.id.addr, slot);
        if member.is_full_active() {
            self.active -= 1;
        }
        if member.verified {
            self.verified -= 1;
        }
        let pos = self.position[slot as usize] as usize;
        let last = self.order.len() - 1;
        self.swap_order(pos, last);
        self.order.pop();
        if pos < self.cursor {
            // Keep the not-yet-probed region intact: move the element that
            // filled the hole to the end of the visited region instead.
            self.cursor -= 1;
            if pos != self.cursor && self.cursor < self.order.len() {
                self.swap_order(pos, self.cursor);
            }
        }
        let _ = self.free.push(slot, usize::MAX);
        Some(member)
    }

    fn swap_order(&mut self, i: usize, j: usize) {
        if i == j {
            return;
        }
        self.order.swap(i, j);
        let (a, b) = (self.order[i], self.order[j]);
        self.position[a as usize] = i as u32;
        self.position[b as usize] = j as u32;
    }

    /// Next member to probe in the shuffled round-robin, skipping those
    /// `eligible` refuses; reshuffles at every wrap. At most one full pass.
    pub fn next_probe_target(
        &mut self,
        rng: &mut impl Rng,
        mut eligible: impl FnMut(&Member<A, B>) -> bool,
    ) -> Option<Slot> {
        for _ in 0..=self.order.len() {
            if self.cursor >= self.order.len() {
                if self.order.is_empty() {
                    return None;
                }
                self.shuffle(rng);
                self.cursor = 0;
            }
            let slot = self.order[self.cursor];
            self.cursor += 1;
            if self.get(slot).is_some_and(&mut eligible) {
                return Some(slot);
            }
        }
        None
    }

    fn shuffle(&mut self, rng: &mut impl Rng) {
        for i in (1..self.order.len()).rev() {
            let j = bounded_random(rng, (i + 1) as u32) as usize;
            self.swap_order(i, j);
        }
    }

    /// A uniformly random member accepted by `eligible`: a few random draws,
    /// then a scan from a random start so a rare match is still found.
    pub fn random(
        &self,
        rng: &mut impl Rng,
        mut eligible: impl FnMut(Slot, &Member<A, B>) -> bool,
    ) -> Option<Slot> {
        let n = self.order.len();
        if n == 0 {
            return None;
        }
        if let Some(slot) = self.draw(rng, &mut eligible) {
            return Some(slot);
        }
        let start = bounded_random(rng, n as u32) as usize;
        (0..n)
            .map(|i| self.order[(start + i) % n])
            .find(|&slot| self.get(slot).is_some_and(|m| eligible(slot, m)))
    }

    /// A random member accepted by `eligible`, preferably one `preferred`
    /// also accepts: a few random draws for both, then [`Self::random`].
    pub fn random_preferring(
        &self,
        rng: &mut impl Rng,
        mut preferred: impl FnMut(&Member<A, B>) -> bool,
        mut eligible: impl FnMut(Slot, &Member<A, B>) -> bool,
    ) -> Option<Slot> {
        self.draw(rng, |slot, m| preferred(m) && eligible(slot, m))
            .or_else(|| self.random(rng, eligible))
    }

    /// A few uniformly random draws, the first member `accept` takes.
    fn draw(
        &self,
        rng: &mut impl Rng,
        mut accept: impl FnMut(Slot, &Member<A, B>) -> bool,
    ) -> Option<Slot> {
        let n = self.order.len();
        if n == 0 {
            return None;
        }
        (0..8).find_map(|_| {
            let slot = self.order[bounded_random(rng, n as u32) as usize];
            self.get(slot)
                .is_some_and(|m| accept(slot, m))
                .then_some(slot)
        })
    }

    /// One past the highest slot index ever used.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Members in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Member<A, B>> + '_ {
        self.order.iter().filter_map(|&s| self.get(s))
    }
}

/// Uniform integer in `0..n` (n > 0) without modulo bias worth noting:
/// Lemire's multiply-shift on 32 bits.
pub(crate) fn bounded_random(rng: &mut impl Rng, n: u32) -> u32 {
    ((u64::from(rng.next_u32()) * u64::from(n)) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Identity;
    use crate::time::Instant;
    use rand_core::SeedableRng;
    use rand_pcg::Pcg32;

    fn member(addr: u32) -> Member<u32, 8> {
        Member::verified(
            Identity {
                addr,
                generation: 0,
            },
            0,
            MemberState::Alive,
            Instant::ZERO,
        )
    }

    #[test]
    fn insert_find_remove() {
        let mut rng = Pcg32::seed_from_u64(1);
        let mut t: MemberTable<u32, 16, 8> = MemberTable::new(16, 0x5eed);
        for a in 0..10 {
            t.insert(member(a), &mut rng).unwrap();
        }
        assert!(t.insert(member(3), &mut rng).is_err());
        assert_eq!(t.len(), 10);
        assert_eq!(t.active(), 10);
        let s = t.find(&3).unwrap();
        assert_eq!(t.get(s).unwrap().id.addr, 3);
        t.remove(s).unwrap();
        assert_eq!(t.find(&3), None);
        assert_eq!(t.len(), 9);
        let again = t.insert(member(3), &mut rng).unwrap();
        assert_eq!(again, s, "freed slots are reused");
    }

    #[test]
    fn probe_order_visits_everyone_once_per_round() {
        let mut rng = Pcg32::seed_from_u64(2);
        let mut t: MemberTable<u32, 64, 8> = MemberTable::new(64, 0x5eed);
        for a in 0..20 {
            t.insert(member(a), &mut rng).unwrap();
        }
        for _round in 0..3 {
            let mut seen = [false; 20];
            for _ in 0..20 {
                let s = t.next_probe_target(&mut rng, |_| true).unwrap();
                let a = t.get(s).unwrap().id.addr as usize;
                assert!(!seen[a], "visited twice in a round");
                seen[a] = true;
            }
            assert!(seen.iter().all(|&x| x));
        }
    }

    #[test]
    fn removal_mid_round_keeps_remaining_members_in_the_round() {
        let mut rng = Pcg32::seed_from_u64(3);
        let mut t: MemberTable<u32, 64, 8> = MemberTable::new(64, 0x5eed);
        for a in 0..10 {
            t.insert(member(a), &mut rng).unwrap();
        }
        let mut seen = [false; 10];
        for _ in 0..4 {
            let s = t.next_probe_target(&mut rng, |_| true).unwrap();
            seen[t.get(s).unwrap().id.addr as usize] = true;
        }
        // Remove one already probed and one not yet probed.
        let probed = (0..10).find(|&a| seen[a]).unwrap() as u32;
        let unprobed = (0..10).find(|&a| !seen[a]).unwrap() as u32;
        t.remove(t.find(&probed).unwrap());
        t.remove(t.find(&unprobed).unwrap());
        for _ in 0..5 {
            let s = t.next_probe_target(&mut rng, |_| true).unwrap();
            let a = t.get(s).unwrap().id.addr as usize;
            assert!(!seen[a]);
            seen[a] = true;
        }
        seen[unprobed as usize] = true;
        assert!(seen.iter().all(|&x| x));
    }

    #[test]
    fn table_refuses_members_beyond_its_limit() {
        let mut rng = Pcg32::seed_from_u64(4);
        let mut t: MemberTable<u32, 64, 8> = MemberTable::new(3, 0x5eed);
        for a in 0..3 {
            t.insert(member(a), &mut rng).unwrap();
        }
        assert!(t.is_full());
        assert!(t.insert(member(9), &mut rng).is_err());
    }

    /// The digest a scan of the table gives.
    fn scanned(t: &MemberTable<u32, 64, 8>) -> ViewDigest {
        let mut d = ViewDigest::default();
        for m in t.iter().filter(|m| m.is_full_active()) {
            d.add(&m.id.addr, m.id.generation, m.incarnation, m.meta_version);
        }
        d
    }

    #[test]
    fn the_kept_digest_equals_a_scan_after_any_changes() {
        let mut rng = Pcg32::seed_from_u64(7);
        let mut t: MemberTable<u32, 64, 8> = MemberTable::new(64, 0x5eed);
        let states = [
            MemberState::Alive,
            MemberState::Suspect,
            MemberState::Dead,
            MemberState::Left,
        ];
        for step in 0..5_000u32 {
            let addr = bounded_random(&mut rng, 48);
            let slot = t.find(&addr);
            match (bounded_random(&mut rng, 7), slot) {
                (0, None) => {
                    let mut m = member(addr);
                    m.verified = bounded_random(&mut rng, 2) == 0;
                    let _ = t.insert(m, &mut rng);
                }
                (1, Some(s)) => {
                    t.remove(s);
                }
                (2, Some(s)) => {
                    let state = states[bounded_random(&mut rng, 4) as usize];
                    t.set_state(s, state);
                }
                (3, Some(s)) => t.set_verified(s),
                (4, Some(s)) => {
                    if let Some(m) = t.get_mut(s) {
                        m.incarnation += 1;
                        m.meta_version = step;
                    }
                    t.refresh_digest(s);
                }
                (5, Some(s)) => {
                    let generation = t.get(s).map_or(0, |m| m.id.generation + 1);
                    let mut fresh = member(addr);
                    fresh.id.generation = generation;
                    fresh.verified = bounded_random(&mut rng, 2) == 0;
                    t.replace(s, fresh);
                }
                _ => {}
            }
            assert_eq!(*t.digest(), scanned(&t), "after step {step}");
        }
        assert!(t.digest().count > 0, "the test exercised a non-empty view");
    }
}
