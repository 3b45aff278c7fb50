//! Follows a join: says when a try got no answer, and after a few, why it
//! may fail. The protocol retries on its own (first after
//! `join_retry_initial`, the delay doubling up to `join_retry_max`); this
//! follows the same schedule so that its log matches what the node does.

use std::net::SocketAddr;
use std::time::Duration;

use crate::counters::CounterSet;

/// Tries after which the hint is given.
pub const HINT_AFTER_TRIES: u32 = 5;

/// The progress of one join.
#[derive(Clone, Debug)]
pub struct JoinWatch {
    seeds: Vec<SocketAddr>,
    tries: u32,
    next_try: Duration,
    delay: Duration,
    max_delay: Duration,
}

impl JoinWatch {
    /// A join through `seeds` started at elapsed time zero, with the
    /// protocol's retry settings.
    pub fn new(seeds: Vec<SocketAddr>, initial: Duration, max: Duration) -> Self {
        JoinWatch {
            seeds,
            tries: 1,
            next_try: initial,
            delay: initial,
            max_delay: max,
        }
    }

    /// Tries made so far.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    fn seed_list(&self) -> String {
        let seeds: Vec<String> = self.seeds.iter().map(ToString::to_string).collect();
        seeds.join(", ")
    }

    /// Called periodically while the node is still joining, `elapsed`
    /// after the join started, with the node's counters since then
    /// (`before`: when the join started). Returns the lines to log.
    pub fn still_joining(
        &mut self,
        elapsed: Duration,
        before: &CounterSet,
        now: &CounterSet,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        while elapsed >= self.next_try {
            self.delay = (self.delay * 2).min(self.max_delay);
            self.next_try += self.delay;
            let seeds = self.seed_list();
            if self.tries == HINT_AFTER_TRIES {
                let mut line = format!(
                    "no answer from {seeds} after {} tries: check the address, the label and the key",
                    self.tries
                );
                if let Some(reason) = likely_reason(before, now) {
                    line.push_str(&format!(" ({reason})"));
                }
                lines.push(line);
            } else {
                lines.push(format!(
                    "no answer from {seeds} yet (try {}); trying again",
                    self.tries
                ));
            }
            self.tries += 1;
        }
        lines
    }

    /// The line to log once joined.
    pub fn joined(&self) -> String {
        format!(
            "joined the cluster through {} (after {} tr{})",
            self.seed_list(),
            self.tries,
            if self.tries == 1 { "y" } else { "ies" }
        )
    }
}

/// What the counters say about a join that gets no answer.
pub fn likely_reason(before: &CounterSet, now: &CounterSet) -> Option<&'static str> {
    let grew = |name: &str| now.value(name) > before.value(name);
    if grew("transport_send_refused") || grew("transport_recv_refused") {
        Some("the system reports that nothing listens there")
    } else if grew("transport_decrypt_drops_unauthenticated") {
        Some("datagrams sealed with another key arrive: the cluster uses another key")
    } else if grew("transport_decrypt_drops_plaintext") {
        Some("unencrypted datagrams arrive: the cluster runs without a key")
    } else if grew("protocol_drops_wrong_cluster") {
        Some("datagrams with another cluster label arrive")
    } else if grew("transport_connects_address_mismatch") {
        Some("the seed's certificate names another address")
    } else if grew("transport_connects_failed") {
        Some("QUIC connections fail: unreachable, or a certificate from another CA")
    } else if now.value("protocol_datagrams_in") == before.value("protocol_datagrams_in") {
        Some("no datagram came back at all")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_each_retry_then_the_hint_at_the_fifth() {
        let seed: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let mut watch = JoinWatch::new(
            vec![seed],
            Duration::from_millis(500),
            Duration::from_secs(30),
        );
        let quiet = CounterSet::default();
        assert!(watch
            .still_joining(Duration::from_millis(400), &quiet, &quiet)
            .is_empty());
        // Tries at 0, 0.5, 1.5, 3.5, 7.5 s: the fifth has failed by 15.5 s.
        let mut lines = Vec::new();
        for tenth in 5..=155 {
            lines.extend(watch.still_joining(Duration::from_millis(tenth * 100), &quiet, &quiet));
        }
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(lines[0].contains("try 1"));
        assert_eq!(
            lines[4],
            "no answer from 127.0.0.1:7000 after 5 tries: check the address, the label and the key (no datagram came back at all)"
        );
    }

    #[test]
    fn the_reason_follows_the_counters() {
        let before = CounterSet::default();
        let mut now = CounterSet::default();
        now.counter("transport", "send_refused", "", 2);
        assert_eq!(
            likely_reason(&before, &now),
            Some("the system reports that nothing listens there")
        );
        let mut now = CounterSet::default();
        now.counter("protocol", "datagrams_in", "", 3);
        now.counter("protocol", "drops_wrong_cluster", "", 3);
        assert_eq!(
            likely_reason(&before, &now),
            Some("datagrams with another cluster label arrive")
        );
    }
}
