//! What the agent's tasks share: the node, the event hub, the control
//! rule and the way to ask the agent to stop.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use crate::events::EventHub;
use crate::http::auth::ControlAuth;
use crate::node::AgentNode;
use crate::refusals::RefusalFile;

/// Why the agent stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C or SIGTERM: leave gracefully, exit 0.
    Signal,
    /// `POST /v1/leave`: leave gracefully, exit 0.
    LeaveRequested,
    /// The node's task ended by itself (it should not): exit 1.
    NodeStopped,
    /// The node learned it was decommissioned (by the order's sender):
    /// leave, exit 5.
    Decommissioned {
        /// The member that sent the order.
        by: SocketAddr,
    },
}

/// The agent's shared state.
#[derive(Debug)]
pub struct Shared {
    /// The running node.
    pub node: AgentNode,
    /// Log lines, recent events, server-sent event subscribers.
    pub hub: EventHub,
    /// When the agent started.
    pub started: Instant,
    /// Who may use the control endpoints.
    pub auth: ControlAuth,
    /// The decommissioned identities, kept for the next start.
    pub refusals: RefusalFile,
    stop: mpsc::Sender<StopReason>,
    event_subscribers: AtomicUsize,
    closing: watch::Sender<bool>,
}

/// Most server-sent event streams open at once; more are refused (503).
pub const MAX_EVENT_SUBSCRIBERS: usize = 64;

impl Shared {
    /// The shared state, and the receiver of stop requests.
    pub fn new(
        node: AgentNode,
        hub: EventHub,
        auth: ControlAuth,
        refusals: RefusalFile,
    ) -> (Self, mpsc::Receiver<StopReason>) {
        // One request is enough: the first one wins, later ones are
        // dropped (the agent is stopping already).
        let (stop, stops) = mpsc::channel(1);
        let shared = Shared {
            node,
            hub,
            started: Instant::now(),
            auth,
            refusals,
            stop,
            event_subscribers: AtomicUsize::new(0),
            closing: watch::Sender::new(false),
        };
        (shared, stops)
    }

    /// Takes one of the [`MAX_EVENT_SUBSCRIBERS`] event stream slots;
    /// `false` when all are taken. Give it back with
    /// [`Shared::release_event_subscriber`].
    pub fn take_event_subscriber(&self) -> bool {
        self.event_subscribers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_EVENT_SUBSCRIBERS).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back an event stream slot.
    pub fn release_event_subscriber(&self) {
        let _ = self
            .event_subscribers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Tells the open event streams to end (the agent is stopping).
    pub fn close_event_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Changes to `true` when the event streams must end.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Asks the agent to stop; a no-op if a stop is pending already.
    pub fn request_stop(&self, reason: StopReason) {
        let _ = self.stop.try_send(reason);
    }
}
