//! One handle over either transport's node (UDP with an optional keyring,
//! or QUIC with mutual TLS), with the methods the agent uses.

use std::net::SocketAddr;

use swim_transport_udp::{Event, Identity, LocalInfo, Member};
use tokio::sync::mpsc;

use crate::counters::{self, CounterSet};

/// A node's command failed; `stopped` when the node is no longer running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeError {
    /// What the transport said.
    pub message: String,
    /// True if the node has stopped (every later call fails too).
    pub stopped: bool,
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NodeError {}

impl From<swim_transport_udp::Error> for NodeError {
    fn from(e: swim_transport_udp::Error) -> Self {
        let stopped = matches!(e, swim_transport_udp::Error::Stopped);
        NodeError {
            message: e.to_string(),
            stopped,
        }
    }
}

impl From<swim_transport_quic::Error> for NodeError {
    fn from(e: swim_transport_quic::Error) -> Self {
        let stopped = matches!(e, swim_transport_quic::Error::Stopped);
        NodeError {
            message: e.to_string(),
            stopped,
        }
    }
}

/// How the cluster's traffic is protected, which decides whether
/// decommission orders can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// Plaintext UDP: anyone who reaches the port can forge anything.
    Plaintext,
    /// UDP sealed with a shared keyring: only key holders can speak.
    Keyring,
    /// QUIC with mutual TLS: only holders of a certificate from the cluster
    /// CA can speak, each as the address its certificate names.
    Certificates,
}

impl Protection {
    /// True when every datagram is authenticated.
    pub fn is_authenticated(self) -> bool {
        !matches!(self, Protection::Plaintext)
    }

    /// A short name for logs and the status page.
    pub fn name(self) -> &'static str {
        match self {
            Protection::Plaintext => "plaintext UDP",
            Protection::Keyring => "UDP with a keyring",
            Protection::Certificates => "QUIC with mutual TLS",
        }
    }
}

/// A running node on one of the transports.
#[derive(Debug)]
pub enum AgentNode {
    /// The UDP transport's tokio node.
    Udp {
        /// The node.
        node: swim_transport_udp::tokio::Node,
        /// Whether it seals datagrams with a keyring.
        keyed: bool,
    },
    /// The QUIC transport's node.
    Quic(swim_transport_quic::Node),
}

macro_rules! each {
    ($self:expr, $node:ident => $body:expr) => {
        match $self {
            AgentNode::Udp { node: $node, .. } => $body.map_err(NodeError::from),
            AgentNode::Quic($node) => $body.map_err(NodeError::from),
        }
    };
}

impl AgentNode {
    /// The protection of the cluster's traffic.
    pub fn protection(&self) -> Protection {
        match self {
            AgentNode::Udp { keyed: false, .. } => Protection::Plaintext,
            AgentNode::Udp { keyed: true, .. } => Protection::Keyring,
            AgentNode::Quic(_) => Protection::Certificates,
        }
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            AgentNode::Udp { node, .. } => node.local_addr(),
            AgentNode::Quic(node) => node.local_addr(),
        }
    }

    /// The address other members know this node by.
    pub fn advertise_addr(&self) -> SocketAddr {
        match self {
            AgentNode::Udp { node, .. } => node.advertise_addr(),
            AgentNode::Quic(node) => node.advertise_addr(),
        }
    }

    /// The node's events; callable once (later calls get a closed channel).
    pub fn take_events(&mut self) -> mpsc::Receiver<Event> {
        match self {
            AgentNode::Udp { node, .. } => node.take_events(),
            AgentNode::Quic(node) => node.take_events(),
        }
    }

    /// The remote members as this node sees them.
    pub async fn members(&self) -> Result<Vec<Member>, NodeError> {
        each!(self, node => node.members().await)
    }

    /// This node's own view of itself.
    pub async fn local(&self) -> Result<LocalInfo, NodeError> {
        each!(self, node => node.local().await)
    }

    /// Joins (again) through `seeds`.
    pub async fn join(&self, seeds: &[SocketAddr]) -> Result<(), NodeError> {
        each!(self, node => node.join(seeds).await)
    }

    /// Leaves gracefully; the node then stays silent.
    pub async fn leave(&self) -> Result<(), NodeError> {
        each!(self, node => node.leave().await)
    }

    /// Sends an application broadcast to every member.
    pub async fn broadcast(&self, key: Option<u64>, payload: &[u8]) -> Result<(), NodeError> {
        each!(self, node => node.broadcast(key, payload).await)
    }

    /// Sends a direct message to one member.
    pub async fn send_message(&self, to: SocketAddr, payload: &[u8]) -> Result<(), NodeError> {
        each!(self, node => node.send_message(to, payload).await)
    }

    /// Refuses `identity` from now on (see `swim_core::Swim::refuse`):
    /// records about its address at its generation or lower are dropped
    /// and counted, and a present member is removed.
    pub async fn refuse(&self, identity: &Identity<SocketAddr>) -> Result<(), NodeError> {
        each!(self, node => node.refuse(identity.clone()).await)
    }

    /// Every counter of the node, its transport's included.
    pub async fn counters(&self) -> Result<CounterSet, NodeError> {
        let mut set = CounterSet::default();
        match self {
            AgentNode::Udp { node, .. } => {
                let c = node.counters().await?;
                counters::add_protocol(&mut set, &c.protocol);
                counters::add_driver(&mut set, &c.driver);
                counters::add_udp(&mut set, &c.transport);
            }
            AgentNode::Quic(node) => {
                let c = node.counters().await?;
                counters::add_protocol(&mut set, &c.protocol);
                counters::add_driver(&mut set, &c.driver);
                counters::add_quic(&mut set, &c.transport);
            }
        }
        Ok(set)
    }

    /// Stops the node, leaving gracefully first if `leave`.
    pub async fn shutdown(self, leave: bool) -> Result<(), NodeError> {
        match self {
            AgentNode::Udp { node, .. } => node.shutdown(leave).await.map(drop)?,
            AgentNode::Quic(node) => node.shutdown(leave).await.map(drop)?,
        }
        Ok(())
    }
}
