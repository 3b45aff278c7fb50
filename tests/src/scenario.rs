//! Scenario builder: cluster size, configuration, join plan, faults and
//! duration, expanded deterministically from one seed into a schedule.

use std::time::{Duration, Instant as WallClock};

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use swim_core::Config;

use crate::adversary::{Attack, Capture};
use crate::fault::{Action, RestartMode};
use crate::net::{rng_below, LinkModel, Partition};
use crate::report::Report;
use crate::sim::{Simulator, SteadyFrom};

/// How the nodes form the cluster at the start.
#[derive(Clone, Debug, PartialEq)]
pub enum JoinPlan {
    /// Node 0 starts alone; node `i` starts at `i * spread / n` and joins
    /// through node 0.
    OneSeed {
        /// Time over which the starts are spread.
        spread: Duration,
    },
    /// Node `i` starts at `i * spread / n` and joins through up to `seeds`
    /// random nodes among those started before it.
    RandomSeeds {
        /// Time over which the starts are spread.
        spread: Duration,
        /// Seeds per node.
        seeds: usize,
    },
    /// Every node starts at time 0 already knowing every other node
    /// ([`Action::StartKnowing`]): a converged cluster without a join,
    /// for measuring steady state at sizes whose mass join would cost too
    /// much to simulate (every node pings every new member once).
    Converged,
}

/// A complete simulation setup. Build it with the `with_*` and fault
/// methods (each fault method draws its random choices from the seed given
/// to [`Scenario::new`], so the schedule is deterministic), then
/// [`Scenario::run`].
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Number of nodes.
    pub nodes: usize,
    /// Configuration of every node.
    pub config: Config,
    /// Default model of every link.
    pub link: LinkModel,
    /// Seed of every random choice (network, nodes, schedule).
    pub seed: u64,
    /// Virtual time simulated.
    pub duration: Duration,
    /// How the cluster forms.
    pub join: JoinPlan,
    /// Scheduled actions besides the joins.
    pub actions: Vec<(Duration, Action)>,
    /// Nodes the join plan leaves down: their addresses belong to the
    /// cluster's range but nothing listens there until an
    /// [`Action::Start`] (a node joining later, or an address to spoof).
    pub down: Vec<u32>,
    /// Check invariants after every input.
    pub invariants: bool,
    /// Threads the simulator may use (results do not depend on it).
    pub threads: usize,
    /// Time between two samples of the time series (zero: none).
    pub sample_every: Duration,
    /// Name shown in reports.
    pub name: String,
    /// Start of the steady state for the traffic split (`None`: `settle`
    /// after the first convergence at or after the join plan's last
    /// start).
    pub steady_from: Option<Duration>,
    /// Margin after that convergence (default 10 s).
    pub settle: Duration,
    /// End the run as soon as every healed partition has full membership
    /// again (or at `duration`, whichever comes first).
    pub stop_when_healed: bool,
}

impl Scenario {
    /// `nodes` nodes with `config`, every random choice drawn from `seed`;
    /// defaults: 60 s, quiet 1 ms links, joins through node 0 spread over
    /// 1 s, invariants on, a sample every second.
    pub fn new(nodes: usize, config: Config, seed: u64) -> Self {
        Scenario {
            nodes,
            config,
            link: LinkModel::default(),
            seed,
            duration: Duration::from_secs(60),
            join: JoinPlan::OneSeed {
                spread: Duration::from_secs(1),
            },
            actions: Vec::new(),
            down: Vec::new(),
            invariants: true,
            threads: 1,
            sample_every: Duration::from_secs(1),
            name: String::from("scenario"),
            steady_from: None,
            settle: Duration::from_secs(10),
            stop_when_healed: false,
        }
    }

    /// Counts the traffic sent from `t` on as steady state (instead of
    /// from the settle margin after the first convergence).
    pub fn with_steady_from(mut self, t: Duration) -> Self {
        self.steady_from = Some(t);
        self
    }

    /// Sets the margin between the first convergence after the joins and
    /// the start of the steady state (default 10 s).
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Ends the run once every partition made so far is healed and the
    /// running nodes hold each other alive again, if before the duration
    /// (the figures then cover the shorter run).
    pub fn with_stop_when_healed(mut self, on: bool) -> Self {
        self.stop_when_healed = on;
        self
    }

    /// The join plan's last start (the node started last).
    pub fn last_join_start(&self) -> Duration {
        let spread = match &self.join {
            JoinPlan::OneSeed { spread } | JoinPlan::RandomSeeds { spread, .. } => *spread,
            JoinPlan::Converged => Duration::ZERO,
        };
        let n = self.nodes.max(1) as u128;
        let last = (0..self.nodes)
            .rev()
            .find(|i| !self.down.contains(&(*i as u32)))
            .unwrap_or(0) as u128;
        Duration::from_nanos(u64::try_from(spread.as_nanos() * last / n).unwrap_or(u64::MAX))
    }

    /// Sets the name shown in reports.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Sets the simulated duration.
    pub fn with_duration(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }

    /// Sets the default link model.
    pub fn with_link(mut self, link: LinkModel) -> Self {
        self.link = link;
        self
    }

    /// Leaves `nodes` down at the start (see [`Scenario::down`]).
    pub fn with_down(mut self, nodes: Vec<u32>) -> Self {
        self.down = nodes;
        self
    }

    /// Sets the join plan.
    pub fn with_join(mut self, join: JoinPlan) -> Self {
        self.join = join;
        self
    }

    /// Turns invariant checks on or off.
    pub fn with_invariants(mut self, on: bool) -> Self {
        self.invariants = on;
        self
    }

    /// Lets the simulator run each window's hosts on up to `threads`
    /// threads. The trace and every figure stay the same, except two
    /// diagnostics: windows run in parallel, and heap per node.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Sets the sampling interval of the time series.
    pub fn with_sampling(mut self, every: Duration) -> Self {
        self.sample_every = every;
        self
    }

    /// Schedules `action` at `t`.
    pub fn at(mut self, t: Duration, action: Action) -> Self {
        self.actions.push((t, action));
        self
    }

    /// A fresh RNG for the next fault generator (depends on the seed and on
    /// how many actions exist already, so generators don't share draws).
    fn rng(&self, salt: u64) -> Pcg64 {
        Pcg64::seed_from_u64(
            self.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.actions.len() as u64,
        )
    }

    /// Crashes `count` distinct random nodes (never node 0) at `t`.
    pub fn kill_random(mut self, t: Duration, count: usize) -> Self {
        let mut rng = self.rng(1);
        for node in pick(&mut rng, self.nodes, count) {
            self.actions.push((t, Action::Crash { node }));
        }
        self
    }

    /// Splits the cluster into halves (nodes below `n/2` and the rest) at
    /// `t`, symmetric, and heals it after `length`.
    pub fn partition_halves(self, t: Duration, length: Duration) -> Self {
        let half = (self.nodes / 2) as u32;
        let partition = Partition {
            from: (0..half).collect(),
            to: (half..self.nodes as u32).collect(),
            symmetric: true,
        };
        self.at(t, Action::Partition { id: 1, partition })
            .at(t + length, Action::Heal { id: 1 })
    }

    /// Crashes `fraction` of the nodes (never node 0) at `t`, restarts them
    /// after `downtime` with `mode`, joining through node 0.
    pub fn mass_restart(
        mut self,
        t: Duration,
        fraction: f64,
        downtime: Duration,
        mode: RestartMode,
    ) -> Self {
        let mut rng = self.rng(2);
        let count = (self.nodes as f64 * fraction).round() as usize;
        for node in pick(&mut rng, self.nodes, count) {
            self.actions.push((t, Action::Crash { node }));
            self.actions.push((
                t + downtime,
                Action::Restart {
                    node,
                    mode,
                    seeds: vec![0],
                },
            ));
        }
        self
    }

    /// Pauses `node` again and again between `from` and `until`: each pause
    /// lasts between `min` and `max`, separated by `gap_min..gap_max`.
    #[allow(clippy::too_many_arguments)]
    pub fn pauses(
        mut self,
        node: u32,
        from: Duration,
        until: Duration,
        min: Duration,
        max: Duration,
        gap_min: Duration,
        gap_max: Duration,
    ) -> Self {
        let mut rng = self.rng(3);
        let mut t = from + between(&mut rng, gap_min, gap_max);
        while t < until {
            let duration = between(&mut rng, min, max);
            self.actions.push((t, Action::Pause { node, duration }));
            t += duration + between(&mut rng, gap_min, gap_max);
        }
        self
    }

    /// At `t`, the clocks of `count` random nodes (never node 0) jump by
    /// `micros` (negative: backwards).
    pub fn clock_jumps(mut self, t: Duration, count: usize, micros: i64) -> Self {
        let mut rng = self.rng(4);
        for node in pick(&mut rng, self.nodes, count) {
            self.actions.push((t, Action::ClockJump { node, micros }));
        }
        self
    }

    /// Continuous churn between `from` and `until`: in every `period`,
    /// `fraction` of the nodes (never node 0) leave gracefully at a random
    /// time in the first half of the period and come back `downtime` later
    /// (at most half a period) as a new generation joining through node 0.
    pub fn churn(
        mut self,
        from: Duration,
        until: Duration,
        period: Duration,
        fraction: f64,
        downtime: Duration,
    ) -> Self {
        let mut rng = self.rng(5);
        let count = (self.nodes as f64 * fraction).round() as usize;
        let downtime = downtime.min(period / 2);
        let mut start = from;
        while start + period <= until {
            for node in pick(&mut rng, self.nodes, count) {
                let t = start + between(&mut rng, Duration::ZERO, period / 2);
                self.actions.push((t, Action::Leave { node }));
                let mode = RestartMode::NewGeneration;
                self.actions.push((
                    t + downtime,
                    Action::Restart {
                        node,
                        mode,
                        seeds: vec![0],
                    },
                ));
            }
            start += period;
        }
        self
    }

    /// The adversary carries out `attack` once, at `t`.
    pub fn attack(self, t: Duration, attack: Attack) -> Self {
        self.at(
            t,
            Action::Attack {
                attack: Box::new(attack),
                round: 0,
            },
        )
    }

    /// The adversary carries out `attack` at `from`, then every `every`
    /// until `until` (included), as rounds 0, 1, 2...
    pub fn attack_every(
        mut self,
        from: Duration,
        every: Duration,
        until: Duration,
        attack: Attack,
    ) -> Self {
        let mut t = from;
        let mut round = 0u32;
        while t <= until {
            self.actions.push((
                t,
                Action::Attack {
                    attack: Box::new(attack.clone()),
                    round,
                },
            ));
            if every.is_zero() {
                break;
            }
            t += every;
            round = round.saturating_add(1);
        }
        self
    }

    /// The adversary records datagrams delivered between nodes from `t`
    /// on, as `capture` says, for later replays.
    pub fn capture(self, t: Duration, capture: Capture) -> Self {
        self.at(t, Action::Capture(capture))
    }

    /// The simulator with the joins and every action scheduled, at time 0.
    pub fn build(&self) -> Simulator {
        let mut sim = Simulator::new(
            self.nodes,
            self.config.clone(),
            self.link.clone(),
            self.seed,
            self.invariants,
        );
        sim.set_threads(self.threads);
        sim.set_steady_from(match self.steady_from {
            Some(t) => SteadyFrom::At(t),
            None => SteadyFrom::AfterJoin {
                not_before: self.last_join_start(),
                settle: self.settle,
            },
        });
        let n = self.nodes.max(1) as u128;
        let mut rng = Pcg64::seed_from_u64(self.seed ^ 0x6a6f_696e);
        for i in 0..self.nodes {
            let (spread, seeds) = match &self.join {
                JoinPlan::OneSeed { spread } => (*spread, if i == 0 { vec![] } else { vec![0] }),
                JoinPlan::RandomSeeds { spread, seeds } => {
                    let mut s: Vec<u32> = (0..*seeds)
                        .filter(|_| i > 0)
                        .map(|_| rng_below(&mut rng, i as u64) as u32)
                        .collect();
                    s.sort_unstable();
                    s.dedup();
                    (*spread, s)
                }
                JoinPlan::Converged => {
                    if !self.down.contains(&(i as u32)) {
                        let action = Action::StartKnowing {
                            node: i as u32,
                            except: self.down.clone(),
                        };
                        sim.schedule(Duration::ZERO, action);
                    }
                    continue;
                }
            };
            let at = Duration::from_nanos(
                u64::try_from(spread.as_nanos() * i as u128 / n).unwrap_or(u64::MAX),
            );
            if self.down.contains(&(i as u32)) {
                continue;
            }
            sim.schedule(
                at,
                Action::Start {
                    node: i as u32,
                    seeds,
                },
            );
        }
        let mut actions = self.actions.clone();
        // Stable: same-time actions keep their insertion order.
        actions.sort_by_key(|(t, _)| *t);
        for (t, a) in actions {
            sim.schedule(t, a);
        }
        if !self.sample_every.is_zero() {
            sim.sample_every(self.sample_every);
        }
        sim
    }

    /// Runs the scenario to its end and reports.
    pub fn run(&self) -> Report {
        self.run_with_progress(Duration::ZERO, |_| {})
    }

    /// Runs the scenario, calling `progress` every `every` of virtual time
    /// (zero: never).
    pub fn run_with_progress(
        &self,
        every: Duration,
        mut progress: impl FnMut(&Simulator),
    ) -> Report {
        let wall = WallClock::now();
        let mut sim = self.build();
        if every.is_zero() && !self.stop_when_healed {
            sim.run_until(self.duration);
        } else {
            // Where the steps end changes nothing in the trace.
            let step = if self.stop_when_healed {
                Duration::from_millis(100)
            } else {
                every
            };
            let mut t = Duration::ZERO;
            let mut next_progress = every;
            while t < self.duration {
                t = (t + step).min(self.duration);
                sim.run_until(t);
                if !every.is_zero() && (t >= next_progress || t >= self.duration) {
                    progress(&sim);
                    next_progress = t + every;
                }
                if self.stop_when_healed && all_rejoined(&sim) {
                    break;
                }
            }
        }
        Report::new(self, &sim, wall.elapsed())
    }
}

/// True if a partition was made and every one made so far is healed and
/// back to full membership.
fn all_rejoined(sim: &Simulator) -> bool {
    let p = &sim.metrics().partitions;
    !p.is_empty() && p.iter().all(|p| p.rejoined_at.is_some())
}

/// `count` distinct random nodes among `1..n` (node 0 is the usual seed).
fn pick(rng: &mut Pcg64, n: usize, count: usize) -> Vec<u32> {
    let mut all: Vec<u32> = (1..n as u32).collect();
    let count = count.min(all.len());
    for i in 0..count {
        let j = i + rng_below(rng, (all.len() - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(count);
    all
}

/// A uniform duration in `lo..=hi`.
fn between(rng: &mut Pcg64, lo: Duration, hi: Duration) -> Duration {
    let span = hi.saturating_sub(lo).as_micros() as u64;
    lo + Duration::from_micros(if span == 0 {
        0
    } else {
        rng.next_u64() % (span + 1)
    })
}
