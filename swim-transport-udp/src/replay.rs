//! The receiver's side of replay protection: one sliding window of
//! counters per sender, and a freshness check of timestamps (the rules are
//! documented on [`ReplayFilter`]).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::envelope::{OpenError, Opened};

/// How far below a sender's highest accepted counter a datagram may lie
/// and still be accepted (once): datagrams reordered by up to this many of
/// the sender's datagrams (to any destination) get through.
pub const REPLAY_WINDOW: u64 = 1024;

/// Default of [`ReplayConfig::freshness`]: two minutes.
pub const DEFAULT_FRESHNESS: Duration = Duration::from_secs(120);

/// Default of [`ReplayConfig::max_senders`].
pub const DEFAULT_MAX_SENDERS: usize = 4096;

/// Words of the bitmap: one more than the window needs, so that the word
/// being filled never shares its place with the oldest one still in the
/// window.
const WORDS: usize = (REPLAY_WINDOW / 64) as usize + 1;

/// End of a linked list of slots.
const NONE: u32 = u32::MAX;

/// Settings of a node's [`ReplayFilter`], given with
/// [`NodeOptions::replay`](crate::NodeOptions::replay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Largest difference, either way, between a datagram's timestamp and
    /// the receiver's clock (whole seconds; the fraction is ignored).
    /// Nodes with a keyring need clocks synchronized to well within this
    /// (NTP does). Larger values tolerate worse clocks but let an attacker
    /// replay, for longer, the datagrams of senders the receiver has not
    /// heard from or has forgotten; 2^31 s or more turns the check off.
    /// Default: [`DEFAULT_FRESHNESS`], 120 s.
    pub freshness: Duration,
    /// Most senders remembered (at least 1); beyond that the sender
    /// accepted least recently is forgotten and counted in
    /// [`TransportCounters::replay_evictions`](crate::TransportCounters).
    /// Each one takes 160 bytes plus its share of a hash map (under
    /// 1 MiB in all for 4096); the table grows to this bound as senders
    /// are heard. Every process start
    /// of every member is a new sender. Default: [`DEFAULT_MAX_SENDERS`],
    /// 4096.
    pub max_senders: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            freshness: DEFAULT_FRESHNESS,
            max_senders: DEFAULT_MAX_SENDERS,
        }
    }
}

impl ReplayConfig {
    /// This configuration with another freshness window.
    pub fn with_freshness(mut self, freshness: Duration) -> Self {
        self.freshness = freshness;
        self
    }

    /// This configuration with another bound on the senders remembered.
    pub fn with_max_senders(mut self, max_senders: usize) -> Self {
        self.max_senders = max_senders;
        self
    }
}

/// Which counters of one sender were accepted, and where the sender stands
/// in the recency list.
#[derive(Clone)]
struct Window {
    sender: u64,
    /// Highest counter accepted.
    top: u64,
    /// Counter `c` (in the window) is bit `c % 64` of word
    /// `(c / 64) % WORDS`.
    words: [u64; WORDS],
    /// Neighbours in the recency list (slot indices, `NONE` at the ends).
    newer: u32,
    older: u32,
}

impl Window {
    fn first(sender: u64, counter: u64) -> Self {
        let mut window = Window {
            sender,
            top: counter,
            words: [0; WORDS],
            newer: NONE,
            older: NONE,
        };
        let (word, bit) = position(counter);
        window.words[word] = bit;
        window
    }

    /// Records `counter` if it is new and within the window; false (and
    /// nothing changed) otherwise.
    fn admit(&mut self, counter: u64) -> bool {
        if counter > self.top {
            let from = self.top / 64;
            let to = counter / 64;
            if to - from >= WORDS as u64 {
                self.words = [0; WORDS];
            } else {
                // The words of the blocks the window moves into held
                // blocks that now fall out of it.
                for block in from + 1..=to {
                    self.words[(block % WORDS as u64) as usize] = 0;
                }
            }
            self.top = counter;
        } else if self.top - counter >= REPLAY_WINDOW {
            return false;
        }
        let (word, bit) = position(counter);
        if self.words[word] & bit != 0 {
            return false;
        }
        self.words[word] |= bit;
        true
    }
}

fn position(counter: u64) -> (usize, u64) {
    (
        ((counter / 64) % WORDS as u64) as usize,
        1 << (counter % 64),
    )
}

/// The anti-replay state of a receiver: a sliding window of counters per
/// sender in a bounded table, and a freshness check of timestamps.
///
/// Every sealed datagram carries its sender's random id, the sender's
/// counter (one more per datagram sealed) and the time it was sealed, all
/// authenticated (see the [envelope layout](crate#encryption)). A node
/// with a keyring runs every datagram that authenticates through its
/// filter, before the protocol sees it:
///
/// * a timestamp further than [`ReplayConfig::freshness`] from the
///   receiver's clock, either way: refused as [`OpenError::Stale`];
/// * for each sender it has heard from, the filter remembers the highest
///   counter accepted and, in a bitmap, which of the [`REPLAY_WINDOW`]
///   counters below it were accepted. A counter above the highest moves
///   the window up and is accepted; a counter within the window is
///   accepted once, then refused as [`OpenError::Replayed`]; a counter
///   [`REPLAY_WINDOW`] or more below the highest is refused as
///   [`OpenError::Replayed`] too (too old to tell whether it was seen).
///
/// The table of senders is bounded ([`ReplayConfig::max_senders`]): when
/// it is full, the sender accepted least recently is forgotten (refused
/// datagrams do not count as activity). A forgotten sender's datagrams,
/// like those of any sender heard for the first time (after a restart of
/// the receiver, say), can be accepted once more; the freshness check
/// bounds that to datagrams sealed within the freshness window.
///
/// Each check is a hash-map lookup and a few word operations; it
/// allocates only while the table grows towards its bound (and once when
/// it first reaches it).
///
/// ```
/// use swim_transport_udp::{Keyring, OpenError, ReplayConfig, ReplayFilter, ENVELOPE_OVERHEAD};
///
/// let ring = Keyring::new(&[42; 32])?;
/// let mut filter = ReplayFilter::new(ReplayConfig::default());
/// let now = 1_750_000_000;
/// let mut datagram = [0u8; ENVELOPE_OVERHEAD];
/// ring.seal_at(7, &mut datagram, 0, now)?;
/// let captured = datagram;
/// let opened = ring.open(7, &mut datagram)?;
/// assert_eq!(filter.check(&opened, now), Ok(()));
/// // The same datagram again: authentic, but replayed.
/// let mut again = captured;
/// let opened = ring.open(7, &mut again)?;
/// assert_eq!(filter.check(&opened, now + 1), Err(OpenError::Replayed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReplayFilter {
    config: ReplayConfig,
    /// `config.freshness` in seconds, at most `u32::MAX`.
    freshness_secs: u32,
    /// At most `max_senders`; slots are reused once the table is full.
    slots: Vec<Window>,
    /// Sender id to slot.
    index: HashMap<u64, u32>,
    /// Ends of the recency list.
    newest: u32,
    oldest: u32,
    max_senders: usize,
    evictions: u64,
}

impl ReplayFilter {
    /// An empty filter. `max_senders` is raised to 1 if zero (and lowered
    /// to 2^32 − 2 if above).
    pub fn new(config: ReplayConfig) -> Self {
        ReplayFilter {
            config,
            freshness_secs: u32::try_from(config.freshness.as_secs()).unwrap_or(u32::MAX),
            slots: Vec::new(),
            index: HashMap::new(),
            newest: NONE,
            oldest: NONE,
            max_senders: config.max_senders.clamp(1, NONE as usize - 1),
            evictions: 0,
        }
    }

    /// The configuration it was made with.
    pub fn config(&self) -> ReplayConfig {
        self.config
    }

    /// Checks an authenticated datagram's sender id, counter and timestamp
    /// (from [`Keyring::open`](crate::Keyring::open)) against the
    /// receiver's clock `now_unix_secs` (seconds since the UNIX epoch) and
    /// the sender's window, and records it if it is accepted.
    ///
    /// Errors, with nothing recorded: [`OpenError::Stale`] if the
    /// timestamp is too far from `now_unix_secs` (checked first),
    /// [`OpenError::Replayed`] if the counter was already accepted or lies
    /// [`REPLAY_WINDOW`] or more below the sender's highest.
    ///
    /// Never give it a datagram that did not authenticate: its header
    /// would move the window.
    pub fn check(&mut self, opened: &Opened, now_unix_secs: u64) -> Result<(), OpenError> {
        // Both sides modulo 2^32: the difference is right as long as it
        // is under 68 years either way.
        let skew = (now_unix_secs as u32).wrapping_sub(opened.timestamp) as i32;
        if skew.unsigned_abs() > self.freshness_secs {
            return Err(OpenError::Stale);
        }
        match self.index.get(&opened.sender_id) {
            Some(&slot) => {
                if !self.slots[slot as usize].admit(opened.counter) {
                    return Err(OpenError::Replayed);
                }
                self.unlink(slot);
                self.push_newest(slot);
            }
            None => {
                let window = Window::first(opened.sender_id, opened.counter);
                let slot = if self.slots.len() < self.max_senders {
                    self.slots.push(window);
                    (self.slots.len() - 1) as u32
                } else {
                    let slot = self.oldest;
                    self.unlink(slot);
                    self.index.remove(&self.slots[slot as usize].sender);
                    self.evictions += 1;
                    if self.evictions == 1 {
                        // Room for twice the bound, once: removals leave
                        // tombstones, and the map then cleans them up in
                        // place rather than growing.
                        self.index.reserve(self.max_senders);
                    }
                    self.slots[slot as usize] = window;
                    slot
                };
                self.index.insert(opened.sender_id, slot);
                self.push_newest(slot);
            }
        }
        Ok(())
    }

    /// Senders currently remembered.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True before the first accepted datagram.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Whether `sender_id` is remembered.
    pub fn contains(&self, sender_id: u64) -> bool {
        self.index.contains_key(&sender_id)
    }

    /// Senders forgotten so far because the table was full.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    fn unlink(&mut self, slot: u32) {
        let Window { newer, older, .. } = self.slots[slot as usize];
        match newer {
            NONE => self.newest = older,
            n => self.slots[n as usize].older = older,
        }
        match older {
            NONE => self.oldest = newer,
            o => self.slots[o as usize].newer = newer,
        }
    }

    fn push_newest(&mut self, slot: u32) {
        let previous = self.newest;
        {
            let window = &mut self.slots[slot as usize];
            window.newer = NONE;
            window.older = previous;
        }
        match previous {
            NONE => self.oldest = slot,
            p => self.slots[p as usize].newer = slot,
        }
        self.newest = slot;
    }
}

impl fmt::Debug for ReplayFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayFilter")
            .field("config", &self.config)
            .field("senders", &self.len())
            .field("evictions", &self.evictions)
            .finish()
    }
}

/// The system clock in seconds since the UNIX epoch (0 before it).
pub(crate) fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(sender_id: u64, counter: u64) -> Opened {
        Opened {
            plaintext: 0..0,
            key_index: 0,
            sender_id,
            counter,
            timestamp: 1000,
        }
    }

    /// The recency list, newest first, as sender ids; checks the links
    /// both ways.
    fn recency(filter: &ReplayFilter) -> Vec<u64> {
        let mut ids = Vec::new();
        let (mut at, mut previous) = (filter.newest, NONE);
        while at != NONE {
            let w = &filter.slots[at as usize];
            assert_eq!(w.newer, previous);
            ids.push(w.sender);
            previous = at;
            at = w.older;
        }
        assert_eq!(filter.oldest, previous);
        assert_eq!(ids.len(), filter.len());
        ids
    }

    #[test]
    fn recency_list_moves_and_evicts_the_oldest() {
        let mut f = ReplayFilter::new(ReplayConfig::default().with_max_senders(3));
        for id in [1, 2, 3] {
            f.check(&opened(id, 0), 1000).unwrap();
        }
        assert_eq!(recency(&f), [3, 2, 1]);
        f.check(&opened(1, 1), 1000).unwrap();
        assert_eq!(recency(&f), [1, 3, 2]);
        // Refused datagrams do not refresh their sender.
        assert_eq!(f.check(&opened(2, 0), 1000), Err(OpenError::Replayed));
        assert_eq!(recency(&f), [1, 3, 2]);
        f.check(&opened(4, 0), 1000).unwrap();
        assert_eq!(recency(&f), [4, 1, 3]);
        assert_eq!(f.evictions(), 1);
        f.check(&opened(3, 1), 1000).unwrap();
        f.check(&opened(5, 0), 1000).unwrap();
        assert_eq!(recency(&f), [5, 3, 4]);
        // A table of one.
        let mut f = ReplayFilter::new(ReplayConfig::default().with_max_senders(0));
        f.check(&opened(1, 0), 1000).unwrap();
        f.check(&opened(2, 0), 1000).unwrap();
        assert_eq!(recency(&f), [2]);
        f.check(&opened(2, 1), 1000).unwrap();
        assert_eq!(recency(&f), [2]);
    }

    /// The window against a plain set of every counter ever accepted, on
    /// random walks of counters: accepted exactly when new and less than
    /// `REPLAY_WINDOW` below the highest.
    #[test]
    fn window_matches_a_reference_model() {
        use std::collections::HashSet;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..50 {
            let start = next() % (u64::MAX / 2);
            let mut window = Window::first(1, start);
            let mut seen = HashSet::from([start]);
            let mut top = start;
            for _ in 0..5000 {
                let r = next();
                let counter = match r % 4 {
                    0 => top.saturating_sub(next() % 1100),
                    1 => top + next() % 70,
                    2 => top + next() % 3000,
                    _ => top.saturating_sub(next() % 2),
                };
                let expected =
                    !seen.contains(&counter) && (counter > top || top - counter < REPLAY_WINDOW);
                assert_eq!(
                    window.admit(counter),
                    expected,
                    "top {top}, counter {counter}"
                );
                if expected {
                    seen.insert(counter);
                    top = top.max(counter);
                }
            }
        }
    }

    #[test]
    fn freshness_compares_modulo_2_to_the_32() {
        let mut f = ReplayFilter::new(ReplayConfig::default());
        let mut at = |timestamp: u32, now: u64, counter| {
            f.check(
                &Opened {
                    timestamp,
                    ..opened(9, counter)
                },
                now,
            )
        };
        assert_eq!(at(u32::MAX - 10, 1 << 32, 0), Ok(()));
        assert_eq!(at(5, (1 << 32) - 5, 1), Ok(()));
        assert_eq!(at(u32::MAX - 200, 1 << 32, 2), Err(OpenError::Stale));
        assert_eq!(at(121, 1 << 32, 3), Err(OpenError::Stale));
        assert_eq!(at(120, 1 << 32, 3), Ok(()));
        let mut off =
            ReplayFilter::new(ReplayConfig::default().with_freshness(Duration::from_secs(1 << 31)));
        let o = Opened {
            timestamp: 0,
            ..opened(1, 0)
        };
        assert_eq!(off.check(&o, 1 << 31), Ok(()));
    }
}
