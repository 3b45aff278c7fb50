//! The keys a node encrypts and decrypts its datagrams with.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use chacha20poly1305::aead::{AeadInOut, Generate};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

/// Length of every key, in bytes (XChaCha20-Poly1305 takes 256-bit keys).
pub const KEY_LEN: usize = 32;

/// Most keys a ring holds. Every key is tried on a datagram that the
/// primary key does not open, so the bound also bounds the work an
/// attacker's garbage costs.
pub const MAX_KEYS: usize = 8;

/// Why a key could not be used, installed, made primary or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A key must be exactly [`KEY_LEN`] bytes long; this one had `len`.
    InvalidLength {
        /// Length of the key that was given.
        len: usize,
    },
    /// The key is not in the ring (only an installed key can become the
    /// primary one).
    NotInstalled,
    /// The primary key cannot be removed: make another key primary first.
    RemovePrimary,
    /// The ring already holds [`MAX_KEYS`] keys: remove one first.
    TooManyKeys,
    /// The node was started without a keyring: encryption cannot be
    /// switched on at run time (it changes the plaintext budget), restart
    /// the node with [`NodeOptions::keyring`](crate::NodeOptions::keyring).
    EncryptionDisabled,
    /// The operating system's random number generator failed.
    Random,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::InvalidLength { len } => {
                write!(f, "a key must be {KEY_LEN} bytes long, not {len}")
            }
            KeyError::NotInstalled => f.write_str("the key is not installed"),
            KeyError::RemovePrimary => {
                f.write_str("the primary key cannot be removed; make another key primary first")
            }
            KeyError::TooManyKeys => write!(f, "the keyring already holds {MAX_KEYS} keys"),
            KeyError::EncryptionDisabled => f.write_str("the node was started without a keyring"),
            KeyError::Random => f.write_str("the system's random number generator failed"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A short, public fingerprint of a key, to tell which keys a node holds
/// without revealing them: 8 bytes of a Poly1305 tag computed with the key
/// over a fixed, empty message (a "key check value"). It reveals nothing
/// about the key, and two different keys have different ids with
/// overwhelming probability.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Associated data of the key id computation: it never matches a packet's
/// associated data (a version byte and a 4-byte tag), so a key id is never
/// a packet tag.
const KEY_ID_CONTEXT: &[u8] = b"swim-transport-udp key id v1";

/// One key of the ring: its bytes (wiped when dropped), the cipher keyed
/// with them, and its id.
#[derive(Clone)]
pub(crate) struct RingKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) cipher: XChaCha20Poly1305,
    id: KeyId,
}

impl RingKey {
    fn new(key: &[u8]) -> Result<Self, KeyError> {
        if key.len() != KEY_LEN {
            return Err(KeyError::InvalidLength { len: key.len() });
        }
        // Filled in place, so no copy of the key is left on the stack.
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(key);
        let key_array: &chacha20poly1305::Key = (&*bytes).into();
        let cipher = XChaCha20Poly1305::new(key_array);
        let tag = cipher
            .encrypt_inout_detached(&XNonce::default(), KEY_ID_CONTEXT, (&mut [][..]).into())
            .expect("an empty message is never too long");
        let mut id = [0u8; 8];
        id.copy_from_slice(&tag[..8]);
        Ok(RingKey {
            bytes,
            cipher,
            id: KeyId(id),
        })
    }

    fn is(&self, key: &[u8]) -> bool {
        // Not secret-dependent in any way that matters: both sides are keys
        // the caller already holds.
        self.bytes.as_slice() == key
    }
}

/// The keys of one node: a *primary* key that seals every outgoing
/// datagram, and up to [`MAX_KEYS`] − 1 further keys that are also tried
/// on incoming ones.
///
/// Rotating keys without downtime takes three steps, each applied to every
/// node (with [`Node::install_key`](crate::Node::install_key),
/// [`Node::use_key`](crate::Node::use_key) and
/// [`Node::remove_key`](crate::Node::remove_key)) before the next one
/// starts:
///
/// 1. install the new key everywhere: every node can now open datagrams
///    sealed with it, while still sealing with the old one;
/// 2. make the new key primary everywhere: datagrams sealed with the old
///    key keep being accepted by the nodes not yet switched;
/// 3. remove the old key everywhere.
///
/// A ring is also a *sender*: it stamps every datagram it seals with its
/// sender id, drawn from the operating system's generator when it seals
/// its first datagram, and a counter that grows by one per datagram (see
/// the [envelope layout](crate#encryption)). A clone of a ring is another
/// sender: it draws its own id and counts from 0, so that two copies do
/// not seal datagrams with the same nonce.
///
/// The `Debug` output shows [`KeyId`]s, never the keys.
///
/// ```
/// use swim_transport_udp::{KeyError, Keyring};
///
/// let old = [7u8; 32];
/// let new = [9u8; 32];
/// let mut ring = Keyring::new(&old)?;
/// ring.install(&new)?;
/// ring.use_key(&new)?;
/// assert_eq!(ring.remove(&new), Err(KeyError::RemovePrimary));
/// ring.remove(&old)?;
/// assert_eq!(ring.len(), 1);
/// assert!(!format!("{ring:?}").contains("7, 7"));
/// # Ok::<(), KeyError>(())
/// ```
pub struct Keyring {
    /// The primary key first.
    keys: Vec<RingKey>,
    /// Who this ring seals as.
    sender: SenderState,
}

impl Clone for Keyring {
    /// The same keys, as a new sender (its own id and counter).
    fn clone(&self) -> Self {
        Keyring {
            keys: self.keys.clone(),
            sender: SenderState::new(),
        }
    }
}

/// The per-sender part of every sealed datagram's header: a random id and
/// salt drawn once, and the number of datagrams sealed so far.
pub(crate) struct SenderState {
    origin: OnceLock<Origin>,
    next_counter: AtomicU64,
}

/// A sender's random id and the random salt that completes its nonces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub id: u64,
    pub salt: [u8; 4],
}

impl SenderState {
    fn new() -> Self {
        SenderState {
            origin: OnceLock::new(),
            next_counter: AtomicU64::new(0),
        }
    }
}

impl Keyring {
    /// A ring holding one key, which is primary. The key must be
    /// [`KEY_LEN`] bytes long.
    pub fn new(primary: &[u8]) -> Result<Self, KeyError> {
        Ok(Keyring {
            keys: vec![RingKey::new(primary)?],
            sender: SenderState::new(),
        })
    }

    /// A fresh random key from the operating system's generator, for
    /// [`Keyring::new`] or [`Keyring::install`]. Store it where the other
    /// nodes can read it (hex-encoded, say).
    /// The key is wiped from memory when the returned value is dropped.
    pub fn generate_key() -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
        let mut key = chacha20poly1305::Key::try_generate().map_err(|_| KeyError::Random)?;
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        out.copy_from_slice(&key);
        key.zeroize();
        Ok(out)
    }

    /// Adds a key that incoming datagrams may be sealed with (nothing
    /// happens if it is already in the ring). It does not become primary.
    pub fn install(&mut self, key: &[u8]) -> Result<(), KeyError> {
        let new = RingKey::new(key)?;
        if self.keys.iter().any(|k| k.is(key)) {
            return Ok(());
        }
        if self.keys.len() >= MAX_KEYS {
            return Err(KeyError::TooManyKeys);
        }
        self.keys.push(new);
        Ok(())
    }

    /// Makes an installed key the primary one: outgoing datagrams are
    /// sealed with it from now on. The previous primary key stays in the
    /// ring.
    pub fn use_key(&mut self, key: &[u8]) -> Result<(), KeyError> {
        RingKey::new(key)?;
        let at = self
            .keys
            .iter()
            .position(|k| k.is(key))
            .ok_or(KeyError::NotInstalled)?;
        // Keep the others in their order: the previous primary is tried
        // right after the new one.
        let key = self.keys.remove(at);
        self.keys.insert(0, key);
        Ok(())
    }

    /// Removes a key that is not the primary one (nothing happens if it is
    /// not in the ring).
    pub fn remove(&mut self, key: &[u8]) -> Result<(), KeyError> {
        RingKey::new(key)?;
        match self.keys.iter().position(|k| k.is(key)) {
            Some(0) => Err(KeyError::RemovePrimary),
            Some(at) => {
                self.keys.remove(at);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least its primary key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The id of the primary key.
    pub fn primary_id(&self) -> KeyId {
        self.keys[0].id
    }

    /// The ids of every key, the primary one first.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|k| k.id).collect()
    }

    /// The sender id this ring stamps on the datagrams it seals; `None`
    /// until it has sealed its first one (the id is drawn then).
    pub fn sender_id(&self) -> Option<u64> {
        self.sender.origin.get().map(|o| o.id)
    }

    /// The keys in the order they are tried on an incoming datagram: the
    /// primary first.
    pub(crate) fn keys(&self) -> &[RingKey] {
        &self.keys
    }

    /// This ring's id and salt, drawn from the operating system's
    /// generator on first use. `None` if the generator fails.
    pub(crate) fn origin(&self) -> Option<Origin> {
        if let Some(origin) = self.sender.origin.get() {
            return Some(*origin);
        }
        let random = XNonce::try_generate().ok()?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&random[..8]);
        let mut salt = [0u8; 4];
        salt.copy_from_slice(&random[8..12]);
        let drawn = Origin {
            id: u64::from_le_bytes(id),
            salt,
        };
        // Another thread sealing with the same ring may have been first:
        // everyone keeps the value that was stored.
        Some(*self.sender.origin.get_or_init(|| drawn))
    }

    /// The counter of the next sealed datagram; `None` once 2^64 − 1
    /// values have been used (the counter never wraps around to a value
    /// already sealed with).
    pub(crate) fn next_counter(&self) -> Option<u64> {
        self.sender
            .next_counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(1))
            .ok()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.keys[0].id)
            .field("others", &&self.key_ids()[1..])
            .field("sender_id", &self.sender_id())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; KEY_LEN] = [0xA1; KEY_LEN];
    const B: [u8; KEY_LEN] = [0xB2; KEY_LEN];

    #[test]
    fn key_length_is_checked_everywhere() {
        for len in [0, 1, 16, 24, 31, 33, 64] {
            let key = vec![1u8; len];
            let err = KeyError::InvalidLength { len };
            assert_eq!(Keyring::new(&key).err(), Some(err));
            let mut ring = Keyring::new(&A).unwrap();
            assert_eq!(ring.install(&key), Err(err));
            assert_eq!(ring.use_key(&key), Err(err));
            assert_eq!(ring.remove(&key), Err(err));
        }
    }

    #[test]
    fn rotation_steps() {
        let mut ring = Keyring::new(&A).unwrap();
        let (a, b) = (ring.primary_id(), Keyring::new(&B).unwrap().primary_id());
        assert_ne!(a, b);
        assert_eq!(ring.use_key(&B), Err(KeyError::NotInstalled));
        ring.install(&B).unwrap();
        ring.install(&B).unwrap(); // again: no duplicate
        assert_eq!(ring.key_ids(), vec![a, b]);
        ring.use_key(&B).unwrap();
        assert_eq!(ring.key_ids(), vec![b, a]);
        assert_eq!(ring.remove(&B), Err(KeyError::RemovePrimary));
        ring.remove(&A).unwrap();
        ring.remove(&A).unwrap(); // absent: nothing to do
        assert_eq!(ring.key_ids(), vec![b]);
        assert_eq!(ring.len(), 1);
        assert!(!ring.is_empty());
    }

    #[test]
    fn the_ring_is_bounded() {
        let mut ring = Keyring::new(&[0; KEY_LEN]).unwrap();
        for i in 1..MAX_KEYS {
            ring.install(&[i as u8; KEY_LEN]).unwrap();
        }
        assert_eq!(ring.install(&[0xFF; KEY_LEN]), Err(KeyError::TooManyKeys));
        ring.install(&[1; KEY_LEN]).unwrap(); // already there: fine
    }

    #[test]
    fn debug_output_never_shows_keys() {
        let mut ring = Keyring::new(&A).unwrap();
        ring.install(&B).unwrap();
        let text = format!("{ring:?} {ring:#?}");
        assert!(text.contains(&ring.primary_id().to_string()), "{text}");
        for needle in [
            "161, 161", "a1a1a1a1", "A1A1A1A1", "178, 178", "b2b2b2b2", "B2B2B2B2",
        ] {
            assert!(!text.contains(needle), "{needle} in {text}");
        }
    }

    #[test]
    fn the_counter_never_wraps() {
        use crate::envelope::{SealError, ENVELOPE_OVERHEAD};
        let ring = Keyring::new(&A).unwrap();
        ring.sender
            .next_counter
            .store(u64::MAX - 1, Ordering::Relaxed);
        let mut buf = [0u8; ENVELOPE_OVERHEAD];
        ring.seal(1, &mut buf, 0).unwrap();
        assert_eq!(ring.open(1, &mut buf).unwrap().counter, u64::MAX - 1);
        for _ in 0..3 {
            assert_eq!(ring.seal(1, &mut buf, 0), Err(SealError::CounterExhausted));
        }
        // Failed seals left the last datagram (empty, so still sealed) as
        // it was.
        assert_eq!(ring.open(1, &mut buf).unwrap().counter, u64::MAX - 1);
    }

    #[test]
    fn generated_keys_differ_and_are_usable() {
        let (a, b) = (
            Keyring::generate_key().unwrap(),
            Keyring::generate_key().unwrap(),
        );
        assert_ne!(a, b);
        Keyring::new(&a[..]).unwrap();
    }
}
