//! Offline bundles: export from one appliance, import into another (its own data directory and
//! CA); tampering is refused with nothing half-imported; a second import changes nothing.

use std::path::{Path, PathBuf};

use orchard::cache::bundle::{self, Selection};
use orchard::cache::{PayloadKind, Target};
use reqwest::StatusCode;

use crate::cache_support::{payload, sha256_hex};
use crate::common::{TestApp, spawn_app};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/catalog-samples");

fn target(kind: PayloadKind, filename: &str) -> Target {
    Target {
        kind,
        platform: "macOS".into(),
        version: "26.6.2".into(),
        build: "25G83".into(),
        filename: filename.into(),
    }
}

/// Appliance A with a catalog and two payloads; returns their digests.
async fn source_appliance() -> (TestApp, Vec<String>) {
    let app = spawn_app().await;
    let catalog = app.state.catalog.clone();
    tokio::task::spawn_blocking(move || {
        let files: Vec<PathBuf> = ["gdmf-pmv-raw-2026-04-12.json", "sofa-v2-macos_data_feed.json"]
            .iter()
            .map(|n| Path::new(SAMPLES).join(n))
            .collect();
        catalog.import_files(&files, &mut |_| {}).unwrap();
    })
    .await
    .unwrap();
    let mut digests = Vec::new();
    for (kind, name, len) in [
        (PayloadKind::Installer, "InstallAssistant.pkg", 700_000),
        (
            PayloadKind::Ipsw,
            "UniversalMac_26.6.2_25G83_Restore.ipsw",
            900_001,
        ),
    ] {
        let file = app.dir.path().join(name);
        std::fs::write(&file, payload(len)).unwrap();
        let index = &app.state.catalog.snapshot().index;
        let imported = app
            .state
            .cache
            .import_file(&file, index, Some(target(kind, name)))
            .await
            .unwrap();
        digests.push(imported.payload.digest);
    }
    (app, digests)
}

async fn export(app: &TestApp, dir: &Path) -> bundle::Manifest {
    let (cache, catalog, pki) = (
        app.state.cache.clone(),
        app.state.catalog.clone(),
        app.state.pki.clone(),
    );
    let (dir, now) = (dir.to_path_buf(), app.clock_now());
    tokio::task::spawn_blocking(move || {
        let selection = Selection {
            platform: "macOS".into(),
            versions: vec!["26.6.2".into()],
        };
        cache
            .export_bundle(&dir, &selection, &catalog, &pki, now)
            .unwrap()
    })
    .await
    .unwrap()
}

async fn import(app: &TestApp, dir: &Path, trust: &[Vec<u8>]) -> Result<bundle::BundleImport, String> {
    let mut trusted = vec![app.state.pki.ca_cert_der.clone()];
    trusted.extend_from_slice(trust);
    app.state
        .cache
        .import_bundle(dir, &trusted, &app.state.catalog)
        .await
        .map_err(|e| e.to_string())
}

/// Nothing of the bundle reached appliance B.
async fn assert_untouched(b: &TestApp) {
    assert!(b.state.cache.payloads().await.unwrap().is_empty());
    assert!(b.state.catalog.snapshot().documents.is_empty());
    let objects = b.state.cache.files().root().join("objects");
    assert_eq!(std::fs::read_dir(objects).unwrap().count(), 0);
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_bundle_moves_payloads_and_catalog_to_another_appliance_once() {
    let (a, digests) = source_appliance().await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = export(&a, dir.path()).await;
    assert_eq!(manifest.payloads.len(), 2);
    assert_eq!(manifest.catalog.len(), 2);

    let b = spawn_app().await;
    let refused = import(&b, dir.path(), &[]).await.unwrap_err();
    assert!(refused.contains("does not trust"), "{refused}");
    assert_untouched(&b).await;

    let a_ca = a.state.pki.ca_cert_der.clone();
    let report = import(&b, dir.path(), std::slice::from_ref(&a_ca)).await.unwrap();
    let mut published = report.published.clone();
    published.sort();
    let mut expected = digests.clone();
    expected.sort();
    assert_eq!(published, expected);
    assert_eq!(report.catalog_documents, 2);
    assert!(b.state.catalog.snapshot().has_gdmf());
    assert_eq!(b.state.catalog.snapshot().documents.len(), 2);

    // B serves what A had, byte for byte.
    let url = b.url(&format!("/cache/{}/InstallAssistant.pkg", digests[0]));
    let got = b.client.get(url).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(sha256_hex(&got.bytes().await.unwrap()), digests[0]);

    let again = import(&b, dir.path(), &[a_ca]).await.unwrap();
    assert!(again.published.is_empty());
    assert_eq!(again.already_present.len(), 2);
}

#[tokio::test]
async fn tampered_manifests_and_payloads_are_refused_with_nothing_imported() {
    let (a, digests) = source_appliance().await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = export(&a, dir.path()).await;
    let b = spawn_app().await;
    let trust = vec![a.state.pki.ca_cert_der.clone()];

    let manifest_path = dir.path().join(bundle::MANIFEST);
    let original = std::fs::read(&manifest_path).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    std::fs::write(&manifest_path, text.replace("26.6.2", "26.9.9")).unwrap();
    let refused = import(&b, dir.path(), &trust).await.unwrap_err();
    assert!(refused.contains("signature"), "{refused}");
    assert_untouched(&b).await;
    std::fs::write(&manifest_path, &original).unwrap();

    // The second payload listed is altered: the first, which verifies, is not published either.
    let second = dir.path().join(&manifest.payloads[1].path);
    flip_byte(&second, 12_345);
    let refused = import(&b, dir.path(), &trust).await.unwrap_err();
    assert!(refused.contains("SHA-256"), "{refused}");
    assert_untouched(&b).await;

    // Put right, the import completes (the first payload's staged copy is reused).
    flip_byte(&second, 12_345);
    let report = import(&b, dir.path(), &trust).await.unwrap();
    assert_eq!(report.published.len(), 2);
    assert!(digests.iter().all(|d| report.published.contains(d)));
}

#[tokio::test]
async fn manifest_paths_outside_the_bundle_are_refused() {
    let (a, _) = source_appliance().await;
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = export(&a, dir.path()).await;
    manifest.payloads[0].path = "payloads/../../../etc/passwd".into();
    // Re-signed by A, so only the path check can refuse it.
    let body = serde_json::to_vec_pretty(&manifest).unwrap();
    std::fs::write(dir.path().join(bundle::MANIFEST), &body).unwrap();
    let signer = bundle::ca_signer(&a.state.pki).unwrap();
    let sig = orchard::pki::signed::sign(orchard::pki::signed::SignRequest {
        content_type: orchard::pki::signed::OID_DATA,
        content: &body,
        attached: false,
        signer_cert: &signer.cert,
        key: &signer.key,
        extra_attributes: Vec::new(),
        chain: Vec::new(),
        signing_time: None,
    })
    .unwrap();
    std::fs::write(dir.path().join(bundle::SIGNATURE), sig).unwrap();
    let b = spawn_app().await;
    let refused = import(&b, dir.path(), std::slice::from_ref(&a.state.pki.ca_cert_der))
        .await
        .unwrap_err();
    assert!(refused.contains("outside the bundle"), "{refused}");
    assert_untouched(&b).await;
}
