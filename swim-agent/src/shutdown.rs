//! Stopping the agent: leaving (if the node ever joined), the node's own
//! shutdown, the exit code of the reason, and the marker that keeps a
//! decommissioned node from starting again from its data directory.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use swim_transport_udp::LocalStatus;

use crate::events::EventHub;
use crate::exit::{Failure, FailureKind};
use crate::shared::{Shared, StopReason};

/// The file in the data directory that keeps a decommissioned node from
/// starting again.
pub const DECOMMISSIONED_FILE: &str = "decommissioned";

/// Refuses to start from the data directory of a decommissioned node.
pub fn refuse_if_decommissioned(dir: &Path) -> Result<(), Failure> {
    let marker = dir.join(DECOMMISSIONED_FILE);
    match std::fs::read_to_string(&marker) {
        Ok(text) => Err(Failure::new(
            FailureKind::Decommissioned,
            format!(
                "this node was decommissioned ({}); it will not start again with this data directory (remove {} to start it as a new node)",
                text.trim(),
                marker.display()
            ),
        )),
        Err(_) => Ok(()),
    }
}

/// Leaves the marker that keeps this node from starting again.
pub fn mark_decommissioned(hub: &EventHub, dir: &Path, by: SocketAddr) {
    let marker = dir.join(DECOMMISSIONED_FILE);
    let text = format!(
        "order from {by} at unix time {} ms\n",
        crate::clock::unix_millis()
    );
    if let Err(e) = std::fs::write(&marker, text) {
        hub.notice(
            "decommissioned",
            format!("could not write {}: {e}", marker.display()),
        );
    }
}

/// Leaves (if the node ever joined) and stops the node; the result
/// carries the exit code of `reason`.
pub async fn stop(shared: Arc<Shared>, reason: StopReason) -> Result<(), Failure> {
    let status = shared.node.local().await.map(|l| l.status).ok();
    let joined = matches!(status, Some(LocalStatus::Joined));
    let why = match reason {
        StopReason::Signal => "signal received",
        StopReason::LeaveRequested => "leave requested over HTTP",
        StopReason::Decommissioned { .. } => "decommissioned",
        StopReason::NodeStopped => "the node stopped",
    };
    if joined {
        shared.hub.notice(
            "leaving",
            format!("{why}: leaving the cluster gracefully..."),
        );
    } else {
        shared.hub.notice(
            "stopping",
            format!("{why}: stopping (this node never joined a cluster, nothing to leave)"),
        );
    }
    let shared = match Arc::try_unwrap(shared) {
        Ok(shared) => {
            let hub = shared.hub;
            let result = shared.node.shutdown(joined).await;
            finish(&hub, result.map_err(|e| e.to_string()), joined);
            return outcome(reason);
        }
        Err(shared) => shared,
    };
    // Some task still holds the node: leave through the shared handle.
    let result = if joined {
        shared.node.leave().await.map_err(|e| e.to_string())
    } else {
        Ok(())
    };
    finish(&shared.hub, result, joined);
    outcome(reason)
}

fn finish(hub: &EventHub, result: Result<(), String>, joined: bool) {
    match result {
        Ok(()) if joined => hub.notice("stopped", "left the cluster; stopped"),
        Ok(()) => hub.notice("stopped", "stopped"),
        Err(e) => hub.notice(
            "stopped",
            format!("stopped; the leave did not complete: {e}"),
        ),
    }
}

fn outcome(reason: StopReason) -> Result<(), Failure> {
    match reason {
        StopReason::Decommissioned { by } => Err(Failure::new(
            FailureKind::Decommissioned,
            format!(
                "this node was decommissioned (order from {by}); it left the cluster and stopped"
            ),
        )),
        StopReason::NodeStopped => Err(Failure::internal(
            "the node stopped unexpectedly (see the lines above)",
        )),
        StopReason::Signal | StopReason::LeaveRequested => Ok(()),
    }
}
