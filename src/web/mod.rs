//! actix adapters. Handlers parse, call a service, and render; they hold no business rules.

pub mod api;
pub mod assets;
pub mod cache;
mod cache_body;
pub mod csrf;
pub mod device_filter;
pub mod error;
pub mod feeds;
pub mod middleware;
pub mod security_headers;
pub mod ui;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;
use crate::web::error::WebError;

pub mod enroll;
pub mod errors;
pub mod identity;
pub mod scep;

pub mod mdm;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
    api::configure(cfg);
    scep::configure(cfg);
    enroll::configure(cfg);
    assets::configure(cfg);
    ui::configure(cfg);
    feeds::configure(cfg);
    cache::configure(cfg);
    cfg.route("/metrics", web::get().to(metrics))
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound)
}

/// Whether the request carries the configured metrics token (always, when none is configured).
fn metrics_allowed(req: &HttpRequest, token: &crate::config::Secret) -> bool {
    if token.is_empty() {
        return true;
    }
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    token.matches(presented)
}

/// Prometheus metrics (OpenMetrics text); behind `security.metrics_token` when one is set.
async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    if !metrics_allowed(&req, &state.config.security.metrics_token) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
            .content_type("text/plain")
            .body("a bearer token is required (security.metrics_token)\n"));
    }
    let mut extra = String::new();
    let expiry = crate::push::import::expiry_status(&state.store, state.clock.now())
        .await
        .map_err(|e| WebError::Internal(format!("cannot read the push certificate: {e}")))?;
    crate::push::expiry::render_metrics(expiry.as_ref(), &mut extra);
    state.pusher.render_metrics(&mut extra);
    extra.push_str(&state.catalog.health().prometheus());
    let text = state
        .metrics
        .render_with(&extra)
        .map_err(|e| WebError::Internal(format!("cannot encode metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(crate::ops::metrics::CONTENT_TYPE)
        .body(text))
}

/// Health: answers 200 only when the database answers.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let result = state.store.read(crate::store::migrations::current_version).await;
    match result {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable\n")
        }
    }
}
