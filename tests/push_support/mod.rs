//! Shared pieces of the push tests: a fake APNs with a push certificate it trusts, and an
//! outcome sink that records what the pusher reports.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use orchard::clock::VirtualClock;
use orchard::push::{
    ApnsClient, ApnsEndpoint, Backoff, ManualTimer, PushCertificate, PushOutcomeSink, PushReport, PushTarget,
    Pusher, PusherSettings, TrustRoots, pusher::BoxFuture,
};
use orchard::sim::fake_apns::FakeApns;
use tokio::sync::watch;

pub const TOPIC: &str = "com.apple.mgmt.External.5a1e5e3c-7d7f-4b2a-9a41-0c7f2e9d1b11";
pub const WAIT: Duration = Duration::from_secs(20);

pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Records every report; tests wait for a number of them.
#[derive(Default)]
pub struct RecordingSink {
    reports: Mutex<Vec<PushReport>>,
    count: watch::Sender<usize>,
}

impl RecordingSink {
    pub fn reports(&self) -> Vec<PushReport> {
        self.reports.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<PushReport> {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(WAIT, rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| panic!("waited for {n} reports, got {:?}", self.reports()))
            .unwrap();
        self.reports()
    }
}

impl PushOutcomeSink for RecordingSink {
    fn record<'a>(&'a self, report: &'a PushReport) -> BoxFuture<'a> {
        Box::pin(async move {
            let n = {
                let mut reports = self.reports.lock().unwrap();
                reports.push(report.clone());
                reports.len()
            };
            self.count.send_replace(n);
        })
    }
}

pub fn endpoint_for(fake: &FakeApns) -> ApnsEndpoint {
    ApnsEndpoint {
        base_url: fake.url().to_string(),
        roots: TrustRoots::Custom(vec![fake.ca_der()]),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
    }
}

/// A client authenticated with a push certificate the fake trusts, for `topic`.
pub fn trusted_client(fake: &FakeApns, topic: &str) -> ApnsClient {
    let pair = fake
        .issue_push_certificate(topic, Utc::now() + chrono::Duration::days(365))
        .unwrap();
    let cert = PushCertificate::from_pem(&pair.certificate, &pair.key).unwrap();
    ApnsClient::new(&endpoint_for(fake), &cert).unwrap()
}

pub const WINDOW: Duration = Duration::from_secs(1);

pub fn settings() -> PusherSettings {
    PusherSettings {
        window: WINDOW,
        concurrency: 4,
        backoff: Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 4,
        },
    }
}

pub struct Rig {
    pub fake: FakeApns,
    pub pusher: Pusher,
    pub sink: Arc<RecordingSink>,
    pub timer: ManualTimer,
    pub clock: VirtualClock,
}

/// A pusher on a manual timer, sending to a fake APNs with `client` (None: a trusted one).
pub async fn rig_with(client: impl FnOnce(&FakeApns) -> Option<ApnsClient>) -> Rig {
    install_crypto_provider();
    let fake = FakeApns::start().await.unwrap();
    let clock = VirtualClock::new(Utc::now());
    let timer = ManualTimer::new(Some(clock.clone()));
    let sink = Arc::new(RecordingSink::default());
    let pusher = Pusher::new(
        settings(),
        client(&fake),
        sink.clone(),
        Arc::new(clock.clone()),
        Arc::new(timer.clone()),
    )
    .unwrap();
    Rig {
        fake,
        pusher,
        sink,
        timer,
        clock,
    }
}

pub async fn rig() -> Rig {
    rig_with(|fake| Some(trusted_client(fake, TOPIC))).await
}

pub fn target(device: &str, token: &[u8], magic: &str) -> PushTarget {
    PushTarget {
        device_id: device.into(),
        token: token.to_vec(),
        push_magic: magic.into(),
        topic: TOPIC.into(),
    }
}

impl Rig {
    /// Opens the coalescing windows of `devices` devices and closes them.
    pub async fn close_windows(&self, devices: usize) {
        let before = self.fake.pushes().len();
        self.timer.wait_for_sleepers(devices).await;
        assert_eq!(
            self.fake.pushes().len(),
            before,
            "nothing may be sent before the window closes"
        );
        self.timer.advance(WINDOW);
    }

    pub async fn settled(&self) {
        tokio::time::timeout(WAIT, self.pusher.settled())
            .await
            .expect("pusher settles");
    }
}
