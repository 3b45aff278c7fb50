//! Prints every event about one node in a scenario with pauses of node 1:
//! `cargo run --release -p swim-tests --example watch -- [lan|local] [seed] [until_secs]`.

use std::time::Duration;

use swim_core::Config;
use swim_tests::scenario::Scenario;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = match args.get(1).map(String::as_str) {
        Some("lan") => Config::lan(),
        _ => Config::local(),
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let until = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(120);
    let s = Scenario::new(100, config, seed)
        .with_duration(Duration::from_secs(until))
        .pauses(
            1,
            Duration::from_secs(1),
            Duration::from_secs(600),
            Duration::from_secs(2),
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(30),
        );
    let mut sim = s.build();
    sim.watch(1);
    sim.run_until(s.duration);
    for line in sim.event_log() {
        println!("{line}");
    }
}
