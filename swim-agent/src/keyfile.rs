//! Cluster keys for the UDP transport: reading a key file (owner-only; the
//! format, one key of 64 hex digits a line, the first one sealing, is
//! `swim_transport_udp::Keyring::from_hex_lines`'s) and `swim keygen`.

use std::path::Path;

use swim_transport_udp::Keyring;

use crate::exit::Failure;
use crate::secret_file;

/// Reads a key file (owner-only permissions required) into a keyring.
pub fn load(path: &Path) -> Result<Keyring, Failure> {
    let text = secret_file::read_private(path, "key file")?;
    Keyring::from_hex_lines(&text)
        .map_err(|why| Failure::input(format!("key file {}: {why}", path.display())))
}

/// `swim keygen PATH`: a fresh random key written to a new owner-only file.
pub fn generate(path: &Path) -> Result<(), Failure> {
    let key =
        Keyring::generate_key().map_err(|e| Failure::internal(format!("no random key: {e}")))?;
    let mut line = Keyring::key_to_hex(&key[..]);
    line.push('\n');
    secret_file::write_new(path, line.as_bytes())
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.key");
        let load_text = |text: &str| {
            let _ = std::fs::remove_file(&path);
            secret_file::write_new(&path, text.as_bytes()).unwrap();
            load(&path)
        };
        let e = load_text("abcd").unwrap_err().to_string();
        assert!(
            e.contains("key file") && e.contains("64 hex digits, found 4"),
            "{e}"
        );
        let bad = "zz".repeat(32);
        let e = load_text(&bad).unwrap_err().to_string();
        assert!(e.contains("only hex digits") && !e.contains("zz"), "{e}");
        assert!(load_text("\n\n")
            .unwrap_err()
            .to_string()
            .contains("no key found"));
        let two = format!("{}\n{}\n", "11".repeat(32), "22".repeat(32));
        assert_eq!(load_text(&two).unwrap().key_ids().len(), 2);
    }
}
