//! Files holding secrets (cluster keys, HTTP tokens, private keys): written
//! owner-only and never over an existing file, and refused when others can
//! read them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::exit::Failure;

/// Writes `contents` to a new file at `path`, readable and writable by its
/// owner only (mode 0600 on Unix). Refuses to overwrite an existing file.
pub fn write_new(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::input(format!(
                "{}: already exists; not overwritten (move it away first)",
                path.display()
            ))
        } else {
            Failure::input(format!("{}: {e}", path.display()))
        }
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

/// Reads a secret file, refusing it (on Unix) when its group or others may
/// read or write it: a key that others can read is no longer a secret.
pub fn read_private(path: &Path, what: &str) -> Result<String, Failure> {
    let file =
        File::open(path).map_err(|e| Failure::input(format!("{what} {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| Failure::input(format!("{what} {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Failure::input(format!(
                "{what} {} is accessible to others (mode {:o}): run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut &file, &mut text).map_err(|e| {
        Failure::input(format!(
            "{what} {}: not readable as text ({e})",
            path.display()
        ))
    })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_owner_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_new(&path, b"abc").unwrap();
        assert_eq!(read_private(&path, "key file").unwrap(), "abc");
        let again = write_new(&path, b"other").unwrap_err();
        assert!(again.message.contains("already exists"), "{again}");
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
    }

    #[cfg(unix)]
    #[test]
    fn readable_by_others_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_private(&path, "key file").unwrap_err();
        assert!(
            e.message.contains("mode 644") && e.message.contains("chmod 600"),
            "{e}"
        );
        assert_eq!(e.kind, crate::exit::FailureKind::Input);
    }
}
