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
    // Clients a test still holds keep idle connections open; a stop would wait the whole
    // graceful timeout for them.
    config.server.shutdown_timeout_seconds = 1;
    // The timed jobs run on the real clock; left on, a compliance catch-up or a policy sweep
    // that happens to fall inside a test would rewrite the rows the test arranged. Tests that
    // are about the jobs turn them on.
    config.server.scheduled_jobs = false;
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
    spawn_app_with_routes(dir, tweak, |_| {}).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the server gracefully. The test's client is dropped first: its idle keep-alive
    /// connections would otherwise hold the graceful shutdown for its whole timeout.
    pub async fn stop(self) -> tempfile::TempDir {
        let TestApp {
            server, client, dir, ..
        } = self;
        drop(client);
        if let Some(server) = server {
            server.stop().await;
        }
        dir
    }
}

impl TestApp {
    /// The appliance's (virtual) now.
    pub fn clock_now(&self) -> DateTime<Utc> {
        use orchard::clock::Clock;
        self.clock.now()
    }
}

/// The appliance with an in-repo fake APNs (a real HTTP/2 server over TLS) as its push endpoint:
/// `[apns]` points at the fake and trusts its CA; `tweak` adjusts the rest. No push certificate
/// is imported yet (see [`import_push_certificate`]).
pub async fn spawn_app_with_fake_apns(
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, orchard::sim::fake_apns::FakeApns) {
    let apns = orchard::sim::fake_apns::FakeApns::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("fake-apns-ca.pem");
    std::fs::write(&ca_file, apns.ca_pem()).unwrap();
    let url = apns.url().to_string();
    let app = spawn_app_with(dir, |c| {
        c.apns.url = url;
        c.apns.ca_file = Some(ca_file);
        tweak(c);
    })
    .await;
    (app, apns)
}

/// Imports, as an operator would, a push certificate for `topic` issued by the fake's CA, and
/// has the running appliance use it.
pub fn import_push_certificate(app: &TestApp, apns: &orchard::sim::fake_apns::FakeApns, topic: &str) {
    use orchard::push::import::{self, ImportSource};
    let pair = apns
        .issue_push_certificate(topic, Utc::now() + chrono::Duration::days(365))
        .unwrap();
    let source = ImportSource::Pem {
        certificate: pair.certificate,
        key: pair.key,
    };
    import::import_blocking(
        &app.state.store,
        &app.state.config.storage.data_dir,
        &source,
        Utc::now(),
        false,
    )
    .unwrap();
    app.state.reload_push_certificate().unwrap();
}

/// Like [`spawn_app_with`], with extra routes mounted (to reach building blocks over real TLS).
pub async fn spawn_app_with_routes(
    dir: tempfile::TempDir,
    tweak: impl FnOnce(&mut Config),
    routes: fn(&mut actix_web::web::ServiceConfig),
) -> TestApp {
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
    let server = app::start_with(state.clone(), routes).expect("appliance starts");
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

/// A device enrolled through `/scep` with the appliance's own client helpers.
pub struct EnrolledDevice {
    pub cert: x509_cert::Certificate,
    pub cert_der: Vec<u8>,
    pub key: orchard::pki::keys::RsaKey,
}

/// Sends a PKCSReq with `challenge`; returns what the CertRep said.
pub async fn scep_enroll(
    app: &TestApp,
    challenge: &str,
) -> (orchard::pki::scep_client::CertRepOutcome, Option<EnrolledDevice>) {
    use orchard::pki::scep::MessageType;
    use orchard::pki::scep_client::{self, CertRepOutcome};
    use std::str::FromStr;
    let key = orchard::pki::keys::RsaKey::generate_2048().unwrap();
    let subject = x509_cert::name::Name::from_str("CN=test device,O=Orchard").unwrap();
    let now = app.clock_now();
    let csr = scep_client::make_csr(&key, subject.clone(), Some(challenge)).unwrap();
    let me = scep_client::self_signed(&key, subject, now).unwrap();
    let ca = scep_client::certificate(&app.state.pki.ca_cert_der).unwrap();
    let request = scep_client::build_request(MessageType::PkcsReq, &csr, &me, &key, &ca, now).unwrap();
    let resp = app
        .client
        .post(app.url("/scep?operation=PKIOperation"))
        .header("content-type", "application/x-pki-message")
        .body(request.message.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-pki-message");
    let reply = resp.bytes().await.unwrap();
    let outcome = scep_client::parse_cert_rep(&reply, &request, &ca, &me, &key).unwrap();
    let device = match &outcome {
        CertRepOutcome::Issued(der) => Some(EnrolledDevice {
            cert: scep_client::certificate(der).unwrap(),
            cert_der: der.clone(),
            key,
        }),
        _ => None,
    };
    (outcome, device)
}

pub fn set_topic(app: &TestApp, topic: &str) {
    let topic = topic.to_string();
    app.state
        .store
        .write_blocking(move |c| {
            orchard::store::settings::set(c, "apns.topic", &topic, "2026-01-01T00:00:00Z")
        })
        .unwrap();
}
/// A client trusting the appliance CA that connects from `local` (any 127.x address works on
/// Linux), so tests can play several remote addresses.
pub fn client_from(state: &AppState, local: std::net::IpAddr) -> reqwest::Client {
    install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(state.pki.ca_cert_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(local)
        .build()
        .unwrap()
}

/// The value of the first hidden `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a csrf_token field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

pub const TEST_PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// The one-time link that creates the first administrator, as `orchard serve` prints it
    /// (`None` once an administrator exists). Each call issues a new token.
    pub async fn setup_link(&self) -> Option<String> {
        let addr = self.server.as_ref().expect("server running").https_addr;
        self.state.first_admin_setup_link(addr).await.unwrap()
    }

    /// Creates an account directly through the admin service (audited as `cli`).
    pub async fn create_admin(&self, username: &str, role: orchard::admin::Role) {
        self.state
            .admins()
            .create(
                &orchard::admin::Actor::cli(),
                username,
                role,
                TEST_PASSWORD.into(),
            )
            .await
            .unwrap();
    }

    /// The CSRF token of the login form, as a browser gets it (sets the form cookie on `client`).
    pub async fn login_form_token(&self, client: &reqwest::Client) -> String {
        let page = client
            .get(self.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        csrf_in(&page)
    }

    /// Signs `client` in through the login form; returns the status of the login POST.
    pub async fn login_with(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> reqwest::StatusCode {
        let token = self.login_form_token(client).await;
        client
            .post(self.url("/login"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A fresh client signed in as `username` (with [`TEST_PASSWORD`]).
    pub async fn signed_in(&self, username: &str) -> reqwest::Client {
        let client = client_for(&self.state);
        assert_eq!(
            self.login_with(&client, username, TEST_PASSWORD).await,
            303,
            "login of {username}"
        );
        client
    }

    /// The body of `path` fetched by `client` (whatever the status).
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> String {
        client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The CSRF token of a signed-in client's session, read from a page.
    pub async fn session_csrf(&self, client: &reqwest::Client) -> String {
        let page = client
            .get(self.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        csrf_in(&page)
    }

    pub async fn audit_count(&self) -> i64 {
        self.state.admins().audit_page(None, 1).await.unwrap().total
    }

    pub async fn account_names(&self) -> Vec<String> {
        self.state
            .admins()
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.username)
            .collect()
    }
}

impl TestApp {
    /// Posts a form with the session's CSRF token added, as the page would.
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.session_csrf(client).await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        client.post(self.url(path)).form(&all).send().await.unwrap()
    }
}
