//! The enrollment profile, tokens and the enrollment page.
use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use orchard::enrollment::NewTokenRequest;
use orchard::pki::scep::FailInfo;
use orchard::pki::scep_client::CertRepOutcome;

const SITE: &str = "site-challenge-for-profile-tests";
const TOPIC: &str = "com.apple.mgmt.External.0f1e2d3c-aaaa-bbbb-cccc-111122223333";

async fn app(require_token: bool) -> TestApp {
    spawn_app_with(tempfile::tempdir().unwrap(), |c| {
        c.security.scep_challenge = orchard::config::Secret::new(SITE);
        c.enrollment.require_token = require_token;
    })
    .await
}

/// Verifies the signed profile with OpenSSL against the appliance CA and returns its plist.
fn openssl_verify_profile(dir: &Path, ca_pem: &str, signed: &[u8]) -> plist::Dictionary {
    let (input, ca, out) = (
        dir.join("p.mobileconfig"),
        dir.join("ca.pem"),
        dir.join("p.plist"),
    );
    std::fs::write(&input, signed).unwrap();
    std::fs::write(&ca, ca_pem).unwrap();
    let result = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-in"])
        .arg(&input)
        .arg("-CAfile")
        .arg(&ca)
        .arg("-out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    plist::from_file::<_, plist::Value>(&out)
        .unwrap()
        .into_dictionary()
        .unwrap()
}

/// The keys Apple's schema declares for a payload type (top level of the payload).
fn schema_keys(file: &str, nested: Option<&str>) -> BTreeSet<String> {
    let path = format!("/work/shared/reference/apple-device-management/mdm/profiles/{file}");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut keys = yaml["payloadkeys"].as_sequence().unwrap().clone();
    if let Some(parent) = nested {
        let entry = keys.iter().find(|k| k["key"].as_str() == Some(parent)).unwrap();
        keys = entry["subkeys"].as_sequence().unwrap().clone();
    }
    let mut set: BTreeSet<String> = keys
        .iter()
        .filter_map(|k| k["key"].as_str().map(String::from))
        .collect();
    if nested.is_none() {
        let common = "/work/shared/reference/apple-device-management/mdm/profiles/CommonPayloadKeys.yaml";
        let common: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(common).unwrap()).unwrap();
        set.extend(
            common["payloadkeys"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|k| k["key"].as_str().map(String::from)),
        );
    }
    set
}

fn assert_keys_declared(dict: &plist::Dictionary, declared: &BTreeSet<String>, what: &str) {
    for key in dict.keys() {
        assert!(
            declared.contains(key),
            "{what}: key {key:?} is not in Apple's schema"
        );
    }
}

#[tokio::test]
async fn profile_needs_the_push_topic_first() {
    let app = app(false).await;
    let resp = app.client.get(app.url("/enroll/profile")).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    assert!(resp.text().await.unwrap().contains("import the push certificate"));
    app.stop().await;
}

#[tokio::test]
async fn signed_profile_verifies_against_the_ca_and_has_apples_keys() {
    let app = app(false).await;
    set_topic(&app, TOPIC);
    let resp = app.client.get(app.url("/enroll/profile")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-apple-aspen-config");
    let signed = resp.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = openssl_verify_profile(dir.path(), &app.state.pki.ca_cert_pem, &signed);

    assert_keys_declared(&profile, &schema_keys("TopLevel.yaml", None), "top level");
    assert_eq!(profile["PayloadType"].as_string(), Some("Configuration"));
    let payloads: Vec<&plist::Dictionary> = profile["PayloadContent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_dictionary().unwrap())
        .collect();
    let by_type = |t: &str| {
        *payloads
            .iter()
            .find(|p| p["PayloadType"].as_string() == Some(t))
            .unwrap()
    };
    let (root, scep, mdm) = (
        by_type("com.apple.security.root"),
        by_type("com.apple.security.scep"),
        by_type("com.apple.mdm"),
    );
    assert_keys_declared(root, &schema_keys("com.apple.security.root.yaml", None), "root");
    assert_keys_declared(scep, &schema_keys("com.apple.security.scep.yaml", None), "scep");
    assert_keys_declared(mdm, &schema_keys("com.apple.mdm.yaml", None), "mdm");
    let scep_content = scep["PayloadContent"].as_dictionary().unwrap();
    assert_keys_declared(
        scep_content,
        &schema_keys("com.apple.security.scep.yaml", Some("PayloadContent")),
        "scep content",
    );

    assert_eq!(
        root["PayloadContent"].as_data(),
        Some(app.state.pki.ca_cert_der.as_slice())
    );
    assert_eq!(scep_content["URL"].as_string(), Some(app.url("/scep").as_str()));
    assert_eq!(scep_content["Challenge"].as_string(), Some(SITE));
    assert_eq!(scep_content["Keysize"].as_signed_integer(), Some(2048));
    assert_eq!(scep_content["Key Usage"].as_signed_integer(), Some(5));
    assert_eq!(
        mdm["ServerURL"].as_string(),
        Some(app.url("/mdm/connect").as_str())
    );
    assert_eq!(
        mdm["CheckInURL"].as_string(),
        Some(app.url("/mdm/checkin").as_str())
    );
    assert_eq!(mdm["Topic"].as_string(), Some(TOPIC));
    assert_eq!(mdm["IdentityCertificateUUID"], scep["PayloadUUID"]);
    assert_eq!(mdm["SignMessage"].as_boolean(), Some(true));
    assert_eq!(mdm["CheckOutWhenRemoved"].as_boolean(), Some(true));
    assert_eq!(mdm["AccessRights"].as_signed_integer(), Some(8191));
    let caps: Vec<&str> = mdm["ServerCapabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_string())
        .collect();
    assert!(
        caps.contains(&"com.apple.mdm.per-user-connections")
            && caps.contains(&"com.apple.mdm.bootstraptoken")
    );
    app.stop().await;
}

fn profile_challenge(app: &TestApp, signed: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let profile = openssl_verify_profile(dir.path(), &app.state.pki.ca_cert_pem, signed);
    let payloads = profile["PayloadContent"].as_array().unwrap();
    payloads
        .iter()
        .filter_map(|p| p.as_dictionary())
        .find(|p| p["PayloadType"].as_string() == Some("com.apple.security.scep"))
        .and_then(|p| {
            p["PayloadContent"].as_dictionary()?["Challenge"]
                .as_string()
                .map(String::from)
        })
        .unwrap()
}

#[tokio::test]
async fn token_bound_profiles_carry_one_time_challenges_and_tokens_run_out() {
    let app = app(true).await;
    set_topic(&app, TOPIC);
    let get = |q: String| app.client.get(app.url(&format!("/enroll/profile{q}"))).send();

    let resp = get(String::new()).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("token is required"));
    let resp = get("?token=nonsense".into()).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("not known"));

    let (_, token) = app
        .state
        .enrollment
        .tokens()
        .create_token(NewTokenRequest {
            label: "two iPads".into(),
            valid_for: None,
            max_uses: Some(1),
        })
        .unwrap();
    let first = get(format!("?token={token}")).await.unwrap();
    assert_eq!(first.status(), 200);
    let challenge = profile_challenge(&app, &first.bytes().await.unwrap());
    assert_ne!(challenge, SITE);
    // A second profile while the token still has a use left: another challenge.
    let second = get(format!("?token={token}")).await.unwrap();
    let spare = profile_challenge(&app, &second.bytes().await.unwrap());
    assert_ne!(spare, challenge);

    let (outcome, device) = scep_enroll(&app, &challenge).await;
    assert!(matches!(outcome, CertRepOutcome::Issued(_)) && device.is_some());
    // The same challenge again, and the spare one of a used-up token: refused, nothing issued.
    assert_eq!(
        scep_enroll(&app, &challenge).await.0,
        CertRepOutcome::Failed(Some(FailInfo::BadRequest))
    );
    assert_eq!(
        scep_enroll(&app, &spare).await.0,
        CertRepOutcome::Failed(Some(FailInfo::BadRequest))
    );
    let tokens = app.state.enrollment.tokens().list_tokens().unwrap();
    assert_eq!(tokens[0].uses, 1);
    let issued = app
        .state
        .store
        .read_blocking(|c| orchard::store::enrollment::list_issued(c, 10))
        .unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].token_id, Some(tokens[0].id));

    let resp = get(format!("?token={token}")).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("maximum number of times"));
    app.stop().await;
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused_with_the_reason() {
    let app = app(true).await;
    set_topic(&app, TOPIC);
    let (_, week) = app
        .state
        .enrollment
        .tokens()
        .create_token(NewTokenRequest {
            label: "week".into(),
            valid_for: Some(chrono::Duration::days(7)),
            max_uses: None,
        })
        .unwrap();
    let (revoked, gone) = app
        .state
        .enrollment
        .tokens()
        .create_token(NewTokenRequest {
            label: "gone".into(),
            valid_for: None,
            max_uses: None,
        })
        .unwrap();
    let ok = app
        .client
        .get(app.url(&format!("/enroll/profile?token={week}")))
        .send()
        .await
        .unwrap();
    let challenge = profile_challenge(&app, &ok.bytes().await.unwrap());
    app.state.enrollment.tokens().revoke_token(revoked.id).unwrap();
    let resp = app
        .client
        .get(app.url(&format!("/enroll/profile?token={gone}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("revoked"));

    app.clock.advance(chrono::Duration::days(8));
    let resp = app
        .client
        .get(app.url(&format!("/enroll/profile?token={week}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("expired"));
    // The challenge handed out before expiry dies with the token.
    assert_eq!(
        scep_enroll(&app, &challenge).await.0,
        CertRepOutcome::Failed(Some(FailInfo::BadRequest))
    );
    app.stop().await;
}

#[tokio::test]
async fn enroll_page_links_the_profile_with_a_qr_code() {
    let app = app(false).await;
    let resp = app
        .client
        .get(app.url("/enroll?token=abc%22%3Cx"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    let expected_link = app.url("/enroll/profile?token=abc%22%3Cx");
    assert!(html.contains(&format!("href=\"{expected_link}\"")), "{html}");
    assert!(html.contains("<svg"), "no inline QR code");
    assert!(
        !html.contains("\"<x"),
        "query text must not reach the page unescaped"
    );
    assert!(html.contains(&app.state.pki.ca_fingerprint()));
    app.stop().await;
}

#[test]
fn cli_creates_lists_and_revokes_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_orchard"))
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--set")
            .arg("server.public_url=\"https://mdm.example.org\"")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let created = run(&[
        "enrollment",
        "token",
        "create",
        "--label",
        "Library iPads",
        "--max-uses",
        "30",
        "--expires-in-days",
        "14",
    ]);
    assert!(
        created.contains("https://mdm.example.org/enroll?token="),
        "{created}"
    );
    let listed = run(&["enrollment", "token", "list"]);
    assert!(
        listed.contains("Library iPads") && listed.contains("0/30") && listed.contains("active"),
        "{listed}"
    );
    let revoked = run(&["enrollment", "token", "revoke", "1"]);
    assert!(revoked.contains("revoked"), "{revoked}");
    let listed = run(&["enrollment", "token", "list"]);
    assert!(
        listed.contains("unusable: the token has been revoked"),
        "{listed}"
    );
}
