//! The commands a node handle sends to the state machine.

use std::net::SocketAddr;

use swim_core::{CommandError, Identity};

use crate::{Channels, LocalInfo, Member};

/// A reply to a command that changes the protocol state.
pub(crate) type Done<C> = <C as Channels>::Reply<Result<(), CommandError>>;

/// A command for the node that only touches the state machine, with the
/// channel its answer goes back on; carried out by
/// [`NodeCore::apply`](crate::NodeCore::apply).
pub enum Request<C: Channels> {
    /// Every remembered remote member.
    Members(C::Reply<Vec<Member>>),
    /// The member at an address, if remembered.
    Member(SocketAddr, C::Reply<Option<Member>>),
    /// The local node.
    Local(C::Reply<LocalInfo>),
    /// New local metadata.
    SetMetadata(Vec<u8>, Done<C>),
    /// Sets (`Some`) or removes (`None`) a key of the local key-value
    /// state.
    SetState(Vec<u8>, Option<Vec<u8>>, Done<C>),
    /// A broadcast to every member, with an optional replacement key.
    Broadcast(Option<u64>, Vec<u8>, Done<C>),
    /// A message to one live member.
    SendMessage(SocketAddr, Vec<u8>, Done<C>),
    /// Joins (again) through seeds.
    Join(Vec<SocketAddr>, Done<C>),
    /// Refuses an identity and every older generation of its address
    /// (see `Swim::refuse`): forgotten at once, kept out from then on.
    Refuse(Identity<SocketAddr>, Done<C>),
    /// Lifts the refusal of an address; answers whether it was refused.
    LiftRefusal(SocketAddr, C::Reply<bool>),
    /// A graceful leave, answered once it has finished propagating (at
    /// `LocalEvent::Left`), or at once if the node already left.
    Leave(Done<C>),
}

impl<C: Channels> std::fmt::Debug for Request<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Request::Members(_) => "Members",
            Request::Member(..) => "Member",
            Request::Local(_) => "Local",
            Request::SetMetadata(..) => "SetMetadata",
            Request::SetState(..) => "SetState",
            Request::Broadcast(..) => "Broadcast",
            Request::SendMessage(..) => "SendMessage",
            Request::Join(..) => "Join",
            Request::Refuse(..) => "Refuse",
            Request::LiftRefusal(..) => "LiftRefusal",
            Request::Leave(_) => "Leave",
        };
        f.write_str(name)
    }
}
