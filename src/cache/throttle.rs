//! The bandwidth limit: one token bucket shared by every download. Tokens are bytes, refilled
//! at the configured rate in real (monotonic) time; a download that takes more than the bucket
//! holds waits until the debt is paid. The bucket starts empty and holds at most a tenth of a
//! second's worth, so the rate holds from the first byte. The rate may change while downloads
//! run (the Cache page's setting): the next piece is charged at the new rate.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Throttle {
    /// Bytes per second; 0 means unlimited.
    rate: AtomicU64,
    state: Mutex<Bucket>,
}

struct Bucket {
    /// May go negative: bytes taken ahead of the rate.
    tokens: f64,
    refilled_at: Instant,
}

impl Throttle {
    pub fn new(bytes_per_second: u64) -> Throttle {
        Throttle {
            rate: AtomicU64::new(bytes_per_second),
            state: Mutex::new(Bucket {
                tokens: 0.0,
                refilled_at: Instant::now(),
            }),
        }
    }

    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Changes the rate (0: unlimited) for every download, running ones included.
    pub fn set_rate(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::Relaxed);
    }

    /// How long the caller must wait after taking `bytes` now.
    fn debit(&self, bytes: u64) -> Duration {
        let rate = self.rate();
        if rate == 0 {
            return Duration::ZERO;
        }
        let rate = rate as f64;
        let capacity = (rate / 10.0).max(16.0 * 1024.0);
        let mut bucket = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.refilled_at = now;
        bucket.tokens -= bytes as f64;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / rate)
        }
    }

    /// Takes `bytes` from the bucket, sleeping as long as the rate requires.
    pub async fn take(&self, bytes: u64) {
        let wait = self.debit(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits_and_a_limit_charges_debt() {
        assert_eq!(Throttle::new(0).debit(1 << 30), Duration::ZERO);
        let t = Throttle::new(1000);
        let wait = t.debit(500);
        assert!(
            wait >= Duration::from_millis(490) && wait <= Duration::from_millis(510),
            "{wait:?}"
        );
        t.set_rate(0);
        assert_eq!(
            t.debit(1 << 30),
            Duration::ZERO,
            "a rate set to 0 lifts the limit"
        );
    }
}
