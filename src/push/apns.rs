//! A small APNs HTTP/2 client for MDM pushes.
//!
//! # Why not `a2`
//! The product card names `a2`, but `a2` only knows Apple's two hard-coded hosts and its own
//! fixed TLS roots (and brings a second rustls with ring). It could never be pointed at the
//! in-repo fake APNs, a private CA or a TLS-inspecting proxy, so the code that talks to Apple in
//! production would be code no test ever ran: a `PushSender` trait would only let us test a
//! stand-in. This client is a few dozen lines over reqwest (HTTP/2, rustls, aws-lc-rs, the crates
//! the appliance already uses) with a configurable base URL and trust roots; production and the
//! tests run the same code, over real TLS with client-certificate authentication. It also loads
//! the `.p12` files macOS Keychain exports, which `a2`'s OpenSSL path cannot under OpenSSL 3.
//!
//! # The request
//! `POST /3/device/<hex token>` with the JSON body `{"mdm":"<PushMagic>"}` and the headers
//! - `apns-topic`: the topic the device enrolled with (the push certificate's UID);
//! - `apns-push-type: mdm`: Apple's push type "for notifications that tell managed devices to
//!   contact the MDM server" (it requires the topic from the certificate's UID);
//! - `apns-priority: 10`: deliver immediately (also APNs's default); an MDM push only asks the
//!   device to check in now, and priority 5 would let the device defer it for power reasons;
//! - `apns-id`: a UUID of ours, so a failure can be traced in both logs.
//!
//! No `apns-expiration` is sent: APNs then stores the push for an offline device under its own
//! policy (one per topic), which is what waking a device later needs.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use super::PushError;
use super::certificate::PushCertificate;
use super::outcome::{ApnsResponse, TransportError, TransportErrorKind};

/// Apple's production APNs endpoint.
pub const APPLE_PRODUCTION_URL: &str = "https://api.push.apple.com";

/// Which certificates authenticate the APNs server.
#[derive(Debug, Clone)]
pub enum TrustRoots {
    /// Mozilla's root set (webpki-roots), which covers the public CA Apple uses for APNs.
    Public,
    /// Only these roots (a fake APNs in tests, a TLS-inspecting proxy on site).
    Custom(Vec<CertificateDer<'static>>),
}

/// Where and how to reach APNs.
#[derive(Debug, Clone)]
pub struct ApnsEndpoint {
    /// Base URL without a trailing slash, e.g. `https://api.push.apple.com`.
    pub base_url: String,
    pub roots: TrustRoots,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ApnsEndpoint {
    pub fn apple() -> ApnsEndpoint {
        ApnsEndpoint {
            base_url: APPLE_PRODUCTION_URL.into(),
            roots: TrustRoots::Public,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One HTTP/2 connection pool to APNs, authenticated with the push certificate.
pub struct ApnsClient {
    http: reqwest::Client,
    base_url: String,
}

impl ApnsClient {
    pub fn new(endpoint: &ApnsEndpoint, cert: &PushCertificate) -> Result<ApnsClient, PushError> {
        let mut roots = rustls::RootCertStore::empty();
        match &endpoint.roots {
            TrustRoots::Public => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            TrustRoots::Custom(certs) => {
                for c in certs {
                    roots
                        .add(c.clone())
                        .map_err(|e| PushError::Client(format!("unusable trust root: {e}")))?;
                }
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        // TLS 1.2 (Apple: "TLS 1.2 or later"). Under TLS 1.3 the server checks the client
        // certificate only after the client considers the handshake done, so a refused push
        // certificate surfaces as a bare "connection closed", indistinguishable from a network
        // failure, and would be retried forever. Under TLS 1.2 the refusal is a handshake alert,
        // so Orchard raises the certificate alert instead.
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .map_err(|e| PushError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(cert.chain().to_vec(), cert.key().clone_key())
            .map_err(|e| PushError::Client(format!("the push certificate cannot be used for TLS: {e}")))?;
        // APNs speaks HTTP/2 only.
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .http2_prior_knowledge()
            .connect_timeout(endpoint.connect_timeout)
            .timeout(endpoint.request_timeout)
            .http2_keep_alive_interval(Duration::from_secs(60 * 30))
            .http2_keep_alive_while_idle(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PushError::Client(e.to_string()))?;
        Ok(ApnsClient {
            http,
            base_url: endpoint.base_url.trim_end_matches('/').to_string(),
        })
    }

    /// Sends one MDM push and returns APNs's answer (any status), or why none came.
    pub async fn send(
        &self,
        token: &[u8],
        topic: &str,
        push_magic: &str,
        apns_id: uuid::Uuid,
    ) -> Result<ApnsResponse, TransportError> {
        let url = format!("{}/3/device/{}", self.base_url, hex::encode(token));
        let body = serde_json::json!({ "mdm": push_magic }).to_string();
        let response = self
            .http
            .post(url)
            .header("apns-topic", topic)
            .header("apns-push-type", "mdm")
            .header("apns-priority", "10")
            .header("apns-id", apns_id.to_string())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let apns_id = response
            .headers()
            .get("apns-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let reason = if status == 200 {
            None
        } else {
            // Error bodies are `{"reason": "...", "timestamp": ...}`; a body we cannot read still
            // leaves the status to decide on.
            let bytes = response.bytes().await.unwrap_or_default();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_string))
        };
        Ok(ApnsResponse {
            status,
            reason,
            apns_id,
        })
    }
}

/// Sorts a reqwest failure: a TLS alert about our certificate is not a network problem.
fn transport_error(e: reqwest::Error) -> TransportError {
    use rustls::AlertDescription as A;
    let message = error_chain(&e);
    match find_tls_error(&e) {
        Some(rustls::Error::AlertReceived(
            A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::CertificateRequired,
        )) => {
            return TransportError {
                kind: TransportErrorKind::ClientCertificateRefused,
                message: format!("the APNs server refused the push certificate ({message})"),
            };
        }
        Some(rustls::Error::InvalidCertificate(_)) => {
            return TransportError {
                kind: TransportErrorKind::ServerCertificateUntrusted,
                message: format!("the APNs server's certificate is not trusted ({message})"),
            };
        }
        _ => {}
    }
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    TransportError { kind, message }
}

/// The rustls error somewhere in the chain, looking inside `io::Error` wrappers (which hide
/// their payload from `source()`).
fn find_tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
