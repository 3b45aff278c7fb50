//! `swim agent` as real processes on loopback: the HTTP views against the
//! protocol's, metrics, events, decommission, the hints for joins that
//! fail silently, and the exit codes of bad input.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{free_udp_port, in_state, keygen, swim, Agent};

const SETTLE: Duration = Duration::from_secs(20);
/// The hint comes after 5 tries: at 0, 0.5, 1.5, 3.5 and 7.5 s, the fifth
/// given up at 15.5 s.
const HINT_WITHIN: Duration = Duration::from_secs(30);

fn all_alive(n: usize) -> impl Fn(&[Value]) -> bool {
    move |list| list.len() == n && list.iter().all(|m| m["state"] == "alive")
}

/// Checks a Prometheus text exposition line by line; returns the samples.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split(' ');
            let name = words.next().unwrap();
            let kind = words.next().unwrap();
            assert!(
                ["counter", "gauge", "untyped", "histogram", "summary"].contains(&kind),
                "{line}"
            );
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad name in {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split(',') {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    assert!(
                        !k.is_empty() && v.starts_with('"') && v.ends_with('"'),
                        "{line}"
                    );
                }
            }
        }
        assert!(typed.contains(name), "no TYPE before {line}");
        samples.insert(series.to_string(), value);
    }
    samples
}

/// Opens `/v1/events` and returns the stream, past the response head.
fn open_events(http: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(http).unwrap();
    stream
        .write_all(format!("GET /v1/events HTTP/1.1\r\nHost: {http}\r\n\r\n").as_bytes())
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    stream
}

fn read_events_until(stream: &mut std::net::TcpStream, needle: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains(needle) {
            return text;
        }
    }
    panic!(
        "no {needle:?} in the event stream: {}",
        String::from_utf8_lossy(&seen)
    );
}

#[test]
fn status_json_and_metrics_agree_with_the_protocol_view_and_a_kill_is_seen() {
    let a = Agent::start(&["--meta", "role=db"]);
    let b = Agent::start(&["--join", &a.addr, "--meta", "role=web"]);
    let mut events = open_events(&a.http);
    let mut c = Agent::start(&["--join", &a.addr]);
    let agents = [&a, &b, &c];
    for agent in agents {
        agent.wait_members(all_alive(3), SETTLE);
    }
    // The SSE stream told of the join.
    let text = read_events_until(&mut events, &format!("\"addr\":\"{}\"", c.addr), SETTLE);
    assert!(text.contains("event: joined"), "{text}");

    // Every agent lists every agent, with the generation and incarnation
    // each one reports for itself, and the metadata it was started with.
    let locals: Vec<Value> = agents.iter().map(|x| x.get("/v1/local")).collect();
    for local in &locals {
        assert_eq!(local["status"], "joined");
        assert_eq!(local["health"], 0);
    }
    for agent in agents {
        let list = agent.get("/v1/members");
        let list = list.as_array().unwrap();
        let me: Vec<&Value> = list.iter().filter(|m| m["self"] == true).collect();
        assert_eq!(me.len(), 1);
        assert_eq!(me[0]["addr"], agent.addr.as_str());
        for local in &locals {
            let entry = list
                .iter()
                .find(|m| m["addr"] == local["addr"])
                .unwrap_or_else(|| panic!("{} missing from {list:?}", local["addr"]));
            assert_eq!(entry["generation"], local["generation"]);
            assert_eq!(entry["incarnation"], local["incarnation"]);
            assert_eq!(entry["state"], "alive");
        }
        let b_entry = list.iter().find(|m| m["addr"] == b.addr.as_str()).unwrap();
        assert_eq!(b_entry["metadata"], "role=web");
    }
    // Round trips appear once each member has answered a probe.
    a.wait_members(
        |list| {
            list.iter()
                .all(|m| m["self"] == true || m["rtt_ms"].as_f64().is_some_and(|r| r >= 0.0))
        },
        SETTLE,
    );
    // `swim members --json` is the same list.
    let out = swim(
        &["members", "--json", "--http", &a.http],
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let cli: Value = serde_json::from_str(&out.stdout).unwrap();
    let addrs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["addr"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(addrs(&cli), addrs(&a.get("/v1/members")));
    let table = swim(&["members", "--http", &a.http], Duration::from_secs(10));
    assert!(
        table.stdout.contains(&format!("{} (self)", a.addr)),
        "{}",
        table.stdout
    );

    // The status page renders one row per member, server-side.
    let page = a.get_text("/");
    for agent in agents {
        assert!(
            page.contains(&format!("data-addr=\"{}\"", agent.addr)),
            "{page}"
        );
    }

    // Counters and metrics parse and agree with the member list.
    let counters = a.get("/v1/counters");
    assert!(counters["protocol_datagrams_in"].as_u64().unwrap() > 0);
    let metrics = parse_prometheus(&a.get_text("/metrics"));
    assert_eq!(metrics["swim_members{state=\"alive\"}"], 2.0);
    assert!(metrics["swim_protocol_datagrams_in_total"] > 0.0);
    assert_eq!(
        metrics["swim_local_generation"],
        locals[0]["generation"].as_f64().unwrap()
    );

    // A member that joins with metadata is reported once, as joined, not
    // as joined then updated.
    assert!(
        !a.stdout()
            .iter()
            .any(|l| l.contains("\"event\":\"updated\"")),
        "{:?}",
        a.stdout()
    );

    // Kill one: the others see it fail.
    let dead = c.addr.clone();
    c.kill();
    for agent in [&a, &b] {
        agent.wait_members(
            |list| in_state(list, "dead").contains(&dead),
            Duration::from_secs(40),
        );
        agent
            .wait_line(
                |l| l.contains("\"event\":\"failed\"") && l.contains(&dead),
                Duration::from_secs(5),
            )
            .expect("a failed event");
    }
}

#[test]
fn decommission_stops_a_running_node_of_a_keyed_cluster_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "cluster.key");
    let data = dir.path().join("c-data");
    let data = data.to_str().unwrap();
    let a_data = dir.path().join("a-data");
    let a_data = a_data.to_str().unwrap();
    let mut a = Agent::start(&["--key-file", &key, "--data-dir", a_data]);
    let b = Agent::start(&["--key-file", &key, "--join", &a.addr]);
    let mut c = Agent::start(&["--key-file", &key, "--join", &a.addr, "--data-dir", data]);
    for agent in [&a, &b, &c] {
        agent.wait_members(all_alive(3), SETTLE);
    }
    let out = swim(
        &["decommission", &c.addr, "--http", &b.http],
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("decommissioned"), "{}", out.stdout);

    // The node stops, with exit code 5, saying why.
    let status = c
        .wait_exit(Duration::from_secs(15))
        .expect("the node stops");
    assert_eq!(status.code(), Some(5));
    c.wait_line(
        |l| l.contains("was decommissioned by") && l.contains(&b.addr),
        Duration::from_secs(1),
    )
    .expect("it says who decommissioned it");

    // Removed everywhere, and it stays out.
    for agent in [&a, &b] {
        agent.wait_members(
            |list| list.len() == 2 && list.iter().all(|m| m["addr"] != c.addr.as_str()),
            SETTLE,
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    for agent in [&a, &b] {
        let list = agent.get("/v1/members");
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .all(|m| m["addr"] != c.addr.as_str()),
            "{list}"
        );
    }
    a.wait_line(
        |l| l.contains("\"event\":\"decommission\"") && l.contains(&c.addr),
        Duration::from_secs(1),
    )
    .expect("the other agents log the order");

    // The other agents keep the refusal for their next start.
    let kept = std::fs::read_to_string(format!("{a_data}/refused")).unwrap();
    assert_eq!(kept, format!("{} {}\n", c.addr, c.generation));
    a.kill();
    let a_again = Agent::start(&["--key-file", &key, "--data-dir", a_data]);
    a_again
        .wait_line(
            |l| l.contains("refusing 1 decommissioned identity again"),
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("{:?}", a_again.stdout()));

    // Its data directory will not start it again.
    let out = swim(
        &[
            "agent",
            "--key-file",
            &key,
            "--bind",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
            data,
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    assert!(out.stderr.contains("was decommissioned"), "{}", out.stderr);
}

#[test]
fn decommission_is_refused_on_a_plaintext_cluster() {
    let a = Agent::start(&[]);
    let b = Agent::start(&["--join", &a.addr]);
    a.wait_members(all_alive(2), SETTLE);
    let out = swim(
        &["decommission", &b.addr, "--http", &a.http],
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert!(
        out.stderr.contains("needs an authenticated cluster"),
        "{}",
        out.stderr
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        in_state(&a.get("/v1/members").as_array().unwrap().clone(), "alive").len(),
        2
    );
}

fn hint_line(agent: &Agent, seed: &str) -> String {
    agent
        .wait_line(
            |l| l.contains("after 5 tries: check the address, the label and the key"),
            HINT_WITHIN,
        )
        .unwrap_or_else(|| panic!("no hint; output: {:?}", agent.stdout()))
        .replace("\\\"", "\"")
        + &format!(" [seed {seed}]")
}

#[test]
fn an_unreachable_seed_prints_the_hint() {
    let seed = format!("127.0.0.1:{}", free_udp_port());
    let lonely = Agent::start(&["--join", &seed]);
    let hint = hint_line(&lonely, &seed);
    assert!(hint.contains(&format!("no answer from {seed}")), "{hint}");
    assert!(lonely
        .stdout()
        .iter()
        .any(|l| l.contains("\"event\":\"join-retry\"") && l.contains("(try 1)")));
}

#[test]
fn a_wrong_key_prints_the_hint_and_the_drops() {
    let dir = tempfile::tempdir().unwrap();
    let key1 = keygen(dir.path(), "one.key");
    let key2 = keygen(dir.path(), "two.key");
    let a = Agent::start(&["--key-file", &key1]);
    let b = Agent::start(&["--key-file", &key2, "--join", &a.addr]);
    hint_line(&b, &a.addr);
    a.wait_line(
        |l| l.contains("\"event\":\"drops\"") && l.contains("did not open with this node's keys"),
        HINT_WITHIN,
    )
    .unwrap_or_else(|| panic!("no drop summary: {:?}", a.stdout()));
}

#[test]
fn a_wrong_label_prints_the_hint_and_the_drops() {
    let a = Agent::start(&["--label", "blue"]);
    let b = Agent::start(&["--label", "green", "--join", &a.addr]);
    hint_line(&b, &a.addr);
    a.wait_line(
        |l| l.contains("\"event\":\"drops\"") && l.contains("another cluster label"),
        HINT_WITHIN,
    )
    .unwrap_or_else(|| panic!("no drop summary: {:?}", a.stdout()));
}

#[test]
fn bad_input_exits_with_its_code_and_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let quick = Duration::from_secs(10);
    let agent = |extra: &[&str]| {
        let mut args = vec!["agent", "--bind", "127.0.0.1:0", "--http", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        swim(&args, quick)
    };

    // A key file others can read.
    let key = keygen(dir.path(), "open.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = agent(&["--key-file", &key]);
        assert_eq!(out.code, Some(3), "{}", out.stderr);
        assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
    }
    // A key file in the wrong format.
    let bad = dir.path().join("bad.key");
    support_write_private(&bad, "not a key\n");
    let out = agent(&["--key-file", bad.to_str().unwrap()]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("64 hex digits"), "{}", out.stderr);
    // Metadata over the limit.
    let big = format!("blob={}", "x".repeat(600));
    let out = agent(&["--meta", &big]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("limit of 512 bytes"), "{}", out.stderr);
    // The cluster address in use.
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let out = swim(&["agent", "--bind", &taken, "--http", "127.0.0.1:0"], quick);
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        out.stderr.contains(&taken) && out.stderr.contains("address in use"),
        "{}",
        out.stderr
    );
    // The HTTP address in use.
    let http_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = http_listener.local_addr().unwrap().to_string();
    let out = swim(&["agent", "--bind", "127.0.0.1:0", "--http", &http], quick);
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("--http {http}")),
        "{}",
        out.stderr
    );
    // No agent to talk to.
    drop(http_listener);
    let out = swim(&["members", "--http", &http], quick);
    assert_eq!(out.code, Some(6), "{}", out.stderr);
}

fn support_write_private(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn control_requests_need_the_token_once_one_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    support_write_private(&token, "let-me-in\n");
    let token = token.to_str().unwrap();
    let a = Agent::start(&["--http-token-file", token]);
    let b = Agent::start(&["--join", &a.addr]);
    a.wait_members(all_alive(2), SETTLE);
    // Without the token, even from loopback: refused, nothing sent.
    let out = swim(
        &["broadcast", "hello", "--http", &a.http],
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert!(out.stderr.contains("(403)"), "{}", out.stderr);
    // With it: sent, and the other agent prints it.
    let out = swim(
        &[
            "broadcast",
            "hello",
            "--http",
            &a.http,
            "--http-token-file",
            token,
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    b.wait_line(
        |l| l.contains("\"event\":\"broadcast\"") && l.contains("hello"),
        Duration::from_secs(10),
    )
    .expect("the broadcast arrives");
    // Reading stays open.
    assert_eq!(a.get("/v1/local")["status"], "joined");
    // Bodies are bounded: over 16 KiB is refused when the handler reads it.
    let token_text = std::fs::read_to_string(token).unwrap();
    let huge = serde_json::json!({ "payload": "x".repeat(20 * 1024) }).to_string();
    let r = swim_agent::client::request(
        &a.http,
        "POST",
        "/v1/broadcast",
        Some(token_text.trim()),
        Some(&huge),
    )
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
}

#[test]
fn quic_agents_join_with_certificates_from_swim_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let ca = ca.to_str().unwrap();
    let out = swim(&["ca", "init", ca], Duration::from_secs(10));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let ports = [free_udp_port(), free_udp_port()];
    let mut agents = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let addr = format!("127.0.0.1:{port}");
        let certs = dir.path().join(format!("n{i}"));
        let certs = certs.to_str().unwrap();
        let out = swim(
            &["ca", "issue", &addr, "--ca-dir", ca, "--out", certs],
            Duration::from_secs(10),
        );
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let cert = format!("{certs}/node-127.0.0.1-{port}.pem");
        let key = format!("{certs}/node-127.0.0.1-{port}-key.pem");
        let ca_pem = format!("{ca}/ca.pem");
        let mut args = vec![
            "--quic",
            "--ca",
            &ca_pem,
            "--cert",
            &cert,
            "--cert-key",
            &key,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        // `Agent::start` binds port 0: the certificate names a fixed port.
        args.extend(["--bind".to_string(), addr.clone()]);
        if i > 0 {
            args.extend(["--join".to_string(), format!("127.0.0.1:{}", ports[0])]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        agents.push(Agent::start(&refs));
    }
    for agent in &agents {
        agent.wait_members(all_alive(2), SETTLE);
        assert_eq!(agent.get("/v1/local")["protection"], "QUIC with mutual TLS");
    }
    // Certificate holders may decommission: the second node stops.
    let target = agents[1].addr.clone();
    let out = swim(
        &["decommission", &target, "--http", &agents[0].http],
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let status = agents[1]
        .wait_exit(Duration::from_secs(15))
        .expect("it stops");
    assert_eq!(status.code(), Some(5));
    agents[0].wait_members(|list| list.len() == 1, SETTLE);
}
