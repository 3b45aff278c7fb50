mod harness;
use std::time::Duration;
use harness::Cluster;
use swim_core::Config;
#[test]
fn dbg() {
    let mut c = Cluster::new(10, Config::lan(), 2);
    c.join_all_via(0);
    let took = c.run_until(Duration::from_secs(10), Cluster::converged);
    println!("took {took:?} now {:?} datagrams {}", c.now, c.datagrams);
    c.run_for(Duration::from_secs(5));
    println!("now {:?} datagrams {}", c.now, c.datagrams);
    c.kill(7);
    let t0 = c.now;
    let everyone_knows = |c: &Cluster| (0..10).filter(|&i| i != 7).all(|i| c.view(i, 7).is_some_and(|(s, _, _)| s == swim_core::MemberState::Dead));
    let took = c.run_until(Duration::from_secs(40), everyone_knows);
    println!("dead took {took:?} now {:?} datagrams {}", c.now - t0, c.datagrams);
    for l in c.log.iter().filter(|l| l.node == 1) { println!("{:?}", l); }
    println!("{:?}", c.node(1).counters());
}
