//! SCEP against an independent client (Debian's `scepclient`, micromdm/scep) over real TLS,
//! and against the appliance's own client helpers.
use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use orchard::store::enrollment as rows;

const SITE_CHALLENGE: &str = "site-secret-for-tests";

async fn app() -> TestApp {
    spawn_app_with(tempfile::tempdir().unwrap(), |c| {
        c.security.scep_challenge = orchard::config::Secret::new(SITE_CHALLENGE);
    })
    .await
}

fn issued(app: &TestApp) -> Vec<rows::IssuedRow> {
    app.state
        .store
        .read_blocking(|c| rows::list_issued(c, 100))
        .unwrap()
}

/// Runs scepclient (it trusts the appliance CA through SSL_CERT_FILE, as Go's TLS does).
async fn scepclient(app: &TestApp, dir: &Path, args: &[&str]) -> Output {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &app.state.pki.ca_cert_pem).unwrap();
    let mut cmd = std::process::Command::new("scepclient");
    cmd.env("SSL_CERT_FILE", &ca)
        .arg("-server-url")
        .arg(app.url("/scep"))
        .arg("-private-key")
        .arg(dir.join("key.pem"))
        .args(args);
    tokio::task::spawn_blocking(move || {
        cmd.output()
            .expect("scepclient is installed (tests/run.sh installs it)")
    })
    .await
    .unwrap()
}

fn openssl_verify(ca: &Path, cert: &Path) -> Output {
    std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .arg(cert)
        .output()
        .unwrap()
}

fn client_cert(dir: &Path) -> PathBuf {
    dir.join("client.pem")
}

#[tokio::test]
async fn scepclient_enrolls_then_renews_and_the_certificates_chain_to_the_ca() {
    let app = app().await;
    let dir = tempfile::tempdir().unwrap();
    let out = scepclient(
        &app,
        dir.path(),
        &["-challenge", SITE_CHALLENGE, "-cn", "device-one"],
    )
    .await;
    assert!(
        out.status.success(),
        "scepclient failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cert_path = client_cert(dir.path());
    let verify = openssl_verify(&dir.path().join("ca.pem"), &cert_path);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    let pem = std::fs::read(&cert_path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    assert!(
        cert.subject().to_string().contains("device-one"),
        "{}",
        cert.subject()
    );
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth);
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment());
    let days = (cert.validity().not_after.timestamp() - app.clock_now().timestamp()) / 86_400;
    assert!((364..=365).contains(&days), "validity {days} days");

    let first = issued(&app);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].request_type, "PKCSReq");
    assert_eq!(first[0].serial, hex::encode(cert.raw_serial()));

    // With a certificate already there, scepclient sends a RenewalReq signed by it (no challenge).
    let out = scepclient(&app, dir.path(), &["-certificate", cert_path.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "renewal failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let all = issued(&app);
    assert_eq!(all.len(), 2);
    let renewal = all.iter().find(|r| r.request_type == "RenewalReq").unwrap();
    assert_eq!(
        renewal.renewed_from.as_deref(),
        Some(first[0].fingerprint.as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_challenge_gets_a_failure_and_no_certificate() {
    let app = app().await;
    let dir = tempfile::tempdir().unwrap();
    let out = scepclient(&app, dir.path(), &["-challenge", "not-the-secret"]).await;
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("failInfo"), "{said}");
    assert!(!client_cert(dir.path()).exists());
    assert!(issued(&app).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn caps_and_ca_certificate() {
    let app = app().await;
    let caps = app
        .client
        .get(app.url("/scep?operation=GetCACaps"))
        .send()
        .await
        .unwrap();
    assert_eq!(caps.status(), 200);
    let caps = caps.text().await.unwrap();
    for cap in ["AES", "SHA-256", "POSTPKIOperation", "Renewal", "SCEPStandard"] {
        assert!(caps.lines().any(|l| l == cap), "{cap} missing from {caps}");
    }
    let cert = app
        .client
        .get(app.url("/scep?operation=GetCACert"))
        .send()
        .await
        .unwrap();
    assert_eq!(cert.headers()["content-type"], "application/x-x509-ca-cert");
    assert_eq!(cert.bytes().await.unwrap().to_vec(), app.state.pki.ca_cert_der);
    let pem = app.page(&app.client, "/ca.pem").await;
    assert_eq!(pem, app.state.pki.ca_cert_pem);
    app.stop().await;
}

#[tokio::test]
async fn garbage_is_a_400_and_issues_nothing() {
    let app = app().await;
    let post = |body: Vec<u8>| {
        app.client
            .post(app.url("/scep?operation=PKIOperation"))
            .body(body)
            .send()
    };
    assert_eq!(post(b"garbage".to_vec()).await.unwrap().status(), 400);
    assert_eq!(post(Vec::new()).await.unwrap().status(), 400);
    // A truncated but well-started DER message.
    assert_eq!(
        post(vec![0x30, 0x82, 0x10, 0x00, 0x06]).await.unwrap().status(),
        400
    );
    assert_eq!(post(vec![0x30; 200_000]).await.unwrap().status(), 413);
    for query in [
        "operation=PKIOperation&message=%%%",
        "operation=PKIOperation&message=Zm9v",
        "operation=PKIOperation",
        "operation=Nope",
        "",
    ] {
        let resp = app
            .client
            .get(app.url(&format!("/scep?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{query}");
    }
    assert!(issued(&app).is_empty());
    app.stop().await;
}
