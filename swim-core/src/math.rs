//! Integer logarithms and the protocol's scaling formulas (no floating point).

use core::time::Duration;

use crate::time::duration_micros;

/// log2(x) in Q16 fixed point (16 fractional bits); x >= 1.
pub(crate) fn log2_q16(x: u64) -> u64 {
    let x = x.max(1);
    let int = 63 - u64::from(x.leading_zeros());
    // Mantissa in [1, 2) with 32 fractional bits.
    let mut y: u128 = (u128::from(x) << 32) >> int;
    let mut frac = 0u64;
    for bit in (0..16).rev() {
        y = (y * y) >> 32;
        if y >= 2u128 << 32 {
            y >>= 1;
            frac |= 1 << bit;
        }
    }
    (int << 16) | frac
}

/// log10(x) in Q16 fixed point; x >= 1.
pub(crate) fn log10_q16(x: u64) -> u64 {
    // log10(2) = 0.30103 ~ 19728 / 65536
    (log2_q16(x) * 19_728) >> 16
}

/// ceil(log10(x)) for x >= 1: the smallest d with 10^d >= x.
pub(crate) fn ceil_log10(x: u64) -> u32 {
    let mut d = 0;
    let mut p: u64 = 1;
    while p < x {
        p = p.saturating_mul(10);
        d += 1;
    }
    d
}

/// Retransmissions of each update: `mult * ceil(log10(n + 1))`, at least 1.
pub(crate) fn retransmit_limit(mult: u8, members: usize) -> u8 {
    let limit = u32::from(mult) * ceil_log10(members as u64 + 1);
    limit.clamp(1, 255) as u8
}

/// Suspicion timeout floor: `mult * max(1, log10 n) * interval`.
pub(crate) fn suspicion_min(mult: u8, members: usize, interval: Duration) -> u64 {
    let scale = log10_q16(members as u64).max(1 << 16);
    let micros = u128::from(duration_micros(interval)) * u128::from(mult) * u128::from(scale);
    u64::try_from(micros >> 16).unwrap_or(u64::MAX)
}

/// Lifeguard's dynamic suspicion timeout in microseconds:
/// `max(min, max - (max - min) * log(c + 1) / log(k + 1))`.
pub(crate) fn suspicion_timeout(min: u64, max: u64, confirmations: u32, expected: u32) -> u64 {
    if expected == 0 || max <= min {
        return min;
    }
    let c = confirmations.min(expected);
    let num = log2_q16(u64::from(c) + 1);
    let den = log2_q16(u64::from(expected) + 1);
    let shrink = u128::from(max - min) * u128::from(num) / u128::from(den);
    max.saturating_sub(shrink as u64).max(min)
}

/// Multiplies a duration by an integer factor.
pub(crate) fn scale(d: Duration, factor: u32) -> Duration {
    d.saturating_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_close_to_the_real_values() {
        assert_eq!(log2_q16(1), 0);
        assert_eq!(log2_q16(1024), 10 << 16);
        // log10(100) = 2, log10(1000) = 3, log10(20) = 1.301
        assert!((log10_q16(100) as i64 - (2 << 16)).abs() < 8);
        assert!((log10_q16(1000) as i64 - (3 << 16)).abs() < 12);
        assert!((log10_q16(20) as i64 - 85_262).abs() < 16);
        assert_eq!(ceil_log10(1), 0);
        assert_eq!(ceil_log10(10), 1);
        assert_eq!(ceil_log10(11), 2);
    }

    #[test]
    fn memberlist_worked_numbers() {
        let second = Duration::from_secs(1);
        // Retransmits per update at mult 4: 12 / 16 / 20 for 100 / 1000 / 10000.
        assert_eq!(retransmit_limit(4, 100), 12);
        assert_eq!(retransmit_limit(4, 1000), 16);
        assert_eq!(retransmit_limit(4, 10_000), 20);
        // Suspicion floor at mult 4: 8 s / 12 s / 16 s.
        let near = |got: u64, want_ms: u64| (got as i64 - (want_ms * 1000) as i64).abs() < 2_000;
        assert!(near(suspicion_min(4, 100, second), 8_000));
        assert!(near(suspicion_min(4, 1000, second), 12_000));
        assert!(near(suspicion_min(4, 10_000, second), 16_000));
        assert!(
            near(suspicion_min(4, 3, second), 4_000),
            "floor of log10 is 1"
        );
    }

    #[test]
    fn suspicion_shrinks_with_confirmations() {
        let (min, max) = (8_000_000, 48_000_000);
        assert_eq!(suspicion_timeout(min, max, 0, 2), max);
        let one = suspicion_timeout(min, max, 1, 2);
        assert!(one < max && one > min);
        assert_eq!(suspicion_timeout(min, max, 2, 2), min);
        assert_eq!(suspicion_timeout(min, max, 9, 2), min);
        assert_eq!(suspicion_timeout(min, max, 5, 0), min);
    }
}
