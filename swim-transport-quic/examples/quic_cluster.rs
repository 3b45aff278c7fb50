//! A small cluster over QUIC on loopback: generates a throwaway CA, binds
//! three sockets on free ports and issues each node a certificate naming
//! its address, starts three nodes, prints their events for a few
//! seconds (joins, key-value state updates, a broadcast, a graceful leave) and
//! exits.
//!
//! ```text
//! cargo run -p swim-transport-quic --example quic_cluster
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use swim_transport_quic::cert::ClusterCa;
use swim_transport_quic::{Config, Event, MemberState, Node, NodeOptions};

/// How long the cluster runs before it is shut down.
const RUN_FOR: Duration = Duration::from_secs(4);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ca = ClusterCa::generate("quic_cluster example")?;
    let bind: SocketAddr = "127.0.0.1:0".parse()?;

    let mut nodes = Vec::new();
    for i in 0..3 {
        // A free port first: the certificate names the node's address.
        let socket = std::net::UdpSocket::bind(bind)?;
        let credentials = ca.issue(socket.local_addr()?)?;
        let mut options = NodeOptions::with_socket(socket, credentials)?.config(Config::local());
        if let Some(first) = nodes.first().map(Node::local_addr) {
            options = options.seed(first);
        }
        let mut node = Node::start(options).await?;
        node.set_state(b"name", format!("node-{i}").as_bytes())
            .await?;
        println!("node {i} listening on {}", node.local_addr());
        let mut events = node.take_events();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                println!("node {i}: {}", describe(&event));
            }
        });
        nodes.push(node);
    }

    // Wait until the first node sees both others (or give up after RUN_FOR).
    let deadline = tokio::time::Instant::now() + RUN_FOR;
    while tokio::time::Instant::now() < deadline {
        let alive = nodes[0]
            .members()
            .await?
            .iter()
            .filter(|m| m.state == MemberState::Alive)
            .count();
        if alive == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    nodes[1].set_state(b"role", b"cache").await?;
    nodes[2].broadcast(None, b"hello over QUIC").await?;
    tokio::time::sleep_until(deadline).await;

    println!("members as node 0 sees them:");
    for member in nodes[0].members().await? {
        let text = |key: &[u8]| {
            let value = member.state_value(key).unwrap_or(b"-");
            String::from_utf8_lossy(value).into_owned()
        };
        println!(
            "  {} {:?} incarnation {} name={} role={}",
            member.addr(),
            member.state,
            member.incarnation,
            text(b"name"),
            text(b"role"),
        );
    }

    // Node 2 leaves gracefully; the others report it as left.
    let leaver = nodes.pop().ok_or("no node")?;
    let counters = leaver.shutdown(true).await?;
    println!(
        "node 2 left: {} datagrams sent, {} received, {} connections accepted",
        counters.transport.datagrams_sent,
        counters.transport.datagrams_received,
        counters.transport.incoming_accepted,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, node) in nodes.into_iter().enumerate() {
        let counters = node.shutdown(false).await?;
        println!(
            "node {i} stopped: {} datagrams sent, {} send drops, {} probes, {} timer runs",
            counters.transport.datagrams_sent,
            counters.transport.send_drops(),
            counters.protocol.probes_sent,
            counters.driver.timer_runs,
        );
    }
    Ok(())
}

fn describe(event: &Event) -> String {
    match event {
        Event::Broadcast {
            origin, payload, ..
        } => {
            format!(
                "broadcast from {}: {}",
                origin.addr,
                String::from_utf8_lossy(payload)
            )
        }
        Event::Message { from, payload } => {
            format!("message from {from}: {}", String::from_utf8_lossy(payload))
        }
        other => format!("{other:?}"),
    }
}
