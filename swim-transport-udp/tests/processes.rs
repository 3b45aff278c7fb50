//! Five OS processes of the `node` example on 127.0.0.1 form a cluster; one
//! is SIGKILLed, one leaves on SIGTERM, and the killed one is restarted.
#![cfg(unix)]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{node_binary, wait_until};
use serde_json::Value;

/// One `node --json` process and every JSON line it printed.
struct Process {
    child: Child,
    stdin: ChildStdin,
    lines: Arc<Mutex<Vec<Value>>>,
    addr: SocketAddr,
    generation: u64,
}

impl Process {
    fn start(binary: &Path, bind: &str, seed: Option<SocketAddr>, data_dir: &Path) -> Process {
        let mut command = Command::new(binary);
        command
            .args([
                "--bind",
                bind,
                "--json",
                "--label",
                "processes-test",
                "--data-dir",
            ])
            .arg(data_dir);
        if let Some(seed) = seed {
            command.args(["--join", &seed.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the node example starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let lines = common::collect_json_lines(stdout);
        let mut process = Process {
            child,
            stdin,
            lines,
            addr: "0.0.0.0:0".parse().unwrap(),
            generation: 0,
        };
        wait_until("the node prints its start line", || {
            process.find(|v| v["event"] == "started").is_some()
        });
        let started = process.find(|v| v["event"] == "started").unwrap();
        process.addr = started["addr"].as_str().unwrap().parse().unwrap();
        process.generation = started["generation"].as_u64().unwrap();
        process
    }

    fn find(&self, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .find(|v| wanted(v))
            .cloned()
    }

    /// True once this process printed an event of `kind` about `other`
    /// (in `other`'s current generation).
    fn reported(&self, kind: &str, other: &Process) -> bool {
        let addr = other.addr.to_string();
        self.find(|v| {
            v["event"] == kind && v["addr"] == addr.as_str() && v["generation"] == other.generation
        })
        .is_some()
    }

    /// Asks for the member table and says whether the last one printed shows
    /// `other` (in its current generation) alive.
    fn table_shows_alive(&mut self, other: &Process) -> bool {
        let _ = self.stdin.write_all(b"members\n");
        let _ = self.stdin.flush();
        let addr = other.addr.to_string();
        let lines = self.lines.lock().unwrap();
        let Some(table) = lines.iter().rev().find(|v| v["event"] == "members") else {
            return false;
        };
        table["members"].as_array().is_some_and(|members| {
            members.iter().any(|m| {
                m["addr"] == addr.as_str()
                    && m["generation"] == other.generation
                    && m["state"] == "alive"
            })
        })
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn five_processes_detect_a_kill_a_leave_and_a_restart() {
    let binary = node_binary();
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = vec![Process::start(&binary, "127.0.0.1:0", None, dirs[0].path())];
    let seed = nodes[0].addr;
    for dir in &dirs[1..] {
        nodes.push(Process::start(
            &binary,
            "127.0.0.1:0",
            Some(seed),
            dir.path(),
        ));
    }
    wait_until("every process reported the four others joined", || {
        (0..5).all(|i| {
            (0..5)
                .filter(|&j| j != i)
                .all(|j| nodes[i].reported("joined", &nodes[j]))
        })
    });

    // SIGKILL: no goodbye; the others must detect the failure.
    let mut killed = nodes.pop().unwrap();
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    wait_until("the four survivors reported the killed node failed", || {
        nodes.iter().all(|n| n.reported("failed", &killed))
    });

    // SIGTERM: a graceful leave, then a clean exit.
    let mut leaver = nodes.pop().unwrap();
    leaver.signal("TERM");
    let status = leaver.child.wait().unwrap();
    assert!(
        status.success(),
        "the node exits cleanly on SIGTERM: {status}"
    );
    // Its last lines may still be on their way through the reader thread.
    wait_until("the leaver printed its local-left event", || {
        leaver.find(|v| v["event"] == "local-left").is_some()
    });
    wait_until("the three others reported the leaver left", || {
        nodes.iter().all(|n| n.reported("left", &leaver))
    });

    // Restart the killed node on its address with its data directory.
    let old_generation = killed.generation;
    let bind = killed.addr.to_string();
    drop(killed);
    let restarted = Process::start(&binary, &bind, Some(seed), dirs[4].path());
    assert!(
        restarted.generation > old_generation,
        "a new life has a higher generation"
    );
    wait_until("every member table shows the restarted node alive", || {
        nodes.iter_mut().all(|n| n.table_shows_alive(&restarted))
    });
    // A new life replacing a dead one is reported alive (replacing a live
    // one, joined).
    assert!(nodes
        .iter()
        .all(|n| n.reported("alive", &restarted) || n.reported("joined", &restarted)));
}
