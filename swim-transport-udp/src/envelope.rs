//! The encrypted envelope around a swim datagram.
//!
//! ```text
//! offset  size  field
//! 0       1     envelope version: 0xE2
//! 1       8     sender id, u64 little-endian: random, drawn once per sender
//! 9       8     counter, u64 little-endian: 0, 1, 2... per sealed datagram
//! 17      4     timestamp: seconds since the UNIX epoch mod 2^32, little-endian
//! 21      4     salt: random, drawn once per sender with its id
//! 25      n     ciphertext: the swim packet, XChaCha20-encrypted
//! 25 + n  16    Poly1305 tag over the associated data and the ciphertext
//! ```
//!
//! Bytes 1 to 24 are the 24-byte XChaCha20 nonce. It never repeats under
//! one key: a sender's counter never does, and two senders share a nonce
//! only if they drew the same 96 random bits of id and salt (and then
//! sealed the same counter in the same second).
//!
//! The associated data is the whole 25-byte header followed by the
//! cluster tag (`Config::cluster_tag`, 4 bytes little-endian): a datagram
//! of another cluster, or whose header was changed in any byte, fails
//! authentication even when it was sealed with the same key. A plaintext
//! swim packet starts with its protocol version (1), never with 0xE2, so
//! the two are told apart by their first byte.
//!
//! The receiver checks the sender id, counter and timestamp of every
//! datagram that authenticates against its [`ReplayFilter`](crate::ReplayFilter).

use std::fmt;
use std::ops::Range;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{Tag, XNonce};

use crate::keyring::Keyring;
use crate::replay::unix_time;

/// First byte of every encrypted datagram (envelope format 2; format 1,
/// `0xE1`, had no sender id, counter or timestamp and is refused as
/// [`OpenError::UnknownVersion`]).
pub const ENVELOPE_VERSION: u8 = 0xE2;
/// Bytes before the ciphertext: version (1), sender id (8), counter (8),
/// timestamp (4) and salt (4); the last 24 are the nonce.
pub const ENVELOPE_HEADER_LEN: usize = 1 + NONCE_LEN;
/// Bytes after the ciphertext: the authentication tag.
pub const ENVELOPE_TAG_LEN: usize = 16;
/// Bytes an envelope adds to a swim packet: 41.
pub const ENVELOPE_OVERHEAD: usize = ENVELOPE_HEADER_LEN + ENVELOPE_TAG_LEN;

const NONCE_LEN: usize = 24;
/// Header plus cluster tag.
const AAD_LEN: usize = ENVELOPE_HEADER_LEN + 4;

/// Why a datagram could not be sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The buffer cannot hold the header, the plaintext and the tag.
    BufferTooSmall,
    /// The operating system's random number generator failed to give the
    /// ring its sender id (drawn when it seals its first datagram).
    Random,
    /// The ring has sealed 2^64 − 1 datagrams: its counter would wrap,
    /// and nonces would repeat. Clone the ring for a new sender.
    CounterExhausted,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SealError::BufferTooSmall => "the buffer cannot hold the envelope",
            SealError::Random => "the system's random number generator failed",
            SealError::CounterExhausted => "the sender's datagram counter is exhausted",
        })
    }
}

impl std::error::Error for SealError {}

/// Why an incoming datagram was rejected before reaching the protocol.
///
/// [`Keyring::open`] returns the first five reasons; a
/// [`ReplayFilter`](crate::ReplayFilter) the last two, for datagrams that
/// did authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// Shorter than an empty envelope ([`ENVELOPE_OVERHEAD`] bytes).
    Truncated,
    /// A plaintext swim packet (it starts with the swim protocol version),
    /// while this node only accepts encrypted ones.
    Plaintext,
    /// The first byte is neither [`ENVELOPE_VERSION`] nor a swim protocol
    /// version.
    UnknownVersion,
    /// No key of the ring authenticates it: sealed with a key this node
    /// does not hold, by another cluster, or altered on the way.
    Unauthenticated,
    /// Longer than the configured datagram size; dropped without trying
    /// to open it.
    Oversized,
    /// Authentic, but a copy of a datagram already accepted from the same
    /// sender, older than the sender's replay window
    /// ([`REPLAY_WINDOW`](crate::REPLAY_WINDOW)), or a copy of one of this
    /// node's own datagrams sent back to it.
    Replayed,
    /// Authentic, but its timestamp is further from the receiver's clock
    /// than the freshness window ([`ReplayConfig::freshness`](crate::ReplayConfig)).
    Stale,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenError::Truncated => "shorter than an envelope",
            OpenError::Plaintext => "not encrypted",
            OpenError::UnknownVersion => "unknown envelope version",
            OpenError::Unauthenticated => "authentication failed with every key",
            OpenError::Oversized => "larger than the datagram budget",
            OpenError::Replayed => "already received, or older than the replay window",
            OpenError::Stale => "timestamp outside the freshness window",
        })
    }
}

impl std::error::Error for OpenError {}

/// Incoming datagrams dropped by the envelope layer, by reason (see
/// [`OpenError`]): they could not be opened, or they opened but were
/// replayed or stale. None of them reached the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecryptDrops {
    /// [`OpenError::Truncated`].
    pub truncated: u64,
    /// [`OpenError::Plaintext`].
    pub plaintext: u64,
    /// [`OpenError::UnknownVersion`].
    pub unknown_version: u64,
    /// [`OpenError::Unauthenticated`].
    pub unauthenticated: u64,
    /// [`OpenError::Oversized`].
    pub oversized: u64,
    /// [`OpenError::Replayed`].
    pub replayed: u64,
    /// [`OpenError::Stale`].
    pub stale: u64,
}

impl DecryptDrops {
    /// Counts one rejected datagram.
    pub fn count(&mut self, reason: OpenError) {
        let slot = match reason {
            OpenError::Truncated => &mut self.truncated,
            OpenError::Plaintext => &mut self.plaintext,
            OpenError::UnknownVersion => &mut self.unknown_version,
            OpenError::Unauthenticated => &mut self.unauthenticated,
            OpenError::Oversized => &mut self.oversized,
            OpenError::Replayed => &mut self.replayed,
            OpenError::Stale => &mut self.stale,
        };
        *slot += 1;
    }

    /// Every rejected datagram.
    pub fn total(&self) -> u64 {
        self.truncated
            + self.plaintext
            + self.unknown_version
            + self.unauthenticated
            + self.oversized
            + self.replayed
            + self.stale
    }
}

/// An opened datagram: where its plaintext lies, and the authenticated
/// header fields the replay check needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Where the plaintext swim packet now lies in the buffer given to
    /// [`Keyring::open`].
    pub plaintext: Range<usize>,
    /// Which key opened it, in [`Keyring::key_ids`] order: 0 is the
    /// primary key.
    pub key_index: usize,
    /// The sender's random id ([`Keyring::sender_id`] of the ring that
    /// sealed it).
    pub sender_id: u64,
    /// The sender's counter: how many datagrams it had sealed before this
    /// one.
    pub counter: u64,
    /// When it was sealed, by the sender's clock: seconds since the UNIX
    /// epoch, modulo 2^32.
    pub timestamp: u32,
}

/// The associated data: the header, then the cluster tag.
fn associated_data(header: &[u8], cluster_tag: u32) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    aad[..ENVELOPE_HEADER_LEN].copy_from_slice(&header[..ENVELOPE_HEADER_LEN]);
    aad[ENVELOPE_HEADER_LEN..].copy_from_slice(&cluster_tag.to_le_bytes());
    aad
}

/// The little-endian u64 at `at` in the header.
fn u64_at(header: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&header[at..at + 8]);
    u64::from_le_bytes(bytes)
}

impl Keyring {
    /// Seals a swim packet in place with the primary key, stamped with
    /// this ring's sender id, its next counter value and the current time,
    /// without allocating.
    ///
    /// The packet must already lie at
    /// `buf[ENVELOPE_HEADER_LEN..ENVELOPE_HEADER_LEN + plaintext_len]`;
    /// on return `buf[..len]` is the datagram to send, where `len` (the
    /// returned value) is `plaintext_len + ENVELOPE_OVERHEAD`.
    ///
    /// ```
    /// use swim_transport_udp::{Keyring, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD};
    ///
    /// let ring = Keyring::new(&[42; 32])?;
    /// let mut buf = [0u8; 1400];
    /// buf[ENVELOPE_HEADER_LEN..][..5].copy_from_slice(b"hello");
    /// let len = ring.seal(0x1234, &mut buf, 5)?;
    /// assert_eq!(len, 5 + ENVELOPE_OVERHEAD);
    /// let opened = ring.open(0x1234, &mut buf[..len])?;
    /// assert_eq!(&buf[opened.plaintext.clone()], b"hello");
    /// assert_eq!((Some(opened.sender_id), opened.counter), (ring.sender_id(), 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seal(
        &self,
        cluster_tag: u32,
        buf: &mut [u8],
        plaintext_len: usize,
    ) -> Result<usize, SealError> {
        self.seal_at(cluster_tag, buf, plaintext_len, unix_time())
    }

    /// [`Keyring::seal`] with the timestamp given (seconds since the UNIX
    /// epoch) instead of read from the system clock: for tests and
    /// simulations.
    pub fn seal_at(
        &self,
        cluster_tag: u32,
        buf: &mut [u8],
        plaintext_len: usize,
        unix_secs: u64,
    ) -> Result<usize, SealError> {
        let len = plaintext_len
            .checked_add(ENVELOPE_OVERHEAD)
            .filter(|&len| len <= buf.len())
            .ok_or(SealError::BufferTooSmall)?;
        let origin = self.origin().ok_or(SealError::Random)?;
        let counter = self.next_counter().ok_or(SealError::CounterExhausted)?;
        let (header, rest) = buf.split_at_mut(ENVELOPE_HEADER_LEN);
        let (body, rest) = rest.split_at_mut(plaintext_len);
        header[0] = ENVELOPE_VERSION;
        header[1..9].copy_from_slice(&origin.id.to_le_bytes());
        header[9..17].copy_from_slice(&counter.to_le_bytes());
        // The wire keeps the low 32 bits; the receiver compares modulo 2^32.
        header[17..21].copy_from_slice(&(unix_secs as u32).to_le_bytes());
        header[21..25].copy_from_slice(&origin.salt);
        let nonce = XNonce::try_from(&header[1..]).map_err(|_| SealError::BufferTooSmall)?;
        let tag = self.keys()[0]
            .cipher
            .encrypt_inout_detached(&nonce, &associated_data(header, cluster_tag), body.into())
            .map_err(|_| SealError::BufferTooSmall)?;
        rest[..ENVELOPE_TAG_LEN].copy_from_slice(&tag);
        Ok(len)
    }

    /// Authenticates and decrypts a datagram in place, trying the primary
    /// key first, then the others. On success the plaintext swim packet
    /// lies at `datagram[opened.plaintext]`; on failure the datagram is
    /// left unchanged. Never allocates, never panics.
    ///
    /// It does not look for replays: hand the result to a
    /// [`ReplayFilter`](crate::ReplayFilter) for that.
    pub fn open(&self, cluster_tag: u32, datagram: &mut [u8]) -> Result<Opened, OpenError> {
        match datagram.first() {
            None => return Err(OpenError::Truncated),
            Some(&ENVELOPE_VERSION) => {}
            Some(&swim_core::wire::PROTOCOL_VERSION) => return Err(OpenError::Plaintext),
            Some(_) => return Err(OpenError::UnknownVersion),
        }
        if datagram.len() < ENVELOPE_OVERHEAD {
            return Err(OpenError::Truncated);
        }
        let body_end = datagram.len() - ENVELOPE_TAG_LEN;
        let (header, rest) = datagram.split_at_mut(ENVELOPE_HEADER_LEN);
        let (body, tag) = rest.split_at_mut(body_end - ENVELOPE_HEADER_LEN);
        let nonce = XNonce::try_from(&header[1..]).map_err(|_| OpenError::Truncated)?;
        let tag = Tag::try_from(&*tag).map_err(|_| OpenError::Truncated)?;
        let aad = associated_data(header, cluster_tag);
        for (key_index, key) in self.keys().iter().enumerate() {
            // A failed attempt leaves the buffer untouched (the tag is
            // checked before anything is decrypted).
            if key
                .cipher
                .decrypt_inout_detached(&nonce, &aad, (&mut *body).into(), &tag)
                .is_ok()
            {
                let mut timestamp = [0u8; 4];
                timestamp.copy_from_slice(&header[17..21]);
                return Ok(Opened {
                    plaintext: ENVELOPE_HEADER_LEN..body_end,
                    key_index,
                    sender_id: u64_at(header, 1),
                    counter: u64_at(header, 9),
                    timestamp: u32::from_le_bytes(timestamp),
                });
            }
        }
        Err(OpenError::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [3; 32];
    const TAG: u32 = 0xC0FF_EE00;

    fn sealed(ring: &Keyring, plaintext: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; plaintext.len() + ENVELOPE_OVERHEAD];
        buf[ENVELOPE_HEADER_LEN..][..plaintext.len()].copy_from_slice(plaintext);
        let len = ring.seal(TAG, &mut buf, plaintext.len()).unwrap();
        assert_eq!(len, buf.len());
        buf
    }

    #[test]
    fn round_trip_at_every_length() {
        let ring = Keyring::new(&KEY).unwrap();
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 512, 1359, 4000] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut datagram = sealed(&ring, &plaintext);
            assert_eq!(datagram.len(), len + ENVELOPE_OVERHEAD);
            assert_eq!(datagram[0], ENVELOPE_VERSION);
            if len >= 16 {
                assert_ne!(&datagram[ENVELOPE_HEADER_LEN..][..len], &plaintext[..]);
            }
            let opened = ring.open(TAG, &mut datagram).unwrap();
            assert_eq!(opened.key_index, 0);
            assert_eq!(&datagram[opened.plaintext], &plaintext[..]);
        }
    }

    #[test]
    fn header_carries_sender_counter_and_time() {
        let ring = Keyring::new(&KEY).unwrap();
        assert_eq!(ring.sender_id(), None);
        let mut buf = [0u8; ENVELOPE_OVERHEAD + 3];
        for (counter, time) in [(0, 1_750_000_000u64), (1, 0), (2, (1 << 32) + 7)] {
            let len = ring.seal_at(TAG, &mut buf, 3, time).unwrap();
            let opened = ring.open(TAG, &mut buf[..len]).unwrap();
            assert_eq!(Some(opened.sender_id), ring.sender_id());
            assert_eq!(opened.counter, counter);
            assert_eq!(opened.timestamp, time as u32);
            assert_eq!(buf[1..9], opened.sender_id.to_le_bytes());
            assert_eq!(buf[9..17], counter.to_le_bytes());
        }
        // A clone is another sender, counting from 0 again.
        let copy = ring.clone();
        let len = copy.seal(TAG, &mut buf, 3).unwrap();
        let opened = ring.open(TAG, &mut buf[..len]).unwrap();
        assert_eq!(opened.counter, 0);
        assert_ne!(Some(opened.sender_id), ring.sender_id());
        assert_eq!(Some(opened.sender_id), copy.sender_id());
    }

    #[test]
    fn nonces_are_fresh() {
        let ring = Keyring::new(&KEY).unwrap();
        let a = sealed(&ring, b"same");
        let b = sealed(&ring, b"same");
        assert_ne!(a[1..ENVELOPE_HEADER_LEN], b[1..ENVELOPE_HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn any_flipped_bit_at_any_position_is_detected() {
        let ring = Keyring::new(&KEY).unwrap();
        let original = sealed(&ring, b"a swim packet, more or less");
        for at in 0..original.len() {
            for bit in [0x01, 0x80] {
                let mut datagram = original.clone();
                datagram[at] ^= bit;
                let result = ring.open(TAG, &mut datagram);
                let expected = if at == 0 && datagram[0] == swim_core::wire::PROTOCOL_VERSION {
                    OpenError::Plaintext
                } else if at == 0 {
                    OpenError::UnknownVersion
                } else {
                    OpenError::Unauthenticated
                };
                assert_eq!(result, Err(expected), "byte {at}, bit {bit:#x}");
                // Left untouched.
                datagram[at] ^= bit;
                assert_eq!(datagram, original);
            }
        }
    }

    #[test]
    fn another_cluster_tag_or_key_fails() {
        let ring = Keyring::new(&KEY).unwrap();
        let mut datagram = sealed(&ring, b"hello");
        assert_eq!(
            ring.open(TAG ^ 1, &mut datagram),
            Err(OpenError::Unauthenticated)
        );
        let other = Keyring::new(&[4; 32]).unwrap();
        assert_eq!(
            other.open(TAG, &mut datagram),
            Err(OpenError::Unauthenticated)
        );
        assert!(ring.open(TAG, &mut datagram).is_ok());
    }

    #[test]
    fn short_empty_and_plaintext_inputs_are_rejected() {
        let ring = Keyring::new(&KEY).unwrap();
        let full = sealed(&ring, b"");
        assert_eq!(full.len(), ENVELOPE_OVERHEAD);
        for len in 0..ENVELOPE_OVERHEAD {
            let mut datagram = full[..len].to_vec();
            assert_eq!(
                ring.open(TAG, &mut datagram),
                Err(OpenError::Truncated),
                "{len} bytes"
            );
        }
        let mut plain = vec![swim_core::wire::PROTOCOL_VERSION, 0, 0, 0, 0, 5];
        assert_eq!(ring.open(TAG, &mut plain), Err(OpenError::Plaintext));
        // Format 1 (before the replay header) is refused like any other
        // unknown version.
        let mut unknown = vec![0xE1; 100];
        assert_eq!(ring.open(TAG, &mut unknown), Err(OpenError::UnknownVersion));
        // The empty plaintext itself opens.
        let mut empty = full.clone();
        assert_eq!(ring.open(TAG, &mut empty).unwrap().plaintext, 25..25);
    }

    #[test]
    fn older_keys_open_and_report_their_index() {
        let old = Keyring::new(&KEY).unwrap();
        let mut datagram = sealed(&old, b"sealed with the old key");
        let mut ring = Keyring::new(&[5; 32]).unwrap();
        ring.install(&[6; 32]).unwrap();
        ring.install(&KEY).unwrap();
        let opened = ring.open(TAG, &mut datagram.clone()).unwrap();
        assert_eq!(opened.key_index, 2);
        ring.use_key(&KEY).unwrap();
        assert_eq!(ring.open(TAG, &mut datagram).unwrap().key_index, 0);
    }

    #[test]
    fn sealing_needs_room_for_the_envelope() {
        let ring = Keyring::new(&KEY).unwrap();
        let mut buf = [0u8; 60];
        assert_eq!(ring.seal(TAG, &mut buf, 20), Err(SealError::BufferTooSmall));
        assert_eq!(ring.seal(TAG, &mut buf, 19), Ok(60));
        assert_eq!(
            ring.seal(TAG, &mut buf, usize::MAX),
            Err(SealError::BufferTooSmall)
        );
    }
}
