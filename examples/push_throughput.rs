//! Push throughput against the in-repo fake APNs over real TLS + HTTP/2 on this machine.
//! `cargo run --release --example push_throughput -- [devices] [concurrency]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use orchard::push::{
    ApnsClient, ApnsEndpoint, Backoff, PushCertificate, PushOutcome, PushOutcomeSink, PushReport, PushTarget,
    Pusher, PusherSettings, TokioTimer, TrustRoots, pusher::BoxFuture,
};
use orchard::sim::fake_apns::FakeApns;

const TOPIC: &str = "com.apple.mgmt.External.bench";

#[derive(Default)]
struct Count {
    delivered: AtomicUsize,
    other: AtomicUsize,
}

impl PushOutcomeSink for Count {
    fn record<'a>(&'a self, report: &'a PushReport) -> BoxFuture<'a> {
        match report.outcome {
            PushOutcome::Delivered { .. } => self.delivered.fetch_add(1, Ordering::Relaxed),
            _ => self.other.fetch_add(1, Ordering::Relaxed),
        };
        Box::pin(async {})
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let devices: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let fake = FakeApns::start().await?;
    let pair = fake.issue_push_certificate(TOPIC, Utc::now() + chrono::Duration::days(30))?;
    let cert = PushCertificate::from_pem(&pair.certificate, &pair.key)?;
    let endpoint = ApnsEndpoint {
        base_url: fake.url().to_string(),
        roots: TrustRoots::Custom(vec![fake.ca_der()]),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
    };
    let sink = Arc::new(Count::default());
    let settings = PusherSettings {
        window: Duration::from_millis(1),
        concurrency,
        backoff: Backoff::default(),
    };
    let pusher = Pusher::new(
        settings,
        Some(ApnsClient::new(&endpoint, &cert)?),
        sink.clone(),
        Arc::new(orchard::clock::SystemClock),
        Arc::new(TokioTimer),
    )?;
    let start = Instant::now();
    for i in 0..devices {
        for _ in 0..3 {
            pusher.request(PushTarget {
                device_id: format!("device-{i}"),
                token: (i as u64).to_be_bytes().repeat(4),
                push_magic: format!("magic-{i}"),
                topic: TOPIC.into(),
            });
        }
    }
    pusher.settled().await;
    let elapsed = start.elapsed();
    let delivered = sink.delivered.load(Ordering::Relaxed);
    println!(
        "{devices} devices x 3 requests, concurrency {concurrency}: {delivered} pushes delivered \
         ({} other outcomes, {} recorded by the fake) in {:.2} s = {:.0} pushes/s",
        sink.other.load(Ordering::Relaxed),
        fake.pushes().len(),
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64()
    );
    fake.stop().await;
    Ok(())
}
