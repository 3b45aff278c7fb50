// One cluster member on a UDP socket, driven from the command line.
//
//     cargo run -p swim-transport-udp --example node -- --bind 127.0.0.1:7001 --join 127.0.0.1:7000
//
// Prints every membership event as it happens (`--json`: one JSON object a
// line), and reads commands on standard input: Enter lists the members.
// Ctrl-C or SIGTERM leaves the cluster gracefully and exits.
//
// It runs the tokio node on a single-threaded runtime: one thread for the
// node, the events and the commands, plus the thread tokio reads standard
// input on.
//
// Encryption: `--gen-key cluster.key` writes a fresh key (hex) to a new
// file only its owner can read; every member then starts with
// `--key-file cluster.key` (or with the hex key in an environment variable
// named by `--key-env`). Keys are never taken from the command line itself,
// where `ps` would show them.
//
// The `swim` agent (crate swim-agent) is the operator's version of this
// example, with an HTTP status page and API.

#[path = "common/mod.rs"]
mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde_json::{json, Value};
use swim_transport_udp::signal::Terminate;
use swim_transport_udp::tokio::Node;
use swim_transport_udp::{Config, Event, Keyring, LocalEvent, LocalInfo, Member, NodeOptions};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser, Debug)]
#[command(
    about = "A SWIM cluster member on UDP: prints membership events, Enter lists the members"
)]
struct Args {
    /// Address to bind (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:7000")]
    bind: String,
    /// A member to join through (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    join: Vec<String>,
    /// Address announced to others, if not the bound one (NAT, containers).
    #[arg(long)]
    advertise: Option<String>,
    /// Cluster name: members with another label ignore this one.
    #[arg(long)]
    label: Option<String>,
    /// Metadata entry KEY=VALUE (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Directory keeping the node's identity across restarts.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Timing preset.
    #[arg(long, value_enum, default_value_t = Preset::Local)]
    preset: Preset,
    /// Print JSON lines instead of readable lines.
    #[arg(long)]
    json: bool,
    /// Encrypt every datagram with the keys in this file: one key per line,
    /// 64 hex digits each; the first one seals, all of them open.
    #[arg(long, value_name = "PATH", conflicts_with = "key_env")]
    key_file: Option<PathBuf>,
    /// Encrypt every datagram with the key (64 hex digits; several separated
    /// by commas, the first one seals) held by this environment variable.
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
    /// Write a fresh random key (hex) for `--key-file` to a new file PATH
    /// (mode 0600; an existing file is never overwritten) and exit.
    #[arg(long, value_name = "PATH")]
    gen_key: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// Loopback or one rack: 1 s probes, 200 ms timeout.
    Local,
    /// memberlist's LAN defaults: 1 s probes, 500 ms timeout.
    Lan,
    /// memberlist's WAN defaults: 5 s probes, 3 s timeout.
    Wan,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.gen_key {
        return match write_new_key(path) {
            Ok(()) => {
                println!("wrote a new key to {} (mode 0600)", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // The thread reading standard input may be blocked in a read: do not
    // wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn resolve(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| format!("{text}: {e}"))?
        .next()
        .ok_or_else(|| format!("{text}: no address"))
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let mut config = match args.preset {
        Preset::Local => Config::local(),
        Preset::Lan => Config::lan(),
        Preset::Wan => Config::wan(),
    };
    if let Some(label) = &args.label {
        config = config.with_label(label);
    }
    let mut options = NodeOptions::new(resolve(&args.bind)?).config(config);
    for seed in &args.join {
        options = options.seed(resolve(seed)?);
    }
    if let Some(addr) = &args.advertise {
        options = options.advertise(resolve(addr)?);
    }
    if let Some(dir) = &args.data_dir {
        options = options.data_dir(dir);
    }
    options = options.metadata(parse_meta(&args.meta)?);
    let keys_text = match (&args.key_file, &args.key_env) {
        (Some(path), _) => {
            Some(std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        (None, Some(var)) => {
            Some(std::env::var(var).map_err(|e| format!("environment variable {var}: {e}"))?)
        }
        (None, None) => None,
    };
    if let Some(text) = keys_text {
        options = options.keyring(Keyring::from_hex_lines(&text).map_err(|e| e.to_string())?);
    }
    let mut node = Node::start(options).await.map_err(|e| e.to_string())?;
    let json = args.json;
    let local = node.local().await.map_err(|e| e.to_string())?;
    print_started(json, &node, &local, &args.join).await;

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut events = node.take_events();
    let mut events_open = true;
    let mut terminate = Terminate::new().map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(line)) => {
                    if !command(&node, json, line.trim(), started).await {
                        break;
                    }
                }
                // No more commands; a signal still ends the node.
                Ok(None) | Err(_) => stdin_open = false,
            },
            event = events.recv(), if events_open => match event {
                Some(event) => print_event(json, &event, node.advertise_addr()),
                None => events_open = false,
            },
            () = terminate.recv() => break,
        }
    }
    // A node that never joined has nothing to leave (and no `left` to
    // report).
    let joined = matches!(
        node.local().await.map(|l| l.status),
        Ok(swim_transport_udp::LocalStatus::Joined)
    );
    let local_addr = node.advertise_addr();
    if !json {
        if joined {
            println!("[{}] leaving the cluster...", common::time_of_day());
        } else {
            println!(
                "[{}] stopping (this node never joined a cluster)",
                common::time_of_day()
            );
        }
    }
    let result = node.shutdown(joined).await;
    // The events of the leave (and any not printed yet).
    while let Ok(event) = events.try_recv() {
        print_event(json, &event, local_addr);
    }
    match result {
        Ok(counters) => {
            if json {
                println!(
                    "{}",
                    json!({"event": "stopped", "datagrams_in": counters.protocol.datagrams_in,
                    "datagrams_out": counters.protocol.datagrams_out, "drops": counters.protocol.drops.total()})
                );
            } else if joined {
                println!("[{}] left; bye", common::time_of_day());
            } else {
                println!("[{}] stopped; bye", common::time_of_day());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(format!("leaving failed: {e}")),
    }
}

/// A fresh key in a new file readable by its owner only.
fn write_new_key(path: &std::path::Path) -> Result<(), String> {
    use std::io::Write;
    let key = Keyring::generate_key().map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| e.to_string())?;
    writeln!(file, "{}", *Keyring::key_to_hex(&key[..])).map_err(|e| e.to_string())
}

fn parse_meta(entries: &[String]) -> Result<Vec<u8>, String> {
    let mut lines = Vec::new();
    for entry in entries {
        if !entry.contains('=') {
            return Err(format!("--meta {entry}: expected KEY=VALUE"));
        }
        lines.push(entry.as_str());
    }
    Ok(lines.join("\n").into_bytes())
}

fn meta_text(metadata: &[u8]) -> String {
    String::from_utf8_lossy(metadata).replace('\n', ",")
}

/// The commands read on standard input, for `help`.
const COMMANDS: [&str; 9] = [
    "Enter or `members`",
    "meta K=V [K=V...]",
    "broadcast TEXT",
    "send ADDR TEXT",
    "counters",
    "keys",
    "key install|use|remove FILE",
    "help",
    "quit",
];

/// Handles one line of standard input; false to leave and exit.
async fn command(node: &Node, json: bool, line: &str, started: Instant) -> bool {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let result = match word {
        "" | "members" | "m" => {
            print_members(node, json, started).await;
            Ok(())
        }
        "quit" | "leave" | "exit" => return false,
        "meta" => node
            .set_metadata(rest.replace(' ', "\n").as_bytes())
            .await
            .map_err(|e| e.to_string()),
        "broadcast" | "b" => node
            .broadcast(None, rest.as_bytes())
            .await
            .map_err(|e| e.to_string()),
        "send" => match rest.split_once(' ') {
            Some((to, text)) => match resolve(to) {
                Ok(to) => node
                    .send_message(to, text.as_bytes())
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
            None => Err("usage: send ADDR TEXT".into()),
        },
        "keys" => node
            .key_ids()
            .await
            .map(|ids| {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                if json {
                    println!("{}", json!({"event": "keys", "key_ids": ids}));
                } else {
                    println!("key ids (primary first): {}", ids.join(" "));
                }
            })
            .map_err(|e| e.to_string()),
        "key" => key_command(node, json, rest).await,
        "counters" => node
            .counters()
            .await
            .map(|c| {
                if json {
                    println!("{}", common::counters_json(&c));
                } else {
                    println!("{c:#?}");
                }
            })
            .map_err(|e| e.to_string()),
        "help" | "?" => {
            if json {
                println!("{}", json!({"event": "help", "commands": COMMANDS}));
            } else {
                println!("commands: {}", COMMANDS.join(" | "));
            }
            Ok(())
        }
        other => Err(format!("unknown command {other:?} (try `help`)")),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
    }
    true
}

/// `key install|use|remove FILE`: the key is read from a file, never typed.
async fn key_command(node: &Node, json: bool, rest: &str) -> Result<(), String> {
    let Some((action, path)) = rest.split_once(' ') else {
        return Err("usage: key install|use|remove FILE".into());
    };
    let path = path.trim();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let key = Keyring::key_from_hex(text.trim()).map_err(|e| e.to_string())?;
    let result = match action {
        "install" => node.install_key(&key[..]).await,
        "use" => node.use_key(&key[..]).await,
        "remove" => node.remove_key(&key[..]).await,
        other => return Err(format!("unknown key action {other:?}")),
    };
    result.map_err(|e| e.to_string())?;
    if json {
        println!("{}", json!({"event": "key", "action": action, "ok": true}));
    } else {
        println!("ok: key {action} done");
    }
    Ok(())
}

async fn print_started(json: bool, node: &Node, local: &LocalInfo, seeds: &[String]) {
    let primary_key = node
        .key_ids()
        .await
        .ok()
        .and_then(|ids| ids.first().map(ToString::to_string));
    if json {
        let v = json!({
            "event": "started", "time": common::time_of_day(), "unix_ms": common::unix_millis() as u64,
            "addr": node.advertise_addr().to_string(), "bind": node.local_addr().to_string(),
            "generation": local.identity.generation, "incarnation": local.incarnation,
            "primary_key_id": primary_key,
        });
        println!("{v}");
    } else {
        let joining = if seeds.is_empty() {
            "waiting for others to join".to_string()
        } else {
            format!("joining {}", seeds.join(", "))
        };
        println!(
            "[{}] node {} (bound to {}, generation {}, incarnation {}): {joining}",
            common::time_of_day(),
            node.advertise_addr(),
            node.local_addr(),
            local.identity.generation,
            local.incarnation,
        );
        if let Some(id) = primary_key {
            println!("datagrams are encrypted; primary key id {id}");
        }
        println!("press Enter to list the members, type `help` for commands, Ctrl-C to leave");
    }
}

fn print_event(json: bool, event: &Event, local_addr: SocketAddr) {
    let kind = event.kind_name();
    let (addr, generation, detail) = if let Some(id) = event.member() {
        (Some(id.addr), Some(id.generation), None)
    } else {
        match event {
            Event::Broadcast {
                origin, payload, ..
            } => (
                Some(origin.addr),
                Some(origin.generation),
                Some(String::from_utf8_lossy(payload).into_owned()),
            ),
            Event::Message { from, payload } => (
                Some(*from),
                None,
                Some(String::from_utf8_lossy(payload).into_owned()),
            ),
            Event::Local(LocalEvent::Refuted { incarnation, .. }) => (
                Some(local_addr),
                None,
                Some(format!("incarnation {incarnation}")),
            ),
            Event::Local(LocalEvent::NewGeneration { generation }) => {
                (Some(local_addr), Some(*generation), None)
            }
            Event::Local(_) => (Some(local_addr), None, None),
            _ => (None, None, None),
        }
    };
    if json {
        let mut v = json!({"event": kind, "time": common::time_of_day(), "unix_ms": common::unix_millis() as u64});
        if let Some(addr) = addr {
            v["addr"] = Value::String(addr.to_string());
        }
        if let Some(g) = generation {
            v["generation"] = g.into();
        }
        if let Some(d) = detail {
            v["data"] = Value::String(d);
        }
        println!("{v}");
    } else {
        let who = addr
            .map(|a| a.to_string())
            .unwrap_or_else(|| "(this node)".into());
        let extra = match (generation, detail) {
            (Some(g), _) => format!(" (generation {g})"),
            (None, Some(d)) => format!(": {d}"),
            _ => String::new(),
        };
        println!("[{}] {kind:<13} {who}{extra}", common::time_of_day());
    }
}

fn member_json(m: &Member) -> Value {
    json!({
        "addr": m.addr().to_string(), "generation": m.identity.generation, "incarnation": m.incarnation,
        "state": m.state.name(), "metadata": meta_text(&m.metadata),
    })
}

async fn print_members(node: &Node, json: bool, started: Instant) {
    let (Ok(local), Ok(mut members)) = (node.local().await, node.members().await) else {
        eprintln!("error: the node has stopped");
        return;
    };
    members.sort_by_key(|m| m.addr());
    if json {
        let list: Vec<Value> = members.iter().map(member_json).collect();
        let v = json!({
            "event": "members", "time": common::time_of_day(), "unix_ms": common::unix_millis() as u64,
            "local": {"addr": local.identity.addr.to_string(), "generation": local.identity.generation,
                      "incarnation": local.incarnation, "status": format!("{:?}", local.status).to_lowercase(),
                      "metadata": meta_text(&local.metadata)},
            "members": list,
        });
        println!("{v}");
        return;
    }
    let active = members.iter().filter(|m| m.is_active()).count() + 1;
    println!(
        "{active} active member(s) seen from {}:",
        local.identity.addr
    );
    println!(
        "  {:<22} {:>10} {:>5} {:<8} {:>8}  metadata",
        "address", "generation", "inc", "state", "since"
    );
    println!(
        "  {:<22} {:>10} {:>5} {:<8} {:>8}  {}",
        local.identity.addr.to_string(),
        local.identity.generation,
        local.incarnation,
        "(self)",
        format!("{:.0}s", started.elapsed().as_secs_f64()),
        meta_text(&local.metadata)
    );
    for m in &members {
        println!(
            "  {:<22} {:>10} {:>5} {:<8} {:>8}  {}",
            m.addr().to_string(),
            m.identity.generation,
            m.incarnation,
            m.state.name(),
            format!("{:.0}s", m.since.elapsed().as_secs_f64()),
            meta_text(&m.metadata)
        );
    }
}
