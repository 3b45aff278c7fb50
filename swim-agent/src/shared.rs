//! What the agent's tasks share: the node, the event hub, the control
//! rule and the way to ask the agent to stop.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::events::EventHub;
use crate::http::auth::ControlAuth;
use crate::node::AgentNode;

/// Why the agent stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C or SIGTERM: leave gracefully, exit 0.
    Signal,
    /// `POST /v1/leave`: leave gracefully, exit 0.
    LeaveRequested,
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
    stop: mpsc::Sender<StopReason>,
}

impl Shared {
    /// The shared state, and the receiver of stop requests.
    pub fn new(
        node: AgentNode,
        hub: EventHub,
        auth: ControlAuth,
    ) -> (Self, mpsc::Receiver<StopReason>) {
        // One request is enough: the first one wins, later ones are
        // dropped (the agent is stopping already).
        let (stop, stops) = mpsc::channel(1);
        let shared = Shared {
            node,
            hub,
            started: Instant::now(),
            auth,
            stop,
        };
        (shared, stops)
    }

    /// Asks the agent to stop; a no-op if a stop is pending already.
    pub fn request_stop(&self, reason: StopReason) {
        let _ = self.stop.try_send(reason);
    }
}
