//! Typed errors for configuration and commands.

use core::fmt;

/// Why a [`Config`](crate::Config) was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `probe_interval` is zero.
    ZeroProbeInterval,
    /// `probe_timeout` is zero or longer than `probe_interval`, or
    /// `probe_timeout_min` is zero.
    ProbeTimeoutOutOfRange,
    /// `packet_budget` is below 512 or above 65 507 bytes.
    PacketBudgetOutOfRange,
    /// `indirect_checks` is above 16.
    TooManyIndirectChecks,
    /// `retransmit_mult` is zero or above 16, or `broadcast_retransmit_mult`
    /// zero or above 32.
    RetransmitMultOutOfRange,
    /// A suspicion multiplier is zero.
    SuspicionMultOutOfRange,
    /// `awareness_max` is above 32.
    AwarenessMaxOutOfRange,
    /// `max_members` is below 2.
    MaxMembersTooSmall,
    /// `max_metadata_len` or `max_payload_len` cannot fit in one packet.
    BlobLargerThanPacket,
    /// `broadcast_share_percent` is above 90.
    BroadcastShareOutOfRange,
    /// A queue length is zero.
    ZeroQueue,
    /// `max_concurrent_syncs` or `sync_reply_rate` is zero.
    ZeroSyncs,
    /// Join retry delays are zero or inverted.
    JoinRetryOutOfRange,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ConfigError::ZeroProbeInterval => "probe_interval must be positive",
            ConfigError::ProbeTimeoutOutOfRange => {
                "probe_timeout must be positive and at most probe_interval, probe_timeout_min positive"
            }
            ConfigError::PacketBudgetOutOfRange => "packet_budget must be within 512..=65507",
            ConfigError::TooManyIndirectChecks => "indirect_checks must be at most 16",
            ConfigError::RetransmitMultOutOfRange => {
                "retransmit_mult must be within 1..=16, broadcast_retransmit_mult within 1..=32"
            }
            ConfigError::SuspicionMultOutOfRange => "suspicion multipliers must be positive",
            ConfigError::AwarenessMaxOutOfRange => "awareness_max must be at most 32",
            ConfigError::MaxMembersTooSmall => "max_members must be at least 2",
            ConfigError::BlobLargerThanPacket => {
                "max_metadata_len and max_payload_len must fit in one packet"
            }
            ConfigError::BroadcastShareOutOfRange => "broadcast_share_percent must be at most 90",
            ConfigError::ZeroQueue => "queue lengths must be positive",
            ConfigError::ZeroSyncs => "max_concurrent_syncs and sync_reply_rate must be positive",
            ConfigError::JoinRetryOutOfRange => {
                "join retry delays must be positive and initial <= max"
            }
        };
        f.write_str(text)
    }
}

/// Why a command (join, leave, metadata, broadcast, message) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// `join` was given no seed other than the local node.
    NoSeeds,
    /// The node has left the cluster; build a new `Swim` to rejoin.
    HasLeft,
    /// Metadata longer than `max_metadata_len` (or the storage capacity).
    MetadataTooLarge,
    /// Payload longer than `max_payload_len` (or the storage capacity).
    PayloadTooLarge,
    /// The broadcast queue is full; retry after some gossip rounds.
    BroadcastQueueFull,
    /// The destination of a direct message is not a known live member.
    UnknownMember,
    /// The outgoing queue is full; retry after draining `poll_transmit`.
    TransmitQueueFull,
    /// Every push-pull slot is busy (`max_concurrent_syncs`); retry once
    /// `poll_transmit` has sent the exchanges under way.
    SyncSlotsBusy,
    /// The command named the local node's own address (`refuse`,
    /// `import_member`).
    LocalAddress,
    /// `import_member` named an identity the admission rules refuse.
    Refused,
    /// `import_member` found `max_members` members remembered already.
    TableFull,
    /// `refuse` found `MAX_REFUSED` addresses refused already.
    RefusalListFull,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            CommandError::NoSeeds => "no seed other than the local node",
            CommandError::HasLeft => "the node has left the cluster",
            CommandError::MetadataTooLarge => "metadata is larger than allowed",
            CommandError::PayloadTooLarge => "payload is larger than allowed",
            CommandError::BroadcastQueueFull => "broadcast queue is full",
            CommandError::UnknownMember => "destination is not a known live member",
            CommandError::TransmitQueueFull => "outgoing queue is full",
            CommandError::SyncSlotsBusy => "every push-pull slot is busy",
            CommandError::LocalAddress => "the address is the local node's own",
            CommandError::Refused => "the admission rules refuse this identity",
            CommandError::TableFull => "the member table is full",
            CommandError::RefusalListFull => "too many identities refused already",
        };
        f.write_str(text)
    }
}

// `core::error::Error` (Rust 1.81): the errors are errors without `std` too.
impl core::error::Error for ConfigError {}
impl core::error::Error for CommandError {}
