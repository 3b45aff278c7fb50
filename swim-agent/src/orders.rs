//! The agent's side of decommissioning (see [`crate::decommission`] for
//! the order and its authority): sending an order, and acting on one.

use std::net::SocketAddr;

use swim_transport_udp::Identity;

use crate::decommission::Order;
use crate::shared::{Shared, StopReason};

/// Why an order was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueError {
    /// The cluster is plaintext: nobody may trust an order.
    Unauthenticated,
    /// The order names this agent's own node.
    OwnNode,
    /// No generation was given and the address is not a known member.
    UnknownMember(SocketAddr),
    /// The node refused or has stopped.
    Node(String),
}

impl std::fmt::Display for IssueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IssueError::Unauthenticated => f.write_str(
                "decommission needs an authenticated cluster (a key file or QUIC certificates): on plaintext UDP anyone could forge the order, so agents neither send nor obey it",
            ),
            IssueError::OwnNode => f.write_str(
                "that is this agent's own node: decommission it from another agent, or stop it with `swim leave`",
            ),
            IssueError::UnknownMember(addr) => write!(
                f,
                "{addr} is not a member known to this agent: give its generation"
            ),
            IssueError::Node(why) => write!(f, "the node refused: {why}"),
        }
    }
}

/// Decommissions the node at `addr` (at `generation`, or the generation
/// this agent knows it by): tells the node itself, tells every member,
/// and refuses the identity here. Returns the identity taken out.
pub async fn issue(
    shared: &Shared,
    addr: SocketAddr,
    generation: Option<u32>,
) -> Result<Identity<SocketAddr>, IssueError> {
    if !shared.node.protection().is_authenticated() {
        return Err(IssueError::Unauthenticated);
    }
    if addr == shared.node.advertise_addr() {
        return Err(IssueError::OwnNode);
    }
    let member = shared
        .node
        .members()
        .await
        .map_err(|e| IssueError::Node(e.to_string()))?
        .into_iter()
        .find(|m| m.addr() == addr);
    let generation = match (generation, &member) {
        (Some(g), _) => g,
        (None, Some(m)) => m.identity.generation,
        (None, None) => return Err(IssueError::UnknownMember(addr)),
    };
    let order = Order::new(Identity::new(addr, generation));
    let payload = order.encode();
    if member.as_ref().is_some_and(|m| m.is_active()) {
        // The node itself first, while it is still a member here; lost
        // datagrams are covered by the other agents, which tell it too.
        let _ = shared.node.send_message(addr, &payload).await;
    }
    shared
        .node
        .broadcast(Some(order.broadcast_key()), &payload)
        .await
        .map_err(|e| IssueError::Node(e.to_string()))?;
    shared
        .node
        .refuse(&order.identity)
        .await
        .map_err(|e| IssueError::Node(e.to_string()))?;
    keep(shared, &order.identity);
    shared.hub.notice(
        "decommission",
        format!(
            "decommissioned {addr} (generation {generation} and older): order sent to every member"
        ),
    );
    Ok(order.identity)
}

/// Keeps a refusal for the next start (with a data directory).
fn keep(shared: &Shared, identity: &Identity<SocketAddr>) {
    if let Err(e) = shared.refusals.record(identity) {
        shared.hub.notice(
            "decommission-failed",
            format!(
                "the refusal of {} will not survive a restart: {e}",
                identity.addr
            ),
        );
    }
}

/// Acts on an order received from `from` (a broadcast's origin or a
/// message's sender).
pub async fn obey(shared: &Shared, order: Order, from: SocketAddr) {
    let target = order.identity.clone();
    if !shared.node.protection().is_authenticated() {
        shared.hub.notice(
            "decommission-ignored",
            format!(
                "ignored an order from {from} to decommission {} : this cluster is plaintext, anyone could have forged it",
                target.addr
            ),
        );
        return;
    }
    let me = match shared.node.local().await {
        Ok(local) => local.identity,
        Err(_) => return,
    };
    if order.names(&me) {
        shared.hub.notice(
            "decommissioned",
            format!(
                "this node ({}, generation {}) was decommissioned by {from}: leaving and stopping",
                me.addr, me.generation
            ),
        );
        shared.request_stop(StopReason::Decommissioned { by: from });
        return;
    }
    if target.addr == me.addr {
        // An order about an older generation of this address: not us.
        return;
    }
    let present = shared
        .node
        .members()
        .await
        .ok()
        .and_then(|ms| ms.into_iter().find(|m| m.addr() == target.addr))
        .filter(|m| m.is_active() && m.identity.generation <= target.generation);
    if present.is_some() {
        // Tell the node itself too, before forgetting it.
        let _ = shared.node.send_message(target.addr, &order.encode()).await;
    }
    match shared.node.refuse(&target).await {
        Ok(()) => {
            keep(shared, &target);
            shared.hub.notice(
                "decommission",
                format!(
                    "{} (generation {} and older) decommissioned by {from}: refused from now on",
                    target.addr, target.generation
                ),
            );
        }
        Err(e) => shared.hub.notice(
            "decommission-failed",
            format!("could not refuse {}: {e}", target.addr),
        ),
    }
}
