// Helpers shared by the examples (included with `#[path]`).
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

/// The current UTC time of day, `HH:MM:SS.mmm`.
pub fn time_of_day() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_millis()
    )
}

/// Milliseconds since the UNIX epoch.
#[allow(dead_code)]
pub fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// `{"name": value, ...}` for the listed fields of a counters struct.
macro_rules! fields {
    ($source:expr, $($field:ident),* $(,)?) => {{
        let mut map = serde_json::Map::new();
        $( map.insert(stringify!($field).to_string(), serde_json::Value::from($source.$field)); )*
        serde_json::Value::Object(map)
    }};
}

/// Every counter of a node as one JSON object (the `counters` command
/// with `--json`).
pub fn counters_json(c: &swim_transport_udp::NodeCounters) -> serde_json::Value {
    let p = &c.protocol;
    let mut protocol = fields!(
        p,
        datagrams_in,
        bytes_in,
        datagrams_out,
        bytes_out,
        probes_sent,
        probes_failed,
        indirect_probes_sent,
        indirect_probes_relayed,
        nacks_received,
        suspicions_raised,
        suspicion_notices,
        suspicions_refuted,
        metadata_refuted,
        last_chance_probes,
        members_declared_dead,
        stale_updates,
        members_refused,
        records_refused,
        events_dropped,
        broadcasts_dropped,
        blobs_refused,
        broadcasts_superseded,
        broadcasts_unknown_origin,
        gossip_queue_overflow,
        broadcasts_too_old,
        broadcast_origins_forgotten,
        broadcasts_duplicate,
        corrections_sent,
        syncs_started,
        digests_started,
        digests_equal,
        digest_repairs,
        digests_refused,
        clock_regressions,
        members_admitted,
        admissions_failed,
        unverified_evicted,
        claims_refused,
        generations_verified,
        accusations_checked,
        accusations_disproved,
        ping_reqs_refused,
        replies_limited,
        sync_replies_limited,
        health_score,
    );
    let d = &p.drops;
    protocol["drops"] = fields!(
        d,
        truncated,
        oversized,
        unknown_version,
        wrong_cluster,
        unknown_type,
        malformed,
        wrong_target,
        unknown_target,
        unexpected_ack,
        not_member,
        from_self,
        sync_busy,
        transmit_queue_full,
        buffer_too_small,
    );
    let t = &c.transport;
    let mut transport = fields!(
        t,
        datagrams_sent,
        send_refused,
        send_too_large,
        send_buffer_full,
        send_unreachable,
        send_other_errors,
        recv_refused,
        recv_errors,
        wakeups,
        replay_evictions,
        opened_with_secondary_key,
        seal_errors,
    );
    let x = &t.decrypt_drops;
    transport["decrypt_drops"] = fields!(
        x,
        truncated,
        plaintext,
        unknown_version,
        unauthenticated,
        oversized,
        replayed,
        stale
    );
    let r = &c.driver;
    let driver = fields!(
        r,
        events_dropped,
        timer_runs,
        identity_writes,
        identity_write_errors,
        members_loaded,
        members_not_loaded,
        member_table_saves,
        member_table_save_errors,
    );
    serde_json::json!({
        "event": "counters", "time": time_of_day(), "unix_ms": unix_millis() as u64,
        "protocol": protocol, "transport": transport, "driver": driver,
    })
}
