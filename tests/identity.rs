//! Device identity on MDM requests: Mdm-Signature (SHA-1 and SHA-256), TLS client
//! certificates, a trusted proxy's header; and every bad case refused.
use crate::common;

use std::path::Path;

use actix_web::{HttpResponse, web};
use base64::Engine as _;
use common::*;
use orchard::web::identity::SignedDeviceRequest;

const SITE: &str = "identity-test-challenge";
const BODY: &[u8] =
    b"<?xml version=\"1.0\"?><plist><dict><key>MessageType</key><string>Authenticate</string></dict></plist>";

async fn whoami(device: SignedDeviceRequest) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", device.identity.fingerprint, device.body.len()))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/test/whoami", web::put().to(whoami));
}

async fn app_with(tweak: impl FnOnce(&mut orchard::config::Config)) -> TestApp {
    spawn_app_with_routes(
        tempfile::tempdir().unwrap(),
        |c| {
            c.security.scep_challenge = orchard::config::Secret::new(SITE);
            tweak(c);
        },
        routes,
    )
    .await
}

async fn enrolled(app: &TestApp) -> EnrolledDevice {
    scep_enroll(app, SITE).await.1.expect("enrolled")
}

fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A detached signature made by OpenSSL, as a real device makes them.
fn openssl_signature(dir: &Path, cert_der: &[u8], key_pkcs8: &[u8], body: &[u8], md: &str) -> String {
    std::fs::write(dir.join("c.pem"), pem("CERTIFICATE", cert_der)).unwrap();
    std::fs::write(dir.join("k.pem"), pem("PRIVATE KEY", key_pkcs8)).unwrap();
    std::fs::write(dir.join("body"), body).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["cms", "-sign", "-binary", "-outform", "DER", "-md", md])
        .arg("-in")
        .arg(dir.join("body"))
        .arg("-signer")
        .arg(dir.join("c.pem"))
        .arg("-inkey")
        .arg(dir.join("k.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

async fn put(app: &TestApp, signature: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut req = app.client.put(app.url("/test/whoami")).body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header("Mdm-Signature", sig);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn mdm_signature_with_sha256_and_sha1_identifies_the_device() {
    let app = app_with(|_| {}).await;
    let device = enrolled(&app).await;
    let expected = fingerprint(&device.cert_der);

    let ours = orchard::pki::scep_client::mdm_signature(BODY, &device.cert, &device.key).unwrap();
    assert_eq!(
        put(&app, Some(&ours), BODY).await,
        (200, format!("{expected} {}", BODY.len()))
    );

    let dir = tempfile::tempdir().unwrap();
    for md in ["sha1", "sha256"] {
        let sig = openssl_signature(dir.path(), &device.cert_der, device.key.pkcs8_der(), BODY, md);
        assert_eq!(put(&app, Some(&sig), BODY).await.0, 200, "{md}");
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_signatures_are_refused_with_clear_statuses() {
    let app = app_with(|_| {}).await;
    let device = enrolled(&app).await;
    let good = orchard::pki::scep_client::mdm_signature(BODY, &device.cert, &device.key).unwrap();
    let der = base64::engine::general_purpose::STANDARD.decode(&good).unwrap();
    let truncated = base64::engine::general_purpose::STANDARD.encode(&der[..der.len() / 2]);

    let (status, text) = put(&app, None, BODY).await;
    assert_eq!(status, 401, "{text}");
    assert_eq!(put(&app, Some("this is not base64!"), BODY).await.0, 400);
    assert_eq!(put(&app, Some(&truncated), BODY).await.0, 400);
    let (status, text) = put(&app, Some(&good), b"<plist>another body</plist>").await;
    assert_eq!(status, 403);
    assert!(text.contains("does not match the request body"), "{text}");

    // A certificate from another CA, with a perfectly good signature.
    let dir = tempfile::tempdir().unwrap();
    let other =
        orchard::pki::Pki::load_or_create(dir.path(), &["localhost".into()], app.clock_now()).unwrap();
    let authority =
        orchard::pki::authority::Authority::new(&other.ca_cert_der, &other.ca_key.serialize_der()).unwrap();
    let stranger = authority
        .issue(
            device.cert.tbs_certificate.subject.clone(),
            device.key.public_key_info().unwrap(),
            orchard::pki::authority::LeafPurpose::DeviceIdentity,
            app.clock_now(),
            30,
        )
        .unwrap();
    let sig = orchard::pki::scep_client::mdm_signature(BODY, &stranger.cert, &device.key).unwrap();
    let (status, text) = put(&app, Some(&sig), BODY).await;
    assert_eq!(status, 403);
    assert!(text.contains("not issued by this appliance"), "{text}");

    // Past the certificate's end (virtual clock).
    app.clock.advance(chrono::Duration::days(400));
    let (status, text) = put(&app, Some(&good), BODY).await;
    assert_eq!(status, 403);
    assert!(text.contains("expired"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = app_with(|c| c.server.max_body_bytes = 1024).await;
    let device = enrolled(&app).await;
    let body = vec![b'x'; 4096];
    let sig = orchard::pki::scep_client::mdm_signature(&body, &device.cert, &device.key).unwrap();
    assert_eq!(put(&app, Some(&sig), &body).await.0, 413);
    app.stop().await;
}

#[tokio::test]
async fn a_tls_client_certificate_identifies_the_device() {
    let app = app_with(|_| {}).await;
    let device = enrolled(&app).await;
    let identity = format!(
        "{}{}",
        pem("PRIVATE KEY", device.key.pkcs8_der()),
        pem("CERTIFICATE", &device.cert_der)
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(app.state.pki.ca_cert_pem.as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = client
        .put(app.url("/test/whoami"))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .starts_with(&fingerprint(&device.cert_der))
    );
    // Browsers and other clients without a certificate still get in (to public pages).
    assert_eq!(
        app.client.get(app.url("/healthz")).send().await.unwrap().status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn a_proxy_header_counts_only_from_trusted_proxies() {
    let trusted = app_with(|c| {
        c.identity.proxy_cert_header = "X-Client-Cert".into();
        c.identity.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let device = enrolled(&trusted).await;
    let escaped: String = percent_encoding::utf8_percent_encode(
        &pem("CERTIFICATE", &device.cert_der),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    let send = |app: &TestApp| {
        app.client
            .put(app.url("/test/whoami"))
            .header("X-Client-Cert", escaped.clone())
            .body(BODY)
            .send()
    };
    let resp = send(&trusted).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .starts_with(&fingerprint(&device.cert_der))
    );
    trusted.stop().await;

    let untrusted = app_with(|c| {
        c.identity.proxy_cert_header = "X-Client-Cert".into();
        c.identity.trusted_proxies = vec!["10.9.8.7".into()];
    })
    .await;
    assert_eq!(send(&untrusted).await.unwrap().status(), 401);
    untrusted.stop().await;
}
