//! The device identity of an MDM request, as an actix extractor.
//!
//! [`SignedDeviceRequest`] reads the body (up to `server.max_body_bytes`) and proves who sent
//! it, in this order: the `Mdm-Signature` header over the body; else the certificate the client
//! presented in the TLS handshake; else, on a connection from a trusted reverse proxy, the
//! configured certificate header. Status codes:
//! - 401 when there is no identity at all (nothing to check);
//! - 400 when the proof is malformed (bad base64, truncated CMS, unparsable certificate);
//! - 403 when a well-formed proof does not authenticate the request (digest or signature
//!   mismatch, certificate from another CA, expired or not yet valid): the device is known
//!   not to be trusted, so retrying with the same credentials cannot help;
//! - 413 when the body is over the limit.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine as _;
use futures_util::StreamExt as _;

use crate::app::AppState;
use crate::mdm::CertFingerprint;
use crate::pki::identity::{self, DeviceIdentity, IdentityError};

pub const MDM_SIGNATURE_HEADER: &str = "Mdm-Signature";

/// The DER certificate a client presented in the TLS handshake (set by [`on_connect`]).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Vec<u8>);

/// Stores the TLS peer certificate, if any, in the connection's data.
pub fn on_connect(connection: &dyn std::any::Any, data: &mut Extensions) {
    use actix_tls::accept::rustls_0_23::TlsStream;
    if let Some(tls) = connection.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() {
        let (_, session) = tls.get_ref();
        if let Some(cert) = session.peer_certificates().and_then(|c| c.first()) {
            data.insert(PeerCertificate(cert.to_vec()));
        }
    }
}

/// A request body together with the verified identity of the device that sent it.
#[derive(Debug, Clone)]
pub struct SignedDeviceRequest {
    pub identity: DeviceIdentity,
    pub body: web::Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceAuthError {
    #[error("{0}")]
    Identity(#[from] IdentityError),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("cannot read the request body")]
    Body,
    #[error("the application state is missing")]
    State,
}

impl ResponseError for DeviceAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            DeviceAuthError::Identity(IdentityError::Missing) => StatusCode::UNAUTHORIZED,
            DeviceAuthError::Identity(e) if e.is_malformed() => StatusCode::BAD_REQUEST,
            DeviceAuthError::Identity(_) => StatusCode::FORBIDDEN,
            DeviceAuthError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            DeviceAuthError::Body => StatusCode::BAD_REQUEST,
            DeviceAuthError::State => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(format!("{self}\n"))
    }
}

impl FromRequest for SignedDeviceRequest {
    type Error = DeviceAuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or(DeviceAuthError::State)?
                .clone();
            let body = read_limited(&mut payload, state.config.server.max_body_bytes).await?;
            let identity = authenticate(&req, &state, &body)?;
            Ok(SignedDeviceRequest { identity, body })
        })
    }
}

/// Reads a body of at most `limit` bytes.
async fn read_limited(payload: &mut Payload, limit: usize) -> Result<web::Bytes, DeviceAuthError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| DeviceAuthError::Body)?;
        if body.len() + chunk.len() > limit {
            return Err(DeviceAuthError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Middleware for the device endpoints: reads the body, verifies the request's identity (see the
/// module documentation), and puts the certificate's [`CertFingerprint`] into the request
/// extensions for the handlers; the body is handed on unchanged. A request without a valid
/// identity never reaches the handlers.
pub async fn require_device<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let verified = async {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or(DeviceAuthError::State)?
            .clone();
        let mut payload = req.take_payload();
        let body = read_limited(&mut payload, state.config.server.max_body_bytes).await?;
        let identity = authenticate(req.request(), &state, &body)?;
        Ok::<_, DeviceAuthError>((identity, body))
    }
    .await;
    match verified {
        Ok((identity, body)) => {
            req.extensions_mut()
                .insert(CertFingerprint::of_certificate_der(&identity.certificate_der));
            req.set_payload(Payload::from(body));
            next.call(req).await.map(ServiceResponse::map_into_left_body)
        }
        Err(error) => {
            tracing::info!(error = %error, path = req.path(), "device request refused");
            let response = error.error_response();
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

/// Finds and verifies the identity of a request (see the module documentation for the order).
pub fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<DeviceIdentity, IdentityError> {
    let now = state.clock.now();
    let ca = &state.pki.ca_cert_der;
    if let Some(header) = req.headers().get(MDM_SIGNATURE_HEADER) {
        let value = header.to_str().map_err(|_| IdentityError::BadBase64)?;
        return identity::from_mdm_signature(value, body, ca, now);
    }
    if let Some(PeerCertificate(der)) = req.conn_data::<PeerCertificate>() {
        return identity::from_certificate(der, ca, now);
    }
    if let Some(der) = proxy_certificate(req, state)? {
        return identity::from_certificate(&der, ca, now);
    }
    Err(IdentityError::Missing)
}

/// The certificate a trusted reverse proxy forwarded, if this connection comes from one.
fn proxy_certificate(req: &HttpRequest, state: &AppState) -> Result<Option<Vec<u8>>, IdentityError> {
    let cfg = &state.config.identity;
    if cfg.proxy_cert_header.is_empty() {
        return Ok(None);
    }
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return Ok(None);
    };
    let trusted = cfg
        .trusted_proxies
        .iter()
        .filter_map(|p| p.parse::<IpAddr>().ok())
        .any(|p| p == peer || p.to_canonical() == peer.to_canonical());
    if !trusted {
        return Ok(None);
    }
    let Some(value) = req.headers().get(cfg.proxy_cert_header.as_str()) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| IdentityError::BadCertificate)?;
    decode_forwarded_certificate(text).map(Some)
}

/// URL-encoded PEM (nginx `$ssl_client_escaped_cert`), plain PEM, or base64 DER.
pub fn decode_forwarded_certificate(text: &str) -> Result<Vec<u8>, IdentityError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let decoded = percent_encoding::percent_decode_str(text.trim())
        .decode_utf8()
        .map_err(|_| IdentityError::BadCertificate)?;
    if decoded.contains("-----BEGIN CERTIFICATE-----") {
        return CertificateDer::from_pem_slice(decoded.as_bytes())
            .map(|c| c.to_vec())
            .map_err(|_| IdentityError::BadCertificate);
    }
    base64::engine::general_purpose::STANDARD
        .decode(decoded.trim())
        .map_err(|_| IdentityError::BadCertificate)
}
