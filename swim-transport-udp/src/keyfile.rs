//! The text form of cluster keys: 64 hex digits a key, several keys one a
//! line (or comma-separated), the first one primary.

use std::fmt;

use zeroize::Zeroizing;

use crate::keyring::{KeyError, Keyring, KEY_LEN};

/// Why a piece of text is not one key in hex ([`Keyring::key_from_hex`]).
/// Neither the error nor its message repeats the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HexKeyError {
    /// A key is exactly `2 * KEY_LEN` (64) hex digits; this text had
    /// `found` characters.
    Length {
        /// How many characters the text had.
        found: usize,
    },
    /// The text has the right length but a character that is not a hex
    /// digit (`0`-`9`, `a`-`f`, `A`-`F`).
    NotHex,
}

impl fmt::Display for HexKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexKeyError::Length { found } => write!(
                f,
                "a key must be {} hex digits, found {found} characters",
                2 * KEY_LEN
            ),
            HexKeyError::NotHex => f.write_str("a key must contain only hex digits"),
        }
    }
}

impl std::error::Error for HexKeyError {}

/// Why a key file's text does not make a keyring
/// ([`Keyring::from_hex_lines`]). Neither the error nor its message
/// repeats key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The text holds no key (only blank lines and comments).
    NoKey,
    /// The key at position `index` (counting keys from 1, not lines) is
    /// not 64 hex digits.
    Key {
        /// Position of the key among the keys of the text, from 1.
        index: usize,
        /// What is wrong with it.
        error: HexKeyError,
    },
    /// The keys do not fit in a keyring (more than
    /// [`MAX_KEYS`](crate::MAX_KEYS) distinct keys).
    Keyring(KeyError),
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::NoKey => write!(
                f,
                "no key found (expected {} hex digits a line)",
                2 * KEY_LEN
            ),
            KeyFileError::Key { index, error } => write!(f, "key {index}: {error}"),
            KeyFileError::Keyring(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyFileError::NoKey => None,
            KeyFileError::Key { error, .. } => Some(error),
            KeyFileError::Keyring(e) => Some(e),
        }
    }
}

impl From<KeyError> for KeyFileError {
    fn from(e: KeyError) -> Self {
        KeyFileError::Keyring(e)
    }
}

impl Keyring {
    /// A keyring from the text of a key file: keys of 64 hex digits
    /// (upper or lower case), one a line or several on a line separated
    /// by commas, the first one primary and the others installed after it.
    /// White space around a key is ignored, and so are blank lines and
    /// lines whose first non-blank character is `#` (comments).
    ///
    /// ```
    /// use swim_transport_udp::{KeyFileError, Keyring};
    ///
    /// let text = format!("# cluster keys\n{}\n{}\n", "11".repeat(32), "22".repeat(32));
    /// let ring = Keyring::from_hex_lines(&text)?;
    /// assert_eq!(ring.len(), 2);
    /// assert_eq!(ring.primary_id(), Keyring::new(&[0x11; 32])?.primary_id());
    ///
    /// let short = Keyring::from_hex_lines("abcd").unwrap_err();
    /// assert_eq!(short.to_string(), "key 1: a key must be 64 hex digits, found 4 characters");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_hex_lines(text: &str) -> Result<Keyring, KeyFileError> {
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .enumerate()
            .map(|(i, key)| {
                Keyring::key_from_hex(key).map_err(|error| KeyFileError::Key {
                    index: i + 1,
                    error,
                })
            });
        let primary = keys.next().ok_or(KeyFileError::NoKey)??;
        let mut ring = Keyring::new(&primary[..])?;
        for key in keys {
            ring.install(&key?[..])?;
        }
        Ok(ring)
    }

    /// One key from exactly 64 hex digits (upper or lower case, nothing
    /// around them), for [`Keyring::new`] or [`Keyring::install`]. The key
    /// is wiped from memory when the returned value is dropped.
    ///
    /// ```
    /// use swim_transport_udp::{HexKeyError, Keyring};
    ///
    /// assert_eq!(*Keyring::key_from_hex(&"aB".repeat(32))?, [0xAB; 32]);
    /// assert_eq!(Keyring::key_from_hex("ab"), Err(HexKeyError::Length { found: 2 }));
    /// assert_eq!(Keyring::key_from_hex(&"xy".repeat(32)), Err(HexKeyError::NotHex));
    /// # Ok::<(), HexKeyError>(())
    /// ```
    pub fn key_from_hex(hex: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, HexKeyError> {
        let found = hex.chars().count();
        if found != 2 * KEY_LEN {
            return Err(HexKeyError::Length { found });
        }
        if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(HexKeyError::NotHex);
        }
        let nibble = |c: u8| (c as char).to_digit(16).map_or(0, |d| d as u8);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            *byte = nibble(pair[0]) << 4 | nibble(pair[1]);
        }
        Ok(key)
    }

    /// A key in the form [`Keyring::key_from_hex`] reads: two lower-case
    /// hex digits a byte, 64 for a [`KEY_LEN`]-byte key. The text is wiped
    /// from memory when the returned value is dropped.
    ///
    /// ```
    /// use swim_transport_udp::Keyring;
    ///
    /// let key = Keyring::generate_key()?;
    /// let hex = Keyring::key_to_hex(&key[..]);
    /// assert_eq!(hex.len(), 64);
    /// assert_eq!(Keyring::key_from_hex(&hex)?, key);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_to_hex(key: &[u8]) -> Zeroizing<String> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = Zeroizing::new(String::with_capacity(2 * key.len()));
        for byte in key {
            hex.push(DIGITS[usize::from(byte >> 4)] as char);
            hex.push(DIGITS[usize::from(byte & 0xF)] as char);
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_KEYS;

    fn hex(byte: u8) -> String {
        format!("{byte:02x}").repeat(KEY_LEN)
    }

    fn id(byte: u8) -> crate::KeyId {
        Keyring::new(&[byte; KEY_LEN]).unwrap().primary_id()
    }

    #[test]
    fn one_good_key() {
        let ring = Keyring::from_hex_lines(&format!("{}\n", hex(0xA1))).unwrap();
        assert_eq!(ring.key_ids(), vec![id(0xA1)]);
        // Upper case, surrounding white space, no final newline, CRLF.
        let upper = hex(0xA1).to_uppercase();
        for text in [format!("  {upper}  "), format!("{upper}\r\n")] {
            let ring = Keyring::from_hex_lines(&text).unwrap();
            assert_eq!(ring.key_ids(), vec![id(0xA1)]);
        }
        assert_eq!(*Keyring::key_from_hex(&hex(0x5C)).unwrap(), [0x5C; KEY_LEN]);
    }

    #[test]
    fn several_keys_the_first_primary() {
        for text in [
            format!("{}\n{}\n{}\n", hex(1), hex(2), hex(3)),
            format!("{}, {},{}", hex(1), hex(2), hex(3)),
            format!("{},{}\n\n{}\n", hex(1), hex(2), hex(3)),
        ] {
            let ring = Keyring::from_hex_lines(&text).unwrap();
            assert_eq!(ring.key_ids(), vec![id(1), id(2), id(3)], "{text:?}");
        }
        // A key given twice is in the ring once.
        let ring = Keyring::from_hex_lines(&format!("{}\n{}\n", hex(1), hex(1))).unwrap();
        assert_eq!(ring.len(), 1);
    }

    #[test]
    fn blank_lines_and_comments_are_skipped() {
        let text = format!(
            "# the cluster's keys, newest first\n\n  # rotated in March, old one below\n{}\n\n#{}\n{}\n",
            hex(1),
            hex(9),
            hex(2)
        );
        let ring = Keyring::from_hex_lines(&text).unwrap();
        assert_eq!(ring.key_ids(), vec![id(1), id(2)]);
        for empty in ["", "\n\n", "  \n# only a comment\n", ", ,\n"] {
            let e = Keyring::from_hex_lines(empty).unwrap_err();
            assert_eq!(e, KeyFileError::NoKey, "{empty:?}");
            assert!(e.to_string().contains("no key found"), "{e}");
        }
    }

    #[test]
    fn wrong_length_says_how_long_without_the_key() {
        let e = Keyring::from_hex_lines("abcd").unwrap_err();
        assert_eq!(
            e,
            KeyFileError::Key {
                index: 1,
                error: HexKeyError::Length { found: 4 }
            }
        );
        let text = e.to_string();
        assert!(text.contains("64 hex digits, found 4"), "{text}");
        assert!(!text.contains("abcd"), "{text}");
        // The second key, one digit short; characters, not bytes, counted.
        let e = Keyring::from_hex_lines(&format!("{}\n{}", hex(1), &hex(2)[1..])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key 2: a key must be 64 hex digits, found 63 characters"
        );
        assert_eq!(
            Keyring::key_from_hex(&"é".repeat(2 * KEY_LEN)),
            Err(HexKeyError::NotHex)
        );
        assert_eq!(
            Keyring::key_from_hex(&"é".repeat(KEY_LEN)),
            Err(HexKeyError::Length { found: KEY_LEN })
        );
    }

    #[test]
    fn non_hex_says_so_without_the_key() {
        for bad in ["zz".repeat(KEY_LEN), format!("+{}", &hex(1)[1..])] {
            let e = Keyring::from_hex_lines(&bad).unwrap_err();
            assert_eq!(
                e,
                KeyFileError::Key {
                    index: 1,
                    error: HexKeyError::NotHex
                }
            );
            let text = e.to_string();
            assert!(
                text.contains("only hex digits") && !text.contains(&bad),
                "{text}"
            );
        }
        // A trailing comment on a key's line is not part of the format.
        let e = Keyring::from_hex_lines(&format!("{} # old", hex(1))).unwrap_err();
        assert!(matches!(e, KeyFileError::Key { index: 1, .. }), "{e}");
    }

    #[test]
    fn too_many_keys() {
        let text: Vec<String> = (0..=MAX_KEYS as u8).map(hex).collect();
        let e = Keyring::from_hex_lines(&text.join("\n")).unwrap_err();
        assert_eq!(e, KeyFileError::Keyring(KeyError::TooManyKeys));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn hex_round_trips() {
        let key: Vec<u8> = (0..KEY_LEN as u8).map(|b| b.wrapping_mul(37)).collect();
        let text = Keyring::key_to_hex(&key);
        assert_eq!(&text[..8], "00254a6f");
        assert_eq!(&Keyring::key_from_hex(&text).unwrap()[..], &key[..]);
    }
}
