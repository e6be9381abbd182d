//! Retry delays: exponential, capped, with jitter, and a bounded number of attempts.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// No delay is longer than this.
    pub max: Duration,
    /// Attempts in all, the first one included; then the push is given up.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based). `jitter` in `[0, 1)` spreads
    /// it over the upper half of the exponential step ("equal jitter"): at least half the step,
    /// so retries never bunch at zero, and never more than the step, so the cap holds.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let step = self
            .base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        step / 2 + step.mul_f64(jitter / 2.0)
    }

    /// Whether another attempt is allowed after `attempt` failed ones.
    pub fn allows_retry_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_stay_within_half_and_whole_step_and_are_capped() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            max_attempts: 5,
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(500));
        let top = b.delay(1, 0.999_999);
        assert!(
            top > Duration::from_millis(999) && top < Duration::from_secs(1),
            "{top:?}"
        );
        assert_eq!(b.delay(2, 0.0), Duration::from_secs(1));
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay(4, 1.0), Duration::from_secs(8));
        assert_eq!(b.delay(5, 1.0), Duration::from_secs(10));
        assert_eq!(b.delay(60, 1.0), Duration::from_secs(10));
        assert!(b.allows_retry_after(4));
        assert!(!b.allows_retry_after(5));
    }
}
