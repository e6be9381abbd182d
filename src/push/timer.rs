//! Waiting, as a parameter: the coalescing window and the retry backoff wait through a [`Timer`],
//! so tests drive them with a [`ManualTimer`] instead of sleeping.
//!
//! Why not tokio's paused time: pausing the runtime's clock also auto-advances it whenever the
//! runtime waits on a socket, so with a real TLS peer (the fake APNs) every request timeout
//! would fire at once. A manual timer controls only the waits that are push logic.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::clock::VirtualClock;

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Timer: Send + Sync + 'static {
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// Real time, through tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

struct Sleeper {
    deadline: Duration,
    wake: oneshot::Sender<()>,
}

struct State {
    elapsed: Duration,
    sleepers: Vec<Sleeper>,
}

/// A timer that moves only when told to; clones share it. When built with a [`VirtualClock`],
/// advancing it moves that clock by the same amount, so reports carry matching times.
#[derive(Clone)]
pub struct ManualTimer {
    state: Arc<Mutex<State>>,
    /// Bumped whenever a sleeper registers, so tests can wait for the code to reach a wait.
    registered: watch::Sender<u64>,
    clock: Option<VirtualClock>,
}

impl Default for ManualTimer {
    fn default() -> Self {
        ManualTimer::new(None)
    }
}

impl ManualTimer {
    pub fn new(clock: Option<VirtualClock>) -> ManualTimer {
        ManualTimer {
            state: Arc::new(Mutex::new(State {
                elapsed: Duration::ZERO,
                sleepers: Vec::new(),
            })),
            registered: watch::Sender::new(0),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Time left for each pending sleep, soonest first.
    pub fn pending(&self) -> Vec<Duration> {
        let mut state = self.lock();
        state.sleepers.retain(|s| !s.wake.is_closed());
        let now = state.elapsed;
        let mut left: Vec<Duration> = state.sleepers.iter().map(|s| s.deadline - now).collect();
        left.sort();
        left
    }

    /// Moves time forward, waking every sleep that is due.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.elapsed += by;
        let now = state.elapsed;
        let (due, waiting): (Vec<Sleeper>, Vec<Sleeper>) = std::mem::take(&mut state.sleepers)
            .into_iter()
            .partition(|s| s.deadline <= now);
        state.sleepers = waiting;
        drop(state);
        if let Some(clock) = &self.clock {
            clock.advance(chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX));
        }
        for s in due {
            let _ = s.wake.send(());
        }
    }

    /// Waits until at least `n` sleeps are pending.
    pub async fn wait_for_sleepers(&self, n: usize) {
        let mut rx = self.registered.subscribe();
        loop {
            if self.pending().len() >= n {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits for a pending sleep, then advances exactly to the soonest one and returns by how
    /// much time moved (the length of the wait the code asked for, less any time already gone).
    pub async fn advance_to_next(&self) -> Duration {
        self.wait_for_sleepers(1).await;
        let step = self.pending().first().copied().unwrap_or(Duration::ZERO);
        self.advance(step);
        step
    }
}

impl Timer for ManualTimer {
    fn sleep(&self, duration: Duration) -> Sleep {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.lock();
            if duration.is_zero() {
                return Box::pin(async {});
            }
            let deadline = state.elapsed + duration;
            state.sleepers.push(Sleeper { deadline, wake: tx });
        }
        self.registered.send_modify(|n| *n += 1);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_end_only_when_time_is_advanced_past_them() {
        let timer = ManualTimer::default();
        let short = tokio::spawn(timer.sleep(Duration::from_secs(1)));
        let long = tokio::spawn(timer.sleep(Duration::from_secs(10)));
        timer.wait_for_sleepers(2).await;
        assert_eq!(
            timer.pending(),
            vec![Duration::from_secs(1), Duration::from_secs(10)]
        );
        assert_eq!(timer.advance_to_next().await, Duration::from_secs(1));
        short.await.unwrap();
        assert!(!long.is_finished());
        timer.advance(Duration::from_secs(9));
        long.await.unwrap();
        assert!(timer.pending().is_empty());
    }

    #[test]
    fn advancing_moves_the_virtual_clock_too() {
        use crate::clock::Clock;
        let start = chrono::Utc::now();
        let clock = VirtualClock::new(start);
        let timer = ManualTimer::new(Some(clock.clone()));
        timer.advance(Duration::from_secs(90));
        assert_eq!(clock.now() - start, chrono::Duration::seconds(90));
    }
}
