//! The member table saved in the data directory, so that a restarted node
//! comes back knowing the cluster (loaded with `Swim::import_member`)
//! instead of pulling every table through a join.
//!
//! A text file, one member per line:
//! `address generation incarnation metadata-version metadata-hex`. Only
//! members believed alive (or suspect) are saved: the dead would be
//! forgotten soon anyway. The file is rewritten atomically (temporary file,
//! sync, rename) every [`SAVE_EVERY`] and when the node stops, off the
//! loop thread.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use swim_core::{Identity, MemberState};

/// Name of the member table file inside the data directory.
pub const MEMBERS_FILE: &str = "members";

/// How often a running node saves its member table.
pub const SAVE_EVERY: Duration = Duration::from_secs(30);

/// One saved member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedMember {
    /// Address and generation.
    pub identity: Identity<SocketAddr>,
    /// Incarnation.
    pub incarnation: u32,
    /// Version of the metadata.
    pub metadata_version: u32,
    /// Metadata.
    pub metadata: Vec<u8>,
}

impl SavedMember {
    /// The member as the core loads it.
    pub fn as_known(&self) -> swim_core::KnownMember<'_, SocketAddr> {
        swim_core::KnownMember {
            identity: &self.identity,
            incarnation: self.incarnation,
            state: MemberState::Alive,
            metadata: &self.metadata,
            metadata_version: self.metadata_version,
        }
    }
}

/// Reads the saved table of `dir`; an absent file is an empty table, and
/// lines that do not parse are skipped and counted (second value).
pub fn load(dir: &Path) -> io::Result<(Vec<SavedMember>, u64)> {
    let text = match fs::read_to_string(dir.join(MEMBERS_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut members = Vec::new();
    let mut bad = 0;
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match parse_line(line) {
            Some(member) => members.push(member),
            None => bad += 1,
        }
    }
    Ok((members, bad))
}

fn parse_line(line: &str) -> Option<SavedMember> {
    let mut fields = line.split(' ');
    let addr: SocketAddr = fields.next()?.parse().ok()?;
    let generation = fields.next()?.parse().ok()?;
    let incarnation = fields.next()?.parse().ok()?;
    let metadata_version = fields.next()?.parse().ok()?;
    let metadata = from_hex(fields.next().unwrap_or(""))?;
    if fields.next().is_some() {
        return None;
    }
    Some(SavedMember {
        identity: Identity::new(addr, generation),
        incarnation,
        metadata_version,
        metadata,
    })
}

/// The file's text for the members of `swim` believed alive or suspect.
pub fn render<'a>(members: impl Iterator<Item = swim_core::MemberView<'a, SocketAddr>>) -> String {
    let mut text = String::from("# swim member table; the node rewrites this file\n");
    for m in members.filter(|m| m.state.is_active()) {
        let _ = write!(
            text,
            "{} {} {} {} ",
            m.identity.addr, m.identity.generation, m.incarnation, m.metadata_version
        );
        for byte in m.metadata {
            let _ = write!(text, "{byte:02x}");
        }
        text.push('\n');
    }
    text
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Saves the table off the calling thread, one save at a time: a save
/// asked for while one is running is skipped (the next one carries a
/// newer table anyway).
#[derive(Debug)]
pub struct MembersSaver {
    path: PathBuf,
    running: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
    last: Option<std::thread::JoinHandle<()>>,
}

impl MembersSaver {
    /// A saver for the file of `dir`.
    pub fn new(dir: &Path) -> Self {
        MembersSaver {
            path: dir.join(MEMBERS_FILE),
            running: Arc::new(AtomicBool::new(false)),
            errors: Arc::new(AtomicU64::new(0)),
            last: None,
        }
    }

    /// Writes `text` on a background thread; false if a save was still
    /// running (then nothing is written). A thread that cannot be started
    /// counts as a failed save.
    pub fn save(&mut self, text: String) -> bool {
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        let (path, running, errors) = (
            self.path.clone(),
            Arc::clone(&self.running),
            Arc::clone(&self.errors),
        );
        let spawned = std::thread::Builder::new()
            .name("swim members writer".into())
            .spawn(move || {
                if write_atomically(&path, text.as_bytes()).is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                running.store(false, Ordering::Release);
            });
        match spawned {
            Ok(handle) => self.last = Some(handle),
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.running.store(false, Ordering::Release);
            }
        }
        true
    }

    /// Failed saves so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Waits for the save under way, if any.
    pub fn wait(&mut self) {
        if let Some(handle) = self.last.take() {
            let _ = handle.join();
        }
    }
}

/// A temporary file, synced, renamed over the old one.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_bad_lines_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# header\n127.0.0.1:7000 5 3 2 00ff10\n[::1]:7001 6 0 0 \nnot a line\n127.0.0.1:7002 1 1 1 abc\n";
        fs::write(dir.path().join(MEMBERS_FILE), text).unwrap();
        let (members, bad) = load(dir.path()).unwrap();
        assert_eq!(bad, 2);
        assert_eq!(members.len(), 2);
        assert_eq!(
            members[0],
            SavedMember {
                identity: Identity::new("127.0.0.1:7000".parse().unwrap(), 5),
                incarnation: 3,
                metadata_version: 2,
                metadata: vec![0, 255, 16],
            }
        );
        assert_eq!(members[1].identity.addr, "[::1]:7001".parse().unwrap());
        assert!(members[1].metadata.is_empty());
    }

    #[test]
    fn a_missing_file_is_an_empty_table_and_saves_land() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), (Vec::new(), 0));
        let mut saver = MembersSaver::new(dir.path());
        assert!(saver.save("127.0.0.1:1 1 2 3 aa\n".into()));
        saver.wait();
        let (members, bad) = load(dir.path()).unwrap();
        assert_eq!((members.len(), bad), (1, 0));
        assert_eq!(members[0].metadata, vec![0xaa]);
        assert_eq!(saver.errors(), 0);
    }
}
