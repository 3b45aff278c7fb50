//! Protocol configuration, presets and validation.

use core::time::Duration;

use crate::error::ConfigError;
use crate::wire::MIN_PACKET_BUDGET;

/// Chainable setters `with_<field>(value)`, one per field.
macro_rules! setters {
    ($($setter:ident => $field:ident: $ty:ty,)*) => {
        $(
            #[doc = concat!("Sets `", stringify!($field), "` (see the field).")]
            pub fn $setter(mut self, value: $ty) -> Self {
                self.$field = value;
                self
            }
        )*
    };
}

/// Every tunable of the protocol.
///
/// Start from a preset ([`Config::lan`], [`Config::wan`], [`Config::local`])
/// whose values match HashiCorp memberlist's defaults, then adjust fields.
/// [`Config::validate`] (also run by `Swim::new`) rejects inconsistent values
/// with a typed [`ConfigError`].
///
/// New fields may come in later versions, so a `Config` cannot be written
/// as a struct literal outside this crate: start from a preset and set
/// fields, directly or with the chainable `with_*` setters:
///
/// ```
/// use core::time::Duration;
/// use swim_core::Config;
///
/// let config = Config::lan()
///     .with_label("payments")
///     .with_probe_interval(Duration::from_millis(500))
///     .with_max_members(5_000);
/// assert_eq!(config.validate(), Ok(()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Time between two probes (scaled by the local health multiplier).
    pub probe_interval: Duration,
    /// Longest time to wait for an ack before asking others (ping-req).
    /// The wait actually used adapts to the round-trip times this node
    /// measures (`srtt + 4 * rttvar`), between `probe_timeout_min` and this
    /// value; before any measurement it is this value.
    pub probe_timeout: Duration,
    /// Shortest time to wait for an ack, however fast the network (a
    /// margin for scheduling delays of busy hosts). Set it equal to
    /// `probe_timeout` for a fixed timeout as in memberlist; values above
    /// `probe_timeout` act as `probe_timeout`.
    pub probe_timeout_min: Duration,
    /// Members asked to probe indirectly (`k`). Zero disables ping-req.
    pub indirect_checks: u8,
    /// Retransmissions per update: `retransmit_mult * ceil(log10(n + 1))`.
    pub retransmit_mult: u8,
    /// Suspicion timeout floor: `suspicion_mult * max(1, log10 n) * probe_interval`.
    pub suspicion_mult: u8,
    /// Suspicion timeout ceiling, as a multiple of the floor (Lifeguard).
    pub suspicion_max_timeout_mult: u8,
    /// Interval of anti-entropy rounds: a digest exchange with one random
    /// member and one dead member (partition healing). Equal views cost one
    /// small datagram each way; when they differ, only the members of the
    /// digest buckets that differ travel (the whole tables when more than
    /// half differ). Not scaled with cluster size. Zero disables it.
    pub push_pull_interval: Duration,
    /// Interval of the gossip fan-out timer. Zero disables it.
    pub gossip_interval: Duration,
    /// Members sent pending updates at each gossip tick.
    pub gossip_nodes: u8,
    /// How long dead members stay gossip targets, so that they can refute.
    pub gossip_to_the_dead_time: Duration,
    /// How long dead and left members are remembered before being forgotten.
    /// During this time they are probed now and then to heal partitions.
    pub dead_member_retention: Duration,
    /// Local health multiplier ceiling (Lifeguard's S).
    pub awareness_max: u8,
    /// Enables Lifeguard (local health, nacks, dynamic suspicion, buddy
    /// system). When false, the protocol is plain SWIM with a fixed
    /// suspicion timeout of `suspicion_mult * max(1, log10 n) * probe_interval`.
    pub lifeguard: bool,
    /// Largest datagram ever emitted, in bytes (512 ..= 65 507).
    pub packet_budget: u16,
    /// Hash of the cluster label; set it with [`Config::with_label`].
    pub cluster_tag: u32,
    /// Most members (of any state) remembered; further joins are refused
    /// and counted. The capacity `N` of [`Swim`](crate::Swim) is the lower
    /// bound when it is lower.
    pub max_members: u32,
    /// Largest node metadata blob, in bytes.
    pub max_metadata_len: u16,
    /// Largest application broadcast or direct message, in bytes.
    pub max_payload_len: u16,
    /// Application broadcasts held for dissemination at once.
    pub broadcast_queue_len: u16,
    /// Broadcast origins whose duplicate-suppression window is remembered
    /// (about 150 bytes each); beyond it the least recently active is
    /// forgotten.
    pub max_broadcast_origins: u16,
    /// Retransmissions of each broadcast, as a multiple of
    /// `ceil(log10(n + 1))`: higher than for membership updates by default,
    /// because push-pull does not repair a broadcast that missed a node.
    pub broadcast_retransmit_mult: u8,
    /// Share of each packet's piggyback space reserved for broadcasts,
    /// in percent, so membership traffic never starves them.
    pub broadcast_share_percent: u8,
    /// Events held until polled. When only one place is left, newer events
    /// are dropped and counted, and that place holds an `Event::Lagged`
    /// saying how many were.
    pub event_queue_len: u16,
    /// Push-pull exchanges (each direction counts) in flight at once.
    pub max_concurrent_syncs: u8,
    /// Bytes per second this node spends at most on push-pull replies (its
    /// whole table, sent to members that ask for it), with a burst of one
    /// second's worth; requests beyond it are refused and counted. Each
    /// member may also draw at most one reply per quarter probe interval.
    /// The default, 32 MiB/s, lets one seed serve two thousand nodes
    /// joining within two seconds.
    pub sync_reply_rate: u32,
    /// First delay between join attempts; doubles up to `join_retry_max`.
    pub join_retry_initial: Duration,
    /// Longest delay between join attempts.
    pub join_retry_max: Duration,
    /// How long a leaving node keeps gossiping its departure.
    pub leave_propagate_time: Duration,
}

impl Config {
    /// memberlist's `DefaultLANConfig`: 1 s probes, at most 500 ms to wait
    /// for an ack (at least 50 ms, see `probe_timeout_min`: fifty times a
    /// LAN round trip).
    pub fn lan() -> Self {
        Config {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            probe_timeout_min: Duration::from_millis(50),
            indirect_checks: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            push_pull_interval: Duration::from_secs(5),
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            dead_member_retention: Duration::from_secs(600),
            awareness_max: 8,
            lifeguard: true,
            packet_budget: 1400,
            cluster_tag: label_hash(b""),
            max_members: 65_536,
            max_metadata_len: 512,
            max_payload_len: 1024,
            broadcast_queue_len: 256,
            max_broadcast_origins: 256,
            broadcast_retransmit_mult: 8,
            broadcast_share_percent: 30,
            event_queue_len: 4096,
            max_concurrent_syncs: 8,
            sync_reply_rate: 32 << 20,
            join_retry_initial: Duration::from_millis(500),
            join_retry_max: Duration::from_secs(30),
            leave_propagate_time: Duration::from_secs(1),
        }
    }

    /// memberlist's `DefaultWANConfig`: 5 s probes, at most 3 s to wait for
    /// an ack (at least 500 ms).
    pub fn wan() -> Self {
        Config {
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            probe_timeout_min: Duration::from_millis(500),
            suspicion_mult: 6,
            push_pull_interval: Duration::from_secs(15),
            gossip_interval: Duration::from_millis(500),
            gossip_nodes: 4,
            gossip_to_the_dead_time: Duration::from_secs(60),
            leave_propagate_time: Duration::from_secs(2),
            ..Config::lan()
        }
    }

    /// memberlist's `DefaultLocalConfig`: loopback or one rack (at most
    /// 200 ms to wait for an ack, at least 50 ms).
    pub fn local() -> Self {
        Config {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(200),
            probe_timeout_min: Duration::from_millis(50),
            indirect_checks: 1,
            retransmit_mult: 2,
            suspicion_mult: 3,
            push_pull_interval: Duration::from_secs(3),
            gossip_interval: Duration::from_millis(100),
            gossip_to_the_dead_time: Duration::from_secs(15),
            leave_propagate_time: Duration::from_millis(500),
            ..Config::lan()
        }
    }

    setters! {
        with_probe_interval => probe_interval: Duration,
        with_probe_timeout => probe_timeout: Duration,
        with_probe_timeout_min => probe_timeout_min: Duration,
        with_indirect_checks => indirect_checks: u8,
        with_retransmit_mult => retransmit_mult: u8,
        with_suspicion_mult => suspicion_mult: u8,
        with_suspicion_max_timeout_mult => suspicion_max_timeout_mult: u8,
        with_push_pull_interval => push_pull_interval: Duration,
        with_gossip_interval => gossip_interval: Duration,
        with_gossip_nodes => gossip_nodes: u8,
        with_gossip_to_the_dead_time => gossip_to_the_dead_time: Duration,
        with_dead_member_retention => dead_member_retention: Duration,
        with_awareness_max => awareness_max: u8,
        with_lifeguard => lifeguard: bool,
        with_packet_budget => packet_budget: u16,
        with_max_members => max_members: u32,
        with_max_metadata_len => max_metadata_len: u16,
        with_max_payload_len => max_payload_len: u16,
        with_broadcast_queue_len => broadcast_queue_len: u16,
        with_max_broadcast_origins => max_broadcast_origins: u16,
        with_broadcast_retransmit_mult => broadcast_retransmit_mult: u8,
        with_broadcast_share_percent => broadcast_share_percent: u8,
        with_event_queue_len => event_queue_len: u16,
        with_max_concurrent_syncs => max_concurrent_syncs: u8,
        with_sync_reply_rate => sync_reply_rate: u32,
        with_join_retry_initial => join_retry_initial: Duration,
        with_join_retry_max => join_retry_max: Duration,
        with_leave_propagate_time => leave_propagate_time: Duration,
    }

    /// Sets the cluster label: packets from clusters with another label are
    /// dropped and counted. Only a 32-bit hash of it travels.
    pub fn with_label(mut self, label: &str) -> Self {
        self.cluster_tag = label_hash(label.as_bytes());
        self
    }

    /// Checks that the values are usable together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.probe_interval.is_zero() {
            return Err(ConfigError::ZeroProbeInterval);
        }
        if self.probe_timeout.is_zero()
            || self.probe_timeout > self.probe_interval
            || self.probe_timeout_min.is_zero()
        {
            return Err(ConfigError::ProbeTimeoutOutOfRange);
        }
        if usize::from(self.packet_budget) < MIN_PACKET_BUDGET || self.packet_budget > 65_507 {
            return Err(ConfigError::PacketBudgetOutOfRange);
        }
        if self.indirect_checks > 16 {
            return Err(ConfigError::TooManyIndirectChecks);
        }
        if self.retransmit_mult == 0 || self.retransmit_mult > 16 {
            return Err(ConfigError::RetransmitMultOutOfRange);
        }
        if self.suspicion_mult == 0 || self.suspicion_max_timeout_mult == 0 {
            return Err(ConfigError::SuspicionMultOutOfRange);
        }
        if self.awareness_max > 32 {
            return Err(ConfigError::AwarenessMaxOutOfRange);
        }
        if self.max_members < 2 {
            return Err(ConfigError::MaxMembersTooSmall);
        }
        // A blob must fit one packet together with the header and the record.
        let room = usize::from(self.packet_budget) - crate::wire::MAX_RECORD_OVERHEAD;
        if usize::from(self.max_metadata_len) > room || usize::from(self.max_payload_len) > room {
            return Err(ConfigError::BlobLargerThanPacket);
        }
        if self.broadcast_share_percent > 90 {
            return Err(ConfigError::BroadcastShareOutOfRange);
        }
        if self.broadcast_retransmit_mult == 0 || self.broadcast_retransmit_mult > 32 {
            return Err(ConfigError::RetransmitMultOutOfRange);
        }
        if self.event_queue_len == 0
            || self.broadcast_queue_len == 0
            || self.max_broadcast_origins == 0
        {
            return Err(ConfigError::ZeroQueue);
        }
        if self.max_concurrent_syncs == 0 || self.sync_reply_rate == 0 {
            return Err(ConfigError::ZeroSyncs);
        }
        if self.join_retry_initial.is_zero() || self.join_retry_max < self.join_retry_initial {
            return Err(ConfigError::JoinRetryOutOfRange);
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

/// FNV-1a, 32 bits: the cluster tag carried by every packet.
pub const fn label_hash(label: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < label.len() {
        hash ^= label[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for c in [Config::lan(), Config::wan(), Config::local()] {
            assert_eq!(c.validate(), Ok(()));
        }
    }

    #[test]
    fn invalid_values_are_typed_errors() {
        let mut c = Config::lan();
        c.packet_budget = 100;
        assert_eq!(c.validate(), Err(ConfigError::PacketBudgetOutOfRange));
        let mut c = Config::lan();
        c.probe_timeout = Duration::from_secs(2);
        assert_eq!(c.validate(), Err(ConfigError::ProbeTimeoutOutOfRange));
        let mut c = Config::lan();
        c.packet_budget = 512;
        assert_eq!(c.validate(), Err(ConfigError::BlobLargerThanPacket));
        c.max_metadata_len = 256;
        c.max_payload_len = 256;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn labels_change_the_tag() {
        assert_ne!(
            Config::lan().with_label("a").cluster_tag,
            Config::lan().cluster_tag
        );
        assert_eq!(label_hash(b"a"), 0xe40c_292c);
    }
}
