use std::time::Duration;
use swim_core::Config;
use swim_tests::scenario::Scenario;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let scen = Scenario::new(50, Config::lan(), seed)
        .with_duration(Duration::from_secs(45))
        .kill_random(Duration::from_secs(30), 1);
    let mut probe = scen.build();
    probe.run_until(Duration::from_secs(45));
    let k = probe.metrics().kills[0].clone();
    let mut sim = scen.build();
    sim.watch(k.node);
    sim.run_until(Duration::from_secs(45));
    for line in sim.event_log() {
        let t: f64 = line.split(' ').next().unwrap().parse().unwrap();
        if t >= 29.0 {
            println!("{:.3} {}", t - 30.0, line);
        }
    }
}
