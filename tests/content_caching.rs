//! Mac content caches on the Cache page, with simulated devices (Apple's schemas are checked
//! in `content_caching_schema.rs`): the settings form (managers only, CSRF, bad input refused
//! and nothing saved); the profile queued through the MDM queue and received by a simulated
//! Mac (an iPhone refused with the reason); `ContentCachingInformation` asked of the Macs with
//! the profile, the reply stored and shown per Mac; the profile removed.

use std::time::Duration;

use orchard::admin::Role;
use orchard::protocol::content_caching::{ContentCachingStatus, PAYLOAD_TYPE};
use orchard::sim::device::{DeviceProfile, SimDevice};
use reqwest::StatusCode;

use crate::common::{self, TestApp};
use crate::content_caching_schema::mac_reply;
use crate::ui_support::visible;

const TOPIC: &str = "com.apple.mgmt.External.7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
const WAIT: Duration = Duration::from_secs(15);

async fn rig() -> (TestApp, orchard::sim::fake_apns::FakeApns) {
    let (app, apns) = common::spawn_app_with_fake_apns(|c| {
        c.apns.coalesce_millis = 50;
        c.apns.retry_base_millis = 10;
    })
    .await;
    common::import_push_certificate(&app, &apns, TOPIC);
    app.create_admin("max", Role::Manager).await;
    app.create_admin("vic", Role::Viewer).await;
    (app, apns)
}

async fn enrolled(app: &TestApp, profile: DeviceProfile) -> SimDevice {
    let mut device = SimDevice::new(profile, app.client.clone(), app.state.pki.ca_cert_der.clone());
    device.enroll(&app.base, None).await.unwrap();
    tokio::time::timeout(WAIT, device.run_command_loop())
        .await
        .unwrap()
        .unwrap();
    device
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let res = app.post_form(client, path, form).await;
    let status = res.status();
    (status, visible(&res.text().await.unwrap()))
}

const SETTINGS_FORM: &[(&str, &str)] = &[
    ("allow_shared_caching", "on"),
    ("auto_activation", "on"),
    ("cache_limit_gb", "250"),
    ("port", "49200"),
    ("local_subnets_only", "on"),
    ("peer_local_subnets_only", "on"),
    ("parents", "10.0.0.2, 10.0.0.3"),
    ("parent_selection_policy", "first-available"),
];

#[tokio::test]
async fn a_manager_configures_installs_on_a_mac_and_sees_its_cache_status() {
    let (app, _apns) = rig().await;
    let mut mac = enrolled(&app, DeviceProfile::mac()).await;
    let phone = enrolled(&app, DeviceProfile::iphone()).await;
    let max = app.signed_in("max").await;
    let audits = app.audit_count().await;

    let (status, _) = post(&app, &max, "/caches/content-caching/settings", SETTINGS_FORM).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let html = app.page(&max, "/caches").await;
    assert!(
        html.contains(&format!("value=\"{}\"", mac.udid())),
        "the Mac is offered"
    );
    assert!(
        !html.contains(&format!("value=\"{}\"", phone.udid())),
        "the iPhone is not offered"
    );

    let form = [("udid", mac.udid()), ("udid", phone.udid())];
    let (status, text) = post(&app, &max, "/caches/content-caching/install", &form).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("queued for 1 Mac"), "{text}");
    assert!(
        text.contains(phone.udid()) && text.contains("content caching is a macOS service"),
        "the iPhone is refused with the reason: {text}"
    );

    let handled = tokio::time::timeout(WAIT, mac.run_command_loop())
        .await
        .unwrap()
        .unwrap();
    assert!(
        handled
            .iter()
            .any(|h| h.request_type == "InstallProfile" && h.status == "Acknowledged")
    );
    let installed = mac
        .state
        .installed_profiles
        .iter()
        .find(|p| p.identifier == "orchard.content-caching")
        .expect("the Mac holds the profile");
    assert_eq!(installed.payload_types, vec![PAYLOAD_TYPE.to_string()]);

    // The Mac's cache, as it will answer ContentCachingInformation.
    mac.state.content_cache = Some(ContentCachingStatus::from_result(&mac_reply()).unwrap());
    let (status, _) = post(&app, &max, "/caches/content-caching/status", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let handled = tokio::time::timeout(WAIT, mac.run_command_loop())
        .await
        .unwrap()
        .unwrap();
    assert!(
        handled
            .iter()
            .any(|h| h.request_type == "ContentCachingInformation" && h.status == "Acknowledged"),
        "{handled:?}"
    );

    let text = visible(&app.page(&max, "/caches").await);
    assert!(text.contains("installed") && text.contains("active"), "{text}");
    assert!(text.contains("50.0 GiB of 232.8 GiB (OK)"), "{text}");
    assert!(
        text.contains("10.0.0.2 (healthy)") && text.contains("10.1.0.7 (not healthy)"),
        "{text}"
    );
    assert!(
        app.audit_count().await >= audits + 3,
        "settings, install and status request are audited"
    );

    // Removal: the Mac is sent RemoveProfile for Orchard's profile and is no longer listed.
    let (status, _) = post(
        &app,
        &max,
        "/caches/content-caching/remove",
        &[("udid", mac.udid())],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let handled = tokio::time::timeout(WAIT, mac.run_command_loop())
        .await
        .unwrap()
        .unwrap();
    assert!(
        handled
            .iter()
            .any(|h| h.request_type == "RemoveProfile" && h.status == "Acknowledged"),
        "{handled:?}"
    );
    assert!(
        !mac.state
            .installed_profiles
            .iter()
            .any(|p| p.identifier == "orchard.content-caching")
    );
    let text = visible(&app.page(&max, "/caches").await);
    assert!(
        text.contains("No Mac has been sent the content-caching profile yet"),
        "{text}"
    );
    let (status, text) = post(
        &app,
        &max,
        "/caches/content-caching/remove",
        &[("udid", mac.udid())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.contains("was not sent the content-caching profile"),
        "{text}"
    );
}

#[tokio::test]
async fn viewers_forged_requests_and_bad_settings_change_nothing() {
    let (app, _apns) = rig().await;
    let mac = enrolled(&app, DeviceProfile::mac()).await;
    let vic = app.signed_in("vic").await;
    let html = app.page(&vic, "/caches").await;
    assert!(!html.contains("content-caching/settings") && !html.contains("content-caching/install"));
    for path in [
        "/caches/content-caching/settings",
        "/caches/content-caching/install",
        "/caches/content-caching/status",
        "/caches/content-caching/remove",
    ] {
        let (status, _) = post(
            &app,
            &vic,
            path,
            &[("udid", mac.udid()), ("allow_shared_caching", "on")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let max = app.signed_in("max").await;
    let forged = max
        .post(app.url("/caches/content-caching/install"))
        .form(&[("udid", mac.udid()), ("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let huge = "1".repeat(10_000);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("cache_limit_gb", "10")], "at least one of them"),
        (
            vec![("allow_shared_caching", "on"), ("cache_limit_gb", "-1")],
            "is not a cache size",
        ),
        (
            vec![("allow_shared_caching", "on"), ("cache_limit_gb", "lots")],
            "is not a cache size",
        ),
        (
            vec![("allow_shared_caching", "on"), ("port", "70000")],
            "is not a TCP port",
        ),
        (
            vec![("allow_shared_caching", "on"), ("data_path", "/tmp/cache")],
            "is not a data path",
        ),
        (
            vec![
                ("allow_shared_caching", "on"),
                ("listen_ranges", "10.0.0.9-10.0.0.1"),
            ],
            "is not an address range",
        ),
        (
            vec![
                ("allow_shared_caching", "on"),
                ("peer_filter_ranges", "10.0.0.1-fd00::1"),
            ],
            "is not an address range",
        ),
        (
            vec![("allow_shared_caching", "on"), ("parents", "cache.local")],
            "parent content cache",
        ),
        (
            vec![
                ("allow_shared_caching", "on"),
                ("parent_selection_policy", "fastest"),
            ],
            "parent selection",
        ),
        (
            vec![("allow_shared_caching", "on"), ("parents", &huge)],
            "far larger",
        ),
    ];
    for (form, reason) in cases {
        let (status, text) = post(&app, &max, "/caches/content-caching/settings", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert!(text.contains(reason), "{form:?}: {text}");
    }
    let saved = app
        .state
        .store
        .read(orchard::store::content_caching::settings)
        .await
        .unwrap();
    assert!(saved.is_none(), "nothing was saved");

    for (form, reason) in [
        (vec![], "Choose at least one Mac"),
        (vec![("udid", "not a udid!")], "is not a device identifier"),
        (
            vec![("udid", "0000-NOT-ENROLLED")],
            "no such device is enrolled here",
        ),
    ] {
        let (status, text) = post(&app, &max, "/caches/content-caching/install", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert!(text.contains(reason), "{form:?}: {text}");
    }
    let macs = app
        .state
        .store
        .read(orchard::store::content_caching::macs)
        .await
        .unwrap();
    assert!(macs.is_empty(), "no profile was queued");
}
