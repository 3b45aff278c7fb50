//! Round-trip time estimate, from which the time to wait for an ack is
//! derived.
//!
//! memberlist asks its users to set the probe timeout to the 99th
//! percentile of their network's round-trip time; a fixed 500 ms on a LAN
//! whose round trips take a millisecond makes every failure wait for
//! nothing. This estimator follows the usual smoothed mean and mean
//! deviation (as TCP's retransmission timer does: `srtt + 4 * rttvar`), fed
//! by the acks of this node's own probes, and the result is kept between
//! `Config::probe_timeout_min` and `Config::probe_timeout`.

use core::time::Duration;

use crate::time::duration_micros;

/// Smoothed round-trip time and its mean deviation, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RttEstimate {
    /// `None` until the first sample.
    smoothed: Option<u64>,
    deviation: u64,
}

impl RttEstimate {
    /// Takes one measured round trip.
    pub fn sample(&mut self, rtt: Duration) {
        let rtt = duration_micros(rtt);
        match self.smoothed {
            None => {
                self.smoothed = Some(rtt);
                self.deviation = rtt / 2;
            }
            Some(smoothed) => {
                let error = smoothed.abs_diff(rtt);
                self.deviation = (self.deviation.saturating_mul(3)).saturating_add(error) / 4;
                self.smoothed = Some((smoothed.saturating_mul(7)).saturating_add(rtt) / 8);
            }
        }
    }

    /// Time to wait for an ack: `srtt + 4 * rttvar`, within `min..=max`;
    /// `max` until a round trip was measured.
    pub fn timeout(&self, min: Duration, max: Duration) -> Duration {
        let Some(smoothed) = self.smoothed else {
            return max;
        };
        let micros = smoothed.saturating_add(self.deviation.saturating_mul(4));
        Duration::from_micros(micros).clamp(min.min(max), max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(500);

    #[test]
    fn no_sample_waits_the_longest() {
        assert_eq!(RttEstimate::default().timeout(MIN, MAX), MAX);
    }

    #[test]
    fn fast_network_waits_the_floor() {
        let mut e = RttEstimate::default();
        for _ in 0..20 {
            e.sample(Duration::from_millis(2));
        }
        assert_eq!(e.timeout(MIN, MAX), MIN);
    }

    #[test]
    fn slow_or_jittery_network_waits_longer() {
        let mut steady = RttEstimate::default();
        let mut jittery = RttEstimate::default();
        for i in 0..50u64 {
            steady.sample(Duration::from_millis(60));
            jittery.sample(Duration::from_millis(if i % 2 == 0 { 20 } else { 100 }));
        }
        let floor = Duration::from_millis(10);
        let steady = steady.timeout(floor, MAX);
        let jittery = jittery.timeout(floor, MAX);
        let ms = Duration::from_millis;
        assert!(steady >= ms(60) && steady < ms(80), "{steady:?}");
        // Same mean, larger deviation: a longer wait.
        assert!(jittery > steady, "{jittery:?} vs {steady:?}");
        assert!(jittery <= MAX);
    }

    #[test]
    fn huge_samples_saturate_at_the_ceiling() {
        let mut e = RttEstimate::default();
        e.sample(Duration::MAX);
        e.sample(Duration::MAX);
        assert_eq!(e.timeout(MIN, MAX), MAX);
    }

    #[test]
    fn min_above_max_is_clamped_to_max() {
        let mut e = RttEstimate::default();
        e.sample(Duration::from_millis(1));
        assert_eq!(e.timeout(MAX, MIN), MIN);
    }
}
