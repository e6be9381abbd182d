//! Test harness: the appliance started in-process on port 0 with a temporary data directory.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orchard::app::{self, AppState, RunningServer};
use orchard::clock::VirtualClock;
use orchard::config::Config;

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: VirtualClock,
    pub server: Option<RunningServer>,
    /// A client that trusts the appliance CA and keeps cookies.
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// The virtual clock starts at the real time (so the certificates it issues are valid for real
/// TLS clients); tests that need a calendar date move it with `clock.set`.
pub fn start_time() -> DateTime<Utc> {
    Utc::now()
}

/// A configuration for a test appliance in `dir`, listening on a free port of 127.0.0.1.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.storage.data_dir = dir.join("data");
    config.server.listen = "127.0.0.1:0".into();
    config.server.tls_names = vec!["localhost".into(), "127.0.0.1".into()];
    config.server.workers = 2;
    config
}

pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub fn client_for(state: &AppState) -> reqwest::Client {
    install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(state.pki.ca_cert_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_with(dir, |_| {}).await
}

pub async fn spawn_app_with(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(dir.path());
    tweak(&mut config);
    let clock = VirtualClock::new(start_time());
    let state = tokio::task::spawn_blocking({
        let clock = clock.clone();
        move || app::prepare(config, Arc::new(clock))
    })
    .await
    .unwrap()
    .expect("appliance prepares");
    let server = app::start(state.clone()).expect("appliance starts");
    let base = format!("https://localhost:{}", server.https_addr.port());
    let client = client_for(&state);
    TestApp {
        base,
        state,
        clock,
        server: Some(server),
        client,
        dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.dir
    }
}

impl TestApp {
    /// The appliance's (virtual) now.
    pub fn clock_now(&self) -> DateTime<Utc> {
        use orchard::clock::Clock;
        self.clock.now()
    }
}
