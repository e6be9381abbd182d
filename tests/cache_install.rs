//! A cached macOS installer delivered to Macs: `InstallEnterpriseApplication` queued through the
//! API and the CLI, received by a simulated Mac, checked against Apple's schema; the manifest
//! fetched over the appliance's real TLS by a client trusting only the pinned certificates, and
//! the package it names served byte for byte; refusals with their reasons.

use orchard::admin::Role;
use orchard::cache::chunklist::Chunklist;
use orchard::cache::{PayloadKind, Target};
use orchard::protocol::commands::app_manifest::PackageManifest;
use orchard::sim::device::{DeviceProfile, SimDevice};
use serde_json::json;

use crate::api_support;
use crate::cache_support::{CHUNK, payload, sha256_hex, target};
use crate::command_schemas::schema_errors;
use crate::common::{self, TestApp};

const TOPIC: &str = "com.apple.mgmt.External.7d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5";

struct Rig {
    app: TestApp,
    _apns: orchard::sim::fake_apns::FakeApns,
    mac: SimDevice,
    phone: SimDevice,
    /// The verified installer's bytes and digest.
    data: Vec<u8>,
    digest: String,
}

/// The appliance with an enrolled Mac and iPhone (inventory known) and a macOS installer imported
/// with its chunklist.
async fn rig() -> Rig {
    let (app, apns) = common::spawn_app_with_fake_apns(|_| {}).await;
    common::import_push_certificate(&app, &apns, TOPIC);
    let ca = app.state.pki.ca_cert_der.clone();
    let mut mac = SimDevice::new(DeviceProfile::mac(), app.client.clone(), ca.clone());
    let mut phone = SimDevice::new(DeviceProfile::iphone(), app.client.clone(), ca);
    for device in [&mut mac, &mut phone] {
        device.enroll(&app.base, None).await.unwrap();
        device.run_command_loop().await.unwrap();
    }
    let data = payload(3 * CHUNK + 12_345);
    let dir = app.dir.path().join("import");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("InstallAssistant.pkg");
    std::fs::write(&file, &data).unwrap();
    std::fs::write(
        dir.join("InstallAssistant.pkg.integrityDataV1"),
        Chunklist::encode_for(&data, CHUNK),
    )
    .unwrap();
    let index = &app.state.catalog.snapshot().index;
    let imported = app
        .state
        .cache
        .import_file(&file, index, Some(target()))
        .await
        .unwrap();
    assert!(
        imported.payload.chunklist_sha256.is_some(),
        "the chunklist check is recorded"
    );
    let digest = imported.payload.digest;
    assert_eq!(digest, sha256_hex(&data));
    Rig {
        app,
        _apns: apns,
        mac,
        phone,
        data,
        digest,
    }
}

/// Imports `bytes` as `target` without a chunklist; returns the digest.
async fn import_plain(app: &TestApp, name: &str, bytes: &[u8], target: Target) -> String {
    let file = app.dir.path().join(name);
    std::fs::write(&file, bytes).unwrap();
    let index = &app.state.catalog.snapshot().index;
    app.state
        .cache
        .import_file(&file, index, Some(target))
        .await
        .unwrap()
        .payload
        .digest
}

fn install_path(digest: &str) -> String {
    format!("/api/v1/cache/payloads/{digest}/install")
}

async fn queued_commands(app: &TestApp) -> i64 {
    app.state
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM commands WHERE request_type = 'InstallEnterpriseApplication'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap()
}

/// A client that trusts only `pinned` (DER), as a Mac does for `ManifestURLPinningCerts`.
fn pinned_client(pinned: &[Vec<u8>]) -> reqwest::Client {
    common::install_crypto_provider();
    let mut builder = reqwest::Client::builder().tls_built_in_root_certs(false);
    for der in pinned {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(der).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn a_mac_gets_the_command_and_the_pinned_manifest_leads_to_the_served_bytes() {
    let mut rig = rig().await;
    let app = &rig.app;
    let token = api_support::token(app, "installer", Role::Manager).await;
    let serial = rig.mac.profile.serial_number.clone();
    let audits_before = app.audit_count().await;

    let (status, body) = api_support::post(
        app,
        &token,
        &install_path(&rig.digest),
        &json!({ "serials": [serial] }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["queued"][0]["serial"], serial.as_str());
    assert_eq!(body["queued"][0]["udid"], rig.mac.udid());
    assert_eq!(app.audit_count().await, audits_before + 1);

    // The Mac checks in and receives the command exactly as Apple's schema describes it.
    let command = rig.mac.idle().await.unwrap().expect("a command for the Mac");
    assert_eq!(command.request_type, "InstallEnterpriseApplication");
    let errors = schema_errors(&command.command);
    assert!(errors.is_empty(), "{errors:#?}");
    let answer = rig.mac.answer(&command).await.unwrap();
    assert_eq!(answer.status(), "Acknowledged");
    assert!(rig.mac.report(&command, &answer).await.unwrap().is_none());
    let install = rig.mac.state.enterprise_installs.last().cloned().unwrap();
    assert_eq!(install.manifest_url, body["manifest_url"].as_str().unwrap());
    assert_eq!(install.pinning_certs, vec![app.state.pki.ca_cert_der.clone()]);

    // The manifest over real TLS, trusting only the pinned CA, names bytes that are served.
    let client = pinned_client(&install.pinning_certs);
    let xml = client
        .get(&install.manifest_url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let manifest = PackageManifest::parse(&xml).unwrap();
    assert_eq!(manifest.sha256, rig.digest);
    assert_eq!(manifest.size, rig.data.len() as u64);
    assert_eq!(manifest.bundle_version, "26.6.2");
    let package = client
        .get(&manifest.package_url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(package.len() as u64, manifest.size);
    assert_eq!(sha256_hex(&package), manifest.sha256);

    // A client without the pinned CA cannot read the manifest.
    let stranger = pinned_client(&[]);
    assert!(stranger.get(&install.manifest_url).send().await.is_err());
}

#[tokio::test]
async fn refusals_say_why_and_queue_nothing() {
    let rig = rig().await;
    let app = &rig.app;
    let manager = api_support::token(app, "manager", Role::Manager).await;
    let viewer = api_support::token(app, "viewer", Role::Viewer).await;
    let mac = rig.mac.profile.serial_number.clone();
    let phone = rig.phone.profile.serial_number.clone();
    let path = install_path(&rig.digest);

    // An iPhone among the devices: nothing is queued, not even for the Mac.
    let (status, body) = api_support::post(
        app,
        &manager,
        &path,
        &json!({ "serials": [mac, phone, "NOSUCHSERIAL"] }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    assert!(text.contains("not a Mac (iPhone"), "{text}");
    assert!(
        text.contains("NOSUCHSERIAL: no device with this serial number"),
        "{text}"
    );
    assert!(
        !text.contains(&format!("{mac}:")),
        "the Mac is not refused: {text}"
    );

    // Payloads that are not verified macOS installers.
    let unverified = import_plain(
        app,
        "InstallAssistant.pkg",
        &payload(5000),
        Target {
            build: "25G84".into(),
            ..target()
        },
    )
    .await;
    let ipsw = import_plain(
        app,
        "iPhone17,3_26.6.2_25G83_Restore.ipsw",
        &payload(7000),
        Target {
            kind: PayloadKind::Ipsw,
            platform: "iOS".into(),
            filename: "iPhone17,3_26.6.2_25G83_Restore.ipsw".into(),
            ..target()
        },
    )
    .await;
    let body = json!({ "serials": [mac] });
    let (status, answer) = api_support::post(app, &manager, &install_path(&unverified), &body).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("chunklist"), "{answer}");
    let (status, answer) = api_support::post(app, &manager, &install_path(&ipsw), &body).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("not a macOS installer"), "{answer}");
    let (status, _) = api_support::post(app, &manager, &install_path(&"0".repeat(64)), &body).await;
    assert_eq!(status, 404);
    // Their manifests are not served either.
    for digest in [&unverified, &ipsw] {
        let res = app
            .client
            .get(app.url(&format!("/cache/manifests/{digest}.plist")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }

    // Malformed, empty, unauthorised and unauthenticated requests.
    for bad in [
        json!({ "serials": [] }),
        json!({ "serials": "x" }),
        json!({ "serial": [mac] }),
    ] {
        let (status, answer) = api_support::post(app, &manager, &path, &bad).await;
        assert!(status == 400 || status == 422, "{bad}: {status} {answer}");
    }
    let (status, _) = api_support::post(app, &viewer, &path, &body).await;
    assert_eq!(status, 403);
    let res = app.client.post(app.url(&path)).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(queued_commands(app).await, 0, "no refusal queued anything");
}

#[tokio::test]
async fn the_cli_queues_for_macs_and_lists_refusals() {
    use orchard::cli::cache::{CacheCommand, run};
    let rig = rig().await;
    let app = &rig.app;
    let mut out = Vec::new();
    let refused = run(
        &app.state,
        CacheCommand::InstallOn {
            serials: vec![rig.phone.profile.serial_number.clone()],
            digest: rig.digest.clone(),
        },
        &mut out,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(refused.contains("nothing was queued"), "{refused}");
    assert!(refused.contains("not a Mac"), "{refused}");
    assert_eq!(queued_commands(app).await, 0);

    run(
        &app.state,
        CacheCommand::InstallOn {
            serials: vec![rig.mac.profile.serial_number.clone()],
            digest: rig.digest.clone(),
        },
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(&format!(
            "queued InstallEnterpriseApplication for {}",
            rig.mac.profile.serial_number
        )),
        "{text}"
    );
    assert_eq!(queued_commands(app).await, 1);
}
