//! Events the state machine reports to the application.

use crate::address::Identity;
use crate::storage::Payload;

/// A change the application may want to act on; drained with
/// [`Swim::poll_event`](crate::Swim::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<A, const N: usize> {
    /// A member was learned of for the first time (or again after it was
    /// forgotten, or with a new generation).
    MemberJoined(Identity<A>),
    /// A member is suspected of having failed.
    MemberSuspected(Identity<A>),
    /// A suspected or dead member proved to be alive again.
    MemberAlive(Identity<A>),
    /// A member was declared dead (failed without leaving).
    MemberFailed(Identity<A>),
    /// A member left gracefully.
    MemberLeft(Identity<A>),
    /// A member published new metadata.
    MemberUpdated(Identity<A>),
    /// A member was forgotten after `dead_member_retention`.
    MemberRemoved(Identity<A>),
    /// An application broadcast arrived (each one is delivered once).
    Broadcast {
        /// The member that sent it: its address and generation (which
        /// life of the node at that address).
        origin: Identity<A>,
        /// Key given by the sender, if any.
        key: Option<u64>,
        /// The application's bytes.
        payload: Payload<N>,
    },
    /// A direct message arrived.
    Message {
        /// Source address of the datagram.
        from: A,
        /// The application's bytes.
        payload: Payload<N>,
    },
    /// The local node's own state changed.
    Local(LocalEvent),
    /// The application did not poll events fast enough: `dropped` events
    /// after the previous one were lost (the newest are dropped, and this
    /// marker takes their place). Read the membership again
    /// ([`Swim::members`](crate::Swim::members)) to catch up.
    Lagged {
        /// How many events were lost here.
        dropped: u64,
    },
}

impl<A, const N: usize> Event<A, N> {
    /// A short lowercase name of the event's kind, for logs and JSON:
    /// `joined`, `suspect`, `alive`, `failed`, `left`, `updated`,
    /// `removed`, `broadcast`, `message`, `local-joined`, `local-refuted`,
    /// `local-left`, `local-new-generation`, `lagged`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Event::MemberJoined(_) => "joined",
            Event::MemberSuspected(_) => "suspect",
            Event::MemberAlive(_) => "alive",
            Event::MemberFailed(_) => "failed",
            Event::MemberLeft(_) => "left",
            Event::MemberUpdated(_) => "updated",
            Event::MemberRemoved(_) => "removed",
            Event::Broadcast { .. } => "broadcast",
            Event::Message { .. } => "message",
            Event::Local(LocalEvent::Joined) => "local-joined",
            Event::Local(LocalEvent::Refuted { .. }) => "local-refuted",
            Event::Local(LocalEvent::Left) => "local-left",
            Event::Local(LocalEvent::NewGeneration { .. }) => "local-new-generation",
            Event::Lagged { .. } => "lagged",
        }
    }

    /// The member a membership event is about (`MemberJoined` to
    /// `MemberRemoved`); `None` for broadcasts, messages and local events.
    pub fn member(&self) -> Option<&Identity<A>> {
        match self {
            Event::MemberJoined(id)
            | Event::MemberSuspected(id)
            | Event::MemberAlive(id)
            | Event::MemberFailed(id)
            | Event::MemberLeft(id)
            | Event::MemberUpdated(id)
            | Event::MemberRemoved(id) => Some(id),
            Event::Broadcast { .. }
            | Event::Message { .. }
            | Event::Local(_)
            | Event::Lagged { .. } => None,
        }
    }
}

/// Changes of the local node's own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalEvent {
    /// A seed answered: the node is part of a cluster.
    Joined,
    /// Others suspected this node or declared it dead; it refuted with a
    /// higher incarnation.
    Refuted {
        /// The new incarnation.
        incarnation: u32,
        /// True if the accusation was "dead" rather than "suspect".
        was_declared_dead: bool,
    },
    /// The graceful leave finished propagating; the node is now silent.
    Left,
    /// The incarnation counter was exhausted by an accusation at its
    /// maximum: the node continues under the next generation (persist it).
    NewGeneration {
        /// The new generation; the incarnation restarts at 0.
        generation: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_the_member_of_membership_events_only() {
        let id = Identity::new(7u32, 2);
        let about: [Event<u32, 8>; 7] = [
            Event::MemberJoined(id.clone()),
            Event::MemberSuspected(id.clone()),
            Event::MemberAlive(id.clone()),
            Event::MemberFailed(id.clone()),
            Event::MemberLeft(id.clone()),
            Event::MemberUpdated(id.clone()),
            Event::MemberRemoved(id.clone()),
        ];
        for event in &about {
            assert_eq!(event.member(), Some(&id), "{event:?}");
        }
        let message: Event<u32, 8> = Event::Message {
            from: 7,
            payload: Payload::default(),
        };
        assert_eq!(message.member(), None);
        assert_eq!(Event::<u32, 8>::Local(LocalEvent::Left).member(), None);
    }
}
