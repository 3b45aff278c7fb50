//! The node's generation and last incarnation, persisted in a data
//! directory across restarts.

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::{clock_generation, StartError};

/// Name of the identity file inside the data directory.
pub const IDENTITY_FILE: &str = "identity";

/// What the identity file holds: the generation and the highest
/// incarnation the node used in it. Ordered by generation, then
/// incarnation: a later identity compares greater.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Persisted {
    /// The generation.
    pub generation: u32,
    /// The highest incarnation used in that generation.
    pub incarnation: u32,
}

/// The identity file of one data directory, read and rewritten at
/// start-up: a small text file (`generation=` and `incarnation=` lines,
/// plus the address as information).
///
/// Each start is a new life: the generation is one more than the stored
/// one (never lower than [`clock_generation`], so a wiped directory does
/// no harm, nor lower than a floor given by the user), and the
/// incarnation one more than the stored one, so that no (generation,
/// incarnation) pair of a previous life is ever used again, even if the
/// last write before a crash was lost.
///
/// ```
/// use swim_driver::IdentityStore;
///
/// let dir = tempfile::tempdir()?;
/// let addr = "127.0.0.1:7946".parse()?;
/// let first = IdentityStore::start(dir.path(), addr, None, 0)?.state();
/// let second = IdentityStore::start(dir.path(), addr, None, 0)?.state();
/// assert!(second.generation > first.generation);
/// assert!(second.incarnation > first.incarnation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct IdentityStore {
    path: PathBuf,
    advertise: SocketAddr,
    state: Persisted,
}

impl IdentityStore {
    /// Opens (or creates) `dir` and starts a new life (see the type's
    /// documentation), with at least `generation` and `incarnation` if
    /// given. The new values are written (and synced) before this returns.
    pub fn start(
        dir: &Path,
        advertise: SocketAddr,
        generation: Option<u32>,
        incarnation: u32,
    ) -> Result<Self, StartError> {
        fs::create_dir_all(dir)?;
        let path = dir.join(IDENTITY_FILE);
        let previous = match fs::read_to_string(&path) {
            Ok(text) => Some(parse(&text).map_err(StartError::CorruptIdentity)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let mut state = next_life(previous, clock_generation());
        if let Some(floor) = generation {
            state.generation = state.generation.max(floor);
        }
        state.incarnation = state.incarnation.max(incarnation);
        let store = IdentityStore {
            path,
            advertise,
            state,
        };
        write(&store.path, store.advertise, state)?;
        Ok(store)
    }

    /// The identity of this life: its generation and first incarnation.
    pub fn state(&self) -> Persisted {
        self.state
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes the identities a running node moves to, off the caller's
/// thread.
///
/// [`IdentityWriter::submit`] never touches the disk: it leaves the value
/// in a one-slot mailbox (a newer value replaces one not yet written:
/// only the latest matters) and, if no writer thread is running, spawns
/// one. The thread writes the file atomically (temporary file, sync,
/// rename) until the mailbox is empty, then exits: no thread waits while
/// nothing changes, and at most one runs at a time. Failed writes are
/// counted ([`IdentityWriter::errors`]). [`IdentityWriter::flush`] waits
/// until the latest value is on disk (at shutdown).
#[derive(Debug)]
pub struct IdentityWriter {
    shared: Arc<Shared>,
    submitted: Persisted,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    advertise: SocketAddr,
    slot: Mutex<Slot>,
    idle: Condvar,
    errors: AtomicU64,
}

#[derive(Debug)]
struct Slot {
    pending: Option<Persisted>,
    running: bool,
    written: Persisted,
}

impl IdentityWriter {
    /// A writer for the file of `store`, which holds its state already.
    pub fn new(store: IdentityStore) -> Self {
        IdentityWriter {
            shared: Arc::new(Shared {
                path: store.path,
                advertise: store.advertise,
                slot: Mutex::new(Slot {
                    pending: None,
                    running: false,
                    written: store.state,
                }),
                idle: Condvar::new(),
                errors: AtomicU64::new(0),
            }),
            submitted: store.state,
        }
    }

    /// Records `state` if it is later than every state submitted before;
    /// returns true if it was. The write happens on a background thread.
    pub fn submit(&mut self, state: Persisted) -> bool {
        if state <= self.submitted {
            return false;
        }
        self.submitted = state;
        let mut slot = self.shared.lock();
        slot.pending = Some(state);
        if !slot.running {
            slot.running = true;
            drop(slot);
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("swim identity writer".into())
                .spawn(move || shared.drain());
            if spawned.is_err() {
                // No thread: write here rather than not at all.
                self.shared.drain();
            }
        }
        true
    }

    /// The latest state submitted.
    pub fn submitted(&self) -> Persisted {
        self.submitted
    }

    /// The latest state known to be on disk.
    pub fn written(&self) -> Persisted {
        self.shared.lock().written
    }

    /// Failed writes so far.
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// Waits until no write is pending or running: everything submitted
    /// has been written (or counted as failed).
    pub fn flush(&self) {
        let mut slot = self.shared.lock();
        while slot.running {
            slot = self
                .shared
                .idle
                .wait(slot)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the pending state until there is none, then marks the
    /// writer idle.
    fn drain(&self) {
        loop {
            let state = {
                let mut slot = self.lock();
                match slot.pending.take() {
                    Some(state) => state,
                    None => {
                        slot.running = false;
                        self.idle.notify_all();
                        return;
                    }
                }
            };
            match write(&self.path, self.advertise, state) {
                Ok(()) => {
                    let mut slot = self.lock();
                    slot.written = slot.written.max(state);
                }
                Err(_) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Writes atomically: a temporary file, synced, renamed over the old one.
fn write(path: &Path, advertise: SocketAddr, state: Persisted) -> io::Result<()> {
    let text = format!(
        "# swim node identity; the node rewrites this file\naddress={advertise}\ngeneration={}\nincarnation={}\n",
        state.generation, state.incarnation
    );
    let tmp = path.with_extension("tmp");
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)
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

/// Reads an identity file back (tests).
#[cfg(test)]
pub(crate) fn read(dir: &Path) -> Persisted {
    parse(&fs::read_to_string(dir.join(IDENTITY_FILE)).expect("identity file")).expect("parsed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:7000".parse().expect("addr")
    }

    #[test]
    fn each_start_raises_generation_and_incarnation() {
        let dir = tempfile::tempdir().expect("dir");
        let first = IdentityStore::start(dir.path(), addr(), None, 0).expect("start");
        assert_eq!(first.state().incarnation, 0);
        let second = IdentityStore::start(dir.path(), addr(), None, 0).expect("start");
        assert!(second.state().generation > first.state().generation);
        assert_eq!(second.state().incarnation, 1);
        let mut writer = IdentityWriter::new(second);
        let g = writer.submitted().generation;
        assert!(writer.submit(Persisted {
            generation: g,
            incarnation: 9
        }));
        // Not later: ignored.
        assert!(!writer.submit(Persisted {
            generation: g,
            incarnation: 4
        }));
        writer.flush();
        assert_eq!(writer.written().incarnation, 9);
        assert_eq!(read(dir.path()).incarnation, 9);
        let third = IdentityStore::start(dir.path(), addr(), None, 0).expect("start");
        assert!(third.state().generation > g);
        assert_eq!(third.state().incarnation, 10);
    }

    #[test]
    fn floors_given_by_the_user_are_respected() {
        let dir = tempfile::tempdir().expect("dir");
        let far = clock_generation() + 1000;
        let store = IdentityStore::start(dir.path(), addr(), Some(far), 7).expect("start");
        assert_eq!(
            store.state(),
            Persisted {
                generation: far,
                incarnation: 7
            }
        );
        let next = IdentityStore::start(dir.path(), addr(), Some(far), 7).expect("start");
        assert_eq!(next.state().generation, far + 1);
        assert_eq!(next.state().incarnation, 8);
    }

    #[test]
    fn a_burst_of_submissions_ends_with_the_latest_on_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let store = IdentityStore::start(dir.path(), addr(), None, 0).expect("start");
        let generation = store.state().generation;
        let mut writer = IdentityWriter::new(store);
        for incarnation in 1..=200 {
            writer.submit(Persisted {
                generation,
                incarnation,
            });
        }
        // A new generation restarts the incarnation, and is later still.
        assert!(writer.submit(Persisted {
            generation: generation + 1,
            incarnation: 0
        }));
        writer.flush();
        assert_eq!(writer.errors(), 0);
        let on_disk = read(dir.path());
        assert_eq!(on_disk, writer.submitted());
        assert_eq!(on_disk.generation, generation + 1);
    }

    #[test]
    fn failed_writes_are_counted_not_fatal() {
        let dir = tempfile::tempdir().expect("dir");
        let store = IdentityStore::start(dir.path(), addr(), None, 0).expect("start");
        let state = store.state();
        let mut writer = IdentityWriter::new(store);
        // The directory disappears under the running node.
        drop(dir);
        writer.submit(Persisted {
            incarnation: state.incarnation + 1,
            ..state
        });
        writer.flush();
        assert_eq!(writer.errors(), 1);
        assert_eq!(writer.written(), state);
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
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join(IDENTITY_FILE), "nonsense").expect("write");
        assert!(matches!(
            IdentityStore::start(dir.path(), addr(), None, 0),
            Err(StartError::CorruptIdentity(_))
        ));
    }
}
