//! Handshakes and CPU per node, QUIC against UDP, with real node processes
//! on loopback (Linux: reads `/proc`).
//!
//! For each cluster size and each mode, starts that many node processes
//! (this executable, run again as a child), lets the cluster settle for
//! `--warmup` seconds, then measures over `--window` seconds: outgoing
//! QUIC handshakes started per node per second (each handshake counted
//! once, by the node that dials), CPU time per node (user + system, from
//! `/proc/PID/stat`) and resident memory. Modes: `quic` (connections kept
//! warm, the default transport options), `quic-cold` (`keep_warm: false`:
//! connections close after the 15 s idle timeout, as before), `udp` (the
//! thread-driven UDP node, no keyring), `udp-tokio` (the UDP node as a
//! task on a current-thread tokio runtime). Every node runs the `lan` preset
//! (a probe per second).
//!
//! ```text
//! cargo run --release -p swim-transport-quic --example loadtest -- \
//!     --nodes 20,50 --modes quic,quic-cold,udp --warmup 30 --window 30
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use swim_transport_quic::cert::ClusterCa;
use swim_transport_quic::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use swim_transport_quic::{Config, Credentials, MemberState, TransportOptions};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let mut nodes = vec![20usize, 50];
    let mut modes = vec!["quic".to_owned(), "quic-cold".to_owned(), "udp".to_owned()];
    let mut warmup = 30u64;
    let mut window = 30u64;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nodes" => nodes = value.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--modes" => modes = value.split(',').map(str::to_owned).collect(),
            "--warmup" => warmup = value.parse()?,
            "--window" => window = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let ticks = clock_ticks();
    println!(
        "| nodes | mode | handshakes/s per node (mean, max) | CPU per node (mean, max) | RSS per node | alive members seen (min) |"
    );
    println!("|---|---|---|---|---|---|");
    for &n in &nodes {
        for mode in &modes {
            let result = run(
                mode,
                n,
                Duration::from_secs(warmup),
                Duration::from_secs(window),
            )?;
            let secs = window as f64;
            let hs: Vec<f64> = result.iter().map(|r| r.handshakes as f64 / secs).collect();
            let cpu: Vec<f64> = result
                .iter()
                .map(|r| r.cpu_ticks as f64 / ticks / secs * 100.0)
                .collect();
            let rss = result.iter().map(|r| r.rss_kib).sum::<u64>() as f64 / n as f64 / 1024.0;
            let alive = result.iter().map(|r| r.alive).min().unwrap_or(0);
            println!(
                "| {n} | {mode} | {:.3}, {:.3} | {:.2} %, {:.2} % | {:.1} MiB | {alive} of {} |",
                mean(&hs),
                max(&hs),
                mean(&cpu),
                max(&cpu),
                rss,
                n - 1
            );
        }
    }
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// What one node did during the window.
struct Measured {
    handshakes: u64,
    cpu_ticks: u64,
    rss_kib: u64,
    alive: usize,
}

struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// One child's report: outgoing handshakes started, alive members seen.
fn ask(proc: &mut Proc) -> Result<(u64, usize), Error> {
    writeln!(proc.stdin, "dump")?;
    proc.stdin.flush()?;
    let mut line = String::new();
    proc.stdout.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let handshakes = parts.next().ok_or("no report")?.parse()?;
    let alive = parts.next().ok_or("no report")?.parse()?;
    Ok((handshakes, alive))
}

fn run(mode: &str, n: usize, warmup: Duration, window: Duration) -> Result<Vec<Measured>, Error> {
    let dir = tempfile::tempdir()?;
    // Free loopback ports (released before the children bind them).
    let addrs: Vec<SocketAddr> = (0..n)
        .map(|_| {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
            socket.local_addr()
        })
        .collect::<Result<_, _>>()?;
    let ca = ClusterCa::generate("loadtest")?;
    let exe = std::env::current_exe()?;
    let mut procs = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let node_dir = dir.path().join(i.to_string());
        std::fs::create_dir_all(&node_dir)?;
        if mode.starts_with("quic") {
            let creds = ca.issue(*addr)?;
            std::fs::write(node_dir.join("cert.der"), &creds.cert_chain[0])?;
            std::fs::write(node_dir.join("key.der"), creds.key.secret_der())?;
            std::fs::write(node_dir.join("ca.der"), &creds.ca[0])?;
        }
        let seed = addrs[0];
        let mut child = Command::new(&exe)
            .args(["--child", mode, &addr.to_string(), &seed.to_string()])
            .arg(&node_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("stdout")?);
        procs.push(Proc {
            child,
            stdin,
            stdout,
        });
    }
    std::thread::sleep(warmup);
    let mut before = Vec::new();
    for proc in &mut procs {
        let (handshakes, _) = ask(proc)?;
        before.push((handshakes, cpu_ticks(proc.child.id())?));
    }
    std::thread::sleep(window);
    let mut result = Vec::new();
    for (proc, (h0, c0)) in procs.iter_mut().zip(before) {
        let (h1, alive) = ask(proc)?;
        let c1 = cpu_ticks(proc.child.id())?;
        result.push(Measured {
            handshakes: h1.saturating_sub(h0),
            cpu_ticks: c1.saturating_sub(c0),
            rss_kib: rss_kib(proc.child.id()).unwrap_or(0),
            alive,
        });
    }
    for mut proc in procs {
        let _ = writeln!(proc.stdin, "quit");
        drop(proc.stdin);
        let _ = proc.child.wait();
    }
    Ok(result)
}

/// User + system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(") ").ok_or("bad stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let utime: u64 = fields.get(11).ok_or("bad stat")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("bad stat")?.parse()?;
    Ok(utime + stime)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A node process: runs until stdin says `quit` or closes; answers each
/// `dump` line with "HANDSHAKES ALIVE".
fn child(args: &[String]) -> Result<(), Error> {
    let [mode, addr, seed, dir] = args else {
        return Err("usage: --child MODE ADDR SEED DIR".into());
    };
    let addr: SocketAddr = addr.parse()?;
    let seed: SocketAddr = seed.parse()?;
    let dir = PathBuf::from(dir);
    if mode == "udp" {
        let lines = std::io::stdin().lock().lines();
        let node = swim_transport_udp::Node::start(
            swim_transport_udp::NodeOptions::new(addr)
                .config(Config::lan())
                .seed(seed),
        )?;
        for line in lines {
            match line?.trim() {
                "dump" => {
                    let alive = node
                        .members()?
                        .iter()
                        .filter(|m| m.state == MemberState::Alive)
                        .count();
                    println!("0 {alive}");
                    std::io::stdout().flush()?;
                }
                _ => break,
            }
        }
        node.shutdown(false)?;
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Stdin is read on a thread of its own, which hands lines over.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    if mode == "udp-tokio" {
        return runtime.block_on(async move {
            let options = swim_transport_udp::NodeOptions::new(addr)
                .config(Config::lan())
                .seed(seed);
            let node = swim_transport_udp::tokio::Node::start(options).await?;
            while let Some(line) = rx.recv().await {
                if line.trim() != "dump" {
                    break;
                }
                let alive = node
                    .members()
                    .await?
                    .iter()
                    .filter(|m| m.state == MemberState::Alive)
                    .count();
                println!("0 {alive}");
                std::io::stdout().flush()?;
            }
            node.shutdown(false).await?;
            Ok::<(), Error>(())
        });
    }
    let keep_warm = match mode.as_str() {
        "quic" => true,
        "quic-cold" => false,
        other => return Err(format!("unknown mode {other}").into()),
    };
    runtime.block_on(async move {
        let options = swim_transport_quic::NodeOptions::new(addr, credentials(&dir)?)
            .config(Config::lan())
            .seed(seed)
            .transport(TransportOptions {
                keep_warm,
                ..TransportOptions::default()
            });
        let node = swim_transport_quic::Node::start(options).await?;
        while let Some(line) = rx.recv().await {
            if line.trim() != "dump" {
                break;
            }
            let counters = node.counters().await?;
            let alive = node
                .members()
                .await?
                .iter()
                .filter(|m| m.state == MemberState::Alive)
                .count();
            println!("{} {alive}", counters.transport.connects_started);
            std::io::stdout().flush()?;
        }
        node.shutdown(false).await?;
        Ok::<(), Error>(())
    })
}

fn credentials(dir: &Path) -> Result<Credentials, Error> {
    let cert = CertificateDer::from(std::fs::read(dir.join("cert.der"))?);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(std::fs::read(
        dir.join("key.der"),
    )?));
    let ca = CertificateDer::from(std::fs::read(dir.join("ca.der"))?);
    Ok(Credentials::new(vec![cert], key, vec![ca]))
}
