//! Settings → APNs over real TLS: admins only; PEM and PKCS#12 imports; a wrong password, a key
//! of another certificate, a topic change without "force" and an oversized file are refused
//! with their reason and store nothing; the expiry warnings at 30/14/7 days and once expired,
//! on the page and on the dashboard.

use crate::common;
use crate::ui_support;

use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use common::*;
use orchard::push::import;
use orchard::sim::push_certificates::{PemPair, TestCa};
use ui_support::{Part, post_multipart, visible, with_roles};

const TOPIC: &str = "com.apple.mgmt.External.5a1e5e3c-7d7f-4b2a-9a41-0c7f2e9d1b11";
const OTHER_TOPIC: &str = "com.apple.mgmt.External.0b0b0b0b-1111-2222-3333-444444444444";

fn stored_topic(app: &TestApp) -> Option<String> {
    import::current_blocking(&app.state.store)
        .unwrap()
        .map(|info| info.topic)
}

fn pem_parts(pair: &PemPair) -> Vec<Part<'_>> {
    vec![
        Part::File("certificate", "push.pem", pair.certificate.as_bytes()),
        Part::File("key", "push.key", pair.key.as_bytes()),
    ]
}

/// A .p12 made by the openssl command line, as Keychain Access would export it.
fn p12(dir: &Path, pair: &PemPair, password: &str) -> Vec<u8> {
    let (cert, key, out) = (dir.join("c.pem"), dir.join("k.pem"), dir.join("push.p12"));
    std::fs::write(&cert, &pair.certificate).unwrap();
    std::fs::write(&key, &pair.key).unwrap();
    let status = Command::new("openssl")
        .args(["pkcs12", "-export", "-legacy", "-passout"])
        .arg(format!("pass:{password}"))
        .arg("-in")
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .arg("-out")
        .arg(&out)
        .status()
        .expect("openssl is installed (tests/run.sh installs it)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[tokio::test]
async fn only_admins_reach_the_settings_and_strangers_are_sent_to_login() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let ca = TestCa::new("Test Apple CA").unwrap();
    let pair = ca
        .issue_push_certificate(TOPIC, Utc::now() + Duration::days(365))
        .unwrap();

    let anonymous = client_for(&app.state);
    let resp = anonymous.get(app.url("/settings")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=%2Fsettings");

    for name in ["vic", "max"] {
        let client = app.signed_in(name).await;
        let resp = client.get(app.url("/settings")).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{name}");
        let resp = post_multipart(&app, &client, "/settings/apns", &pem_parts(&pair)).await;
        assert_eq!(resp.status(), 403, "{name}");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("does not allow you to change appliance settings")
        );
    }
    assert_eq!(stored_topic(&app), None);

    let admin = app.signed_in("ada").await;
    let resp = admin.get(app.url("/settings")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = visible(&resp.text().await.unwrap());
    assert!(text.contains("No push certificate is imported"), "{text}");

    // The multipart form without its CSRF token.
    let resp = admin
        .post(app.url("/settings/apns"))
        .header("content-type", ui_support::content_type())
        .body(ui_support::body(&pem_parts(&pair)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(stored_topic(&app), None);
    app.stop().await;
}

#[tokio::test]
async fn pem_and_pkcs12_imports_refusals_and_the_topic_guard() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let admin = app.signed_in("ada").await;
    let ca = TestCa::new("Test Apple CA").unwrap();
    let year = Utc::now() + Duration::days(365);
    let pair = ca.issue_push_certificate(TOPIC, year).unwrap();
    let stranger = ca.issue_push_certificate(TOPIC, year).unwrap();
    let work = tempfile::tempdir().unwrap();
    let audits = app.audit_count().await;
    let big = vec![b'A'; 70 * 1024];

    let refusals: Vec<(Vec<Part<'_>>, u16, &str)> = vec![
        (
            vec![
                Part::File("certificate", "push.pem", pair.certificate.as_bytes()),
                Part::File("key", "other.key", stranger.key.as_bytes()),
            ],
            400,
            "the private key does not belong to the certificate",
        ),
        (
            vec![Part::File("p12", "", &[]), Part::Text("password", "x")],
            400,
            "choose a .p12 file",
        ),
        (
            vec![Part::File("certificate", "push.pem", pair.certificate.as_bytes())],
            400,
            "needs its private key file too",
        ),
        (
            vec![Part::File("certificate", "big.pem", &big)],
            413,
            "big.pem is larger than the limit of 65536 bytes",
        ),
    ];
    for (parts, status, expected) in refusals {
        let resp = post_multipart(&app, &admin, "/settings/apns", &parts).await;
        assert_eq!(resp.status().as_u16(), status, "{expected}");
        let text = visible(&resp.text().await.unwrap());
        assert!(text.contains("The certificate was not imported"), "{text}");
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let bundle = p12(work.path(), &pair, "right password");
    let resp = post_multipart(
        &app,
        &admin,
        "/settings/apns",
        &[
            Part::File("p12", "push.p12", &bundle),
            Part::Text("password", "wrong password"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(visible(&resp.text().await.unwrap()).contains("the password is wrong"));
    assert_eq!(stored_topic(&app), None, "nothing stored after the refusals");
    assert!(
        !app.state
            .config
            .storage
            .data_dir
            .join("pki")
            .join(import::KEY_FILE)
            .exists()
    );
    assert_eq!(app.audit_count().await, audits);

    // The .p12 with its password.
    let resp = post_multipart(
        &app,
        &admin,
        "/settings/apns",
        &[
            Part::File("p12", "push.p12", &bundle),
            Part::Text("password", "right password"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let text = visible(&resp.text().await.unwrap());
    assert!(
        text.contains(&format!("Imported the push certificate for topic {TOPIC}")),
        "{text}"
    );
    assert!(text.contains("Test Apple CA"), "the issuer is shown: {text}");
    assert_eq!(stored_topic(&app).as_deref(), Some(TOPIC));

    // Another topic is refused without "force", with the reason.
    let other = ca.issue_push_certificate(OTHER_TOPIC, year).unwrap();
    let resp = post_multipart(&app, &admin, "/settings/apns", &pem_parts(&other)).await;
    assert_eq!(resp.status(), 409);
    let text = visible(&resp.text().await.unwrap());
    assert!(text.contains("would orphan every enrolled device"), "{text}");
    assert_eq!(stored_topic(&app).as_deref(), Some(TOPIC));

    let mut forced = pem_parts(&other);
    forced.push(Part::Text("force", "yes"));
    let resp = post_multipart(&app, &admin, "/settings/apns", &forced).await;
    assert_eq!(resp.status(), 200);
    let text = visible(&resp.text().await.unwrap());
    assert!(
        text.contains(&format!("It replaces the certificate for topic {TOPIC}")),
        "{text}"
    );
    assert_eq!(stored_topic(&app).as_deref(), Some(OTHER_TOPIC));

    let entries = app.state.admins().audit_page(None, 5).await.unwrap().entries;
    let imports = entries
        .iter()
        .filter(|e| e.action == "settings.apns.import")
        .count();
    assert_eq!(imports, 2, "{entries:?}");
    app.stop().await;
}

#[tokio::test]
async fn expiry_warnings_at_30_14_and_7_days_and_once_expired_reach_the_dashboard() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let admin = app.signed_in("ada").await;
    let dashboard = app.page(&admin, "/").await;
    let text = visible(&dashboard);
    assert!(text.contains("No push certificate is imported"), "{text}");
    assert!(dashboard.contains("href=\"/settings\""));

    let start = app.clock_now();
    let ca = TestCa::new("Test Apple CA").unwrap();
    let pair = ca
        .issue_push_certificate(TOPIC, start + Duration::days(40))
        .unwrap();
    let resp = post_multipart(&app, &admin, "/settings/apns", &pem_parts(&pair)).await;
    assert_eq!(resp.status(), 200);
    let dashboard = app.page(&admin, "/").await;
    assert!(
        !visible(&dashboard).contains("push certificate"),
        "40 days left: no alert"
    );

    let steps = [
        (20, "expires in 19 days"),
        (30, "expires in 9 days"),
        (35, "expires in 4 days"),
        (41, "The push certificate expired on"),
    ];
    for (day, expected) in steps {
        app.clock.set(start + Duration::days(day) + Duration::minutes(1));
        // Sessions end after idle hours: sign in again at the new date.
        let client = app.signed_in("ada").await;
        let dashboard = app.page(&client, "/").await;
        let text = visible(&dashboard);
        assert!(text.contains(expected), "day {day}: {text}");
        let settings = app.page(&client, "/settings").await;
        assert!(
            visible(&settings).contains(expected),
            "day {day} on the settings page"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_imported_certificate_is_used_for_the_next_push_without_a_restart() {
    use orchard::push::PushTarget;
    use std::time::Duration as StdDuration;

    let (app, apns) = spawn_app_with_fake_apns(|c| c.apns.coalesce_millis = 10).await;
    with_roles(&app).await;
    let target = PushTarget {
        device_id: "UDID-1".into(),
        token: vec![0xab; 32],
        push_magic: "magic".into(),
        topic: TOPIC.into(),
    };

    // Before the import the pusher has no certificate: nothing reaches APNs.
    app.state.pusher.request(target.clone());
    app.state.pusher.settled().await;
    assert_eq!(app.state.pusher.health().no_certificate, 1);
    assert!(apns.pushes().is_empty());

    let admin = app.signed_in("ada").await;
    let pair = apns
        .issue_push_certificate(TOPIC, Utc::now() + Duration::days(365))
        .unwrap();
    let resp = post_multipart(&app, &admin, "/settings/apns", &pem_parts(&pair)).await;
    assert_eq!(resp.status(), 200);
    let text = visible(&resp.text().await.unwrap());
    assert!(!text.contains("pushes cannot use it yet"), "{text}");

    app.state.pusher.request(target.clone());
    let pushes = apns.wait_for(1, StdDuration::from_secs(20)).await.unwrap();
    assert_eq!(pushes[0].topic.as_deref(), Some(TOPIC));
    assert_eq!(pushes[0].token, hex::encode([0xab; 32]));
    app.state.pusher.settled().await;

    // APNs refusing the certificate raises a dashboard alert; a new import clears it.
    apns.fail_next(1, 403, "BadCertificate");
    app.state.pusher.request(target);
    app.state.pusher.settled().await;
    let dashboard = visible(&app.page(&admin, "/").await);
    assert!(
        dashboard.contains("Apple's push service refuses the push certificate: BadCertificate"),
        "{dashboard}"
    );
    let resp = post_multipart(&app, &admin, "/settings/apns", &pem_parts(&pair)).await;
    assert_eq!(resp.status(), 200);
    let dashboard = visible(&app.page(&admin, "/").await);
    assert!(!dashboard.contains("refuses the push certificate"), "{dashboard}");
    app.stop().await;
}
