//! Which identities the local view admits: the embedder's policy and the
//! identities it refused (decommissioned nodes, banned addresses).
//!
//! Both are decisions the application makes on its own authority; nothing
//! a datagram says can add to them. A refused identity is forgotten at
//! once and every later record about it (or an older generation of its
//! address) is ignored, so that it cannot come back through gossip, a
//! push-pull or its own pings. A newer generation of the same address is
//! a new process and is admitted as usual.

use heapless::Vec as FixedVec;
use rand_core::Rng;

use super::Swim;
use crate::address::{Address, Identity};
use crate::error::CommandError;
use crate::time::Instant;

/// Most identities refused at once (see [`Swim::refuse`]).
pub const MAX_REFUSED: usize = 64;

/// A rule deciding, from its identity alone, whether a member may enter the
/// local view (for example an allow-list of addresses or networks). It is
/// a plain function so that it cannot reach into the state machine; it must
/// be deterministic. Metadata is not offered to it: a member's metadata is
/// whatever that member says about itself.
pub type AdmissionPolicy<A> = fn(&Identity<A>) -> bool;

/// The policy and the refusals.
#[derive(Debug)]
pub(super) struct Admission<A> {
    policy: Option<AdmissionPolicy<A>>,
    refused: FixedVec<Identity<A>, MAX_REFUSED>,
}

impl<A: Address> Admission<A> {
    pub(super) fn new() -> Self {
        Admission {
            policy: None,
            refused: FixedVec::new(),
        }
    }

    /// Whether records about `id` may enter the view.
    pub(super) fn admits(&self, id: &Identity<A>) -> bool {
        let refused = self
            .refused
            .iter()
            .any(|r| r.addr == id.addr && id.generation <= r.generation);
        !refused && self.policy.is_none_or(|admit| admit(id))
    }
}

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// Sets (or with `None` removes) the rule members must satisfy to enter
    /// the local view. Members already known that it refuses are forgotten
    /// at once ([`Event::MemberRemoved`](crate::Event::MemberRemoved));
    /// records about members it refuses are ignored from then on and
    /// counted in [`Counters::records_refused`](crate::Counters::records_refused).
    pub fn set_admission_policy(&mut self, now: Instant, policy: Option<AdmissionPolicy<A>>) {
        self.clamp(now);
        self.admission.policy = policy;
        self.forget_refused();
    }

    /// Refuses `identity` and every older generation of its address: the
    /// member is forgotten at once if known, and every later record about
    /// it is ignored, wherever it comes from. For a node taken out of the
    /// cluster for good (decommissioned) or banned: it can come back only
    /// as a newer generation. Refusing an identity again with a newer
    /// generation replaces the earlier refusal of that address.
    ///
    /// Fails with [`CommandError::LocalAddress`] for the local node's own
    /// address, and with [`CommandError::RefusalListFull`] when
    /// [`MAX_REFUSED`] addresses are refused already (lift one with
    /// [`Swim::lift_refusal`]).
    pub fn refuse(&mut self, now: Instant, identity: &Identity<A>) -> Result<(), CommandError> {
        self.clamp(now);
        if identity.addr == self.me.id.addr {
            return Err(CommandError::LocalAddress);
        }
        let refused = &mut self.admission.refused;
        match refused.iter_mut().find(|r| r.addr == identity.addr) {
            Some(known) => known.generation = known.generation.max(identity.generation),
            None => refused
                .push(identity.clone())
                .map_err(|_| CommandError::RefusalListFull)?,
        }
        self.forget_refused();
        Ok(())
    }

    /// Lifts the refusal of `addr`; true if it was refused.
    pub fn lift_refusal(&mut self, addr: &A) -> bool {
        let refused = &mut self.admission.refused;
        let before = refused.len();
        refused.retain(|r| r.addr != *addr);
        refused.len() != before
    }

    /// The identities refused with [`Swim::refuse`] (each refuses its
    /// generation and every older one).
    pub fn refusals(&self) -> impl Iterator<Item = &Identity<A>> + '_ {
        self.admission.refused.iter()
    }

    /// Forgets every remembered member the admission rules now refuse.
    /// O(members), only on a change of the rules.
    fn forget_refused(&mut self) {
        for slot in 0..self.members.slot_count() as u32 {
            let Some(member) = self.members.get(slot) else {
                continue;
            };
            if self.admission.admits(&member.id) {
                continue;
            }
            if member.verified {
                self.forget(slot);
            } else {
                self.forget_unverified(slot);
            }
        }
    }
}
