//! What the API shows of the node: the member list (this node included)
//! and the local node, as serializable structures shared by the agent
//! (which fills them) and the command-line clients (which read them).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use swim_transport_udp::{LocalInfo, LocalStatus, Member};

/// One member as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Its address.
    pub addr: String,
    /// Its generation (a new one at each restart).
    pub generation: u32,
    /// Its incarnation (raised each time it refutes a suspicion).
    pub incarnation: u32,
    /// `alive`, `suspect`, `dead` or `left`; for this node, its status
    /// (`joining`, `alive` once joined, `leaving`...).
    pub state: String,
    /// Its metadata as text (entries separated by newlines).
    pub metadata: String,
    /// Seconds since its state last changed (for this node: since the
    /// agent started).
    pub since_secs: u64,
    /// Round trip of the last probe it answered directly, in milliseconds;
    /// `null` until it has answered one (and for this node).
    pub rtt_ms: Option<f64>,
    /// True for the node that answered.
    #[serde(rename = "self")]
    pub is_self: bool,
}

/// The node that answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalView {
    /// The address other members know it by.
    pub addr: String,
    /// The address its socket is bound to.
    pub bind: String,
    /// Its generation.
    pub generation: u32,
    /// Its incarnation.
    pub incarnation: u32,
    /// `idle`, `joining`, `joined`, `leaving` or `left`.
    pub status: String,
    /// Lifeguard's local health multiplier (0 = healthy).
    pub health: u8,
    /// Its metadata as text.
    pub metadata: String,
    /// `plaintext UDP`, `UDP with a keyring` or `QUIC with mutual TLS`.
    pub protection: String,
    /// Seconds since the agent started.
    pub uptime_secs: u64,
    /// The agent's version.
    pub version: String,
}

/// A local status's name.
pub fn status_name(status: LocalStatus) -> &'static str {
    match status {
        LocalStatus::Idle => "idle",
        LocalStatus::Joining => "joining",
        LocalStatus::Joined => "joined",
        LocalStatus::Leaving => "leaving",
        LocalStatus::Left => "left",
        _ => "unknown",
    }
}

/// Metadata bytes as text.
pub fn metadata_text(metadata: &[u8]) -> String {
    String::from_utf8_lossy(metadata).into_owned()
}

/// A remote member's entry; `now` is the node clock's present.
pub fn member_info(member: &Member, now: Instant) -> MemberInfo {
    MemberInfo {
        addr: member.addr().to_string(),
        generation: member.identity.generation,
        incarnation: member.incarnation,
        state: member.state.name().to_string(),
        metadata: metadata_text(&member.metadata),
        since_secs: now.saturating_duration_since(member.since).as_secs(),
        rtt_ms: member.rtt.map(|rtt| rtt.as_secs_f64() * 1000.0),
        is_self: false,
    }
}

/// The local node's entry in the member list.
pub fn self_info(local: &LocalInfo, uptime: Duration) -> MemberInfo {
    let state = match local.status {
        LocalStatus::Joined => "alive",
        other => status_name(other),
    };
    MemberInfo {
        addr: local.identity.addr.to_string(),
        generation: local.identity.generation,
        incarnation: local.incarnation,
        state: state.to_string(),
        metadata: metadata_text(&local.metadata),
        since_secs: uptime.as_secs(),
        rtt_ms: None,
        is_self: true,
    }
}

/// The member list: this node first, then the others by address.
pub fn member_list(
    local: &LocalInfo,
    mut members: Vec<Member>,
    uptime: Duration,
    now: Instant,
) -> Vec<MemberInfo> {
    members.sort_by_key(Member::addr);
    std::iter::once(self_info(local, uptime))
        .chain(members.iter().map(|m| member_info(m, now)))
        .collect()
}

/// The local view.
pub fn local_view(
    local: &LocalInfo,
    bind: SocketAddr,
    protection: &str,
    uptime: Duration,
) -> LocalView {
    LocalView {
        addr: local.identity.addr.to_string(),
        bind: bind.to_string(),
        generation: local.identity.generation,
        incarnation: local.incarnation,
        status: status_name(local.status).to_string(),
        health: local.health,
        metadata: metadata_text(&local.metadata),
        protection: protection.to_string(),
        uptime_secs: uptime.as_secs(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// The member list as a table for people.
pub fn member_table(members: &[MemberInfo]) -> String {
    let mut out = format!(
        "{:<24} {:<8} {:>10} {:>5} {:>8} {:>7}  {}\n",
        "ADDRESS", "STATE", "GENERATION", "INC", "SINCE", "RTT", "METADATA"
    );
    for m in members {
        let addr = if m.is_self {
            format!("{} (self)", m.addr)
        } else {
            m.addr.clone()
        };
        let rtt = m
            .rtt_ms
            .map(|r| format!("{r:.1}ms"))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<24} {:<8} {:>10} {:>5} {:>8} {:>7}  {}\n",
            addr,
            m.state,
            m.generation,
            m.incarnation,
            crate::clock::human_duration(m.since_secs),
            rtt,
            m.metadata.replace('\n', ",")
        ));
    }
    out
}
