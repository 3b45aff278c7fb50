//! Counters of everything the state machine did or refused to do.

/// Why an incoming datagram (or part of one) was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than a header, or a field ran past the end.
    Truncated,
    /// Larger than the packet budget.
    Oversized,
    /// A protocol version this node does not speak.
    UnknownVersion,
    /// The cluster tag belongs to another cluster.
    WrongCluster,
    /// A message type this node does not know.
    UnknownType,
    /// A field held an impossible value.
    Malformed,
    /// A ping named another identity than the local one.
    WrongTarget,
    /// A ping-req named a target that is not a known live member.
    UnknownTarget,
    /// An ack or nack matched no probe in flight.
    UnexpectedAck,
    /// The node has left and no longer takes part.
    NotMember,
    /// The source address is the node's own (a loop or a spoofed packet).
    FromSelf,
    /// Every push-pull slot was busy.
    SyncBusy,
    /// The outgoing queue was full.
    TransmitQueueFull,
    /// An outgoing message or push-pull chunk that did not fit the buffer
    /// given to `poll_transmit` (smaller than the packet budget).
    BufferTooSmall,
}

/// Drops by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// See [`DropReason::Truncated`].
    pub truncated: u64,
    /// See [`DropReason::Oversized`].
    pub oversized: u64,
    /// See [`DropReason::UnknownVersion`].
    pub unknown_version: u64,
    /// See [`DropReason::WrongCluster`].
    pub wrong_cluster: u64,
    /// See [`DropReason::UnknownType`].
    pub unknown_type: u64,
    /// See [`DropReason::Malformed`].
    pub malformed: u64,
    /// See [`DropReason::WrongTarget`].
    pub wrong_target: u64,
    /// See [`DropReason::UnknownTarget`].
    pub unknown_target: u64,
    /// See [`DropReason::UnexpectedAck`].
    pub unexpected_ack: u64,
    /// See [`DropReason::NotMember`].
    pub not_member: u64,
    /// See [`DropReason::FromSelf`].
    pub from_self: u64,
    /// See [`DropReason::SyncBusy`].
    pub sync_busy: u64,
    /// See [`DropReason::TransmitQueueFull`].
    pub transmit_queue_full: u64,
    /// See [`DropReason::BufferTooSmall`].
    pub buffer_too_small: u64,
}

impl DropCounters {
    /// Adds one drop of `reason`.
    pub fn count(&mut self, reason: DropReason) {
        let slot = match reason {
            DropReason::Truncated => &mut self.truncated,
            DropReason::Oversized => &mut self.oversized,
            DropReason::UnknownVersion => &mut self.unknown_version,
            DropReason::WrongCluster => &mut self.wrong_cluster,
            DropReason::UnknownType => &mut self.unknown_type,
            DropReason::Malformed => &mut self.malformed,
            DropReason::WrongTarget => &mut self.wrong_target,
            DropReason::UnknownTarget => &mut self.unknown_target,
            DropReason::UnexpectedAck => &mut self.unexpected_ack,
            DropReason::NotMember => &mut self.not_member,
            DropReason::FromSelf => &mut self.from_self,
            DropReason::SyncBusy => &mut self.sync_busy,
            DropReason::TransmitQueueFull => &mut self.transmit_queue_full,
            DropReason::BufferTooSmall => &mut self.buffer_too_small,
        };
        *slot += 1;
    }

    /// All drops, whatever the reason.
    pub fn total(&self) -> u64 {
        self.truncated
            + self.oversized
            + self.unknown_version
            + self.wrong_cluster
            + self.unknown_type
            + self.malformed
            + self.wrong_target
            + self.unknown_target
            + self.unexpected_ack
            + self.not_member
            + self.from_self
            + self.sync_busy
            + self.transmit_queue_full
            + self.buffer_too_small
    }
}

/// Everything counted since the node started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams handed to `handle_datagram`.
    pub datagrams_in: u64,
    /// Bytes handed to `handle_datagram`.
    pub bytes_in: u64,
    /// Datagrams returned by `poll_transmit`.
    pub datagrams_out: u64,
    /// Bytes returned by `poll_transmit`.
    pub bytes_out: u64,
    /// Incoming datagrams dropped, by reason.
    pub drops: DropCounters,
    /// Direct probes (pings) sent.
    pub probes_sent: u64,
    /// Probes that got neither a direct nor an indirect ack.
    pub probes_failed: u64,
    /// Ping-reqs sent to helpers.
    pub indirect_probes_sent: u64,
    /// Pings sent on behalf of another member's ping-req.
    pub indirect_probes_relayed: u64,
    /// Nacks received from ping-req helpers.
    pub nacks_received: u64,
    /// Suspicions this node raised after a failed probe.
    pub suspicions_raised: u64,
    /// Suspicions sent to the suspect itself by this node, which accused
    /// it, so that a live suspect refutes in time (Lifeguard).
    pub suspicion_notices: u64,
    /// Accusations against this node that it refuted.
    pub suspicions_refuted: u64,
    /// Metadata records about this node that were not its own (forged, or
    /// from a previous life): answered by republishing its metadata at a
    /// higher version.
    pub metadata_refuted: u64,
    /// Lifeguard's last-chance pings to suspects shortly before their
    /// suspicion times out.
    pub last_chance_probes: u64,
    /// Members this node declared dead when their suspicion timed out.
    pub members_declared_dead: u64,
    /// Updates that arrived already known or older than what is known.
    pub stale_updates: u64,
    /// Members refused because the table was full.
    pub members_refused: u64,
    /// Records about identities the embedder's admission rules refuse
    /// (`Swim::set_admission_policy`, `Swim::refuse`): ignored.
    pub records_refused: u64,
    /// Events dropped because the application did not poll them in time.
    pub events_dropped: u64,
    /// Relayed broadcasts dropped because the queue was full.
    pub broadcasts_dropped: u64,
    /// Metadata, broadcasts or direct messages larger than this node accepts
    /// (`max_metadata_len`, `max_payload_len`, or without `alloc` the blob
    /// capacity `B`): neither delivered nor relayed.
    pub blobs_refused: u64,
    /// Keyed broadcasts that arrived after a newer one with the same origin
    /// and key: neither delivered nor relayed.
    pub broadcasts_superseded: u64,
    /// Broadcasts from members not (or no longer) known, not delivered.
    pub broadcasts_unknown_origin: u64,
    /// Records whose remaining retransmissions were dropped because the
    /// gossip queue was full (push-pull still carries them).
    pub gossip_queue_overflow: u64,
    /// Broadcasts more than 1024 sequence numbers behind the newest one
    /// seen from their origin: not delivered, as they cannot be told apart
    /// from duplicates.
    pub broadcasts_too_old: u64,
    /// Broadcast origins whose duplicate-suppression window was forgotten
    /// because `max_broadcast_origins` were tracked.
    pub broadcast_origins_forgotten: u64,
    /// Broadcasts received again and suppressed.
    pub broadcasts_duplicate: u64,
    /// Replies that told a sender of an outdated accusation about the
    /// member's refutation.
    pub corrections_sent: u64,
    /// Push-pull exchanges started by this node.
    pub syncs_started: u64,
    /// Digest exchanges this node started (anti-entropy rounds and
    /// members that spoke again after being declared dead).
    pub digests_started: u64,
    /// Digest exchanges that found both views equal (nothing sent).
    pub digests_equal: u64,
    /// Digest exchanges that found a few buckets different and exchanged
    /// only the members in them.
    pub digest_repairs: u64,
    /// Digests ignored because this probe interval's allowance was spent.
    pub digests_refused: u64,
    /// Inputs whose `now` was earlier than a previous one (clamped).
    pub clock_regressions: u64,
    /// Members learned of (from others' records, or heard from once) that
    /// answered a ping naming their identity and became full members.
    pub members_admitted: u64,
    /// Members learned of that never answered their admission ping, or
    /// waited too long for it: forgotten without ever being reported.
    pub admissions_failed: u64,
    /// Unverified members forgotten to make room in a full table for a
    /// member heard from first-hand.
    pub unverified_evicted: u64,
    /// Records naming a generation of a member that nobody verified: "dead",
    /// "left" or "suspect" about a generation never seen, and newer
    /// generations whose identity did not answer a ping. Ignored.
    pub claims_refused: u64,
    /// Newer generations of members (restarts) confirmed by a ping that the
    /// new identity answered.
    pub generations_verified: u64,
    /// "Dead" or "left" records about a member this node saw active,
    /// checked with a ping before being believed.
    pub accusations_checked: u64,
    /// Of those, the ones the member disproved by answering: ignored.
    pub accusations_disproved: u64,
    /// Ping-reqs for a target this node cannot probe, answered with an
    /// immediate nack so that the requester does not blame itself.
    pub ping_reqs_refused: u64,
    /// Replies to an address that has not proved it receives traffic,
    /// dropped or cut short because they would have exceeded three times
    /// the bytes received from it (anti-amplification).
    pub replies_limited: u64,
    /// Push-pull requests from members refused by the rate limit (per
    /// source: one per quarter probe interval; in total: `sync_reply_rate`).
    pub sync_replies_limited: u64,
    /// Local health multiplier right now (0 = healthy).
    pub health_score: u8,
}
