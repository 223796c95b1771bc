//! Time on the ground floor: the wall clock in microseconds and the capped backoff every
//! retry waits with. It depends on nothing else in the crate, so sources, sinks and the
//! pipeline all use it without reaching into each other.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the epoch (0 for a clock before 1970).
pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Capped exponential backoff with jitter: 1 s, 2 s, 4 s … 60 s, ±20 %.
pub fn backoff(attempt: u32) -> Duration {
    let base = 1000u64.saturating_mul(1 << attempt.min(6)).min(60_000);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = (u64::from(nanos) % 400) as i64 - 200; // ±20 % of 1000
    Duration::from_millis((base as i64 + base as i64 * jitter / 1000).max(100) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backoff grows exponentially, is capped at a minute, and is never zero.
    #[test]
    fn backoff_is_capped() {
        let b0 = backoff(0).as_millis();
        assert!((800..=1200).contains(&b0), "{b0}");
        let b3 = backoff(3).as_millis();
        assert!((6400..=9600).contains(&b3), "{b3}");
        assert!(backoff(30).as_millis() <= 72_000);
    }
}
