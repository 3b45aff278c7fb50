//! The identities this agent refuses (decommissioned), kept in the data
//! directory so that a restarted agent refuses them again. One
//! `ADDR GENERATION` a line; at most [`MAX_KEPT`] lines, one per address
//! (a newer order about an address replaces the older one), the oldest
//! dropped beyond that. Without a data directory nothing is kept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use swim_transport_udp::Identity;

/// The file's name in the data directory.
pub const REFUSED_FILE: &str = "refused";
/// Most identities kept: the protocol refuses at most as many addresses
/// (`swim_core::MAX_REFUSED`).
pub const MAX_KEPT: usize = 64;

/// The refusal list of one agent.
#[derive(Debug, Default)]
pub struct RefusalFile {
    path: Option<PathBuf>,
    // Serializes read-modify-write cycles of the file.
    lock: Mutex<()>,
}

impl RefusalFile {
    /// The list in `data_dir` (none: nothing kept).
    pub fn new(data_dir: Option<&Path>) -> Self {
        RefusalFile {
            path: data_dir.map(|d| d.join(REFUSED_FILE)),
            lock: Mutex::new(()),
        }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The identities kept (unreadable lines are skipped).
    pub fn load(&self) -> Vec<Identity<SocketAddr>> {
        let Some(path) = &self.path else {
            return Vec::new();
        };
        std::fs::read_to_string(path)
            .map(|text| parse(&text))
            .unwrap_or_default()
    }

    /// Adds `identity` (replacing an older entry for its address); an
    /// error says why the file could not be written.
    pub fn record(&self, identity: &Identity<SocketAddr>) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let _guard = self.lock.lock().map_err(|_| "lock poisoned".to_string())?;
        let mut kept: Vec<Identity<SocketAddr>> = self
            .load()
            .into_iter()
            .filter(|id| id.addr != identity.addr)
            .collect();
        kept.push(identity.clone());
        let excess = kept.len().saturating_sub(MAX_KEPT);
        kept.drain(..excess);
        let text: String = kept
            .iter()
            .map(|id| format!("{} {}\n", id.addr, id.generation))
            .collect();
        // Written whole, then renamed: a crash leaves the old list or the new.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn parse(text: &str) -> Vec<Identity<SocketAddr>> {
    text.lines()
        .filter_map(|line| {
            let (addr, generation) = line.trim().split_once(' ')?;
            Some(Identity::new(addr.parse().ok()?, generation.parse().ok()?))
        })
        .take(MAX_KEPT)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(port: u16, generation: u32) -> Identity<SocketAddr> {
        Identity::new(SocketAddr::from(([127, 0, 0, 1], port)), generation)
    }

    #[test]
    fn kept_across_instances_one_per_address_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = RefusalFile::new(Some(dir.path()));
        file.record(&id(1, 5)).unwrap();
        file.record(&id(2, 7)).unwrap();
        file.record(&id(1, 9)).unwrap();
        let again = RefusalFile::new(Some(dir.path()));
        assert_eq!(again.load(), vec![id(2, 7), id(1, 9)]);
        for port in 100..100 + MAX_KEPT as u16 + 5 {
            again.record(&id(port, 1)).unwrap();
        }
        let kept = again.load();
        assert_eq!(kept.len(), MAX_KEPT);
        assert_eq!(kept.last(), Some(&id(100 + MAX_KEPT as u16 + 4, 1)));
    }

    #[test]
    fn garbage_lines_are_skipped_and_no_directory_keeps_nothing() {
        assert_eq!(
            parse("nonsense\n127.0.0.1:1 x\n127.0.0.1:2 3\n"),
            vec![id(2, 3)]
        );
        let none = RefusalFile::new(None);
        none.record(&id(1, 1)).unwrap();
        assert!(none.load().is_empty());
    }
}
