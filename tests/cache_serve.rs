//! `/cache/<sha256>/<file>` over the appliance's real TLS listener: ranges, HEAD, ETag and
//! conditional requests, hostile addresses.

use orchard::cache::Digest;
use reqwest::StatusCode;

use crate::cache_support::{payload, sha256_hex, target};
use crate::common::{TestApp, spawn_app};

/// An app with one imported installer; returns it, the bytes and their digest.
async fn app_with_payload(len: usize) -> (TestApp, Vec<u8>, String) {
    let app = spawn_app().await;
    let data = payload(len);
    let file = app.dir.path().join("InstallAssistant.pkg");
    std::fs::write(&file, &data).unwrap();
    let index = &app.state.catalog.snapshot().index;
    let imported = app
        .state
        .cache
        .import_file(&file, index, Some(target()))
        .await
        .unwrap();
    assert_eq!(imported.payload.digest, sha256_hex(&data));
    let digest = imported.payload.digest;
    (app, data, digest)
}

fn url(app: &TestApp, digest: &str) -> String {
    app.url(&format!("/cache/{digest}/InstallAssistant.pkg"))
}

async fn get(app: &TestApp, digest: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(url(app, digest));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn whole_file_and_single_ranges_are_served_with_the_digest_as_etag() {
    let (app, data, digest) = app_with_payload(300_000).await;
    let len = data.len();
    let etag = format!("\"{digest}\"");

    let full = get(&app, &digest, &[]).await;
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["etag"], etag.as_str());
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.headers()["content-length"], len.to_string().as_str());
    assert_eq!(full.bytes().await.unwrap(), data);

    let cases: [(&str, usize, usize); 3] = [
        ("bytes=10-19", 10, 19),
        ("bytes=299000-", 299_000, len - 1),
        ("bytes=-50", len - 50, len - 1),
    ];
    for (range, first, last) in cases {
        let part = get(&app, &digest, &[("range", range)]).await;
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes {first}-{last}/{len}").as_str(),
            "{range}"
        );
        assert_eq!(part.headers()["etag"], etag.as_str());
        assert_eq!(part.bytes().await.unwrap(), &data[first..=last], "{range}");
    }

    let beyond = get(&app, &digest, &[("range", "bytes=300000-")]).await;
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
}

#[tokio::test]
async fn head_and_conditional_requests() {
    let (app, data, digest) = app_with_payload(50_000).await;
    let etag = format!("\"{digest}\"");

    let head = app.client.head(url(&app, &digest)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], data.len().to_string().as_str());
    assert_eq!(head.headers()["etag"], etag.as_str());
    assert!(head.bytes().await.unwrap().is_empty());

    let cached = get(&app, &digest, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    let other = get(&app, &digest, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(other.status(), StatusCode::OK);

    let same = get(&app, &digest, &[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!(same.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(same.bytes().await.unwrap(), &data[..10]);
    let stale = get(&app, &digest, &[("range", "bytes=0-9"), ("if-range", "\"old\"")]).await;
    assert_eq!(
        stale.status(),
        StatusCode::OK,
        "a stale If-Range gets the whole file"
    );
    assert_eq!(stale.bytes().await.unwrap(), data);

    let wrong_match = get(&app, &digest, &[("if-match", "\"old\"")]).await;
    assert_eq!(wrong_match.status(), StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn serving_records_the_time_for_eviction_order() {
    let (app, _data, digest) = app_with_payload(1000).await;
    let d = Digest::parse(&digest).unwrap();
    assert!(
        app.state
            .cache
            .payload(&d)
            .await
            .unwrap()
            .unwrap()
            .last_served_at
            .is_none()
    );
    assert_eq!(get(&app, &digest, &[]).await.status(), StatusCode::OK);
    assert!(
        app.state
            .cache
            .payload(&d)
            .await
            .unwrap()
            .unwrap()
            .last_served_at
            .is_some()
    );
}

#[tokio::test]
async fn hostile_or_unknown_addresses_get_client_errors() {
    let (app, _data, digest) = app_with_payload(1000).await;
    let unknown = "0".repeat(64);
    let cases = [
        (format!("/cache/{unknown}/InstallAssistant.pkg"), 404),
        (format!("/cache/{digest}/Other.pkg"), 404),
        (
            format!("/cache/{}/InstallAssistant.pkg", digest.to_uppercase()),
            400,
        ),
        ("/cache/not-a-digest/InstallAssistant.pkg".to_string(), 400),
        // The client's URL parser folds `%2e%2e` into `..`: any 4xx (here: no such route).
        (format!("/cache/{digest}/%2e%2e"), 0),
        (format!("/cache/{digest}/..%2fetc%2fpasswd"), 400),
        (format!("/cache/%2e%2e/{digest}"), 0),
        ("/cache/..%2f..%2fdata%2forchard.db/x".to_string(), 400),
        (format!("/cache/{digest}/a/b"), 404),
    ];
    for (path, want) in cases {
        let status = app.client.get(app.url(&path)).send().await.unwrap().status();
        if want == 0 {
            assert!(status.is_client_error(), "{path}: {status}");
        } else {
            assert_eq!(status.as_u16(), want, "{path}");
        }
    }
    let post = app.client.post(url(&app, &digest)).send().await.unwrap().status();
    assert!(post.is_client_error(), "{post}");
}

#[tokio::test]
async fn last_modified_conditionals_and_head_of_a_range() {
    let (app, data, digest) = app_with_payload(70_000).await;
    let full = get(&app, &digest, &[]).await;
    let last_modified = full.headers()["last-modified"].to_str().unwrap().to_string();
    assert_eq!(full.bytes().await.unwrap(), data);

    let unchanged = get(&app, &digest, &[("if-modified-since", &last_modified)]).await;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    let changed = get(&app, &digest, &[("if-modified-since", old)]).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let stale = get(&app, &digest, &[("if-unmodified-since", old)]).await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let fresh = get(&app, &digest, &[("if-unmodified-since", &last_modified)]).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    let tagged = get(
        &app,
        &digest,
        &[
            ("if-none-match", "\"other\""),
            ("if-modified-since", &last_modified),
        ],
    )
    .await;
    assert_eq!(tagged.status(), StatusCode::OK);

    let head = app
        .client
        .head(url(&app, &digest))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(head.headers()["content-length"], "100");
    assert_eq!(head.headers()["content-range"], "bytes 100-199/70000");
    assert!(head.bytes().await.unwrap().is_empty());
}
