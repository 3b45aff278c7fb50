//! Cluster keys for the UDP transport: the key file format (one key per
//! line, 64 hex digits each, the first one seals) and `swim keygen`.

use std::path::Path;

use swim_transport_udp::{Keyring, KEY_LEN};

use crate::exit::Failure;
use crate::secret_file;

/// Reads a key file (owner-only permissions required) into a keyring.
pub fn load(path: &Path) -> Result<Keyring, Failure> {
    let text = secret_file::read_private(path, "key file")?;
    parse_keyring(&text)
        .map_err(|why| Failure::input(format!("key file {}: {why}", path.display())))
}

/// Keys in hex, one per line or comma-separated; the first one is primary.
/// Errors never repeat the key material.
pub fn parse_keyring(text: &str) -> Result<Keyring, String> {
    let mut keys = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .enumerate()
        .map(|(i, k)| parse_key(k).map_err(|e| format!("key {}: {e}", i + 1)));
    let primary = keys
        .next()
        .ok_or_else(|| format!("no key found (expected {} hex digits a line)", 2 * KEY_LEN))??;
    let mut ring = Keyring::new(&primary).map_err(|e| e.to_string())?;
    for key in keys {
        ring.install(&key?).map_err(|e| e.to_string())?;
    }
    Ok(ring)
}

/// One key: exactly 64 hex digits.
pub fn parse_key(hex: &str) -> Result<Vec<u8>, String> {
    let digits = hex.as_bytes();
    if digits.len() != 2 * KEY_LEN {
        return Err(format!(
            "a key must be {} hex digits, found {} characters",
            2 * KEY_LEN,
            digits.len()
        ));
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    digits
        .chunks(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
            _ => Err("a key must contain only hex digits".to_string()),
        })
        .collect()
}

/// `swim keygen PATH`: a fresh random key written to a new owner-only file.
pub fn generate(path: &Path) -> Result<(), Failure> {
    let key =
        Keyring::generate_key().map_err(|e| Failure::internal(format!("no random key: {e}")))?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    secret_file::write_new(path, format!("{hex}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.key");
        generate(&path).unwrap();
        let ring = load(&path).unwrap();
        assert_eq!(ring.key_ids().len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(generate(&path).is_err(), "never overwrites");
    }

    #[test]
    fn wrong_formats_say_what_is_wrong_without_the_key() {
        let e = parse_keyring("abcd").unwrap_err();
        assert!(e.contains("64 hex digits, found 4"), "{e}");
        let bad = "zz".repeat(32);
        let e = parse_keyring(&bad).unwrap_err();
        assert!(e.contains("only hex digits") && !e.contains("zz"), "{e}");
        assert!(parse_keyring("\n\n").unwrap_err().contains("no key found"));
        let two = format!("{}\n{}\n", "11".repeat(32), "22".repeat(32));
        assert_eq!(parse_keyring(&two).unwrap().key_ids().len(), 2);
    }
}
