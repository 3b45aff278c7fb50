//! `simulate`: runs a swim-core cluster in virtual time and reports how a
//! configuration behaves (convergence, detection, false positives, load).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use swim_core::wire::MessageType;
use swim_core::Config;
use swim_tests::adversary::{fake, Attack, Capture, Forged, Subject, NOBODY};
use swim_tests::alloc_counter::{self, CountingAlloc};
use swim_tests::fault::{Action, RestartMode};
use swim_tests::net::LinkModel;
use swim_tests::scenario::{JoinPlan, Scenario};
use swim_tests::seeds::{parse_range, SeedsSummary};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    Lan,
    Wan,
    Local,
}

/// Datagrams sent from a spoofed address.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Spoof {
    /// An empty push-pull chunk with want-reply.
    Sync,
    /// A ping naming the receiver.
    Ping,
    /// A ping-req for a member nobody knows.
    PingReq,
    /// Pings and push-pull chunks of at most 64 bytes captured before
    /// --spoof-at, 10 per round, to their original receivers.
    Replay,
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "simulate",
    about = "Simulate a swim-core cluster in virtual time"
)]
struct Args {
    /// Number of nodes.
    #[arg(short, long, default_value_t = 100)]
    nodes: usize,
    /// Configuration preset.
    #[arg(long, value_enum, default_value = "lan")]
    preset: Preset,
    /// Virtual seconds to simulate.
    #[arg(short, long, default_value_t = 60.0)]
    duration: f64,
    /// Seed of every random choice.
    #[arg(short, long, default_value_t = 1)]
    seed: u64,
    /// Run the same scenario once per seed of this range (`A-B`, both
    /// included): one line of key figures per seed, then their mean,
    /// median and maximum; --json writes them all.
    #[arg(long, value_name = "A-B", conflicts_with_all = ["seed", "svg"])]
    seeds: Option<String>,
    /// Seconds over which the nodes start (node i joins at i*spread/n).
    #[arg(long, default_value_t = 1.0)]
    join_spread: f64,
    /// Each node joins through this many random earlier nodes instead of
    /// through node 0.
    #[arg(long)]
    random_seeds: Option<usize>,
    /// Start every node at time 0 already knowing every other node (each
    /// loads the full member table, as a restarted node loads a saved one)
    /// instead of joining: a converged cluster without a join phase, for
    /// steady-state figures at sizes whose mass join is too costly to
    /// simulate. The steady state then starts at --settle-secs.
    #[arg(long, conflicts_with_all = ["random_seeds", "join_spread"])]
    start_converged: bool,
    /// Probe interval override, ms.
    #[arg(long)]
    probe_interval_ms: Option<u64>,
    /// Probe timeout override, ms.
    #[arg(long)]
    probe_timeout_ms: Option<u64>,
    /// Shortest adaptive probe timeout override, ms (equal to the probe
    /// timeout: a fixed timeout).
    #[arg(long)]
    probe_timeout_min_ms: Option<u64>,
    /// Suspicion multiplier override.
    #[arg(long)]
    suspicion_mult: Option<u8>,
    /// Indirect checks override.
    #[arg(long)]
    indirect_checks: Option<u8>,
    /// Push-pull interval override, seconds (0 disables).
    #[arg(long)]
    push_pull_secs: Option<u64>,
    /// Turn Lifeguard off (plain SWIM).
    #[arg(long)]
    no_lifeguard: bool,
    /// One-way link latency, ms.
    #[arg(long, default_value_t = 1.0)]
    latency_ms: f64,
    /// Link jitter, ms.
    #[arg(long, default_value_t = 0.2)]
    jitter_ms: f64,
    /// Loss probability of every link, percent.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Duplication probability, percent.
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    /// Reordering probability, percent.
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// Sender bandwidth cap, bytes per second.
    #[arg(long)]
    bandwidth: Option<u64>,
    /// Crash this many random nodes at --kill-at.
    #[arg(long, default_value_t = 0)]
    kill: usize,
    /// Virtual second of the crashes.
    #[arg(long, default_value_t = 30.0)]
    kill_at: f64,
    /// Split the cluster in halves at this second...
    #[arg(long)]
    partition_at: Option<f64>,
    /// ...for this many seconds.
    #[arg(long, default_value_t = 60.0)]
    partition_for: f64,
    /// End the run once the healed partition has full membership again
    /// (every running node holds every running node alive), or at
    /// --duration if that comes first: the heal time without simulating
    /// what follows.
    #[arg(long)]
    stop_when_healed: bool,
    /// Count the traffic sent from this virtual second on as the steady
    /// state (default: --settle-secs after the running nodes first
    /// converged once every node of the join plan started).
    #[arg(long)]
    steady_from: Option<f64>,
    /// Margin between that convergence and the steady state, seconds.
    #[arg(long, default_value_t = 10.0)]
    settle_secs: f64,
    /// Restart this percentage of nodes (new generation) at --restart-at.
    #[arg(long)]
    restart_percent: Option<f64>,
    /// Virtual second of the mass restart.
    #[arg(long, default_value_t = 30.0)]
    restart_at: f64,
    /// Pause node 1 for 2-5 s at random times (by default 10-30 s of
    /// activity between pauses).
    #[arg(long)]
    pauses: bool,
    /// Shortest activity between two pauses, seconds.
    #[arg(long, default_value_t = 10.0)]
    pause_gap_min: f64,
    /// Longest activity between two pauses, seconds.
    #[arg(long, default_value_t = 30.0)]
    pause_gap_max: f64,
    /// Node 1 takes this many milliseconds to process each input, for the
    /// whole run (an overloaded member).
    #[arg(long)]
    slow_ms: Option<u64>,
    /// Churn: percentage of nodes leaving and rejoining every 10 s.
    #[arg(long)]
    churn_percent: Option<f64>,
    /// Adversary: invent this many members (alive, at addresses where
    /// nobody listens), sent to --attack-node.
    #[arg(long)]
    invent: Option<u32>,
    /// Virtual second of the invention.
    #[arg(long, default_value_t = 10.0)]
    invent_at: f64,
    /// Send the invented members again every this many seconds, at a
    /// higher incarnation each time, until the end.
    #[arg(long)]
    invent_every: Option<f64>,
    /// Adversary: gossip to --attack-node that this node is dead, at its
    /// generation + --forge-generation and incarnation + --forge-incarnation.
    #[arg(long)]
    forge_dead: Option<u32>,
    /// The same with "left".
    #[arg(long)]
    forge_left: Option<u32>,
    /// The same with "alive".
    #[arg(long)]
    forge_alive: Option<u32>,
    /// Generation offset of the forged records.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    forge_generation: i64,
    /// Incarnation offset of the forged records.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    forge_incarnation: i64,
    /// Virtual second of the forged records.
    #[arg(long, default_value_t = 10.0)]
    forge_at: f64,
    /// Node that receives the forged records and invented members.
    #[arg(long, default_value_t = 0)]
    attack_node: u32,
    /// Adversary: send these datagrams to every running node from an
    /// address of no node (3221225472), every --spoof-every-ms from
    /// --spoof-at until a second before the end.
    #[arg(long, value_enum)]
    spoof: Option<Spoof>,
    /// Virtual second of the first spoofed datagrams.
    #[arg(long, default_value_t = 10.0)]
    spoof_at: f64,
    /// Milliseconds between two rounds of spoofed datagrams.
    #[arg(long, default_value_t = 1000)]
    spoof_every_ms: u64,
    /// Check invariants after every input (slow on large runs).
    #[arg(long)]
    invariants: bool,
    /// Threads to run the nodes on (default: every core). The results,
    /// trace hash included, are the same for any number.
    #[arg(long)]
    threads: Option<usize>,
    /// Sampling interval of the time series, seconds.
    #[arg(long, default_value_t = 1.0)]
    sample_secs: f64,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the SVG plot here.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn secs(name: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|e| format!("--{name} {v}: {e}"))
}

fn percent(name: &str, v: f64) -> Result<f64, String> {
    if (0.0..=100.0).contains(&v) {
        Ok(v / 100.0)
    } else {
        Err(format!("--{name} {v}: must be between 0 and 100"))
    }
}

fn scenario(a: &Args) -> Result<Scenario, String> {
    if a.nodes < 2 || a.nodes > u32::MAX as usize {
        return Err(format!("--nodes {}: need at least 2", a.nodes));
    }
    let mut config = match a.preset {
        Preset::Lan => Config::lan(),
        Preset::Wan => Config::wan(),
        Preset::Local => Config::local(),
    };
    if let Some(v) = a.probe_interval_ms {
        config.probe_interval = Duration::from_millis(v);
    }
    if let Some(v) = a.probe_timeout_ms {
        config.probe_timeout = Duration::from_millis(v);
    }
    if let Some(v) = a.probe_timeout_min_ms {
        config.probe_timeout_min = Duration::from_millis(v);
    }
    if let Some(v) = a.suspicion_mult {
        config.suspicion_mult = v;
    }
    if let Some(v) = a.indirect_checks {
        config.indirect_checks = v;
    }
    if let Some(v) = a.push_pull_secs {
        config.push_pull_interval = Duration::from_secs(v);
    }
    config.lifeguard = !a.no_lifeguard;
    config
        .validate()
        .map_err(|e| format!("invalid configuration: {e:?}"))?;
    let link = LinkModel {
        latency: secs("latency-ms", a.latency_ms / 1000.0)?,
        jitter: secs("jitter-ms", a.jitter_ms / 1000.0)?,
        loss: percent("loss", a.loss)?,
        duplicate: percent("duplicate", a.duplicate)?,
        reorder: percent("reorder", a.reorder)?,
        bandwidth: a.bandwidth,
        ..LinkModel::default()
    };
    let duration = secs("duration", a.duration)?;
    let spread = secs("join-spread", a.join_spread)?;
    let join = match a.random_seeds {
        _ if a.start_converged => JoinPlan::Converged,
        Some(seeds) => JoinPlan::RandomSeeds { spread, seeds },
        None => JoinPlan::OneSeed { spread },
    };
    if a.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    let preset = format!("{:?}", a.preset).to_lowercase();
    let mut s = Scenario::new(a.nodes, config, a.seed)
        .named(&format!("simulate --preset {preset}"))
        .with_duration(duration)
        .with_link(link)
        .with_join(join)
        .with_invariants(a.invariants)
        .with_threads(
            a.threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        )
        .with_sampling(secs("sample-secs", a.sample_secs)?)
        .with_settle(secs("settle-secs", a.settle_secs)?)
        .with_stop_when_healed(a.stop_when_healed);
    if let Some(t) = a.steady_from {
        s = s.with_steady_from(secs("steady-from", t)?);
    }
    if a.kill > 0 {
        s = s.kill_random(secs("kill-at", a.kill_at)?, a.kill);
    }
    if let Some(at) = a.partition_at {
        s = s.partition_halves(
            secs("partition-at", at)?,
            secs("partition-for", a.partition_for)?,
        );
    }
    if let Some(p) = a.restart_percent {
        let fraction = percent("restart-percent", p)?;
        s = s.mass_restart(
            secs("restart-at", a.restart_at)?,
            fraction,
            Duration::from_secs(5),
            RestartMode::NewGeneration,
        );
    }
    if a.pause_gap_min > a.pause_gap_max {
        return Err(format!(
            "--pause-gap-min {} is above --pause-gap-max {}",
            a.pause_gap_min, a.pause_gap_max
        ));
    }
    if a.pauses {
        let (two, five) = (Duration::from_secs(2), Duration::from_secs(5));
        s = s.pauses(
            1,
            spread,
            duration,
            two,
            five,
            secs("pause-gap-min", a.pause_gap_min)?,
            secs("pause-gap-max", a.pause_gap_max)?,
        );
    }
    if let Some(ms) = a.slow_ms {
        s = s.at(
            Duration::ZERO,
            Action::Slow {
                node: 1,
                per_input: Duration::from_millis(ms),
            },
        );
    }
    if let Some(p) = a.churn_percent {
        let fraction = percent("churn-percent", p)?;
        let period = Duration::from_secs(10);
        s = s.churn(
            spread + period,
            duration.saturating_sub(period),
            period,
            fraction,
            Duration::from_secs(4),
        );
    }
    s = adversary(a, s, duration)?;
    Ok(s)
}

/// Adds the attacks asked for.
fn adversary(a: &Args, mut s: Scenario, duration: Duration) -> Result<Scenario, String> {
    let node = |name: &str, n: u32| {
        if (n as usize) < a.nodes {
            Ok(n)
        } else {
            Err(format!("--{name} {n}: no such node (0..{})", a.nodes))
        }
    };
    let target = node("attack-node", a.attack_node)?;
    if let Some(count) = a.invent {
        let at = secs("invent-at", a.invent_at)?;
        let attack = Attack::invent(0, count).to(vec![target]);
        s = match a.invent_every {
            Some(every) => {
                let every = secs("invent-every", every)?;
                if every.is_zero() {
                    return Err("--invent-every must be above 0".into());
                }
                s.attack_every(at, every, duration, attack)
            }
            None => s.attack(at, attack),
        };
    }
    let forged = [
        (
            "forge-dead",
            a.forge_dead,
            Forged::dead as fn(Subject) -> Forged,
        ),
        ("forge-left", a.forge_left, Forged::left),
        ("forge-alive", a.forge_alive, Forged::alive),
    ];
    for (name, victim, claim) in forged {
        if let Some(victim) = victim {
            let subject =
                Subject::offset(node(name, victim)?, a.forge_generation, a.forge_incarnation);
            let attack = Attack::gossip(vec![claim(subject)]).to(vec![target]);
            s = s.attack(secs("forge-at", a.forge_at)?, attack);
        }
    }
    if let Some(spoof) = a.spoof {
        let at = secs("spoof-at", a.spoof_at)?;
        if a.spoof_every_ms == 0 {
            return Err("--spoof-every-ms must be above 0".into());
        }
        let every = Duration::from_millis(a.spoof_every_ms);
        let attack = match spoof {
            Spoof::Sync => Attack::sync_want_reply(),
            Spoof::Ping => Attack::ping(),
            Spoof::PingReq => Attack::ping_req(Subject::fake(fake(1))),
            Spoof::Replay => {
                s = s.capture(
                    Duration::ZERO,
                    Capture {
                        until: at,
                        max: 10_000,
                        kinds: vec![MessageType::Ping, MessageType::Sync],
                        max_len: Some(64),
                    },
                );
                Attack::replay(10)
            }
        };
        // The last round a second before the end, so that its answers count.
        let until = duration.saturating_sub(Duration::from_secs(1));
        s = s.attack_every(at, every, until, attack.from(NOBODY));
    }
    Ok(s)
}

/// Runs the scenario once per seed of `range`, printing a line per seed.
fn run_seeds(a: &Args, range: &str) -> Result<(), String> {
    let range = parse_range(range)?;
    let mut summary = SeedsSummary::default();
    let wall = Instant::now();
    for seed in range {
        let s = scenario(&Args { seed, ..a.clone() })?;
        if summary.seeds.is_empty() {
            println!(
                "{}: {} nodes, {:.0} virtual s, loss {:.1}%, lifeguard {}",
                s.name,
                s.nodes,
                s.duration.as_secs_f64(),
                s.link.loss * 100.0,
                s.config.lifeguard
            );
            println!("{}", SeedsSummary::header());
        }
        let report = s.run();
        summary.add(&report);
        if let Some(row) = summary.seeds.last() {
            println!("{}", SeedsSummary::row_line(row));
        }
    }
    print!("{}", summary.aggregate_lines());
    if !a.quiet {
        eprintln!(
            "{} runs in {:.1} s wall",
            summary.seeds.len(),
            wall.elapsed().as_secs_f64()
        );
    }
    if let Some(path) = &a.json {
        summary.write_json(path)?;
        println!("JSON summary: {}", path.display());
    }
    Ok(())
}

fn run(a: &Args) -> Result<(), String> {
    if let Some(range) = &a.seeds {
        return run_seeds(a, range);
    }
    let s = scenario(a)?;
    let heap_before = alloc_counter::live_bytes();
    let wall = Instant::now();
    let every = if a.quiet {
        s.duration
    } else {
        (s.duration / 20).max(Duration::from_secs(1))
    };
    let mut heap_end = heap_before;
    let mut report = s.run_with_progress(every, |sim| {
        heap_end = alloc_counter::live_bytes();
        if a.quiet {
            return;
        }
        eprintln!(
            "[{:>7.1} s virtual | {:>7.1} s wall] {} running, {} queued events",
            sim.now().as_secs_f64(),
            wall.elapsed().as_secs_f64(),
            sim.up(),
            sim.pending()
        );
    });
    report.heap_bytes_per_node = Some((heap_end.saturating_sub(heap_before) / a.nodes) as u64);
    print!("{}", report.summary());
    if let Some(path) = &a.json {
        report.write_json(path)?;
        println!("JSON report: {}", path.display());
    }
    if let Some(path) = &a.svg {
        report.write_svg(path)?;
        println!("SVG plot: {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simulate: {e}");
            ExitCode::FAILURE
        }
    }
}
