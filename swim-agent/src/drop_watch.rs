//! Summaries of the traffic a node drops because it is not for it: sealed
//! with another key, sent in plaintext to a keyed node, from another
//! cluster label, about decommissioned identities. Without these, such a
//! node looks silent: it prints nothing while it drops everything.

use crate::counters::CounterSet;

/// Each counter watched, and what its growth means to an operator.
pub const WATCHED: &[(&str, &str)] = &[
    (
        "transport_decrypt_drops_unauthenticated",
        "did not open with this node's keys (sent with another cluster key?)",
    ),
    (
        "transport_decrypt_drops_plaintext",
        "were not encrypted (sent by a node started without a key file?)",
    ),
    (
        "transport_decrypt_drops_stale",
        "were outside the freshness window (clocks too far apart?)",
    ),
    ("transport_decrypt_drops_replayed", "were replays"),
    (
        "protocol_drops_wrong_cluster",
        "carried another cluster label (--label differs)",
    ),
    (
        "protocol_drops_unknown_version",
        "spoke another protocol version",
    ),
    (
        "protocol_records_refused",
        "were records about decommissioned identities (ignored)",
    ),
    (
        "transport_incoming_failed",
        "were QUIC handshakes that failed (a certificate from another CA?)",
    ),
    (
        "transport_incoming_address_mismatch",
        "came from QUIC peers whose certificate names another address",
    ),
    (
        "transport_connects_address_mismatch",
        "went to QUIC peers whose certificate names another address",
    ),
];

/// What grew between two readings, as one line: `None` when nothing did.
pub fn summarise(before: &CounterSet, now: &CounterSet, window_secs: u64) -> Option<String> {
    let parts: Vec<String> = WATCHED
        .iter()
        .filter_map(|(name, meaning)| {
            let grew = now.value(name).saturating_sub(before.value(name));
            (grew > 0).then(|| format!("{grew} {meaning}"))
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "in the last {window_secs} s, datagrams dropped: {}",
        parts.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_grew_and_only_that() {
        let mut before = CounterSet::default();
        before.counter("transport", "decrypt_drops_unauthenticated", "", 5);
        before.counter("protocol", "drops_wrong_cluster", "", 1);
        assert_eq!(summarise(&before, &before, 10), None);
        let mut now = CounterSet::default();
        now.counter("transport", "decrypt_drops_unauthenticated", "", 9);
        now.counter("protocol", "drops_wrong_cluster", "", 1);
        let line = summarise(&before, &now, 10).unwrap();
        assert!(
            line.contains("4 did not open with this node's keys"),
            "{line}"
        );
        assert!(!line.contains("label"), "{line}");
    }
}
