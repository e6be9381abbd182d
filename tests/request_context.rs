//! Request ids, error rendering and metrics, in-process over real TLS.

use crate::common;

use common::*;

#[tokio::test]
async fn every_response_carries_a_request_id_and_sane_incoming_ids_are_kept() {
    let app = spawn_app().await;
    let first = app.client.get(app.url("/healthz")).send().await.unwrap();
    let second = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id(&first).len(), 32);
    assert_ne!(id(&first), id(&second));

    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "proxy-7f3a:42")
        .send()
        .await
        .unwrap();
    assert_eq!(id(&kept), "proxy-7f3a:42");
    let hostile = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert_ne!(id(&hostile), "<script>alert(1)</script>");
    assert!(id(&hostile).chars().all(|c| c.is_ascii_hexdigit()));
    app.stop().await;
}

#[tokio::test]
async fn errors_show_the_request_id_as_text_or_json() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/no/such/page"))
        .header("X-Request-Id", "trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(resp.text().await.unwrap(), "not found\nrequest id: trace-1\n");

    let resp = app.client.get(app.url("/api/v1/nothing")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such API endpoint")
    );
    assert_eq!(body["request_id"], id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_not_raw_path() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    for n in 0..5 {
        let path = format!("/no-such-thing/secret-udid-{n}");
        app.client.get(app.url(&path)).send().await.unwrap();
    }
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(r#"orchard_http_requests_total{method="GET",route="/healthz",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"orchard_http_requests_total{method="GET",route="unmatched",status="404"} 5"#),
        "{text}"
    );
    assert!(
        !text.contains("secret-udid"),
        "raw paths leaked into labels:\n{text}"
    );
    assert!(
        text.contains(r#"orchard_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"orchard_http_request_duration_seconds_bucket{le="+Inf""#),
        "{text}"
    );
    assert!(text.contains("orchard_db_wait_seconds_total "), "{text}");
    assert!(text.contains("process_resident_memory_bytes "), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn metrics_need_the_bearer_token_once_one_is_configured() {
    let app = spawn_app_with(tempfile::tempdir().unwrap(), |c| {
        c.security.metrics_token = orchard::config::Secret::new("scrape-me-please");
    })
    .await;
    for (header, want) in [
        (None, 401),
        (Some("Bearer wrong"), 401),
        (Some("Basic c2NyYXBlLW1lLXBsZWFzZQ=="), 401),
        (Some("Bearer scrape-me-please"), 200),
    ] {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(value) = header {
            req = req.header("authorization", value);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), want, "{header:?}");
        let text = resp.text().await.unwrap();
        assert_eq!(
            text.contains("orchard_http_requests_total"),
            want == 200,
            "{header:?}"
        );
    }
    app.stop().await;
}
