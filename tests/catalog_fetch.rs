//! The catalog refresh against a local HTTPS server whose certificate comes from a test CA
//! standing in for Apple's root: success, 304, 500, timeout, wrong CA, truncated body. After each
//! failure the last good catalog is still served and the alert is raised.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use common::*;
use orchard::catalog::DocumentKind;
use orchard::catalog::fetch::{FeedFetcher, root_store_from_pem};
use orchard::catalog::service::Source;
use orchard::pki::Pki;

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const GDMF_OLD: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-2024-07-01-sofa-cache-wrapper.json");

#[derive(Clone)]
enum Mode {
    Serve(&'static [u8], &'static str),
    Status(u16),
    Hang,
    Truncated(&'static [u8]),
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    seen_if_none_match: Arc<Mutex<Vec<String>>>,
}

async fn pmv(fake: web::Data<Fake>, req: HttpRequest) -> HttpResponse {
    let inm = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(v) = &inm {
        fake.seen_if_none_match.lock().unwrap().push(v.clone());
    }
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        Mode::Serve(_, etag) if inm.as_deref() == Some(etag) => HttpResponse::NotModified().finish(),
        Mode::Serve(body, etag) => HttpResponse::Ok()
            .insert_header(("ETag", etag))
            .content_type("application/json")
            .body(body),
        Mode::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).finish()
        }
        Mode::Hang => {
            // The peer never answers in time; the fetcher's own timeout must fire.
            tokio::time::sleep(Duration::from_secs(30)).await;
            HttpResponse::Ok().finish()
        }
        Mode::Truncated(body) => {
            let half = web::Bytes::from_static(&body[..body.len() / 2]);
            let stream = futures_util::stream::iter([Ok::<_, actix_web::Error>(half)]);
            HttpResponse::Ok()
                .no_chunking(body.len() as u64)
                .content_type("application/json")
                .streaming(stream)
        }
    }
}

/// Starts the fake catalog server with a TLS certificate from a fresh CA; returns its base URL,
/// the CA PEM and the control handle.
fn start_fake(dir: &std::path::Path) -> (String, String, Fake) {
    let pki = Pki::load_or_create(dir, &["localhost".to_string()], chrono::Utc::now()).unwrap();
    let tls = pki.rustls_server_config().unwrap();
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Status(404))),
        seen_if_none_match: Arc::new(Mutex::new(Vec::new())),
    };
    let data = web::Data::new(fake.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v2/pmv", web::get().to(pmv))
    })
    .workers(1)
    .listen_rustls_0_23(listener, tls)
    .unwrap()
    .run();
    tokio::spawn(server);
    (
        format!("https://localhost:{port}/v2/pmv"),
        pki.ca_cert_pem.clone(),
        fake,
    )
}

fn source(url: &str, ca_pem: &str) -> Source {
    let roots = root_store_from_pem(ca_pem.as_bytes()).unwrap();
    Source {
        url: url.to_string(),
        kind: DocumentKind::Gdmf,
        fetcher: FeedFetcher::new(roots, Duration::from_millis(700), 32 * 1024 * 1024).unwrap(),
    }
}

fn gdmf_sha(app: &TestApp) -> Option<String> {
    app.state
        .catalog
        .snapshot()
        .documents
        .get(&DocumentKind::Gdmf)
        .map(|d| d.sha256.clone())
}

/// (name, arrange the fake, source to fetch, expected text in the error)
type Failure = (&'static str, Box<dyn Fn()>, Source, &'static str);

#[tokio::test]
async fn failures_keep_the_last_good_catalog_and_raise_the_alert() {
    let app = spawn_app().await;
    let catalog = app.state.catalog.clone();
    let fake_dir = tempfile::tempdir().unwrap();
    let (url, ca_pem, fake) = start_fake(fake_dir.path());
    let src = source(&url, &ca_pem);

    // Success: the catalog is loaded, served by the mirror, and no alert.
    *fake.mode.lock().unwrap() = Mode::Serve(GDMF, "\"v1\"");
    let out = catalog.refresh_from(std::slice::from_ref(&src)).await.unwrap();
    assert_eq!(out[0].result, "updated", "{out:?}");
    assert!(!catalog.health().alert());
    assert!(catalog.health().has_catalog);
    let good = gdmf_sha(&app).unwrap();
    let mirrored = app
        .client
        .get(app.url("/feeds/gdmf/v2/pmv"))
        .send()
        .await
        .unwrap();
    assert_eq!(mirrored.status(), 200);
    assert_eq!(mirrored.bytes().await.unwrap().as_ref(), GDMF);

    // 304: the stored ETag was sent back, nothing changes.
    let out = catalog.refresh_from(std::slice::from_ref(&src)).await.unwrap();
    assert_eq!(out[0].result, "not-modified", "{out:?}");
    assert_eq!(fake.seen_if_none_match.lock().unwrap().as_slice(), ["\"v1\""]);
    assert_eq!(gdmf_sha(&app).as_deref(), Some(good.as_str()));

    let wrong_dir = tempfile::tempdir().unwrap();
    let (wrong_url, _other_ca, wrong_fake) = start_fake(wrong_dir.path());
    *wrong_fake.mode.lock().unwrap() = Mode::Serve(GDMF_OLD, "\"evil\"");

    let failures: Vec<Failure> = vec![
        (
            "500",
            Box::new({
                let f = fake.clone();
                move || *f.mode.lock().unwrap() = Mode::Status(500)
            }),
            src.clone(),
            "HTTP 500",
        ),
        (
            "timeout",
            Box::new({
                let f = fake.clone();
                move || *f.mode.lock().unwrap() = Mode::Hang
            }),
            src.clone(),
            "timed out",
        ),
        (
            "truncated",
            Box::new({
                let f = fake.clone();
                move || *f.mode.lock().unwrap() = Mode::Truncated(GDMF_OLD)
            }),
            src.clone(),
            "cut short",
        ),
        (
            "wrong CA",
            Box::new(|| {}),
            source(&wrong_url, &ca_pem),
            "certificate",
        ),
        (
            "not JSON",
            Box::new({
                let f = fake.clone();
                move || *f.mode.lock().unwrap() = Mode::Serve(b"<html>maintenance</html>", "\"v3\"")
            }),
            src.clone(),
            "invalid JSON",
        ),
    ];
    for (name, arrange, source, expected) in failures {
        arrange();
        let out = catalog.refresh_from(std::slice::from_ref(&source)).await.unwrap();
        assert_eq!(out[0].result, "failed", "{name}: {out:?}");
        let error = out[0].error.clone().unwrap_or_default();
        assert!(error.contains(expected), "{name}: {error}");
        assert_eq!(
            gdmf_sha(&app).as_deref(),
            Some(good.as_str()),
            "{name}: last good catalog replaced"
        );
        let health = catalog.health();
        assert!(health.alert(), "{name}: no alert");
        assert!(health.has_catalog, "{name}");
        assert!(
            health.prometheus().contains("orchard_catalog_refresh_failing 1"),
            "{name}"
        );
        let served = app
            .client
            .get(app.url("/feeds/gdmf/v2/pmv"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            served.bytes().await.unwrap().as_ref(),
            GDMF,
            "{name}: mirror changed"
        );
    }
    assert!(
        wrong_fake.seen_if_none_match.lock().unwrap().is_empty(),
        "no request got past TLS"
    );

    // The failures are in the history and survive a restart of the service.
    let history = catalog.recent_refreshes(10).await.unwrap();
    assert_eq!(history.iter().filter(|r| r.result == "failed").count(), 5);
    catalog.reload().unwrap();
    assert_eq!(gdmf_sha(&app).as_deref(), Some(good.as_str()));

    // Recovery clears the alert.
    *fake.mode.lock().unwrap() = Mode::Serve(GDMF_OLD, "\"v4\"");
    let out = catalog.refresh_from(std::slice::from_ref(&src)).await.unwrap();
    assert_eq!(out[0].result, "updated", "{out:?}");
    assert!(!catalog.health().alert());
    assert_ne!(gdmf_sha(&app).as_deref(), Some(good.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn the_production_gdmf_source_trusts_only_apples_root() {
    let app = spawn_app().await;
    let sources = app.state.catalog.sources().unwrap();
    assert_eq!(sources[0].url, "https://gdmf.apple.com/v2/pmv");
    // A server with a certificate from another CA (here: the appliance's own) is refused by the
    // gdmf fetcher even though the URL is reachable.
    let out = app
        .state
        .catalog
        .refresh_from(&[Source {
            url: app.url("/feeds/gdmf/v2/pmv"),
            ..sources[0].clone()
        }])
        .await
        .unwrap();
    assert_eq!(out[0].result, "failed");
    assert!(
        out[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("certificate"),
        "{out:?}"
    );
    app.stop().await;
}
