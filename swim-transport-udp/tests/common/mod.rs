// Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swim_transport_udp::{Config, Event, Node, NodeOptions};

/// Generous: the tests must pass on a loaded two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `condition` every 20 ms until it holds; panics with `what` after
/// `DEADLINE`.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    let deadline = start + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("{:.2} s until {what}", start.elapsed().as_secs_f64());
}

/// Waits for the first event matching `wanted` on `node`, skipping others.
pub fn wait_event(node: &Node, what: &str, mut wanted: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_default();
        match node.recv_event(left) {
            Some(event) if wanted(&event) => return event,
            Some(_) => {}
            None => panic!("timed out waiting for {what}"),
        }
    }
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Options for a loopback node with the `local` preset and a test label.
pub fn options(label: &str) -> NodeOptions {
    NodeOptions::new(loopback()).config(Config::local().with_label(label))
}

/// True once `node` sees `addr` alive or suspect.
pub fn sees_active(node: &Node, addr: SocketAddr) -> bool {
    node.member(addr).unwrap().is_some_and(|m| m.is_active())
}

/// Builds the `node` example (a no-op when it is up to date) and returns
/// the path of its executable, as reported by cargo: for the tests that
/// run real node processes.
pub fn node_binary() -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "swim-transport-udp",
            "--example",
            "node",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building the node example failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "node")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the example's executable")
}

/// The first datagram a fresh core with `config` sends to join `seed` from
/// `from`: a real, well-formed join request to truncate, seal or replay.
pub fn join_datagram(from: SocketAddr, config: Config, seed: SocketAddr) -> Vec<u8> {
    use rand_core::SeedableRng;
    use swim_transport_udp::swim_core::{Identity, Instant as CoreInstant, Swim};
    let mut swim: Swim<SocketAddr, rand_pcg::Pcg32> = Swim::new(
        Identity::new(from, 1),
        config,
        rand_pcg::Pcg32::seed_from_u64(1),
        CoreInstant::ZERO,
    )
    .unwrap();
    swim.join(CoreInstant::ZERO, &[seed]).unwrap();
    let mut buf = vec![0u8; 1400];
    let t = swim
        .poll_transmit(CoreInstant::ZERO, &mut buf)
        .expect("a join datagram");
    buf.truncate(t.len);
    buf
}

/// Collects, on a thread of its own, every line a child process writes to
/// `stdout`; each must be a JSON value (the node example with `--json`).
pub fn collect_json_lines(
    stdout: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> {
    use std::io::BufRead;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            sink.lock().unwrap().push(value);
        }
    });
    lines
}
