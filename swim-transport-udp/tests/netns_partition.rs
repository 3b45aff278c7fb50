//! Issue 11's real-process case, one short run: 10 processes of the `node`
//! example (LAN preset), each in its own network namespace, split 5 | 5
//! until every node has declared every node of the other side failed and
//! for `gossip_to_the_dead_time` more (so that no node still gossips to
//! the other side: the heal must come from the anti-entropy rounds), then
//! healed. Every node must see all 9 others alive within 5 s of the heal.
//! About 45 s of wall time.
//!
//! The namespaces hang off a switch namespace with two bridges, one per
//! side, joined by a veth pair: the partition takes that pair down, the
//! heal brings it up. Nothing is created outside the test's own
//! namespaces, which are deleted when the test ends, passed or not.
//!
//! Needs root and `ip netns` (iproute2); without them the test prints why
//! and passes without running. `tests/scripts/netns_partition.sh` measures
//! the same over ten 60 s partitions at different heal phases.
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use swim_transport_udp::Config;

const NODES: usize = 10;
const HALF: usize = 5;
const PORT: u16 = 7946;
/// The target of issue 11.
const HEAL_TARGET: Duration = Duration::from_secs(5);
/// How long to wait for the heal before giving up (to print the times).
const HEAL_WAIT: Duration = Duration::from_secs(20);
/// Longest wait for the detection of the partition (about 8-14 s at 10
/// nodes with the LAN preset).
const DETECT_WAIT: Duration = Duration::from_secs(45);

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("?");
    if euid != "0" {
        return Some(format!("not root (effective uid {euid})"));
    }
    if let Err(e) = ip(&["netns", "list"]) {
        return Some(format!("`ip netns` is unavailable: {e}"));
    }
    None
}

/// The test's namespaces: deleted on drop.
struct Network {
    prefix: String,
    created: Vec<String>,
}

impl Network {
    fn switch(&self) -> String {
        format!("{}sw", self.prefix)
    }

    fn node_ns(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    fn add_ns(&mut self, name: String) -> Result<(), String> {
        ip(&["netns", "add", &name])?;
        self.created.push(name);
        Ok(())
    }

    /// A switch namespace with bridges `bra` (nodes 0-4) and `brb` (nodes
    /// 5-9) joined by the veth pair `xa`-`xb`, and a namespace per node
    /// whose `eth0` (10.0.0.(i+1)/24) is a port of its side's bridge.
    fn build(nodes: usize) -> Result<Network, String> {
        let mut net = Network {
            prefix: format!("swimt{}", std::process::id()),
            created: Vec::new(),
        };
        let sw = net.switch();
        net.add_ns(sw.clone())?;
        for args in [
            &["link", "add", "bra", "type", "bridge"][..],
            &["link", "add", "brb", "type", "bridge"],
            &["link", "add", "xa", "type", "veth", "peer", "name", "xb"],
            &["link", "set", "xa", "master", "bra"],
            &["link", "set", "xb", "master", "brb"],
        ] {
            ip(&[&["-n", &sw][..], args].concat())?;
        }
        for link in ["bra", "brb", "xa", "xb"] {
            ip(&["-n", &sw, "link", "set", link, "up"])?;
        }
        for i in 0..nodes {
            let ns = net.node_ns(i);
            net.add_ns(ns.clone())?;
            let port = format!("p{i}");
            let bridge = if i < HALF { "bra" } else { "brb" };
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &sw, "link", "set", &port, "master", bridge])?;
            ip(&["-n", &sw, "link", "set", &port, "up"])?;
            let cidr = format!("10.0.0.{}/24", i + 1);
            ip(&["-n", &ns, "addr", "add", &cidr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// Cuts (false) or restores (true) the link between the two sides.
    fn connect_sides(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.switch(), "link", "set", "xa", state]).expect("the inter-bridge link");
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for name in self.created.iter().rev() {
            if let Err(e) = ip(&["netns", "delete", name]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

fn addr_of(i: usize) -> String {
    format!("10.0.0.{}:{PORT}", i + 1)
}

/// One `node --json` process in a namespace and every JSON line it printed.
struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Process {
    fn start(binary: &Path, ns: &str, bind: &str, seed: Option<&str>) -> Process {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]).arg(binary).args([
            "--bind",
            bind,
            "--preset",
            "lan",
            "--json",
            "--label",
            "netns-partition-test",
        ]);
        if let Some(seed) = seed {
            command.args(["--join", seed]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ip netns exec starts");
        let stdout = child.stdout.take().expect("piped");
        let lines = common::collect_json_lines(stdout);
        Process { child, lines }
    }

    /// Distinct members this node reported joined.
    fn joined(&self) -> usize {
        let lines = self.lines.lock().unwrap();
        let mut addrs: Vec<&str> = lines
            .iter()
            .filter(|v| v["event"] == "joined")
            .filter_map(|v| v["addr"].as_str())
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        addrs.len()
    }

    /// True once this node reported each of `others` failed at or after
    /// `since_ms`.
    fn declared_failed(&self, others: &[String], since_ms: u64) -> bool {
        let lines = self.lines.lock().unwrap();
        others.iter().all(|addr| {
            lines.iter().any(|v| {
                v["event"] == "failed"
                    && v["addr"] == addr.as_str()
                    && v["unix_ms"].as_u64() >= Some(since_ms)
            })
        })
    }

    /// The first time (unix ms) at or after `since_ms` at which this node's
    /// view, built from its events, held every one of `peers` alive.
    fn all_alive_at(&self, peers: &[String], since_ms: u64) -> Option<u64> {
        let lines = self.lines.lock().unwrap();
        let mut state: std::collections::HashMap<&str, &str> = Default::default();
        for v in lines.iter() {
            let (Some(addr), Some(event)) = (v["addr"].as_str(), v["event"].as_str()) else {
                continue;
            };
            let s = match event {
                "joined" | "alive" => "alive",
                "suspect" | "failed" | "left" | "removed" => event,
                _ => continue,
            };
            state.insert(addr, s);
            let at = v["unix_ms"].as_u64().unwrap_or(0);
            if at >= since_ms
                && peers
                    .iter()
                    .all(|p| state.get(p.as_str()) == Some(&"alive"))
            {
                return Some(at);
            }
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 50 ms for at most `limit`; true if it held.
fn poll(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ten_processes_heal_a_partition_within_5_s() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let binary = common::node_binary();
    let net = Network::build(NODES).expect("the test network");
    let mut nodes = Vec::new();
    for i in 0..NODES {
        let seed = (i > 0).then(|| addr_of(0));
        nodes.push(Process::start(
            &binary,
            &net.node_ns(i),
            &addr_of(i),
            seed.as_deref(),
        ));
    }
    let peers: Vec<Vec<String>> = (0..NODES)
        .map(|i| (0..NODES).filter(|&j| j != i).map(addr_of).collect())
        .collect();
    let other_side: Vec<Vec<String>> = (0..NODES)
        .map(|i| {
            (0..NODES)
                .filter(|&j| (i < HALF) != (j < HALF))
                .map(addr_of)
                .collect()
        })
        .collect();
    common::wait_until("every node reported the 9 others joined", || {
        nodes.iter().all(|n| n.joined() == NODES - 1)
    });

    let split_ms = unix_ms();
    net.connect_sides(false);
    let started = Instant::now();
    let detected = poll(DETECT_WAIT, || {
        nodes
            .iter()
            .zip(&other_side)
            .all(|(n, others)| n.declared_failed(others, split_ms))
    });
    assert!(
        detected,
        "not every node declared the other side failed within {DETECT_WAIT:?}"
    );
    eprintln!(
        "{:.2} s until every node declared the other side failed",
        started.elapsed().as_secs_f64()
    );
    // Past the window in which nodes still gossip to members they hold dead.
    std::thread::sleep(Config::lan().gossip_to_the_dead_time + Duration::from_secs(1));

    let heal_ms = unix_ms();
    net.connect_sides(true);
    poll(HEAL_WAIT, || {
        nodes
            .iter()
            .zip(&peers)
            .all(|(n, p)| n.all_alive_at(p, heal_ms).is_some())
    });
    let times: Vec<Option<f64>> = nodes
        .iter()
        .zip(&peers)
        .map(|(n, p)| {
            n.all_alive_at(p, heal_ms)
                .map(|t| t.saturating_sub(heal_ms) as f64 / 1000.0)
        })
        .collect();
    for (i, t) in times.iter().enumerate() {
        match t {
            Some(t) => eprintln!("node {i}: all 9 others alive {t:.2} s after the heal"),
            None => eprintln!("node {i}: not all others alive {HEAL_WAIT:?} after the heal"),
        }
    }
    let target = HEAL_TARGET.as_secs_f64();
    assert!(
        times.iter().all(|t| t.is_some_and(|t| t <= target)),
        "every node must see all others alive within {target} s of the heal: {times:?}"
    );
}
