//! The encrypted envelope around a swim datagram.
//!
//! ```text
//! offset  size  field
//! 0       1     envelope version: 0xE1
//! 1       24    nonce: random, from the operating system's generator
//! 25      n     ciphertext: the swim packet, XChaCha20-encrypted
//! 25 + n  16    Poly1305 tag over the associated data and the ciphertext
//! ```
//!
//! The associated data is the version byte followed by the cluster tag
//! (`Config::cluster_tag`, 4 bytes little-endian): a datagram of another
//! cluster, or whose version byte was changed, fails authentication even
//! when it was sealed with the same key. A plaintext swim packet starts
//! with its protocol version (1), never with 0xE1, so the two are told
//! apart by their first byte.

use std::fmt;
use std::ops::Range;

use chacha20poly1305::aead::{AeadInOut, Generate};
use chacha20poly1305::{Tag, XNonce};

use crate::keyring::Keyring;

/// First byte of every encrypted datagram.
pub const ENVELOPE_VERSION: u8 = 0xE1;
/// Bytes before the ciphertext: version (1) and nonce (24).
pub const ENVELOPE_HEADER_LEN: usize = 1 + NONCE_LEN;
/// Bytes after the ciphertext: the authentication tag.
pub const ENVELOPE_TAG_LEN: usize = 16;
/// Bytes an envelope adds to a swim packet: 41.
pub const ENVELOPE_OVERHEAD: usize = ENVELOPE_HEADER_LEN + ENVELOPE_TAG_LEN;

const NONCE_LEN: usize = 24;

/// Why a datagram could not be sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The buffer cannot hold the header, the plaintext and the tag.
    BufferTooSmall,
    /// The operating system's random number generator failed to give a
    /// nonce.
    Random,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SealError::BufferTooSmall => "the buffer cannot hold the envelope",
            SealError::Random => "the system's random number generator failed",
        })
    }
}

impl std::error::Error for SealError {}

/// Why an incoming datagram was rejected before reaching the protocol.
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
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenError::Truncated => "shorter than an envelope",
            OpenError::Plaintext => "not encrypted",
            OpenError::UnknownVersion => "unknown envelope version",
            OpenError::Unauthenticated => "authentication failed with every key",
            OpenError::Oversized => "larger than the datagram budget",
        })
    }
}

impl std::error::Error for OpenError {}

/// Incoming datagrams dropped because they could not be opened, by reason
/// (see [`OpenError`]). None of them reached the protocol.
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
    }
}

/// An opened datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Where the plaintext swim packet now lies in the buffer given to
    /// [`Keyring::open`].
    pub plaintext: Range<usize>,
    /// Which key opened it, in [`Keyring::key_ids`] order: 0 is the
    /// primary key.
    pub key_index: usize,
}

/// The associated data: version byte and cluster tag.
fn associated_data(cluster_tag: u32) -> [u8; 5] {
    let t = cluster_tag.to_le_bytes();
    [ENVELOPE_VERSION, t[0], t[1], t[2], t[3]]
}

impl Keyring {
    /// Seals a swim packet in place with the primary key and a fresh random
    /// nonce, without allocating.
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
    /// assert_eq!(&buf[opened.plaintext], b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seal(
        &self,
        cluster_tag: u32,
        buf: &mut [u8],
        plaintext_len: usize,
    ) -> Result<usize, SealError> {
        let len = plaintext_len
            .checked_add(ENVELOPE_OVERHEAD)
            .filter(|&len| len <= buf.len())
            .ok_or(SealError::BufferTooSmall)?;
        let nonce = XNonce::try_generate().map_err(|_| SealError::Random)?;
        let (header, rest) = buf.split_at_mut(ENVELOPE_HEADER_LEN);
        let (body, rest) = rest.split_at_mut(plaintext_len);
        header[0] = ENVELOPE_VERSION;
        header[1..].copy_from_slice(&nonce);
        let tag = self.keys()[0]
            .cipher
            .encrypt_inout_detached(&nonce, &associated_data(cluster_tag), body.into())
            .map_err(|_| SealError::BufferTooSmall)?;
        rest[..ENVELOPE_TAG_LEN].copy_from_slice(&tag);
        Ok(len)
    }

    /// Authenticates and decrypts a datagram in place, trying the primary
    /// key first, then the others. On success the plaintext swim packet
    /// lies at `datagram[opened.plaintext]`; on failure the datagram is
    /// left unchanged. Never allocates, never panics.
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
        let aad = associated_data(cluster_tag);
        for (key_index, key) in self.keys().iter().enumerate() {
            // A failed attempt leaves the buffer untouched (the tag is
            // checked before anything is decrypted).
            if key
                .cipher
                .decrypt_inout_detached(&nonce, &aad, (&mut *body).into(), &tag)
                .is_ok()
            {
                return Ok(Opened {
                    plaintext: ENVELOPE_HEADER_LEN..body_end,
                    key_index,
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
        let mut unknown = vec![0xE2; 100];
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
