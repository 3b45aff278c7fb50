//! Loading a known membership: a node restarted with a saved member table
//! comes back knowing the cluster, without re-gossiping it.
//!
//! The export side is [`Swim::members`] (or its owned snapshots with
//! `alloc`): save every view, then hand each back to
//! [`Swim::import_member`] after a restart.

use rand_core::Rng;

use super::{LocalStatus, Swim};
use crate::address::{Address, Identity};
use crate::error::CommandError;
use crate::event::{Event, LocalEvent};
use crate::member::Member;
use crate::state::MemberState;
use crate::storage::Payload;
use crate::time::Instant;

/// A member as saved from [`Swim::members`], to load with
/// [`Swim::import_member`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownMember<'a, A> {
    /// Its address and generation.
    pub identity: &'a Identity<A>,
    /// Its incarnation.
    pub incarnation: u32,
    /// Its state. A suspect is loaded as alive (the suspicion's timer is
    /// not saved: the next probe decides); dead and left members are
    /// remembered for `dead_member_retention` from the import.
    pub state: MemberState,
    /// Its metadata.
    pub metadata: &'a [u8],
    /// The version of that metadata (see
    /// [`MemberView::metadata_version`](super::MemberView::metadata_version)).
    pub metadata_version: u32,
}

impl<'a, A> From<&super::MemberView<'a, A>> for KnownMember<'a, A> {
    fn from(view: &super::MemberView<'a, A>) -> Self {
        KnownMember {
            identity: view.identity,
            incarnation: view.incarnation,
            state: view.state,
            metadata: view.metadata,
            metadata_version: view.metadata_version,
        }
    }
}

impl<A: Address, R: Rng, const N: usize, const B: usize> Swim<A, R, N, B> {
    /// Loads a member saved before a restart (or known otherwise) into the
    /// table, trusted as if it had answered a ping. Nothing is sent and no
    /// event is reported for it: the member is neither gossiped (the others
    /// know it already) nor synchronised with; the periodic anti-entropy
    /// repairs what changed meanwhile, and probes find who is gone.
    ///
    /// An idle node that loads an alive member counts as joined
    /// ([`LocalEvent::Joined`]): it probes and gossips at once, and the
    /// others learn its own (new) identity from its pings and gossip. Call
    /// [`Swim::join`] as well to also exchange tables with seeds.
    ///
    /// Returns `Ok(false)` when the table already knows as much (the same
    /// identity at an equal or higher precedence). Fails with
    /// [`CommandError::LocalAddress`] for the local node's address,
    /// [`CommandError::Refused`] for an identity the admission rules
    /// refuse, [`CommandError::MetadataTooLarge`], and
    /// [`CommandError::TableFull`] when `max_members` are remembered.
    pub fn import_member(
        &mut self,
        now: Instant,
        member: KnownMember<'_, A>,
    ) -> Result<bool, CommandError> {
        let now = self.clamp(now);
        self.check_not_left()?;
        let id = member.identity;
        if id.addr == self.me.id.addr {
            return Err(CommandError::LocalAddress);
        }
        if !self.admission.admits(id) {
            return Err(CommandError::Refused);
        }
        if member.metadata.len() > usize::from(self.config.max_metadata_len) {
            return Err(CommandError::MetadataTooLarge);
        }
        let meta = Payload::from_slice(member.metadata).ok_or(CommandError::MetadataTooLarge)?;
        let state = match member.state {
            MemberState::Suspect => MemberState::Alive,
            other => other,
        };
        let mut loaded = Member::verified(id.clone(), member.incarnation, state, now);
        loaded.meta = meta;
        loaded.meta_version = member.metadata_version;
        if let Some(slot) = self.members.find(&id.addr) {
            let known = self.members.get(slot).map(|m| (m.verified, m.precedence()));
            if known.is_some_and(|(verified, p)| verified && p >= loaded.precedence()) {
                return Ok(false);
            }
            // An older or unverified record of the address: replaced.
            self.forget_quietly(slot);
        }
        let slot = self
            .members
            .insert(loaded, &mut self.rng)
            .map_err(|_| CommandError::TableFull)?;
        if !state.is_active() {
            self.schedule_reap(slot, now);
        } else if self.me.status == LocalStatus::Idle {
            self.me.status = LocalStatus::Joined;
            self.emit(Event::Local(LocalEvent::Joined));
        }
        Ok(true)
    }

    /// Forgets a member without an event (it is replaced at once).
    fn forget_quietly(&mut self, slot: crate::members::Slot) {
        self.remove_suspicion(slot);
        self.drop_checks_of(slot);
        self.members.remove(slot);
    }
}
