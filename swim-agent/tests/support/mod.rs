//! Agents as real processes on loopback, and the `swim` client commands.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `swim` binary under test.
pub const SWIM: &str = env!("CARGO_BIN_EXE_swim");

/// A running `swim agent` with its output collected line by line.
pub struct Agent {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Its cluster address.
    pub addr: String,
    /// Its HTTP address.
    pub http: String,
    /// Its generation.
    pub generation: u64,
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Agent {
    /// Starts `swim agent --json --http 127.0.0.1:0 --preset local ARGS`
    /// (with `--bind 127.0.0.1:0` unless ARGS bind) and waits for its
    /// start line.
    pub fn start(args: &[&str]) -> Agent {
        let mut command = Command::new(SWIM);
        command.args([
            "agent",
            "--json",
            "--http",
            "127.0.0.1:0",
            "--preset",
            "local",
        ]);
        if !args.contains(&"--bind") {
            command.args(["--bind", "127.0.0.1:0"]);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("swim agent starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let mut agent = Agent {
            child,
            stdout,
            stderr,
            addr: String::new(),
            http: String::new(),
            generation: 0,
        };
        let started = agent
            .wait_line(
                |l| l.contains("\"event\":\"started\""),
                Duration::from_secs(20),
            )
            .unwrap_or_else(|| panic!("no start line; stderr: {:?}", agent.stderr()));
        let v: Value = serde_json::from_str(&started).unwrap();
        agent.addr = v["addr"].as_str().unwrap().to_string();
        agent.http = v["http"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        agent.generation = v["generation"].as_u64().unwrap();
        agent
    }

    /// The lines printed so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The error lines printed so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a printed line matching `pred`.
    pub fn wait_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.stdout().into_iter().find(|l| pred(l)) {
                return Some(line);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path` as JSON.
    pub fn get(&self, path: &str) -> Value {
        let r = swim_agent::client::request(&self.http, "GET", path, None, None).unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    /// `GET path` as text.
    pub fn get_text(&self, path: &str) -> String {
        let r = swim_agent::client::request(&self.http, "GET", path, None, None).unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body
    }

    /// Waits until `check` holds for the member list (`/v1/members`).
    pub fn wait_members(&self, check: impl Fn(&[Value]) -> bool, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let list = self.get("/v1/members");
            let list = list.as_array().unwrap().clone();
            if check(&list) {
                return list;
            }
            assert!(
                Instant::now() < deadline,
                "member list never matched: {list:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process at once (no leave), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Members of a list in a given state, by address.
pub fn in_state(list: &[Value], state: &str) -> Vec<String> {
    let mut addrs: Vec<String> = list
        .iter()
        .filter(|m| m["state"] == state)
        .map(|m| m["addr"].as_str().unwrap().to_string())
        .collect();
    addrs.sort();
    addrs
}

/// What a `swim` command printed and how it exited.
pub struct Output {
    /// Exit code (`None` if killed).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `swim ARGS`, killed after `timeout`.
pub fn swim(args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(SWIM)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("swim {args:?} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let the reader threads drain the pipes.
    std::thread::sleep(Duration::from_millis(100));
    let join = |l: Arc<Mutex<Vec<String>>>| l.lock().unwrap().join("\n");
    Output {
        code,
        stdout: join(stdout),
        stderr: join(stderr),
    }
}

/// A new cluster key file in `dir`.
pub fn keygen(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let path = path.to_str().unwrap().to_string();
    let out = swim(&["keygen", &path], Duration::from_secs(10));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    path
}

/// A UDP port nobody listens on (bound, then freed).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
