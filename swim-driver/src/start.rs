//! The node clock, clock-derived generations and address normalisation.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use swim_core::Instant;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_generation_counts_from_2025() {
        let at = UNIX_EPOCH + Duration::from_secs(GENERATION_EPOCH_SECS + 42);
        assert_eq!(clock_generation_at(at), 42);
        assert_eq!(clock_generation_at(UNIX_EPOCH), 0);
    }

    #[test]
    fn v4_mapped_sources_become_v4() {
        let a = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert_eq!(canonical(a("[::ffff:10.1.2.3]:7")), a("10.1.2.3:7"));
        assert_eq!(canonical(a("[::1]:7")), a("[::1]:7"));
        assert_eq!(canonical(a("10.1.2.3:7")), a("10.1.2.3:7"));
    }

    #[test]
    fn protocol_time_maps_back_to_the_process_clock() {
        let clock = Clock::start();
        let now = clock.now();
        let back = clock.to_std(now);
        assert!(back <= std::time::Instant::now());
    }
}
