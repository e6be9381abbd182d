use crate::common;

use common::*;

#[tokio::test]
async fn serves_health_over_tls_signed_by_the_appliance_ca() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok\n");
    app.stop().await;
}

#[tokio::test]
async fn restart_on_existing_data_keeps_the_ca() {
    let app = spawn_app().await;
    let fingerprint = app.state.pki.ca_fingerprint();
    let dir = app.stop().await;
    let again = spawn_app_with(dir, |_| {}).await;
    assert_eq!(again.state.pki.ca_fingerprint(), fingerprint);
    again.stop().await;
}

#[tokio::test]
async fn port_in_use_is_a_clear_error() {
    let app = spawn_app().await;
    let port = app.server.as_ref().unwrap().https_addr.port();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.server.listen = format!("127.0.0.1:{port}");
    let state = orchard::app::prepare(config, std::sync::Arc::new(orchard::clock::SystemClock)).unwrap();
    let err = orchard::app::start(state)
        .err()
        .expect("second bind fails")
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.to_lowercase().contains("in use"), "{err}");
    app.stop().await;
}

#[test]
fn unwritable_data_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let mut config = test_config(dir.path());
    config.storage.data_dir = file.join("data");
    let err = orchard::app::prepare(config, std::sync::Arc::new(orchard::clock::SystemClock))
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("data directory"), "{err}");
}

#[test]
fn corrupt_database_is_refused_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    std::fs::create_dir_all(&config.storage.data_dir).unwrap();
    let garbage = b"this is not sqlite at all, but a stray file of some length".repeat(100);
    std::fs::write(config.database_path(), &garbage).unwrap();
    let db = config.database_path();
    let err = orchard::app::prepare(config, std::sync::Arc::new(orchard::clock::SystemClock))
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("not a readable SQLite database"), "{err}");
    assert_eq!(std::fs::read(db).unwrap(), garbage);
}

#[tokio::test]
async fn replaced_ca_under_existing_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let clock = std::sync::Arc::new(orchard::clock::SystemClock);
    drop(orchard::app::prepare(config.clone(), clock.clone()).unwrap());
    let pki = config.storage.data_dir.join("pki");
    std::fs::remove_file(pki.join("ca.key.pem")).unwrap();
    let err = orchard::app::prepare(config.clone(), clock.clone())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("CA key is missing"), "{err}");
    // A fresh CA generated elsewhere is not accepted either.
    std::fs::remove_file(pki.join("ca.crt.pem")).unwrap();
    let other = tempfile::tempdir().unwrap();
    let mut other_cfg = test_config(other.path());
    other_cfg.storage.data_dir = other.path().join("d");
    drop(orchard::app::prepare(other_cfg.clone(), clock.clone()).unwrap());
    for f in ["ca.key.pem", "ca.crt.pem"] {
        std::fs::copy(other_cfg.storage.data_dir.join("pki").join(f), pki.join(f)).unwrap();
    }
    let err = orchard::app::prepare(config, clock).err().unwrap().to_string();
    assert!(
        err.contains("not the one this database was created with"),
        "{err}"
    );
}
