//! Offline import (library and CLI), export, and the `/feeds/` mirror.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use orchard::catalog::import::ImportProgress;
use orchard::catalog::{CatalogError, DocumentKind, OsFamily};

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const SOFA_V1_MAC: &[u8] = include_bytes!("data/catalog-samples/sofa-v1-macos_data_feed.json");
const SOFA_V2_IOS: &[u8] = include_bytes!("data/catalog-samples/sofa-v2-ios_data_feed.json");

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/catalog-samples")
}

async fn import(app: &TestApp, items: Vec<(&str, Vec<u8>)>) -> Result<usize, CatalogError> {
    let catalog = app.state.catalog.clone();
    let items: Vec<(String, Vec<u8>)> = items.into_iter().map(|(n, b)| (n.to_string(), b)).collect();
    tokio::task::spawn_blocking(move || catalog.import_documents(items, &mut |_| {}).map(|v| v.len()))
        .await
        .unwrap()
}

fn stored_slots(app: &TestApp) -> Vec<(String, String)> {
    app.state.catalog.snapshot().fingerprint()
}

#[tokio::test]
async fn bad_input_is_refused_by_name_and_changes_nothing() {
    let app = spawn_app().await;
    import(&app, vec![("pmv.json", GDMF.to_vec())]).await.unwrap();
    let before = stored_slots(&app);

    let mut unknown_schema: serde_json::Value = serde_json::from_slice(SOFA_V2_IOS).unwrap();
    unknown_schema["SchemaVersion"] = "2030.01.01.1".into();
    let empty_gdmf = br#"{"PublicAssetSets": {}, "AssetSets": {"iOS": []}}"#.to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("broken.json", b"{\"PublicAssetSets\": {".to_vec(), "invalid JSON"),
        (
            "shape.json",
            br#"{"hello": ["world"]}"#.to_vec(),
            "wrong document shape",
        ),
        ("list.json", b"[1, 2, 3]".to_vec(), "wrong document shape"),
        ("empty.json", empty_gdmf, "no releases"),
        ("blank.json", b"  \n".to_vec(), "empty"),
        (
            "future.json",
            serde_json::to_vec(&unknown_schema).unwrap(),
            "2030.01.01.1",
        ),
    ];
    for (name, bytes, expected) in cases {
        // A good file alongside a bad one: the whole import is refused.
        let err = import(&app, vec![("mac.json", SOFA_V1_MAC.to_vec()), (name, bytes)])
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(err.is_bad_input(), "{name}: {message}");
        assert!(message.contains(name), "{name}: {message}");
        assert!(message.contains(expected), "{name}: {message}");
        assert_eq!(stored_slots(&app), before, "{name}: catalog changed");
        let stored = app
            .state
            .store
            .read_blocking(orchard::store::catalog::fingerprint)
            .unwrap();
        assert_eq!(stored, before, "{name}: database changed");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_200_mb_file_is_refused_without_reading_it() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("huge.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(200 * 1024 * 1024).unwrap(); // sparse: no 200 MB written or read
    let catalog = app.state.catalog.clone();
    let mut read_bytes = 0;
    let err = catalog
        .import_files(&[big], &mut |p| {
            if let ImportProgress::Reading { done, .. } = p {
                read_bytes = done;
            }
        })
        .unwrap_err();
    assert_eq!(read_bytes, 0, "the file was read");
    let message = err.to_string();
    assert!(
        message.contains("huge.json") && message.contains("too large"),
        "{message}"
    );
    assert!(message.contains(&(200u64 * 1024 * 1024).to_string()), "{message}");
    assert!(catalog.snapshot().documents.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn mirror_serves_feeds_at_sofa_paths_with_conditional_get() {
    let app = spawn_app().await;
    let n = import(
        &app,
        vec![("pmv.json", GDMF.to_vec()), ("mac.json", SOFA_V1_MAC.to_vec())],
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let resp = app
        .client
        .get(app.url("/feeds/v1/macos_data_feed.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = resp.headers()["last-modified"].to_str().unwrap().to_string();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), SOFA_V1_MAC);

    let again = app
        .client
        .get(app.url("/feeds/v1/macos_data_feed.json"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let since = app
        .client
        .get(app.url("/feeds/v1/macos_data_feed.json"))
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304);
    let stale = app
        .client
        .get(app.url("/feeds/v1/macos_data_feed.json"))
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);

    let gdmf = app
        .client
        .get(app.url("/feeds/gdmf/v2/pmv"))
        .send()
        .await
        .unwrap();
    assert_eq!(gdmf.bytes().await.unwrap().as_ref(), GDMF);
    for missing in [
        "/feeds/v2/ios_data_feed.json",
        "/feeds/../orchard.db",
        "/feeds/nope",
    ] {
        let r = app.client.get(app.url(missing)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
    app.stop().await;
}

#[tokio::test]
async fn wrapped_gdmf_is_mirrored_as_apples_own_shape() {
    let app = spawn_app().await;
    let wrapped = include_bytes!("data/catalog-samples/gdmf-pmv-2024-07-01-sofa-cache-wrapper.json");
    import(&app, vec![("old.json", wrapped.to_vec())]).await.unwrap();
    let body = app
        .client
        .get(app.url("/feeds/gdmf/v2/pmv"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(value.get("PublicAssetSets").is_some() && value.get("etag").is_none());
    app.stop().await;
}

fn orchard(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orchard"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn cli_imports_with_progress_and_exports_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = samples();
    let files: Vec<String> = [
        "gdmf-pmv-raw-2026-04-12.json",
        "sofa-v1-macos_data_feed.json",
        "sofa-v2-ios_data_feed.json",
        "sofa-uma_catalog.json",
    ]
    .iter()
    .map(|f| s.join(f).display().to_string())
    .collect();
    let mut args = vec!["catalog", "import"];
    args.extend(files.iter().map(String::as_str));
    let out = orchard(&data, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("100%") && stderr.contains("Apple gdmf catalog"),
        "{stderr}"
    );
    assert!(stderr.contains("saved 4 document(s)"), "{stderr}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"OSVersions\": 3, \"UpdateHash\": \"x\"}").unwrap();
    let refused = orchard(&data, &["catalog", "import", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("bad.json") && stderr.contains("unchanged"),
        "{stderr}"
    );

    let export = dir.path().join("export");
    let out = orchard(&data, &["catalog", "export", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(export.join("gdmf_v2_pmv.json")).unwrap(), GDMF);
    assert_eq!(
        std::fs::read(export.join("v1_macos_data_feed.json")).unwrap(),
        SOFA_V1_MAC
    );
    assert_eq!(
        std::fs::read(export.join("v2_ios_data_feed.json")).unwrap(),
        SOFA_V2_IOS
    );
    let sums = std::fs::read_to_string(export.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 4, "{sums}");

    let status = orchard(&data, &["catalog", "status"]);
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("catalog loaded: true"), "{stdout}");
    assert_eq!(
        DocumentKind::from_slot("v2/ios_data_feed.json"),
        Some(DocumentKind::SofaV2(OsFamily::Ios))
    );
}
