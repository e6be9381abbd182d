//! `/scep`: `GetCACaps`, `GetCACert` and `PKIOperation` (by GET with `message=` or by POST).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde::Deserialize;

use super::errors::WebError;
use crate::app::AppState;
use crate::pki::scep::MAX_MESSAGE_BYTES;

/// What this server supports (RFC 8894 §3.5.2).
pub const CA_CAPS: &str = "AES\nPOSTPKIOperation\nRenewal\nSHA-256\nSCEPStandard\n";

#[derive(Deserialize)]
pub struct ScepQuery {
    operation: Option<String>,
    message: Option<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/scep")
            .app_data(web::PayloadConfig::new(MAX_MESSAGE_BYTES))
            .route(web::get().to(scep_get))
            .route(web::post().to(scep_post)),
    );
}

async fn scep_get(
    state: web::Data<AppState>,
    query: web::Query<ScepQuery>,
) -> Result<HttpResponse, WebError> {
    match query.operation.as_deref() {
        Some("GetCACaps") => Ok(HttpResponse::Ok().content_type("text/plain").body(CA_CAPS)),
        Some("GetCACert") => Ok(HttpResponse::Ok()
            .content_type("application/x-x509-ca-cert")
            .body(state.pki.ca_cert_der.clone())),
        Some("PKIOperation") => {
            let message = query
                .message
                .as_deref()
                .ok_or_else(|| WebError::BadRequest("PKIOperation by GET needs message=".into()))?;
            if message.len() > MAX_MESSAGE_BYTES * 2 {
                return Err(WebError::TooLarge);
            }
            // Some clients do not percent-encode '+', which the query decoder turns into ' '.
            let compact: String = message
                .chars()
                .filter(|c| *c != '\n' && *c != '\r')
                .map(|c| if c == ' ' { '+' } else { c })
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| WebError::BadRequest("message= is not valid base64".into()))?;
            pki_operation(state, der).await
        }
        Some(other) => Err(WebError::BadRequest(format!("unknown SCEP operation {other}"))),
        None => Err(WebError::BadRequest("missing operation=".into())),
    }
}

async fn scep_post(
    state: web::Data<AppState>,
    query: web::Query<ScepQuery>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    match query.operation.as_deref() {
        Some("PKIOperation") => pki_operation(state, body.to_vec()).await,
        Some("GetCACaps") | Some("GetCACert") => scep_get(state, query).await,
        _ => {
            tracing::debug!(path = %req.path(), "SCEP POST without PKIOperation");
            Err(WebError::BadRequest(
                "POST is only for operation=PKIOperation".into(),
            ))
        }
    }
}

async fn pki_operation(state: web::Data<AppState>, message: Vec<u8>) -> Result<HttpResponse, WebError> {
    if message.is_empty() {
        return Err(WebError::BadRequest("empty SCEP message".into()));
    }
    let enrollment = state.enrollment.clone();
    let reply = web::block(move || enrollment.pki_operation(&message))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("application/x-pki-message")
        .body(reply))
}
