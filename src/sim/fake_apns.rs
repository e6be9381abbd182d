//! A fake APNs: a real HTTP/2 server over TLS that requires a client certificate from its own
//! test CA, records every push, and answers the way APNs does, or fails on demand.
//!
//! Like APNs it answers `POST /3/device/<hex token>` with 200 and an `apns-id`, or with an error
//! status and `{"reason": ...}`: `MissingTopic`, `TopicDisallowed` (the `apns-topic` header is not
//! the client certificate's UID), `BadDeviceToken`, `PayloadEmpty`, `PayloadTooLarge` (> 4 KiB),
//! `MethodNotAllowed`, `BadPath`. A client certificate it does not trust fails the TLS handshake.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::{Extensions, ServerHandle};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::sync::watch;

use super::push_certificates::{PemPair, TestCa};
use crate::push::certificate::subject_uid;

#[derive(Debug, thiserror::Error)]
pub enum FakeApnsError {
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
    #[error("timed out waiting for {wanted} pushes; {got} arrived")]
    Timeout { wanted: usize, got: usize },
}

/// One request as the fake saw it, and what it answered.
#[derive(Debug, Clone)]
pub struct RecordedPush {
    /// The token from the path, as sent (hex).
    pub token: String,
    pub method: String,
    pub http_version: String,
    pub topic: Option<String>,
    pub push_type: Option<String>,
    pub priority: Option<String>,
    pub apns_id: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// UID (topic) of the client certificate the connection was authenticated with.
    pub client_topic: Option<String>,
    pub status: u16,
    pub reason: Option<String>,
}

impl RecordedPush {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, Clone)]
struct Failure {
    status: u16,
    reason: String,
}

#[derive(Default)]
struct Behaviour {
    next: VecDeque<Failure>,
    by_token: HashMap<String, Failure>,
}

struct Shared {
    records: Mutex<Vec<RecordedPush>>,
    count: watch::Sender<usize>,
    behaviour: Mutex<Behaviour>,
    /// Requests that reached the handler (answered or held).
    arrived: watch::Sender<usize>,
    /// While false, requests are held before being answered.
    open: watch::Sender<bool>,
}

/// The client certificate of a connection, stored by `on_connect`.
#[derive(Clone)]
struct ClientCertificate(Vec<u8>);

pub struct FakeApns {
    url: String,
    ca: TestCa,
    shared: Arc<Shared>,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl FakeApns {
    /// Starts on a free port of 127.0.0.1, in the current Tokio runtime.
    pub async fn start() -> Result<FakeApns, FakeApnsError> {
        let ca = TestCa::new("Orchard fake APNs CA")?;
        let server_pair = ca.issue_server_certificate(&["localhost", "127.0.0.1"])?;
        let tls = server_tls(&ca, &server_pair)?;
        let shared = Arc::new(Shared {
            records: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            behaviour: Mutex::new(Behaviour::default()),
            arrived: watch::Sender::new(0),
            open: watch::Sender::new(true),
        });
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(shared.clone());
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(handle)))
                .workers(1)
                .on_connect(remember_client_certificate)
                .shutdown_timeout(1)
                .listen_rustls_0_23(listener, tls)?
                .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(FakeApns {
            url: format!("https://localhost:{port}"),
            ca,
            shared,
            handle,
            task,
        })
    }

    /// Base URL for `apns.url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA that signed the server certificate (and the client certificates it trusts), PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca.certificate_pem
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.ca.certificate_der.clone())
    }

    /// A push certificate for `topic` that this fake accepts.
    pub fn issue_push_certificate(
        &self,
        topic: &str,
        not_after: DateTime<Utc>,
    ) -> Result<PemPair, FakeApnsError> {
        Ok(self.ca.issue_push_certificate(topic, not_after)?)
    }

    /// The next `n` requests (whatever their token) get `status` with `reason`.
    pub fn fail_next(&self, n: usize, status: u16, reason: &str) {
        let mut b = self.shared.behaviour.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..n {
            b.next.push_back(Failure {
                status,
                reason: reason.into(),
            });
        }
    }

    /// Every request for `token` gets `status` with `reason`, until [`FakeApns::clear_failures`].
    pub fn fail_token(&self, token: &[u8], status: u16, reason: &str) {
        let mut b = self.shared.behaviour.lock().unwrap_or_else(|p| p.into_inner());
        b.by_token.insert(
            hex::encode(token),
            Failure {
                status,
                reason: reason.into(),
            },
        );
    }

    /// Holds every request from now on without answering, until [`FakeApns::release`]: a push
    /// stays in flight for as long as a test needs.
    pub fn hold(&self) {
        self.shared.open.send_replace(false);
    }

    /// Answers the held requests and stops holding.
    pub fn release(&self) {
        self.shared.open.send_replace(true);
    }

    /// Waits until `n` requests have reached the server, answered or held.
    pub async fn wait_for_arrivals(&self, n: usize, timeout: Duration) -> Result<(), FakeApnsError> {
        let mut rx = self.shared.arrived.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(FakeApnsError::Timeout {
                wanted: n,
                got: *self.shared.arrived.borrow(),
            }),
        }
    }

    pub fn clear_failures(&self) {
        *self.shared.behaviour.lock().unwrap_or_else(|p| p.into_inner()) = Behaviour::default();
    }

    /// Every request received so far, in order.
    pub fn pushes(&self) -> Vec<RecordedPush> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until at least `n` requests were received, or `timeout` passes.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<RecordedPush>, FakeApnsError> {
        let mut rx = self.shared.count.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n)).await {
            Ok(Ok(_)) => Ok(self.pushes()),
            _ => Err(FakeApnsError::Timeout {
                wanted: n,
                got: self.pushes().len(),
            }),
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.task.await;
    }
}

fn server_tls(ca: &TestCa, pair: &PemPair) -> Result<rustls::ServerConfig, FakeApnsError> {
    let tls = |e: &dyn std::fmt::Display| FakeApnsError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.certificate_der.clone()))
        .map_err(|e| tls(&e))?;
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| tls(&e))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pair.certificate.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| tls(&e))?;
    let key = PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).map_err(|e| tls(&e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls(&e))?;
    // Like APNs: HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn remember_client_certificate(conn: &dyn std::any::Any, ext: &mut Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(stream) = conn.downcast_ref::<Tls>() {
        let (_, session) = stream.get_ref();
        if let Some(leaf) = session.peer_certificates().and_then(|c| c.first()) {
            ext.insert(ClientCertificate(leaf.to_vec()));
        }
    }
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    shared.arrived.send_modify(|n| *n += 1);
    let mut open = shared.open.subscribe();
    let _ = open.wait_for(|open| *open).await;
    let token = req
        .path()
        .strip_prefix("/3/device/")
        .unwrap_or_default()
        .to_string();
    let client_topic = req
        .conn_data::<ClientCertificate>()
        .and_then(|c| subject_uid(&c.0));
    let topic = header(&req, "apns-topic");
    let (status, reason) = decide(
        &req,
        &token,
        topic.as_deref(),
        client_topic.as_deref(),
        &body,
        &shared,
    );
    let apns_id = header(&req, "apns-id");
    let record = RecordedPush {
        token,
        method: req.method().to_string(),
        http_version: format!("{:?}", req.version()),
        topic,
        push_type: header(&req, "apns-push-type"),
        priority: header(&req, "apns-priority"),
        apns_id: apns_id.clone(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: body.to_vec(),
        client_topic,
        status,
        reason: reason.clone(),
    };
    let total = {
        let mut records = shared.records.lock().unwrap_or_else(|p| p.into_inner());
        records.push(record);
        records.len()
    };
    shared.count.send_replace(total);
    let id = apns_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    response.insert_header(("apns-id", id));
    match reason {
        None => response.finish(),
        Some(reason) => {
            let mut body = serde_json::json!({ "reason": reason });
            if status == 410 {
                body["timestamp"] = serde_json::json!(Utc::now().timestamp_millis());
            }
            response.json(body)
        }
    }
}

/// The answer APNs would give, unless the test asked for a failure.
fn decide(
    req: &HttpRequest,
    token: &str,
    topic: Option<&str>,
    client_topic: Option<&str>,
    body: &[u8],
    shared: &Shared,
) -> (u16, Option<String>) {
    let fail = |status: u16, reason: &str| (status, Some(reason.to_string()));
    if !req.path().starts_with("/3/device/") {
        return fail(404, "BadPath");
    }
    if req.method() != actix_web::http::Method::POST {
        return fail(405, "MethodNotAllowed");
    }
    if token.is_empty() || hex::decode(token).is_err() {
        return fail(400, "BadDeviceToken");
    }
    let Some(topic) = topic else {
        return fail(400, "MissingTopic");
    };
    if client_topic != Some(topic) {
        return fail(400, "TopicDisallowed");
    }
    if body.is_empty() {
        return fail(400, "PayloadEmpty");
    }
    if body.len() > 4096 {
        return fail(413, "PayloadTooLarge");
    }
    let mut behaviour = shared.behaviour.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = behaviour.next.pop_front() {
        return (f.status, Some(f.reason));
    }
    if let Some(f) = behaviour.by_token.get(token) {
        return (f.status, Some(f.reason.clone()));
    }
    (200, None)
}
