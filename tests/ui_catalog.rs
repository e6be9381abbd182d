//! The catalog page over real TLS: who may read, refresh and import; the import form's answers
//! to good files, bad files and an oversized upload (refused while streaming); the refresh
//! button and the dashboard alert a failing source raises.

use crate::common;
use crate::ui_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use futures_util::StreamExt;
use ui_support::{Part, post_multipart, visible, with_roles};

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const SOFA_V2_IOS: &[u8] = include_bytes!("data/catalog-samples/sofa-v2-ios_data_feed.json");

fn fingerprint(app: &TestApp) -> Vec<(String, String)> {
    app.state.catalog.snapshot().fingerprint()
}

/// An enrolled, supervised device that reports `os` on model `product`.
fn enroll_device(app: &TestApp, udid: &str, product: &str, os: &str) {
    crate::policy_ui_support::enroll_device(app, udid, product, os, &format!("SER-{udid}"));
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let resp = client.get(app.url(path)).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn everyone_reads_the_catalog_but_only_its_managers_refresh_or_import() {
    let app = spawn_app().await;
    with_roles(&app).await;

    let anonymous = client_for(&app.state);
    let resp = anonymous.get(app.url("/catalog")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=%2Fcatalog");

    let viewer = app.signed_in("vic").await;
    let (status, body) = page(&viewer, &app, "/catalog").await;
    assert_eq!(status, 200);
    assert!(body.contains("No Apple catalog is loaded yet"), "{body}");
    assert!(!body.contains("Refresh now"), "no refresh button for a viewer");
    assert!(!body.contains("Import from files"), "no import form for a viewer");

    let audits = app.audit_count().await;
    let resp = post_multipart(
        &app,
        &viewer,
        "/catalog/import",
        &[Part::File("files", "pmv.json", GDMF)],
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("does not allow you to change the catalog")
    );
    let resp = app.post_form(&viewer, "/catalog/refresh", &[]).await;
    assert_eq!(resp.status(), 403);
    assert!(fingerprint(&app).is_empty(), "nothing imported");
    assert_eq!(app.audit_count().await, audits);

    for manager in ["max", "ada"] {
        let (status, body) = page(&app.signed_in(manager).await, &app, "/catalog").await;
        assert_eq!(status, 200);
        assert!(
            body.contains("Refresh now") && body.contains("Import from files"),
            "{manager}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_imported_catalog_lists_releases_per_platform_with_fleet_counts() {
    let app = spawn_app().await;
    with_roles(&app).await;
    enroll_device(&app, "IPHONE-1", "iPhone14,2", "17.0");
    enroll_device(&app, "IPHONE-2", "iPhone14,2", "17.0");
    enroll_device(&app, "MYSTERY-1", "Gadget1,1", "1.0");
    let manager = app.signed_in("max").await;

    let resp = post_multipart(
        &app,
        &manager,
        "/catalog/import",
        &[
            Part::File("files", "pmv.json", GDMF),
            Part::File("files", "ios-v2.json", SOFA_V2_IOS),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let result = visible(&resp.text().await.unwrap());
    assert!(result.contains("Imported 2 file(s)"), "{result}");
    assert!(
        result.contains("pmv.json") && result.contains("Apple gdmf catalog: imported"),
        "{result}"
    );
    assert!(
        result.contains("ios-v2.json") && result.contains("SOFA v2 iOS feed: imported"),
        "{result}"
    );
    assert_eq!(fingerprint(&app).len(), 2);

    let (status, html) = page(&manager, &app, "/catalog").await;
    assert_eq!(status, 200);
    let text = visible(&html);
    for section in [
        "iOS and iPadOS",
        "macOS",
        "Background Security Improvements",
        "Sources",
    ] {
        assert!(text.contains(section), "the page shows {section}");
    }
    assert!(text.contains("Enrolled devices 3"), "{text}");
    assert!(
        text.contains("Model not in the catalog 1"),
        "the unknown gadget: {text}"
    );
    // Every iOS release the iPhone 13 Pro (iPhone14,2) may install counts both phones.
    let two_devices = html.matches("<td class=\"fleet-count\">2</td>").count();
    assert!(two_devices > 0, "releases applying to the two iPhones");
    assert!(
        html.contains("class=\"exploited\""),
        "SOFA's actively exploited CVEs are flagged"
    );
    assert!(text.contains("import:pmv.json"), "the source of the gdmf copy");

    let entries = app.state.admins().audit_page(None, 5).await.unwrap().entries;
    assert!(
        entries
            .iter()
            .any(|e| e.action == "catalog.import" && e.actor == "admin:max"),
        "{entries:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_files_are_refused_by_name_and_leave_the_catalog_as_it_was() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let admin = app.signed_in("ada").await;
    let resp = post_multipart(
        &app,
        &admin,
        "/catalog/import",
        &[Part::File("files", "pmv.json", GDMF)],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let before = fingerprint(&app);

    let cases: [(&str, &[u8], &str); 3] = [
        ("broken.json", b"{\"PublicAssetSets\": {", "invalid JSON"),
        ("shape.json", br#"{"hello": ["world"]}"#, "wrong document shape"),
        (
            "empty.json",
            br#"{"PublicAssetSets": {}, "AssetSets": {"iOS": []}}"#,
            "no releases",
        ),
    ];
    for (name, bytes, expected) in cases {
        // Beside a good file: the whole import is refused.
        let resp = post_multipart(
            &app,
            &admin,
            "/catalog/import",
            &[
                Part::File("files", "ios-v2.json", SOFA_V2_IOS),
                Part::File("files", name, bytes),
            ],
        )
        .await;
        assert_eq!(resp.status(), 400, "{name}");
        let text = visible(&resp.text().await.unwrap());
        assert!(text.contains("Refused:") && text.contains(name), "{name}: {text}");
        assert!(text.contains(expected), "{name} names the problem: {text}");
        assert!(text.contains("The catalog is unchanged"), "{text}");
        assert_eq!(fingerprint(&app), before, "{name} changed nothing");
    }

    let resp = post_multipart(&app, &admin, "/catalog/import", &[Part::Text("note", "no file")]).await;
    assert_eq!(resp.status(), 400);
    assert!(visible(&resp.text().await.unwrap()).contains("no file to import"));

    // Without the CSRF token the form is refused before it is read.
    let resp = admin
        .post(app.url("/catalog/import"))
        .header("content-type", ui_support::content_type())
        .body(ui_support::body(&[Part::File(
            "files",
            "ios-v2.json",
            SOFA_V2_IOS,
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(fingerprint(&app), before);
    app.stop().await;
}

/// A streamed upload of `total` bytes in one file part; counts the bytes the client was asked for.
fn huge_upload(total: usize, pulled: Arc<AtomicUsize>) -> reqwest::Body {
    const CHUNK: usize = 1 << 20;
    let head = ui_support::file_head("files", "huge.json");
    let chunks = total / CHUNK;
    let stream = futures_util::stream::iter(0..chunks + 2).map(move |i| {
        let bytes = if i == 0 {
            head.clone()
        } else if i <= chunks {
            vec![b' '; CHUNK]
        } else {
            let mut end = b"\r\n".to_vec();
            end.extend(ui_support::closing());
            end
        };
        pulled.fetch_add(bytes.len(), Ordering::SeqCst);
        Ok::<_, std::io::Error>(bytes)
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test]
async fn a_200_mb_upload_is_refused_without_being_read_whole() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let admin = app.signed_in("ada").await;
    let token = app.session_csrf(&admin).await;
    let limit = app.state.config.catalog.max_document_bytes as usize;
    let total = 200 * 1024 * 1024;

    // Streamed without a length: refused once the file passes the limit.
    let pulled = Arc::new(AtomicUsize::new(0));
    let resp = admin
        .post(app.url(&format!("/catalog/import?csrf_token={token}")))
        .header("content-type", ui_support::content_type())
        .body(huge_upload(total, pulled.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let text = visible(&resp.text().await.unwrap());
    assert!(
        text.contains("huge.json is larger than the limit of 33554432 bytes"),
        "{text}"
    );
    let read = pulled.load(Ordering::SeqCst);
    eprintln!("streamed 200 MB upload: {read} bytes sent before the 413 (limit {limit})");
    assert!(
        read < limit + 16 * 1024 * 1024,
        "the upload stopped near the limit: {read} of {total} bytes were sent"
    );

    // With a declared length over what any import may hold (8 files at the limit): refused
    // before the body is read.
    let declared = 300 * 1024 * 1024;
    let pulled = Arc::new(AtomicUsize::new(0));
    let resp = admin
        .post(app.url(&format!("/catalog/import?csrf_token={token}")))
        .header("content-type", ui_support::content_type())
        .header("content-length", declared.to_string())
        .body(huge_upload(declared, pulled.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let text = visible(&resp.text().await.unwrap());
    assert!(
        text.contains("the upload is 314572800 bytes, more than the"),
        "{text}"
    );
    let read = pulled.load(Ordering::SeqCst);
    assert!(read < limit, "refused before reading: {read} bytes were sent");
    assert!(fingerprint(&app).is_empty(), "nothing imported");
    app.stop().await;
}

#[tokio::test]
async fn refresh_now_records_a_failing_source_and_the_dashboard_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(dir, |config| {
        // Nothing listens there: the fetch fails at once.
        config.catalog.gdmf_url = "https://127.0.0.1:9/v2/pmv".into();
        config.catalog.sofa_base_url = String::new();
        config.catalog.auto_refresh = false;
        config.catalog.fetch_timeout_seconds = 5;
    })
    .await;
    with_roles(&app).await;
    let manager = app.signed_in("max").await;

    // Without a CSRF token nothing runs.
    let resp = manager.post(app.url("/catalog/refresh")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(app.state.catalog.recent_refreshes(5).await.unwrap().is_empty());

    let resp = app.post_form(&manager, "/catalog/refresh", &[]).await;
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/catalog?refreshed=1"), "{location}");
    let (_, html) = page(&manager, &app, &location).await;
    let text = visible(&html);
    assert!(
        text.contains("Refresh finished: 0 document(s) updated, 1 source(s) failed"),
        "{text}"
    );
    assert!(text.contains("https://127.0.0.1:9/v2/pmv"), "{text}");
    assert!(
        html.contains("class=\"result-failed\""),
        "the source's last result is a failure"
    );

    let (_, dashboard) = page(&manager, &app, "/").await;
    let text = visible(&dashboard);
    assert!(
        text.contains("The catalog refresh from https://127.0.0.1:9/v2/pmv failed at"),
        "{text}"
    );
    assert!(text.contains("No Apple catalog is loaded"), "{text}");
    assert!(dashboard.contains("href=\"/catalog\""));
    app.stop().await;
}
