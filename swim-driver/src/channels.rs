//! The channels a driver answers commands and hands events on.

use crate::Event;

/// What became of an event handed to the application's channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// It is in the channel.
    Delivered,
    /// The channel was full: the event was dropped.
    Full,
    /// Nobody reads the channel any more: the event was dropped.
    Closed,
}

/// A driver's channels: the one-shot reply channel of a command, and the
/// bounded channel events go to. Implemented by marker types:
/// [`StdChannels`] for a driver thread, `TokioChannels` (feature `tokio`)
/// for a driver task.
pub trait Channels {
    /// The sending half of a one-shot reply channel carrying a `T`.
    type Reply<T: Send + 'static>: Send;
    /// The sending half of the application's event channel.
    type Events: Send;

    /// Sends the answer, best effort: a handle that stopped waiting is no
    /// error.
    fn reply<T: Send + 'static>(reply: Self::Reply<T>, answer: T);

    /// Hands an event over without waiting.
    fn deliver(events: &Self::Events, event: Event) -> Delivery;
}

/// Channels of std: a bounded `sync_channel(1)` per reply, a bounded
/// `sync_channel` for events.
#[derive(Debug)]
pub enum StdChannels {}

impl Channels for StdChannels {
    type Reply<T: Send + 'static> = std::sync::mpsc::SyncSender<T>;
    type Events = std::sync::mpsc::SyncSender<Event>;

    fn reply<T: Send + 'static>(reply: Self::Reply<T>, answer: T) {
        let _ = reply.try_send(answer);
    }

    fn deliver(events: &Self::Events, event: Event) -> Delivery {
        use std::sync::mpsc::TrySendError;
        match events.try_send(event) {
            Ok(()) => Delivery::Delivered,
            Err(TrySendError::Full(_)) => Delivery::Full,
            Err(TrySendError::Disconnected(_)) => Delivery::Closed,
        }
    }
}

/// Channels of tokio: a `oneshot` per reply, a bounded `mpsc` channel for
/// events.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub enum TokioChannels {}

#[cfg(feature = "tokio")]
impl Channels for TokioChannels {
    type Reply<T: Send + 'static> = tokio::sync::oneshot::Sender<T>;
    type Events = tokio::sync::mpsc::Sender<Event>;

    fn reply<T: Send + 'static>(reply: Self::Reply<T>, answer: T) {
        let _ = reply.send(answer);
    }

    fn deliver(events: &Self::Events, event: Event) -> Delivery {
        use tokio::sync::mpsc::error::TrySendError;
        match events.try_send(event) {
            Ok(()) => Delivery::Delivered,
            Err(TrySendError::Full(_)) => Delivery::Full,
            Err(TrySendError::Closed(_)) => Delivery::Closed,
        }
    }
}
