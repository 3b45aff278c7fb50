//! Following the node's progress while the agent runs: each join try
//! that got no answer (and the hint after five), and every
//! [`DROP_SUMMARY_EVERY`] the traffic it dropped as not for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use swim_transport_udp::LocalStatus;

use crate::counters::CounterSet;
use crate::drop_watch;
use crate::join_watch::JoinWatch;
use crate::shared::Shared;

/// How often the node's progress is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// The window of the dropped-traffic summaries.
pub const DROP_SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// Follows the join and summarises dropped traffic, until aborted.
pub async fn follow(
    shared: Arc<Shared>,
    seeds: Vec<SocketAddr>,
    retry_initial: Duration,
    retry_max: Duration,
) {
    let started = Instant::now();
    let at_start = shared.node.counters().await.unwrap_or_default();
    let mut join = (!seeds.is_empty()).then(|| JoinWatch::new(seeds, retry_initial, retry_max));
    let mut drop_base: CounterSet = at_start.clone();
    let mut drop_checked = Instant::now();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        let Ok(now) = shared.node.counters().await else {
            return;
        };
        if let Some(watch) = &mut join {
            match shared.node.local().await.map(|l| l.status) {
                Ok(LocalStatus::Joining) => {
                    for line in watch.still_joining(started.elapsed(), &at_start, &now) {
                        shared.hub.notice("join-retry", line);
                    }
                }
                Ok(LocalStatus::Joined) => {
                    shared.hub.notice("join", watch.joined());
                    join = None;
                }
                _ => join = None,
            }
        }
        if drop_checked.elapsed() >= DROP_SUMMARY_EVERY {
            if let Some(line) =
                drop_watch::summarise(&drop_base, &now, DROP_SUMMARY_EVERY.as_secs())
            {
                shared.hub.notice("drops", line);
            }
            drop_base = now;
            drop_checked = Instant::now();
        }
    }
}
