//! Pushes over real TLS (client-certificate auth, HTTP/2) to the in-repo fake APNs.

use crate::push_support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use orchard::clock::Clock;
use orchard::push::{
    ApnsClient, PushCertificate, PushOutcome, TransportErrorKind, import, import::ImportSource,
};
use orchard::sim::push_certificates::self_signed_push_certificate;
use push_support::*;

const TOKEN_A: [u8; 32] = [0xa1; 32];
const TOKEN_B: [u8; 32] = [0xb2; 32];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_per_device_becomes_exactly_one_push_each() {
    let rig = rig().await;
    for i in 0..10 {
        rig.pusher
            .request(target("device-a", &TOKEN_A, &format!("magic-a-{i}")));
        rig.pusher
            .request(target("device-b", &TOKEN_B, &format!("magic-b-{i}")));
    }
    rig.close_windows(2).await;
    rig.fake.wait_for(2, WAIT).await.unwrap();
    rig.settled().await;

    let pushes = rig.fake.pushes();
    assert_eq!(pushes.len(), 2, "{pushes:#?}");
    let tokens: BTreeSet<String> = pushes.iter().map(|p| p.token.clone()).collect();
    assert_eq!(
        tokens,
        BTreeSet::from([hex::encode(TOKEN_A), hex::encode(TOKEN_B)])
    );
    for p in &pushes {
        assert_eq!(p.status, 200);
        assert_eq!(p.method, "POST");
        assert_eq!(p.http_version, "HTTP/2.0");
        assert_eq!(p.topic.as_deref(), Some(TOPIC));
        assert_eq!(
            p.client_topic.as_deref(),
            Some(TOPIC),
            "authenticated with the push certificate"
        );
        assert_eq!(p.push_type.as_deref(), Some("mdm"));
        assert_eq!(p.priority.as_deref(), Some("10"));
        // The newest PushMagic of the burst is the one sent.
        let letter = if p.token == hex::encode(TOKEN_A) { "a" } else { "b" };
        assert_eq!(
            p.json(),
            Some(serde_json::json!({ "mdm": format!("magic-{letter}-9") }))
        );
    }
    let reports = rig.sink.wait_for(2).await;
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(
            matches!(r.outcome, PushOutcome::Delivered { apns_id: Some(_) }),
            "{r:?}"
        );
        assert_eq!(r.attempts, 1);
    }
    let health = rig.pusher.health();
    assert_eq!(
        (health.requested, health.coalesced, health.delivered),
        (20, 18, 2)
    );

    // A later burst opens a new window: one more push for that device.
    rig.pusher.request(target("device-a", &TOKEN_A, "magic-a-late"));
    rig.pusher.request(target("device-a", &TOKEN_A, "magic-a-late"));
    rig.close_windows(1).await;
    rig.fake.wait_for(3, WAIT).await.unwrap();
    rig.settled().await;
    assert_eq!(rig.fake.pushes().len(), 3);
    rig.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_during_a_push_in_flight_gets_one_more_push_and_one_during_a_retry_wait_does_not() {
    let rig = rig().await;
    // In flight: the device may already have fetched its queue, so one more push follows.
    rig.fake.hold();
    rig.pusher.request(target("device-a", &TOKEN_A, "m1"));
    rig.close_windows(1).await;
    rig.fake.wait_for_arrivals(1, WAIT).await.unwrap();
    rig.pusher.request(target("device-a", &TOKEN_A, "m2"));
    rig.pusher.request(target("device-a", &TOKEN_A, "m3"));
    rig.fake.release();
    rig.fake.wait_for(1, WAIT).await.unwrap();
    rig.close_windows(1).await;
    rig.fake.wait_for(2, WAIT).await.unwrap();
    rig.settled().await;
    let pushes = rig.fake.pushes();
    assert_eq!(pushes.len(), 2, "{pushes:#?}");
    assert_eq!(pushes[1].json(), Some(serde_json::json!({ "mdm": "m3" })));

    // Waiting to retry: the new request rides on the retry, with the newest PushMagic.
    rig.fake.fail_next(1, 503, "ServiceUnavailable");
    rig.pusher.request(target("device-a", &TOKEN_A, "m4"));
    rig.close_windows(1).await;
    rig.timer.wait_for_sleepers(1).await;
    rig.pusher.request(target("device-a", &TOKEN_A, "m5"));
    rig.timer.advance_to_next().await;
    rig.fake.wait_for(4, WAIT).await.unwrap();
    rig.settled().await;
    let pushes = rig.fake.pushes();
    assert_eq!(pushes.len(), 4, "{pushes:#?}");
    assert_eq!(pushes[3].status, 200);
    assert_eq!(pushes[3].json(), Some(serde_json::json!({ "mdm": "m5" })));
    let reports = rig.sink.wait_for(3).await;
    assert_eq!(reports.len(), 3, "{reports:?}");
    rig.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_and_bad_tokens_are_reported_on_the_device_and_not_retried() {
    let rig = rig().await;
    rig.fake.fail_token(&TOKEN_A, 410, "Unregistered");
    rig.fake.fail_token(&TOKEN_B, 400, "BadDeviceToken");
    rig.pusher.request(target("device-a", &TOKEN_A, "m"));
    rig.pusher.request(target("device-b", &TOKEN_B, "m"));
    rig.close_windows(2).await;
    let mut reports = rig.sink.wait_for(2).await;
    rig.settled().await;
    reports.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    assert_eq!(reports[0].device_id, "device-a");
    assert_eq!(
        reports[0].outcome,
        PushOutcome::TokenInvalid {
            reason: "Unregistered".into()
        }
    );
    assert_eq!(
        reports[1].outcome,
        PushOutcome::TokenInvalid {
            reason: "BadDeviceToken".into()
        }
    );
    assert!(reports.iter().all(|r| r.attempts == 1));
    assert_eq!(rig.fake.pushes().len(), 2, "no retry for a dead token");
    assert!(rig.timer.pending().is_empty(), "no retry is scheduled");
    rig.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_growing_backoff_then_delivered() {
    let rig = rig().await;
    let start = rig.clock.now();
    rig.fake.fail_next(1, 500, "InternalServerError");
    rig.fake.fail_next(1, 429, "TooManyRequests");
    rig.pusher.request(target("device-a", &TOKEN_A, "m"));
    rig.close_windows(1).await;

    // Retry 1 waits within [base/2, base], retry 2 within [base, 2*base] (jitter).
    let first = rig.timer.advance_to_next().await;
    assert!(
        first >= Duration::from_millis(500) && first <= Duration::from_secs(1),
        "{first:?}"
    );
    let second = rig.timer.advance_to_next().await;
    assert!(
        second >= Duration::from_secs(1) && second <= Duration::from_secs(2),
        "{second:?}"
    );

    let pushes = rig.fake.wait_for(3, WAIT).await.unwrap();
    let statuses: Vec<u16> = pushes.iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![500, 429, 200]);
    let reports = rig.sink.wait_for(1).await;
    assert!(
        matches!(reports[0].outcome, PushOutcome::Delivered { .. }),
        "{reports:?}"
    );
    assert_eq!(reports[0].attempts, 3);
    // The report's time is the virtual clock, moved by the window and both waits.
    assert_eq!(
        reports[0].at - start,
        chrono::Duration::from_std(WINDOW + first + second).unwrap()
    );
    rig.settled().await;
    assert_eq!(rig.pusher.health().retries, 2);
    rig.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_keeps_failing_is_given_up_after_the_last_attempt() {
    let rig = rig().await;
    rig.fake.fail_next(10, 503, "ServiceUnavailable");
    rig.pusher.request(target("device-a", &TOKEN_A, "m"));
    rig.close_windows(1).await;
    for _ in 0..3 {
        rig.timer.advance_to_next().await;
    }
    let reports = rig.sink.wait_for(1).await;
    assert_eq!(
        reports[0].outcome,
        PushOutcome::GaveUp {
            reason: "ServiceUnavailable".into()
        }
    );
    assert_eq!(reports[0].attempts, 4);
    rig.settled().await;
    assert_eq!(rig.fake.pushes().len(), 4, "max_attempts bounds the retries");
    rig.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_the_server_does_not_trust_is_refused_and_raises_the_alert() {
    install_crypto_provider();
    let rig = rig_with(|fake| {
        let pair = self_signed_push_certificate(TOPIC, Utc::now() + chrono::Duration::days(30)).unwrap();
        let cert = PushCertificate::from_pem(&pair.certificate, &pair.key).unwrap();
        Some(ApnsClient::new(&endpoint_for(fake), &cert).unwrap())
    })
    .await;

    // Directly: the TLS handshake fails, and the error says it is our certificate.
    let pair = self_signed_push_certificate(TOPIC, Utc::now() + chrono::Duration::days(30)).unwrap();
    let cert = PushCertificate::from_pem(&pair.certificate, &pair.key).unwrap();
    let client = ApnsClient::new(&endpoint_for(&rig.fake), &cert).unwrap();
    let err = client
        .send(&TOKEN_A, TOPIC, "m", uuid::Uuid::new_v4())
        .await
        .expect_err("handshake refused");
    assert_eq!(err.kind, TransportErrorKind::ClientCertificateRefused, "{err}");

    // Through the pusher: no retry, an alert, and nothing reached the server.
    rig.pusher.request(target("device-a", &TOKEN_A, "m"));
    rig.close_windows(1).await;
    let reports = rig.sink.wait_for(1).await;
    assert!(
        matches!(reports[0].outcome, PushOutcome::CertificateRejected { .. }),
        "{reports:?}"
    );
    rig.settled().await;
    assert!(rig.pusher.health().certificate_alert.is_some());
    assert!(rig.fake.pushes().is_empty());
    let mut metrics = String::new();
    rig.pusher.render_metrics(&mut metrics);
    assert!(
        metrics.contains("orchard_push_certificate_rejected_alert 1\n"),
        "{metrics}"
    );
    rig.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_refusing_the_certificate_or_the_topic_is_not_retried() {
    let rig = rig().await;
    rig.fake.fail_next(1, 403, "BadCertificate");
    rig.pusher.request(target("device-a", &TOKEN_A, "m"));
    rig.close_windows(1).await;
    let reports = rig.sink.wait_for(1).await;
    assert_eq!(
        reports[0].outcome,
        PushOutcome::CertificateRejected {
            reason: "BadCertificate".into()
        }
    );
    assert!(rig.pusher.health().certificate_alert.is_some());
    rig.settled().await;

    // A device enrolled under another topic: the fake, like APNs, refuses the topic.
    let mut other = target("device-b", &TOKEN_B, "m");
    other.topic = "com.apple.mgmt.External.someone-else".into();
    rig.pusher.request(other);
    rig.close_windows(1).await;
    let reports = rig.sink.wait_for(2).await;
    assert_eq!(
        reports[1].outcome,
        PushOutcome::Rejected {
            reason: "TopicDisallowed".into()
        }
    );
    rig.settled().await;
    assert_eq!(rig.fake.pushes().len(), 2);
    rig.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_nothing_is_sent_and_the_device_is_told_why() {
    let rig = rig_with(|_| None).await;
    rig.pusher.request(target("device-a", &TOKEN_A, "m"));
    rig.close_windows(1).await;
    let reports = rig.sink.wait_for(1).await;
    assert_eq!(reports[0].outcome, PushOutcome::NoCertificate);
    assert_eq!(reports[0].attempts, 0);
    rig.settled().await;
    assert!(rig.fake.pushes().is_empty());
    rig.fake.stop().await;
}

/// The production wiring: `[apns]` pointed at the fake, the certificate imported into the data
/// directory, real time (a 10 ms window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_pusher_sends_with_the_imported_certificate() {
    install_crypto_provider();
    let fake = orchard::sim::fake_apns::FakeApns::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = orchard::store::Store::open(&dir.path().join("orchard.db"), "now").unwrap();
    let pair = fake
        .issue_push_certificate(TOPIC, Utc::now() + chrono::Duration::days(200))
        .unwrap();
    let source = ImportSource::Pem {
        certificate: pair.certificate,
        key: pair.key,
    };
    import::import(&store, dir.path(), source, Utc::now(), false)
        .await
        .unwrap();
    let ca_file = dir.path().join("fake-ca.pem");
    std::fs::write(&ca_file, fake.ca_pem()).unwrap();
    let config = orchard::config::ApnsConfig {
        url: fake.url().to_string(),
        ca_file: Some(ca_file),
        coalesce_millis: 10,
        ..Default::default()
    };

    let sink = std::sync::Arc::new(RecordingSink::default());
    let pusher = orchard::push::Pusher::from_config(
        &config,
        dir.path(),
        sink.clone(),
        std::sync::Arc::new(orchard::clock::SystemClock),
    )
    .unwrap();
    pusher.request(target("device-a", &TOKEN_A, "magic"));
    let pushes = fake.wait_for(1, WAIT).await.unwrap();
    assert_eq!(pushes[0].status, 200);
    assert_eq!(pushes[0].client_topic.as_deref(), Some(TOPIC));
    let reports = sink.wait_for(1).await;
    assert!(matches!(reports[0].outcome, PushOutcome::Delivered { .. }));
    fake.stop().await;
}
