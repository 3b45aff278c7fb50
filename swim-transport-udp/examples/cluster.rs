// The whole failure-detection story in one process:
//
//     cargo run -p swim-transport-udp --example cluster
//
// starts N nodes (default 5) on loopback, waits until they all see each
// other, kills one abruptly and prints every survivor's suspect and dead
// events, makes another leave gracefully, and prints a summary. Exits 0 when
// every step finished before its deadline.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use swim_transport_udp::{Config, Event, Node, NodeCounters, NodeOptions};

#[derive(Parser, Debug)]
#[command(about = "Start a local SWIM cluster, kill a node, watch the others detect it")]
struct Args {
    /// Nodes to start (at least 3).
    #[arg(long, short, default_value_t = 5)]
    nodes: usize,
    /// Longest wait for each step, in seconds.
    #[arg(long, default_value_t = 20)]
    step_timeout: u64,
}

/// An event, which node reported it, and when.
struct Report {
    node: usize,
    at: Instant,
    event: Event,
}

struct Demo {
    start: Instant,
    nodes: Vec<Option<Node>>,
    addrs: Vec<SocketAddr>,
    reports: mpsc::Receiver<Report>,
    step_timeout: Duration,
}

impl Demo {
    fn stamp(&self, at: Instant) -> String {
        format!("[+{:6.3}s]", at.duration_since(self.start).as_secs_f64())
    }

    fn say(&self, text: &str) {
        println!("{} {text}", self.stamp(Instant::now()));
    }

    /// Waits until every node in `watchers` reported `wanted` about
    /// `subject`, printing the interesting events meanwhile. Returns when
    /// each watcher reported it, or `None` at the deadline.
    fn wait_for(
        &self,
        subject: SocketAddr,
        watchers: &[usize],
        wanted: fn(&Event) -> bool,
        print: fn(&Event) -> bool,
    ) -> Option<Vec<Instant>> {
        let deadline = Instant::now() + self.step_timeout;
        let mut seen: Vec<Option<Instant>> = vec![None; self.nodes.len()];
        while watchers.iter().any(|&w| seen[w].is_none()) {
            let left = deadline.checked_duration_since(Instant::now())?;
            let Ok(report) = self.reports.recv_timeout(left) else {
                return None;
            };
            let about = member_of(&report.event);
            if about != Some(subject) || !watchers.contains(&report.node) {
                continue;
            }
            if print(&report.event) {
                println!(
                    "{} node {} ({}) reports {:<8} {}",
                    self.stamp(report.at),
                    report.node,
                    self.addrs[report.node],
                    report.event.kind_name(),
                    subject
                );
            }
            if wanted(&report.event) && seen[report.node].is_none() {
                seen[report.node] = Some(report.at);
            }
        }
        Some(watchers.iter().filter_map(|&w| seen[w]).collect())
    }

    fn wait_converged(&self, count: usize) -> Option<Instant> {
        let deadline = Instant::now() + self.step_timeout;
        loop {
            let mut all = true;
            for node in self.nodes.iter().flatten() {
                let active = node
                    .members()
                    .ok()?
                    .iter()
                    .filter(|m| m.is_active())
                    .count();
                all &= active + 1 == count;
            }
            if all {
                return Some(Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            while self.reports.try_recv().is_ok() {} // joins are summarized, not listed
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Demo {
    /// Each node's view of the others, to explain a failed step.
    fn print_views(&self) {
        for (i, node) in self.nodes.iter().enumerate() {
            let Some(node) = node else { continue };
            let Ok(mut members) = node.members() else {
                continue;
            };
            members.sort_by_key(|m| m.addr());
            let view: Vec<String> = members
                .iter()
                .map(|m| format!("{} {}", m.addr(), m.state.name()))
                .collect();
            let counters = node.counters().map(|c| c.protocol).unwrap_or_default();
            println!(
                "  node {i} ({}) sees [{}]; {counters:?}",
                self.addrs[i],
                view.join(", ")
            );
        }
    }
}

/// Traffic counted by every node.
#[derive(Default)]
struct Totals {
    sent: u64,
    received: u64,
    dropped: u64,
}

impl Totals {
    fn add(&mut self, counters: NodeCounters) {
        self.sent += counters.protocol.datagrams_out;
        self.received += counters.protocol.datagrams_in;
        self.dropped += counters.protocol.drops.total();
    }
}

fn member_of(event: &Event) -> Option<SocketAddr> {
    event.member().map(|id| id.addr)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.nodes < 3 {
        eprintln!("error: --nodes must be at least 3");
        return ExitCode::FAILURE;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let n = args.nodes;
    let config = Config::local();
    println!(
        "swim cluster demo: {n} nodes on 127.0.0.1, preset `local` (probe every {:?}, probe timeout {:?})",
        config.probe_interval, config.probe_timeout
    );
    let (tx, reports) = mpsc::channel();
    let mut demo = Demo {
        start: Instant::now(),
        nodes: Vec::new(),
        addrs: Vec::new(),
        reports,
        step_timeout: Duration::from_secs(args.step_timeout),
    };

    // 1. Start the nodes; every node joins through the first one.
    for i in 0..n {
        let mut options =
            NodeOptions::new("127.0.0.1:0".parse().expect("literal")).config(config.clone());
        if let Some(first) = demo.addrs.first() {
            options = options.seed(*first);
        }
        let node = Node::start(options).map_err(|e| format!("starting node {i}: {e}"))?;
        let events = node.take_events();
        let tx = tx.clone();
        std::thread::spawn(move || {
            for event in events {
                if tx
                    .send(Report {
                        node: i,
                        at: Instant::now(),
                        event,
                    })
                    .is_err()
                {
                    break;
                }
            }
        });
        demo.addrs.push(node.local_addr());
        demo.say(&format!("started node {i} on {}", node.local_addr()));
        demo.nodes.push(Some(node));
    }
    let Some(converged) = demo.wait_converged(n) else {
        demo.print_views();
        return Err("the cluster did not converge in time".into());
    };
    let t_converged = converged.duration_since(demo.start);
    demo.say(&format!("converged: every node sees {n} alive members"));

    // 2. Kill the last node abruptly: no leave, its socket just closes.
    let victim = n - 1;
    let victim_addr = demo.addrs[victim];
    demo.say(&format!("killing node {victim} ({victim_addr}) abruptly"));
    let killed_at = Instant::now();
    let mut totals = Totals::default();
    if let Some(node) = demo.nodes[victim].take() {
        totals.add(node.shutdown(false).map_err(|e| e.to_string())?);
    }
    let survivors: Vec<usize> = (0..n).filter(|&i| i != victim).collect();
    let dead_at = demo
        .wait_for(
            victim_addr,
            &survivors,
            |e| matches!(e, Event::MemberFailed(_)),
            |e| {
                matches!(
                    e,
                    Event::MemberSuspected(_) | Event::MemberFailed(_) | Event::MemberAlive(_)
                )
            },
        )
        .ok_or_else(|| {
            demo.print_views();
            "the survivors did not all declare the killed node dead in time"
        })?;
    let last_dead = dead_at.iter().max().copied().unwrap_or(killed_at);
    demo.say(&format!(
        "all {} survivors declared {victim_addr} dead",
        survivors.len()
    ));

    // 3. Another node leaves gracefully.
    let leaver = 1;
    let leaver_addr = demo.addrs[leaver];
    demo.say(&format!("node {leaver} ({leaver_addr}) leaves gracefully"));
    let leave_started = Instant::now();
    if let Some(node) = demo.nodes[leaver].take() {
        totals.add(node.shutdown(true).map_err(|e| format!("leave: {e}"))?);
    }
    let watchers: Vec<usize> = survivors.iter().copied().filter(|&i| i != leaver).collect();
    let left_at = demo
        .wait_for(
            leaver_addr,
            &watchers,
            |e| matches!(e, Event::MemberLeft(_)),
            |e| member_of(e).is_some(),
        )
        .ok_or_else(|| {
            demo.print_views();
            "the others did not all see the graceful leave in time"
        })?;
    let last_left = left_at.iter().max().copied().unwrap_or(leave_started);

    // 4. Summary.
    for node in demo.nodes.iter_mut().filter_map(Option::take) {
        totals.add(node.shutdown(false).map_err(|e| e.to_string())?);
    }
    let secs = |d: Duration| {
        if d < Duration::from_secs(1) {
            format!("{:.1} ms", d.as_secs_f64() * 1000.0)
        } else {
            format!("{:.2} s", d.as_secs_f64())
        }
    };
    println!();
    println!("summary ({n} nodes, preset `local`):");
    println!(
        "  all nodes see each other           {} after the start",
        secs(t_converged)
    );
    println!(
        "  abrupt kill -> dead everywhere     {}",
        secs(last_dead.duration_since(killed_at))
    );
    println!(
        "  graceful leave -> left everywhere  {}",
        secs(last_left.duration_since(leave_started))
    );
    println!(
        "  datagrams sent {}, received {}, dropped as invalid {}",
        totals.sent, totals.received, totals.dropped
    );
    println!(
        "  total run time                     {}",
        secs(demo.start.elapsed())
    );
    Ok(())
}
