//! Wall-clock helpers for log lines and event records.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the UNIX epoch.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// A UTC time of day `HH:MM:SS.mmm` for a UNIX time in milliseconds.
pub fn time_of_day(unix_ms: u64) -> String {
    let secs = unix_ms / 1000 % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        unix_ms % 1000
    )
}

/// A duration in seconds as a short human text: `42s`, `5m 3s`, `2h 7m`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        _ => format!("{}h {}m", secs / 3600, secs / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(time_of_day(3_723_004), "01:02:03.004");
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(303), "5m 3s");
        assert_eq!(human_duration(7620), "2h 7m");
    }
}
