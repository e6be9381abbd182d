//! The Cache page over real TLS: every role reads it; managers start downloads, pin, unpin and
//! delete (with the CSRF token); viewers may not; bad input changes nothing.

use std::path::Path;

use orchard::admin::Role;
use orchard::cache::Digest;
use reqwest::StatusCode;

use crate::cache_support::{payload, target};
use crate::common::{TestApp, spawn_app};
use crate::ui_support::visible;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/catalog-samples");

async fn app_with_catalog_and_payload() -> (TestApp, Digest) {
    let app = spawn_app().await;
    app.create_admin("max", Role::Manager).await;
    app.create_admin("vic", Role::Viewer).await;
    let catalog = app.state.catalog.clone();
    tokio::task::spawn_blocking(move || {
        let files: Vec<_> = [
            "gdmf-pmv-raw-2026-04-12.json",
            "sofa-uma_catalog.json",
            "sofa-v2-macos_data_feed.json",
        ]
        .iter()
        .map(|n| Path::new(SAMPLES).join(n))
        .collect();
        catalog.import_files(&files, &mut |_| {}).unwrap();
    })
    .await
    .unwrap();
    let file = app.dir.path().join("InstallAssistant.pkg");
    std::fs::write(&file, payload(4096)).unwrap();
    let index = &app.state.catalog.snapshot().index;
    let imported = app
        .state
        .cache
        .import_file(&file, index, Some(target()))
        .await
        .unwrap();
    (app, Digest::parse(&imported.payload.digest).unwrap())
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
    token: &str,
) -> StatusCode {
    let mut fields = form.to_vec();
    fields.push(("csrf_token", token));
    client
        .post(app.url(path))
        .form(&fields)
        .send()
        .await
        .unwrap()
        .status()
}

async fn pinned(app: &TestApp, d: &Digest) -> bool {
    app.state.cache.payload(d).await.unwrap().unwrap().pinned
}

#[tokio::test]
async fn viewers_read_the_page_and_change_nothing() {
    let (app, digest) = app_with_catalog_and_payload().await;
    let vic = app.signed_in("vic").await;
    let html = app.page(&vic, "/caches").await;
    let text = visible(&html);
    assert!(text.contains("No MDM can redirect them"), "{text}");
    assert!(
        text.contains("25G83") && text.contains(&digest.as_str()[..12]),
        "{text}"
    );
    assert!(!html.contains("Download to the cache") && !html.contains("/pin\""));

    let token = app.session_csrf(&vic).await;
    let path = format!("/caches/payloads/{digest}/pin");
    assert_eq!(post(&app, &vic, &path, &[], &token).await, StatusCode::FORBIDDEN);
    assert!(!pinned(&app, &digest).await);
}

#[tokio::test]
async fn managers_pin_unpin_delete_and_start_downloads() {
    let (app, digest) = app_with_catalog_and_payload().await;
    let max = app.signed_in("max").await;
    let html = app.page(&max, "/caches").await;
    assert!(
        html.contains("value=\"installer:25G83\""),
        "the catalog's installers are offered"
    );
    let token = app.session_csrf(&max).await;
    let audits = app.audit_count().await;

    let pin = format!("/caches/payloads/{digest}/pin");
    assert_eq!(
        post(&app, &max, &pin, &[], "wrong-token").await,
        StatusCode::FORBIDDEN
    );
    assert!(!pinned(&app, &digest).await, "no CSRF token, no change");
    assert_eq!(post(&app, &max, &pin, &[], &token).await, StatusCode::SEE_OTHER);
    assert!(pinned(&app, &digest).await);
    let unpin = format!("/caches/payloads/{digest}/unpin");
    assert_eq!(post(&app, &max, &unpin, &[], &token).await, StatusCode::SEE_OTHER);
    assert!(!pinned(&app, &digest).await);

    let bad = [
        ("/caches/payloads/not-a-digest/pin", StatusCode::BAD_REQUEST),
        (
            &*format!("/caches/payloads/{}/pin", "0".repeat(64)),
            StatusCode::NOT_FOUND,
        ),
        (
            &*format!("/caches/payloads/{digest}/explode"),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, want) in bad {
        assert_eq!(post(&app, &max, path, &[], &token).await, want, "{path}");
    }
    for entry in ["catalog:25G83", "installer:NOPE", "garbage"] {
        let status = post(&app, &max, "/caches/downloads", &[("entry", entry)], &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{entry}");
    }
    assert!(app.state.cache.downloads(10).await.unwrap().is_empty());

    let status = post(
        &app,
        &max,
        "/caches/downloads",
        &[("entry", "installer:25G83")],
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let jobs = app.state.cache.downloads(10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(
        jobs[0].url.ends_with("/InstallAssistant.pkg") && jobs[0].url.starts_with("https://swcdn.apple.com/")
    );
    assert_eq!(
        jobs[0].integrity_url.as_deref(),
        Some(format!("{}.integrityDataV1", jobs[0].url).as_str())
    );
    assert_eq!(jobs[0].expected_size, Some(18391902710));

    let delete = format!("/caches/payloads/{digest}/delete");
    assert_eq!(
        post(&app, &max, &delete, &[], &token).await,
        StatusCode::SEE_OTHER
    );
    assert!(app.state.cache.payload(&digest).await.unwrap().is_none());
    assert!(
        app.audit_count().await >= audits + 4,
        "pin, unpin, download and delete are audited"
    );
}
