//! The commands a node handle sends to the state machine, and how the node
//! carries them out.

use std::net::SocketAddr;

use swim_core::{CommandError, Instant};

use crate::{Clock, LocalInfo, Member, NodeSwim};

/// A transport's reply channel: a one-shot sender of one answer.
///
/// Implemented by a marker type of each transport, since the channels
/// differ (std `mpsc` for the UDP thread, tokio `oneshot` for the QUIC
/// task).
pub trait Replies {
    /// The sending half of a reply channel carrying a `T`.
    type Reply<T: Send + 'static>: Send;

    /// Sends the answer, best effort: a handle that stopped waiting is no
    /// error.
    fn send<T: Send + 'static>(reply: Self::Reply<T>, answer: T);
}

/// A reply to a command that changes the protocol state.
type Done<R> = <R as Replies>::Reply<Result<(), CommandError>>;

/// A command for the node that only touches the state machine; `R` is the
/// transport's reply channel.
pub enum Request<R: Replies> {
    /// Every remembered remote member.
    Members(R::Reply<Vec<Member>>),
    /// The member at an address, if remembered.
    Member(SocketAddr, R::Reply<Option<Member>>),
    /// The local node.
    Local(R::Reply<LocalInfo>),
    /// New local metadata.
    SetMetadata(Vec<u8>, Done<R>),
    /// Sets (`Some`) or removes (`None`) a key of the local key-value
    /// state.
    SetState(Vec<u8>, Option<Vec<u8>>, Done<R>),
    /// A broadcast to every member, with an optional replacement key.
    Broadcast(Option<u64>, Vec<u8>, Done<R>),
    /// A message to one live member.
    SendMessage(SocketAddr, Vec<u8>, Done<R>),
    /// Joins (again) through seeds.
    Join(Vec<SocketAddr>, Done<R>),
    /// A graceful leave, answered once it has finished propagating.
    Leave(Done<R>),
}

impl<R: Replies> Request<R> {
    /// Carries the request out on `swim` at `now` and answers it, except a
    /// leave that has started: its reply is pushed to `pending_leaves`, for
    /// the transport to answer with `Ok(())` at `LocalEvent::Left` (see
    /// [`Request::finish_leaves`]). Leaving again after the node has left
    /// is answered `Ok(())` at once.
    pub fn apply(
        self,
        swim: &mut NodeSwim,
        clock: &Clock,
        now: Instant,
        pending_leaves: &mut Vec<Done<R>>,
    ) {
        let member = |m: swim_core::MemberView<'_, SocketAddr>| -> Member {
            m.to_snapshot().map_since(|t| clock.to_std(t))
        };
        match self {
            Request::Members(reply) => R::send(reply, swim.members().map(member).collect()),
            Request::Member(addr, reply) => R::send(reply, swim.member(&addr).map(member)),
            Request::Local(reply) => R::send(reply, swim.local().to_snapshot()),
            Request::SetMetadata(data, reply) => R::send(reply, swim.set_metadata(now, &data)),
            Request::SetState(key, Some(value), reply) => {
                R::send(reply, swim.set_local_state(now, &key, &value));
            }
            Request::SetState(key, None, reply) => {
                R::send(reply, swim.remove_local_state(now, &key));
            }
            Request::Broadcast(key, payload, reply) => {
                R::send(reply, swim.broadcast(now, key, &payload));
            }
            Request::SendMessage(to, payload, reply) => {
                R::send(reply, swim.send_message(now, &to, &payload));
            }
            Request::Join(seeds, reply) => R::send(reply, swim.join(now, &seeds)),
            Request::Leave(reply) => match swim.leave(now) {
                Ok(()) => pending_leaves.push(reply),
                Err(CommandError::HasLeft) => R::send(reply, Ok(())),
                Err(e) => R::send(reply, Err(e)),
            },
        }
    }

    /// Answers every pending leave with `Ok(())` (at `LocalEvent::Left`).
    pub fn finish_leaves(pending_leaves: &mut Vec<Done<R>>) {
        for reply in pending_leaves.drain(..) {
            R::send(reply, Ok(()));
        }
    }
}
