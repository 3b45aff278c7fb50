//! Prints every event about one node (and every action) in a lossy run,
//! to investigate a false positive:
//! `cargo run --release -p swim-tests --example watch -- NODES lan|local LOSS_PERCENT SECS SEED NODE [pauses|back-to-back-pauses] [plain]`
//! (`back-to-back-pauses`: 2-5 s pauses with 0.2-2 s of activity between
//! them; `plain`: Lifeguard off).

use std::time::Duration;

use swim_core::Config;
use swim_tests::net::LinkModel;
use swim_tests::scenario::Scenario;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nodes: usize = arg(&args, 1, 100);
    let mut config = if args.get(2).is_some_and(|s| s == "local") {
        Config::local()
    } else {
        Config::lan()
    };
    config.lifeguard = args.get(8).is_none_or(|a| a != "plain");
    let loss: f64 = arg(&args, 3, 0.0);
    let secs: u64 = arg(&args, 4, 120);
    let seed: u64 = arg(&args, 5, 1);
    let node: u32 = arg(&args, 6, 1);
    let s = |x| Duration::from_secs(x);
    let mut scenario = Scenario::new(nodes, config, seed)
        .with_duration(s(secs))
        .with_link(LinkModel::with_loss(loss / 100.0));
    let ms = Duration::from_millis;
    match args.get(7).map(String::as_str) {
        Some("pauses") => scenario = scenario.pauses(1, s(1), s(secs), s(2), s(5), s(10), s(30)),
        Some("back-to-back-pauses") => {
            scenario = scenario.pauses(1, s(1), s(secs), s(2), s(5), ms(200), s(2));
        }
        _ => {}
    }
    let mut sim = scenario.build();
    sim.watch(node);
    sim.run_until(scenario.duration);
    for line in sim.event_log() {
        println!("{line}");
    }
    println!("false positives: {:?}", sim.metrics().false_positives);
}
