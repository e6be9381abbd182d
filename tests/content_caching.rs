//! Mac content caches: the `com.apple.AssetCache.managed` payload against Apple's schema; the
//! Cache page's settings form (managers only, CSRF, bad input refused and nothing saved); the
//! profile queued through the MDM queue and received by a simulated Mac (an iPhone refused with
//! the reason); `ContentCachingInformation` asked of the Macs with the profile, the reply stored
//! and shown per Mac.

use std::path::PathBuf;
use std::time::Duration;

use orchard::admin::Role;
use orchard::protocol::content_caching::{
    CacheNeighbour, ContentCachingSettings, ContentCachingStatus, IpRange, PAYLOAD_TYPE,
    ParentSelectionPolicy,
};
use orchard::protocol::dict;
use orchard::sim::device::{DeviceProfile, SimDevice};
use plist::{Dictionary, Value};
use reqwest::StatusCode;
use serde_yaml::Value as Yaml;

use crate::command_schemas::{check_dict, key_specs};
use crate::common::{self, TestApp};
use crate::ui_support::visible;

const TOPIC: &str = "com.apple.mgmt.External.7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
const WAIT: Duration = Duration::from_secs(15);

fn fixture(name: &str) -> Yaml {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apple")
        .join(name);
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn full_settings() -> ContentCachingSettings {
    ContentCachingSettings {
        cache_limit_bytes: 250_000_000_000,
        data_path: Some("/Volumes/Cache/Library/Application Support/Apple/AssetCache/Data".into()),
        port: 49_200,
        local_subnets_only: false,
        listen_ranges: vec![IpRange::parse("10.1.0.1-10.1.255.254").unwrap()],
        listen_ranges_only: true,
        peer_local_subnets_only: false,
        peer_listen_ranges: vec![IpRange::parse("10.1.0.1-10.1.0.254").unwrap()],
        peer_filter_ranges: vec![IpRange::parse("fd00::1-fd00::ff").unwrap()],
        parents: vec!["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()],
        parent_selection_policy: ParentSelectionPolicy::StickyAvailable,
        ..ContentCachingSettings::default()
    }
}

#[test]
fn the_payload_uses_only_apple_keys_types_and_values() {
    let schema = fixture("com.apple.AssetCache.managed.yaml");
    let specs = key_specs(&schema, "payloadkeys");
    for settings in [ContentCachingSettings::default(), full_settings()] {
        let mut errors = Vec::new();
        check_dict(&settings.payload_keys(), &specs, "payload", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let keys = full_settings().payload_keys();
    assert_eq!(
        keys.get("CacheLimit"),
        Some(&Value::Integer(250_000_000_000i64.into()))
    );
    assert_eq!(
        keys.get("ParentSelectionPolicy").and_then(Value::as_string),
        Some("sticky-available")
    );
    let range = keys.get("PeerFilterRanges").and_then(Value::as_array).unwrap()[0]
        .as_dictionary()
        .unwrap();
    assert_eq!(range.get("type").and_then(Value::as_string), Some("IPv6"));

    // The profile: one payload of Apple's type, inside a Configuration.
    let (xml, fingerprint) = full_settings().profile();
    let profile = dict::parse_dictionary(&xml).unwrap();
    assert_eq!(
        profile.get("PayloadType").and_then(Value::as_string),
        Some("Configuration")
    );
    let content = profile.get("PayloadContent").and_then(Value::as_array).unwrap();
    assert_eq!(content.len(), 1);
    let payload = content[0].as_dictionary().unwrap();
    assert_eq!(
        payload.get("PayloadType").and_then(Value::as_string),
        Some(PAYLOAD_TYPE)
    );
    assert_eq!(fingerprint.len(), 64);

    // The validator itself catches a wrong type and an unknown key.
    let mut bad = keys.clone();
    bad.insert("CacheLimit".into(), Value::String("big".into()));
    bad.insert("AllowEverything".into(), Value::Boolean(true));
    let mut errors = Vec::new();
    check_dict(&bad, &specs, "payload", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

/// A reply as a Mac sends it, written with the key names of Apple's schema (including keys
/// Orchard does not show).
fn mac_reply() -> Dictionary {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>StatusResponse</key><dict>
    <key>Activated</key><true/>
    <key>Active</key><true/>
    <key>ActualCacheUsed</key><integer>53687091200</integer>
    <key>CacheDetails</key><dict><key>iOS Software</key><integer>42949672960</integer></dict>
    <key>CacheFree</key><integer>196312908800</integer>
    <key>CacheLimit</key><integer>250000000000</integer>
    <key>CacheStatus</key><string>OK</string>
    <key>CacheUsed</key><integer>53687091200</integer>
    <key>MaxCachePressureLast1Hour</key><real>0.0</real>
    <key>Parents</key><array><dict>
      <key>address</key><string>10.0.0.2</string>
      <key>details</key><dict><key>ac-power</key><true/></dict>
      <key>guid</key><string>8C5A4F6E-1B2D-4E3F-9A0B-1C2D3E4F5A6B</string>
      <key>healthy</key><true/>
      <key>port</key><integer>49152</integer>
      <key>version</key><string>251</string>
    </dict></array>
    <key>Peers</key><array><dict>
      <key>address</key><string>10.1.0.7</string>
      <key>details</key><dict/>
      <key>friendly</key><true/>
      <key>guid</key><string>1F2E3D4C-5B6A-4978-8695-A4B3C2D1E0F9</string>
      <key>healthy</key><false/>
      <key>port</key><integer>49160</integer>
      <key>version</key><string>251</string>
    </dict></array>
    <key>Port</key><integer>49200</integer>
    <key>PrivateAddresses</key><array><string>10.1.0.5</string></array>
    <key>RegistrationStatus</key><integer>1</integer>
    <key>ServerGUID</key><string>C3D4E5F6-A7B8-4012-8DEF-012345678912</string>
    <key>StartupStatus</key><string>OK</string>
    <key>TotalBytesAreSince</key><date>2026-03-01T00:00:00Z</date>
    <key>TotalBytesReturnedToClients</key><integer>1099511627776</integer>
    <key>TotalBytesStoredFromOrigin</key><integer>53687091200</integer>
  </dict>
</dict></plist>"#;
    dict::parse_dictionary(xml.as_bytes()).unwrap()
}

#[test]
fn a_reply_with_apples_keys_is_read() {
    let reply = mac_reply();
    let schema = fixture("information.contentcaching.yaml");
    let mut errors = Vec::new();
    check_dict(&reply, &key_specs(&schema, "responsekeys"), "reply", &mut errors);
    assert!(
        errors.is_empty(),
        "the test's reply follows Apple's schema: {errors:#?}"
    );

    let status = ContentCachingStatus::from_result(&reply).unwrap();
    assert!(status.activated && status.active);
    assert_eq!(status.cache_used, Some(53_687_091_200));
    assert_eq!(status.cache_limit, Some(250_000_000_000));
    assert_eq!(status.parents[0].address, "10.0.0.2");
    assert_eq!(
        status.peers[0],
        CacheNeighbour {
            address: "10.1.0.7".into(),
            healthy: false,
            friendly: Some(true),
            alert: None
        }
    );
    let mut broken = reply.clone();
    let inner = broken
        .get_mut("StatusResponse")
        .and_then(Value::as_dictionary_mut)
        .unwrap();
    inner.insert("Active".into(), Value::String("yes".into()));
    assert!(
        ContentCachingStatus::from_result(&broken).is_err(),
        "a wrong type is not guessed at"
    );
}

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
