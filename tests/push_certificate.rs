//! Importing the MDM push certificate: PKCS#12 made by OpenSSL (legacy and modern) and PEM,
//! refusals with their reasons, the topic guard, expiry, and the CLI.

use crate::push_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use orchard::config::Secret;
use orchard::push::import::{self, ImportSource};
use orchard::push::{ExpiryLevel, PushError};
use orchard::sim::push_certificates::{PemPair, TestCa, self_signed_push_certificate};
use orchard::store::{Store, settings};
use push_support::TOPIC;

struct Site {
    dir: tempfile::TempDir,
    store: Store,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("orchard.db"), "now").unwrap();
        Site { dir, store }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn import(&self, source: &ImportSource, force: bool) -> Result<import::ImportReport, PushError> {
        import::import_blocking(&self.store, self.data(), source, Utc::now(), force)
    }

    fn topic_setting(&self) -> Option<String> {
        self.store
            .read_blocking(|c| settings::get(c, import::SETTING_TOPIC))
            .unwrap()
    }

    fn assert_nothing_stored(&self) {
        assert_eq!(self.topic_setting(), None);
        assert_eq!(import::current_blocking(&self.store).unwrap(), None);
        assert!(!self.data().join("pki").join(import::KEY_FILE).exists());
        assert!(import::load(self.data()).unwrap().is_none());
    }
}

fn in_a_year() -> DateTime<Utc> {
    Utc::now() + Duration::days(365)
}

fn pem(pair: &PemPair) -> ImportSource {
    ImportSource::Pem {
        certificate: pair.certificate.clone(),
        key: pair.key.clone(),
    }
}

/// Builds a .p12 with the openssl command line. `flags` choose the algorithms.
fn openssl_p12(dir: &Path, name: &str, pair: &PemPair, password: &str, flags: &[&str]) -> PathBuf {
    let (cert, key, pw, out) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pw")),
        dir.join(format!("{name}.p12")),
    );
    std::fs::write(&cert, &pair.certificate).unwrap();
    std::fs::write(&key, &pair.key).unwrap();
    std::fs::write(&pw, password).unwrap();
    let status = Command::new("openssl")
        .args(["pkcs12", "-export", "-name", "MDM push"])
        .args(flags)
        .arg("-in")
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .arg("-passout")
        .arg(format!("file:{}", pw.display()))
        .arg("-out")
        .arg(&out)
        .status()
        .expect("openssl is installed (tests/run.sh installs it)");
    assert!(status.success(), "openssl pkcs12 -export {flags:?}");
    out
}

/// What `openssl pkcs12 -info` says about a file's algorithms.
fn openssl_info(path: &Path, password: &str) -> String {
    let out = Command::new("openssl")
        .args(["pkcs12", "-info", "-noout", "-legacy", "-passin"])
        .arg(format!("pass:{password}"))
        .arg("-in")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn legacy_keychain_style_and_modern_pkcs12_files_are_imported() {
    let ca = TestCa::new("Test Apple CA").unwrap();
    let pair = ca.issue_push_certificate(TOPIC, in_a_year()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let flavours: [(&str, &[&str], &str); 3] = [
        // What macOS Keychain exports: RC2-40 certificate bag, 3DES key bag, SHA-1 MAC.
        ("legacy", &["-legacy"], "pbeWithSHA1And40BitRC2-CBC"),
        (
            "3des",
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
            "pbeWithSHA1And3-KeyTripleDES-CBC",
        ),
        // OpenSSL 3's default: PBES2 with AES-256-CBC, SHA-256 MAC.
        ("aes", &[], "AES-256-CBC"),
    ];
    for (name, flags, algorithm) in flavours {
        let p12 = openssl_p12(work.path(), name, &pair, "s3cret pass", flags);
        let info = openssl_info(&p12, "s3cret pass");
        assert!(info.contains(algorithm), "{name}: {info}");

        let site = Site::new();
        let source = ImportSource::Pkcs12 {
            data: std::fs::read(&p12).unwrap(),
            password: Secret::new("s3cret pass"),
        };
        let report = site
            .import(&source, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.installed.topic, TOPIC, "{name}");
        assert_eq!(report.expiry.level, ExpiryLevel::Ok);
        assert_eq!(
            site.topic_setting().as_deref(),
            Some(TOPIC),
            "{name}: apns.topic for the profile"
        );
        let key_mode = std::fs::metadata(site.data().join("pki").join(import::KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(key_mode & 0o777, 0o600, "{name}");
        let loaded = import::load(site.data()).unwrap().expect("stored");
        assert_eq!(loaded.info, report.installed);
        assert_eq!(
            import::current_blocking(&site.store).unwrap(),
            Some(report.installed)
        );
    }
}

#[test]
fn a_pem_pair_is_imported() {
    let ca = TestCa::new("Test Apple CA").unwrap();
    let pair = ca.issue_push_certificate(TOPIC, in_a_year()).unwrap();
    let site = Site::new();
    let report = site.import(&pem(&pair), false).unwrap();
    assert_eq!(report.installed.topic, TOPIC);
    assert!(report.replaced.is_none());
    assert_eq!(site.topic_setting().as_deref(), Some(TOPIC));
}

#[test]
fn bad_imports_are_refused_with_the_reason_and_store_nothing() {
    let ca = TestCa::new("Test Apple CA").unwrap();
    let pair = ca.issue_push_certificate(TOPIC, in_a_year()).unwrap();
    let other = ca.issue_push_certificate(TOPIC, in_a_year()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let p12 = openssl_p12(work.path(), "legacy", &pair, "right", &["-legacy"]);
    let app_cert = self_signed_push_certificate("com.example.someapp", in_a_year()).unwrap();
    let expired = ca
        .issue_push_certificate(TOPIC, Utc::now() - Duration::days(1))
        .unwrap();

    let cases: Vec<(&str, ImportSource, &str)> = vec![
        (
            "wrong password",
            ImportSource::Pkcs12 {
                data: std::fs::read(&p12).unwrap(),
                password: Secret::new("wrong"),
            },
            "password is wrong",
        ),
        (
            "not a p12",
            ImportSource::Pkcs12 {
                data: b"hello".to_vec(),
                password: Secret::new("x"),
            },
            "not a readable PKCS#12",
        ),
        (
            "mismatched key",
            ImportSource::Pem {
                certificate: pair.certificate.clone(),
                key: other.key.clone(),
            },
            "does not belong to the certificate",
        ),
        ("app topic", pem(&app_cert), "is not an MDM topic"),
        (
            "oversized upload",
            ImportSource::Pkcs12 {
                data: vec![0x30; 1024 * 1024],
                password: Secret::new("x"),
            },
            "a few kilobytes",
        ),
        (
            "no certificate in the PEM",
            ImportSource::Pem {
                certificate: "hello".into(),
                key: pair.key.clone(),
            },
            "no certificate",
        ),
        ("expired", pem(&expired), "expired on"),
        (
            "garbage key",
            ImportSource::Pem {
                certificate: pair.certificate.clone(),
                key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
            },
            "private key",
        ),
        (
            "encrypted key",
            ImportSource::Pem {
                certificate: pair.certificate.clone(),
                key: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
                    .into(),
            },
            "encrypted",
        ),
    ];
    for (name, source, reason) in cases {
        let site = Site::new();
        let err = site
            .import(&source, false)
            .err()
            .unwrap_or_else(|| panic!("{name} was accepted"));
        assert!(err.to_string().contains(reason), "{name}: {err}");
        site.assert_nothing_stored();
    }
}

#[test]
fn another_topic_is_refused_unless_forced_and_a_renewal_is_accepted() {
    let ca = TestCa::new("Test Apple CA").unwrap();
    let site = Site::new();
    let first = ca
        .issue_push_certificate(TOPIC, Utc::now() + Duration::days(10))
        .unwrap();
    site.import(&pem(&first), false).unwrap();

    // The yearly renewal keeps the topic: accepted, and it says what it replaced.
    let renewal = ca.issue_push_certificate(TOPIC, in_a_year()).unwrap();
    let report = site.import(&pem(&renewal), false).unwrap();
    assert_eq!(report.replaced.map(|r| r.topic).as_deref(), Some(TOPIC));

    let other_topic = "com.apple.mgmt.External.00000000-0000-0000-0000-000000000000";
    let other = ca.issue_push_certificate(other_topic, in_a_year()).unwrap();
    let err = site.import(&pem(&other), false).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PushError::TopicChanged { .. }), "{text}");
    assert!(text.contains("orphan every enrolled device"), "{text}");
    assert!(text.contains(TOPIC) && text.contains(other_topic), "{text}");
    assert_eq!(site.topic_setting().as_deref(), Some(TOPIC), "unchanged");
    assert_eq!(import::load(site.data()).unwrap().unwrap().info.topic, TOPIC);

    site.import(&pem(&other), true).unwrap();
    assert_eq!(site.topic_setting().as_deref(), Some(other_topic));
}

#[tokio::test]
async fn the_daily_check_reports_the_expiry_level_as_time_passes() {
    let ca = TestCa::new("Test Apple CA").unwrap();
    let site = Site::new();
    let not_after = Utc::now() + Duration::days(40);
    let pair = ca.issue_push_certificate(TOPIC, not_after).unwrap();
    site.import(&pem(&pair), false).unwrap();
    let now = Utc::now();
    let level = |status: Option<orchard::push::ExpiryStatus>| status.unwrap().level;
    assert_eq!(
        level(import::daily_expiry_check(&site.store, now).await.unwrap()),
        ExpiryLevel::Ok
    );
    let soon = now + Duration::days(20);
    assert_eq!(
        level(import::daily_expiry_check(&site.store, soon).await.unwrap()),
        ExpiryLevel::Within30Days
    );
    let later = now + Duration::days(35);
    assert_eq!(
        level(import::daily_expiry_check(&site.store, later).await.unwrap()),
        ExpiryLevel::Within7Days
    );
    let past = now + Duration::days(41);
    let status = import::daily_expiry_check(&site.store, past)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.level, ExpiryLevel::Expired);
    let mut metrics = String::new();
    orchard::push::expiry::render_metrics(Some(&status), &mut metrics);
    assert!(
        metrics.contains("orchard_apns_certificate_expiry_level 4"),
        "{metrics}"
    );
    assert!(
        import::daily_expiry_check(&Site::new().store, now)
            .await
            .unwrap()
            .is_none()
    );
}

fn orchard(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchard"));
    cmd.arg("--data-dir").arg(data).env_remove("ORCHARD_CONFIG");
    cmd
}

#[test]
fn the_cli_imports_a_p12_and_shows_it() {
    let ca = TestCa::new("Test Apple CA").unwrap();
    let pair = ca.issue_push_certificate(TOPIC, in_a_year()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let p12 = openssl_p12(work.path(), "push", &pair, "pw from file", &["-legacy"]);
    let data = work.path().join("data");
    let pw = work.path().join("password");
    std::fs::write(&pw, "not it\n").unwrap();

    let wrong = orchard(&data)
        .args(["apns", "import", "--p12"])
        .arg(&p12)
        .arg("--password-file")
        .arg(&pw)
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("password is wrong"), "{stderr}");

    std::fs::write(&pw, "pw from file\n").unwrap();
    let ok = orchard(&data)
        .args(["apns", "import", "--p12"])
        .arg(&p12)
        .arg("--password-file")
        .arg(&pw)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains(TOPIC), "{stdout}");

    let show = orchard(&data).args(["apns", "show"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success());
    assert!(
        stdout.contains(TOPIC) && stdout.contains("valid until"),
        "{stdout}"
    );

    // PEM of another topic: refused with the reason, then accepted with --force.
    let other = ca
        .issue_push_certificate("com.apple.mgmt.External.other", in_a_year())
        .unwrap();
    let (cert, key) = (work.path().join("o.crt"), work.path().join("o.key"));
    std::fs::write(&cert, &other.certificate).unwrap();
    std::fs::write(&key, &other.key).unwrap();
    let refused = orchard(&data)
        .args(["apns", "import", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("orphan"));
    let forced = orchard(&data)
        .args(["apns", "import", "--force", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
}
