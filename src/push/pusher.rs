//! The push queue: one slot per device, coalescing, bounded concurrency, retries, outcomes.
//!
//! # Coalescing
//! Commands are queued in bursts (after a `TokenUpdate` Orchard queues `DeviceInformation` and
//! makes the device due its declarative sync; a policy change touches a declaration and legacy commands),
//! and one push makes the device fetch every pending command anyway, while APNs stores only one
//! notification per device and topic. So a request opens a window (`apns.coalesce_millis`,
//! default 1 s) for its device; every request for that device arriving before the window ends
//! joins it, and one push goes out when it closes. The window runs from the *first* request and
//! is not extended by later ones, so a steady stream of commands cannot starve a device.
//! A request that arrives while that device's push is in flight opens one more window after it
//! (the device may already have fetched its queue); one that arrives while a retry is waiting
//! rides on that retry, which sends the newest token and PushMagic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Semaphore, watch};

use super::PushError;
use super::apns::ApnsClient;
use super::backoff::Backoff;
use super::outcome::{Verdict, classify};
pub use super::report::{BoxFuture, PushOutcome, PushOutcomeSink, PushReport, PushTarget};
use super::timer::Timer;
use crate::clock::SharedClock;

#[derive(Debug, Clone, Copy)]
pub struct PusherSettings {
    /// How long requests for one device are gathered into one push.
    pub window: Duration,
    /// Requests to APNs in flight at once.
    pub concurrency: usize,
    pub backoff: Backoff,
}

impl Default for PusherSettings {
    fn default() -> Self {
        PusherSettings {
            window: Duration::from_secs(1),
            concurrency: 32,
            backoff: Backoff::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    requested: AtomicU64,
    coalesced: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    delivered: AtomicU64,
    token_invalid: AtomicU64,
    certificate_rejected: AtomicU64,
    rejected: AtomicU64,
    gave_up: AtomicU64,
    no_certificate: AtomicU64,
}

#[derive(PartialEq, Eq)]
enum SlotState {
    /// In a coalescing window or a retry wait: new requests just update the target.
    Waiting,
    /// A request is on the wire: a new request needs one more push afterwards.
    InFlight,
}

struct Slot {
    target: PushTarget,
    state: SlotState,
    again: bool,
}

struct Inner {
    settings: PusherSettings,
    timer: Arc<dyn Timer>,
    clock: SharedClock,
    sink: Arc<dyn PushOutcomeSink>,
    client: RwLock<Option<Arc<ApnsClient>>>,
    slots: Mutex<HashMap<String, Slot>>,
    permits: Semaphore,
    /// Devices with a slot (waiting, in flight or retrying).
    active: watch::Sender<usize>,
    counters: Counters,
    certificate_alert: Mutex<Option<String>>,
    runtime: tokio::runtime::Handle,
}

/// The push service. Cheap to clone.
#[derive(Clone)]
pub struct Pusher {
    inner: Arc<Inner>,
}

/// A snapshot for the dashboard and `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct PushHealth {
    /// Set when APNs last refused the push certificate; cleared by a new certificate.
    pub certificate_alert: Option<String>,
    pub devices_pending: usize,
    pub requested: u64,
    pub coalesced: u64,
    pub attempts: u64,
    pub retries: u64,
    pub delivered: u64,
    pub token_invalid: u64,
    pub certificate_rejected: u64,
    pub rejected: u64,
    pub gave_up: u64,
    pub no_certificate: u64,
}

impl Pusher {
    /// Must be called inside a Tokio runtime: pushes are sent as tasks on it.
    pub fn new(
        settings: PusherSettings,
        client: Option<ApnsClient>,
        sink: Arc<dyn PushOutcomeSink>,
        clock: SharedClock,
        timer: Arc<dyn Timer>,
    ) -> Result<Pusher, PushError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| PushError::Client("the pusher needs a Tokio runtime".into()))?;
        Ok(Pusher {
            inner: Arc::new(Inner {
                permits: Semaphore::new(settings.concurrency.max(1)),
                settings,
                timer,
                clock,
                sink,
                client: RwLock::new(client.map(Arc::new)),
                slots: Mutex::new(HashMap::new()),
                active: watch::Sender::new(0),
                counters: Counters::default(),
                certificate_alert: Mutex::new(None),
                runtime,
            }),
        })
    }

    /// Uses a new client (after a certificate import); `None` stops sending.
    pub fn set_client(&self, client: Option<ApnsClient>) {
        *self.inner.client.write().unwrap_or_else(|p| p.into_inner()) = client.map(Arc::new);
        *self
            .inner
            .certificate_alert
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Asks for a push to the device. Returns at once; the push goes out when the device's
    /// coalescing window closes.
    pub fn request(&self, target: PushTarget) {
        let inner = &self.inner;
        inner.counters.requested.fetch_add(1, Ordering::Relaxed);
        let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(&target.device_id) {
            inner.counters.coalesced.fetch_add(1, Ordering::Relaxed);
            if slot.state == SlotState::InFlight {
                slot.again = true;
            }
            slot.target = target;
            return;
        }
        let device_id = target.device_id.clone();
        slots.insert(
            device_id.clone(),
            Slot {
                target,
                state: SlotState::Waiting,
                again: false,
            },
        );
        inner.active.send_modify(|n| *n += 1);
        drop(slots);
        inner.runtime.spawn(device_loop(self.inner.clone(), device_id));
    }

    /// Resolves when no push is waiting, in flight or retrying.
    pub async fn settled(&self) {
        let mut rx = self.inner.active.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    pub fn health(&self) -> PushHealth {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PushHealth {
            certificate_alert: self
                .inner
                .certificate_alert
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            devices_pending: *self.inner.active.borrow(),
            requested: get(&c.requested),
            coalesced: get(&c.coalesced),
            attempts: get(&c.attempts),
            retries: get(&c.retries),
            delivered: get(&c.delivered),
            token_invalid: get(&c.token_invalid),
            certificate_rejected: get(&c.certificate_rejected),
            rejected: get(&c.rejected),
            gave_up: get(&c.gave_up),
            no_certificate: get(&c.no_certificate),
        }
    }

    /// Prometheus text for the push counters.
    pub fn render_metrics(&self, out: &mut String) {
        let h = self.health();
        out.push_str(
            "# HELP orchard_push_certificate_rejected_alert 1 while APNs refuses the push certificate.\n",
        );
        out.push_str("# TYPE orchard_push_certificate_rejected_alert gauge\n");
        out.push_str(&format!(
            "orchard_push_certificate_rejected_alert {}\n",
            u8::from(h.certificate_alert.is_some())
        ));
        out.push_str("# TYPE orchard_push_devices_pending gauge\n");
        out.push_str(&format!("orchard_push_devices_pending {}\n", h.devices_pending));
        out.push_str("# HELP orchard_push Push requests and results by kind.\n");
        out.push_str("# TYPE orchard_push counter\n");
        for (kind, value) in [
            ("requested", h.requested),
            ("coalesced", h.coalesced),
            ("attempt", h.attempts),
            ("retry", h.retries),
            ("delivered", h.delivered),
            ("token_invalid", h.token_invalid),
            ("certificate_rejected", h.certificate_rejected),
            ("rejected", h.rejected),
            ("gave_up", h.gave_up),
            ("no_certificate", h.no_certificate),
        ] {
            out.push_str(&format!("orchard_push_total{{kind=\"{kind}\"}} {value}\n"));
        }
    }
}

/// Takes the device's latest target and marks it in flight.
fn start_attempt(inner: &Inner, device_id: &str) -> Option<PushTarget> {
    let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
    let slot = slots.get_mut(device_id)?;
    slot.state = SlotState::InFlight;
    slot.again = false;
    Some(slot.target.clone())
}

fn set_waiting(inner: &Inner, device_id: &str) {
    let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(slot) = slots.get_mut(device_id) {
        slot.state = SlotState::Waiting;
    }
}

/// Removes the slot unless a request came in meanwhile; then it is kept for another round.
fn finish_round(inner: &Inner, device_id: &str) -> bool {
    let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
    match slots.get_mut(device_id) {
        Some(slot) if slot.again => {
            slot.again = false;
            slot.state = SlotState::Waiting;
            true
        }
        _ => {
            slots.remove(device_id);
            inner.active.send_modify(|n| *n = n.saturating_sub(1));
            false
        }
    }
}

async fn device_loop(inner: Arc<Inner>, device_id: String) {
    loop {
        inner.timer.sleep(inner.settings.window).await;
        let (outcome, attempts) = push_with_retries(&inner, &device_id).await;
        let report = PushReport {
            device_id: device_id.clone(),
            outcome,
            attempts,
            at: inner.clock.now(),
        };
        inner.sink.record(&report).await;
        if !finish_round(&inner, &device_id) {
            return;
        }
    }
}

async fn push_with_retries(inner: &Inner, device_id: &str) -> (PushOutcome, u32) {
    let counters = &inner.counters;
    let mut attempt = 0;
    loop {
        let Some(target) = start_attempt(inner, device_id) else {
            return (
                PushOutcome::Rejected {
                    reason: "slot vanished".into(),
                },
                attempt,
            );
        };
        let client = inner.client.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(client) = client else {
            counters.no_certificate.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(device = %device_id, "push not sent: no APNs push certificate is imported");
            return (PushOutcome::NoCertificate, attempt);
        };
        attempt += 1;
        counters.attempts.fetch_add(1, Ordering::Relaxed);
        let result = {
            let _permit = inner.permits.acquire().await;
            let id = uuid::Uuid::new_v4();
            client
                .send(&target.token, &target.topic, &target.push_magic, id)
                .await
        };
        let apns_id = result.as_ref().ok().and_then(|r| r.apns_id.clone());
        match classify(&result) {
            Verdict::Delivered => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(device = %device_id, attempt, "push delivered to APNs");
                return (PushOutcome::Delivered { apns_id }, attempt);
            }
            Verdict::TokenInvalid { reason } => {
                counters.token_invalid.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(device = %device_id, %reason, "APNs says the device token is no longer valid");
                return (PushOutcome::TokenInvalid { reason }, attempt);
            }
            Verdict::CertificateRejected { reason } => {
                counters.certificate_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%reason, "APNs refused the push certificate: no device can be reached");
                *inner.certificate_alert.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
                return (PushOutcome::CertificateRejected { reason }, attempt);
            }
            Verdict::Rejected { reason } => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(device = %device_id, %reason, "APNs rejected the push");
                return (PushOutcome::Rejected { reason }, attempt);
            }
            Verdict::Retry { reason } => {
                if !inner.settings.backoff.allows_retry_after(attempt) {
                    counters.gave_up.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(device = %device_id, attempt, %reason, "push given up");
                    return (PushOutcome::GaveUp { reason }, attempt);
                }
                counters.retries.fetch_add(1, Ordering::Relaxed);
                let delay = inner.settings.backoff.delay(attempt, rand::random::<f64>());
                tracing::debug!(device = %device_id, attempt, ?delay, %reason, "push will be retried");
                set_waiting(inner, device_id);
                inner.timer.sleep(delay).await;
            }
        }
    }
}
