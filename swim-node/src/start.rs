//! Starting the state machine: identity, clock, random seed, metadata and
//! seeds.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::{Config, Identity, Instant, Swim};

use crate::{NodeSwim, StartError};

/// 2025-01-01T00:00:00Z in seconds since the UNIX epoch: the origin of
/// clock-derived generations, so that they stay below 2^28 (4-byte varints)
/// until 2033 and fit in 32 bits until 2161.
pub const GENERATION_EPOCH_SECS: u64 = 1_735_689_600;

/// Extra time allowed to a graceful leave beyond `leave_propagate_time`.
pub const LEAVE_GRACE: Duration = Duration::from_secs(5);

/// A generation derived from the wall clock: seconds since 2025-01-01 UTC.
///
/// It grows across restarts as long as they are at least a second apart
/// and the clock does not go backwards (a node restarted within the same
/// second has the same generation and refutes the old one's death with a
/// higher incarnation instead).
pub fn clock_generation() -> u32 {
    clock_generation_at(SystemTime::now())
}

/// The [`clock_generation`] at the wall-clock time `at`.
pub fn clock_generation_at(at: SystemTime) -> u32 {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    u32::try_from(secs.saturating_sub(GENERATION_EPOCH_SECS)).unwrap_or(u32::MAX)
}

/// IPv4 peers reached through a dual-stack IPv6 socket appear as
/// IPv4-mapped IPv6 addresses; members are known by their IPv4 address.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The node's clock: protocol time is counted from the start of the node.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: std::time::Instant,
}

impl Clock {
    /// A clock whose protocol time zero is now.
    pub fn start() -> Self {
        Clock {
            epoch: std::time::Instant::now(),
        }
    }

    /// The protocol time now.
    pub fn now(&self) -> Instant {
        Instant::from_std(self.epoch, std::time::Instant::now())
    }

    /// The process-clock time of the protocol time `at` (now, should it be
    /// out of the process clock's range).
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.epoch
            .checked_add(Duration::from_micros(at.as_micros()))
            .unwrap_or_else(std::time::Instant::now)
    }
}

/// A freshly started state machine, with its clock.
pub struct Protocol {
    /// The state machine, joining its seeds if it was given any.
    pub swim: NodeSwim,
    /// Its clock (time zero: the start).
    pub clock: Clock,
    /// How long a graceful leave may take, at most: the configured
    /// `leave_propagate_time` plus [`LEAVE_GRACE`].
    pub leave_timeout: Duration,
}

/// Starts the state machine for `identity` with `config`, at
/// `incarnation`, with `metadata` (if not empty), and starts joining
/// through `seeds` other than the node's own advertised or bound
/// (`local_addr`) address. The random choices are seeded differently in
/// every process and every node.
pub fn start_protocol(
    identity: Identity<SocketAddr>,
    config: Config,
    incarnation: u32,
    metadata: &[u8],
    seeds: impl IntoIterator<Item = SocketAddr>,
    local_addr: SocketAddr,
) -> Result<Protocol, StartError> {
    let clock = Clock::start();
    let advertise = identity.addr;
    let rng = Pcg32::seed_from_u64(random_seed(advertise));
    let leave_timeout = config.leave_propagate_time + LEAVE_GRACE;
    let mut swim = Swim::new(identity, config, rng, Instant::ZERO)?.with_incarnation(incarnation);
    if !metadata.is_empty() {
        swim.set_metadata(Instant::ZERO, metadata)?;
    }
    let seeds: Vec<SocketAddr> = seeds
        .into_iter()
        .filter(|s| *s != advertise && *s != local_addr)
        .collect();
    if !seeds.is_empty() {
        swim.join(Instant::ZERO, &seeds)?;
    }
    Ok(Protocol {
        swim,
        clock,
        leave_timeout,
    })
}

/// A seed for the protocol's random choices, different in every process and
/// every node: std's randomly keyed hasher over the time, the process id and
/// the address.
fn random_seed(addr: SocketAddr) -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    SystemTime::now().hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    addr.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_addresses_are_not_seeds() {
        let me: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
        let bound: SocketAddr = "0.0.0.0:7000".parse().expect("addr");
        let identity = Identity::new(me, 1);
        let started = start_protocol(identity, Config::local(), 3, b"meta", [me, bound], bound)
            .expect("started");
        assert_eq!(started.swim.local().incarnation, 3);
        assert_eq!(
            started.swim.local().to_snapshot().metadata,
            b"meta".to_vec()
        );
        assert_eq!(
            started.leave_timeout,
            Config::local().leave_propagate_time + LEAVE_GRACE
        );
    }
}
