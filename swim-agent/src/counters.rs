//! Every counter of a node as one flat list of named samples: the form the
//! JSON API, the Prometheus endpoint, the status page and the drop
//! summaries all read.

use serde::Serialize;
use swim_transport_udp::swim_core::Counters;
use swim_transport_udp::CoreCounters;

/// Whether a sample only grows (a counter) or goes up and down (a gauge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleKind {
    /// Counts since the node started; never decreases.
    Counter,
    /// A current level.
    Gauge,
}

/// One named value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// `group_field`, e.g. `protocol_datagrams_in` or `transport_send_refused`.
    pub name: String,
    /// What it counts, one line.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: SampleKind,
    /// The value.
    pub value: u64,
}

/// The samples of one node, in a stable order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CounterSet {
    samples: Vec<Sample>,
}

impl CounterSet {
    /// Every sample, in order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The value of the sample named `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.samples
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
    }

    /// The value of `name`, zero when absent (a counter the transport in use
    /// does not have).
    pub fn value(&self, name: &str) -> u64 {
        self.get(name).unwrap_or(0)
    }

    /// Adds one counter sample.
    pub fn counter(&mut self, group: &str, field: &str, help: &'static str, value: u64) {
        self.push(group, field, help, SampleKind::Counter, value);
    }

    /// Adds one gauge sample.
    pub fn gauge(&mut self, group: &str, field: &str, help: &'static str, value: u64) {
        self.push(group, field, help, SampleKind::Gauge, value);
    }

    fn push(&mut self, group: &str, field: &str, help: &'static str, kind: SampleKind, value: u64) {
        self.samples.push(Sample {
            name: format!("{group}_{field}"),
            help,
            kind,
            value,
        });
    }

    /// The samples as one JSON object, name to value.
    pub fn to_json_object(&self) -> serde_json::Map<String, serde_json::Value> {
        self.samples
            .iter()
            .map(|s| (s.name.clone(), s.value.into()))
            .collect()
    }
}

/// Adds `field => help` counters read from `$source.$field` under `group`.
macro_rules! counters {
    ($set:expr, $group:expr, $source:expr, { $($field:ident $(. $sub:ident)* => $help:expr),* $(,)? }) => {
        $(
            $set.counter(
                $group,
                concat!(stringify!($field) $(, "_", stringify!($sub))*),
                $help,
                u64::from($source.$field $(. $sub)*),
            );
        )*
    };
}

/// Adds the protocol's counters (group `protocol`; drops as `protocol_drops_*`).
pub fn add_protocol(set: &mut CounterSet, c: &Counters) {
    counters!(set, "protocol", c, {
        datagrams_in => "Datagrams handed to the protocol",
        bytes_in => "Bytes handed to the protocol",
        datagrams_out => "Datagrams the protocol sent",
        bytes_out => "Bytes the protocol sent",
        probes_sent => "Direct probes (pings) sent",
        probes_failed => "Probes that got neither a direct nor an indirect ack",
        indirect_probes_sent => "Ping-reqs sent to helpers",
        indirect_probes_relayed => "Pings sent for another member's ping-req",
        nacks_received => "Nacks received from ping-req helpers",
        suspicions_raised => "Suspicions raised after a failed probe",
        suspicion_notices => "Suspicions sent to the suspect itself",
        suspicions_refuted => "Accusations against this node that it refuted",
        metadata_refuted => "Metadata records about this node that were not its own, answered",
        last_chance_probes => "Last-chance pings to suspects",
        members_declared_dead => "Members declared dead when their suspicion timed out",
        stale_updates => "Updates that arrived already known or older",
        members_refused => "Members refused because the table was full",
        records_refused => "Records about refused (decommissioned) identities, ignored",
        events_dropped => "Events dropped because the application did not poll in time",
        broadcasts_dropped => "Relayed broadcasts dropped because the queue was full",
        blobs_refused => "Metadata, broadcasts or messages larger than accepted",
        broadcasts_superseded => "Keyed broadcasts older than one already seen",
        broadcasts_unknown_origin => "Broadcasts from members not known, not delivered",
        gossip_queue_overflow => "Records whose retransmissions were dropped (gossip queue full)",
        broadcasts_too_old => "Broadcasts too far behind their origin's newest",
        broadcast_origins_forgotten => "Broadcast origins whose duplicate window was forgotten",
        broadcasts_duplicate => "Broadcasts received again and suppressed",
        corrections_sent => "Replies correcting an outdated accusation",
        syncs_started => "Push-pull exchanges started",
        digests_started => "Digest exchanges started",
        digests_equal => "Digest exchanges that found both views equal",
        digest_repairs => "Digest exchanges that repaired a few buckets",
        digests_refused => "Digests ignored for lack of allowance",
        clock_regressions => "Inputs whose time went backwards (clamped)",
        members_admitted => "Members admitted after answering a ping naming them",
        admissions_failed => "Members learned of that never answered their admission ping",
        unverified_evicted => "Unverified members evicted for a member heard first-hand",
        claims_refused => "Records about unverified generations, ignored",
        generations_verified => "Newer generations confirmed by a ping",
        accusations_checked => "Dead or left records checked with a ping",
        accusations_disproved => "Accusations the member disproved by answering",
        ping_reqs_refused => "Ping-reqs answered with an immediate nack",
        replies_limited => "Replies withheld by the anti-amplification credit",
        sync_replies_limited => "Push-pull replies withheld by the rate limit",
    });
    counters!(set, "protocol", c, {
        drops.truncated => "Datagrams dropped: truncated",
        drops.oversized => "Datagrams dropped: larger than the packet budget",
        drops.unknown_version => "Datagrams dropped: unknown protocol version",
        drops.wrong_cluster => "Datagrams dropped: another cluster's label",
        drops.unknown_type => "Datagrams dropped: unknown message type",
        drops.malformed => "Datagrams dropped: impossible field value",
        drops.wrong_target => "Datagrams dropped: a ping naming another identity",
        drops.unknown_target => "Datagrams dropped: a ping-req for an unknown target",
        drops.unexpected_ack => "Datagrams dropped: an ack matching no probe",
        drops.not_member => "Datagrams dropped: this node has left",
        drops.from_self => "Datagrams dropped: from this node's own address",
        drops.sync_busy => "Datagrams dropped: every push-pull slot busy",
        drops.transmit_queue_full => "Datagrams dropped: outgoing queue full",
        drops.buffer_too_small => "Messages dropped: larger than the send buffer",
    });
    set.gauge(
        "protocol",
        "health_score",
        "Lifeguard's local health multiplier (0 = healthy)",
        u64::from(c.health_score),
    );
}

/// Adds the driver kit's counters (group `driver`).
pub fn add_driver(set: &mut CounterSet, c: &CoreCounters) {
    counters!(set, "driver", c, {
        events_dropped => "Events dropped because the event channel was full",
        timer_runs => "Times the protocol's timers ran",
        identity_writes => "Identities handed to the background writer",
        identity_write_errors => "Failed writes of the identity file",
        members_loaded => "Members loaded from the saved member table at start",
        members_not_loaded => "Saved members that could not be loaded",
        member_table_saves => "Saves of the member table started",
        member_table_save_errors => "Saves of the member table that failed",
    });
}

/// Adds the UDP socket's counters (group `transport`).
pub fn add_udp(set: &mut CounterSet, c: &swim_transport_udp::TransportCounters) {
    counters!(set, "transport", c, {
        datagrams_sent => "Datagrams the socket accepted",
        send_refused => "Sends refused after an ICMP port unreachable",
        send_too_large => "Sends refused as too large for the path",
        send_buffer_full => "Sends dropped: socket send buffer full",
        send_unreachable => "Sends to an unreachable network or host",
        send_other_errors => "Other send errors",
        recv_refused => "Receives that reported an ICMP error",
        recv_errors => "Other receive errors",
        wakeups => "Wake-ups of the node thread by its handle",
        replay_evictions => "Senders the replay filter forgot (table full)",
        opened_with_secondary_key => "Datagrams opened with a key other than the primary",
        seal_errors => "Outgoing datagrams that could not be sealed (dropped)",
        decrypt_drops.truncated => "Sealed datagrams dropped: truncated",
        decrypt_drops.plaintext => "Datagrams dropped: plaintext where a key is required",
        decrypt_drops.unknown_version => "Sealed datagrams dropped: unknown envelope version",
        decrypt_drops.unauthenticated => "Datagrams dropped: they do not open with any key held",
        decrypt_drops.oversized => "Sealed datagrams dropped: too large",
        decrypt_drops.replayed => "Sealed datagrams dropped: replayed",
        decrypt_drops.stale => "Sealed datagrams dropped: outside the freshness window",
    });
}

/// Adds the QUIC transport's counters (group `transport`).
pub fn add_quic(set: &mut CounterSet, c: &swim_transport_quic::TransportCounters) {
    counters!(set, "transport", c, {
        datagrams_sent => "QUIC datagrams sent",
        bytes_sent => "Bytes sent in QUIC datagrams",
        datagrams_received => "QUIC datagrams received",
        bytes_received => "Bytes received in QUIC datagrams",
        send_too_large => "Sends refused as too large",
        send_unsupported => "Sends refused: the peer does not take datagrams",
        send_buffer_full => "Sends dropped: send buffer full",
        send_connection_lost => "Sends dropped: connection lost",
        queue_full_drops => "Datagrams dropped: per-peer queue full",
        connect_limit_drops => "Datagrams dropped: too many pending connects",
        backoff_drops => "Datagrams dropped: peer in reconnect backoff",
        connect_failed_drops => "Datagrams dropped: the connection failed",
        connects_started => "Connections started",
        connects_succeeded => "Connections established",
        connects_failed => "Connections that failed (unreachable, refused, bad certificate)",
        connects_address_mismatch => "Peers whose certificate names another address",
        incoming_accepted => "Incoming connections accepted",
        incoming_refused => "Incoming connections refused",
        incoming_failed => "Incoming handshakes that failed",
        incoming_address_mismatch => "Incoming peers whose certificate names another address",
        connections_rejected => "Connections rejected (limits)",
        connections_closed => "Connections closed",
        refused_by_peer => "Connections the peer refused",
        inbound_queue_full => "Incoming datagrams dropped: queue full",
        task_panics => "Connection tasks that panicked",
        connections_unused_closed => "Idle connections closed",
        connections_duplicate_closed => "Duplicate connections closed",
    });
    set.gauge(
        "transport",
        "open_connections",
        "Connections open now",
        c.open_connections,
    );
    set.gauge(
        "transport",
        "pending_connects",
        "Connections being established now",
        c.pending_connects,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field name in a counters struct's `Debug` text.
    fn debug_fields(debug: &str) -> Vec<String> {
        debug
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter_map(|w| w.strip_suffix(':'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn assert_complete(set: &CounterSet, debug: &str) {
        for field in debug_fields(debug) {
            assert!(
                set.samples()
                    .iter()
                    .any(|s| s.name.ends_with(&format!("_{field}"))
                        || s.name.contains(&format!("_{field}_"))),
                "counter {field} is not exported"
            );
        }
    }

    #[test]
    fn every_counter_of_every_transport_is_exported() {
        let mut udp = CounterSet::default();
        add_protocol(&mut udp, &Counters::default());
        add_driver(&mut udp, &CoreCounters::default());
        add_udp(&mut udp, &swim_transport_udp::TransportCounters::default());
        assert_complete(&udp, &format!("{:?}", Counters::default()));
        assert_complete(&udp, &format!("{:?}", CoreCounters::default()));
        assert_complete(
            &udp,
            &format!("{:?}", swim_transport_udp::TransportCounters::default()),
        );
        let mut quic = CounterSet::default();
        add_quic(
            &mut quic,
            &swim_transport_quic::TransportCounters::default(),
        );
        assert_complete(
            &quic,
            &format!("{:?}", swim_transport_quic::TransportCounters::default()),
        );
    }

    #[test]
    fn names_are_grouped_and_values_read_back() {
        let mut c = Counters {
            datagrams_in: 7,
            health_score: 2,
            ..Counters::default()
        };
        c.drops.wrong_cluster = 3;
        let mut set = CounterSet::default();
        add_protocol(&mut set, &c);
        assert_eq!(set.get("protocol_datagrams_in"), Some(7));
        assert_eq!(set.get("protocol_drops_wrong_cluster"), Some(3));
        assert_eq!(set.get("protocol_health_score"), Some(2));
        assert_eq!(set.value("transport_send_refused"), 0);
        let names: std::collections::HashSet<_> =
            set.samples().iter().map(|s| s.name.clone()).collect();
        assert_eq!(names.len(), set.samples().len(), "names are unique");
    }
}
