//! The node's generation and last incarnation, persisted in a data
//! directory across restarts, or derived from the wall clock.

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Name of the identity file inside the data directory.
pub const IDENTITY_FILE: &str = "identity";

pub use swim_node::clock_generation;
#[cfg(test)]
use {
    std::time::{Duration, UNIX_EPOCH},
    swim_node::{clock_generation_at, GENERATION_EPOCH_SECS},
};

/// The contents of the identity file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Persisted {
    pub generation: u32,
    pub incarnation: u32,
}

/// The identity file of one data directory, kept up to date by the node.
#[derive(Debug)]
pub(crate) struct IdentityStore {
    path: PathBuf,
    advertise: SocketAddr,
    state: Persisted,
}

impl IdentityStore {
    /// Opens (or creates) `dir` and starts a new life: the generation is
    /// one more than the stored one and never lower than
    /// [`clock_generation`]; the incarnation starts one above the last one
    /// stored. The new values are written before this returns.
    pub fn start(dir: &Path, advertise: SocketAddr) -> Result<Self, Error> {
        fs::create_dir_all(dir)?;
        let path = dir.join(IDENTITY_FILE);
        let previous = match fs::read_to_string(&path) {
            Ok(text) => Some(parse(&text).map_err(Error::CorruptIdentity)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let state = next_life(previous, clock_generation());
        let store = IdentityStore {
            path,
            advertise,
            state,
        };
        store.write()?;
        Ok(store)
    }

    /// The generation of this life.
    pub fn generation(&self) -> u32 {
        self.state.generation
    }

    /// The incarnation to start with.
    pub fn incarnation(&self) -> u32 {
        self.state.incarnation
    }

    /// Records a new incarnation (after a refutation); writes only when it
    /// grew.
    pub fn save_incarnation(&mut self, incarnation: u32) -> io::Result<()> {
        if incarnation <= self.state.incarnation {
            return Ok(());
        }
        self.state.incarnation = incarnation;
        self.write()
    }

    /// Records a new generation (the core moved to one when its incarnation
    /// counter ran out); the incarnation restarts at 0.
    pub fn save_generation(&mut self, generation: u32) -> io::Result<()> {
        if generation <= self.state.generation {
            return Ok(());
        }
        self.state = Persisted {
            generation,
            incarnation: 0,
        };
        self.write()
    }

    /// Writes atomically: a temporary file renamed over the old one.
    fn write(&self) -> io::Result<()> {
        let text = format!(
            "# swim node identity; the node rewrites this file\naddress={}\ngeneration={}\nincarnation={}\n",
            self.advertise, self.state.generation, self.state.incarnation
        );
        let tmp = self.path.with_extension("tmp");
        {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        fs::rename(&tmp, &self.path)
    }
}

/// The identity of the next life after `previous`.
fn next_life(previous: Option<Persisted>, clock: u32) -> Persisted {
    match previous {
        Some(p) => Persisted {
            generation: p.generation.saturating_add(1).max(clock),
            incarnation: p.incarnation.saturating_add(1),
        },
        None => Persisted {
            generation: clock.max(1),
            incarnation: 0,
        },
    }
}

fn parse(text: &str) -> Result<Persisted, String> {
    let mut generation = None;
    let mut incarnation = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("not key=value: {line:?}"))?;
        let number = || {
            value
                .trim()
                .parse::<u32>()
                .map_err(|e| format!("{key}: {e}"))
        };
        match key.trim() {
            "generation" => generation = Some(number()?),
            "incarnation" => incarnation = Some(number()?),
            _ => {} // informational keys (address) and future ones
        }
    }
    Ok(Persisted {
        generation: generation.ok_or("missing generation")?,
        incarnation: incarnation.ok_or("missing incarnation")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:7000".parse().unwrap()
    }

    #[test]
    fn each_start_raises_generation_and_incarnation() {
        let dir = tempfile::tempdir().unwrap();
        let first = IdentityStore::start(dir.path(), addr()).unwrap();
        let (g1, i1) = (first.generation(), first.incarnation());
        assert_eq!(i1, 0);
        let mut second = IdentityStore::start(dir.path(), addr()).unwrap();
        assert!(second.generation() > g1);
        assert_eq!(second.incarnation(), 1);
        second.save_incarnation(9).unwrap();
        second.save_incarnation(4).unwrap(); // lower: ignored
        let third = IdentityStore::start(dir.path(), addr()).unwrap();
        assert!(third.generation() > second.generation());
        assert_eq!(third.incarnation(), 10);
    }

    #[test]
    fn generation_never_falls_below_the_clock() {
        let old = Persisted {
            generation: 3,
            incarnation: 0,
        };
        assert_eq!(next_life(Some(old), 1000).generation, 1000);
        let ahead = Persisted {
            generation: 5000,
            incarnation: 0,
        };
        assert_eq!(next_life(Some(ahead), 1000).generation, 5001);
        assert_eq!(next_life(None, 0).generation, 1);
    }

    #[test]
    fn clock_generation_counts_from_2025() {
        let at = UNIX_EPOCH + Duration::from_secs(GENERATION_EPOCH_SECS + 42);
        assert_eq!(clock_generation_at(at), 42);
        assert_eq!(clock_generation_at(UNIX_EPOCH), 0);
    }

    #[test]
    fn corrupt_files_are_reported() {
        assert!(parse("generation=x\nincarnation=1").is_err());
        assert!(parse("generation=1").is_err());
        assert!(parse("garbage").is_err());
        assert_eq!(
            parse("# c\naddress=1.2.3.4:5\ngeneration=7\nincarnation=2\n"),
            Ok(Persisted {
                generation: 7,
                incarnation: 2
            })
        );
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(IDENTITY_FILE), "nonsense").unwrap();
        assert!(matches!(
            IdentityStore::start(dir.path(), addr()),
            Err(Error::CorruptIdentity(_))
        ));
    }
}
