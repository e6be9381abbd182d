//! actix adapters. Handlers parse, call a service, and render; they hold no business rules.

pub mod assets;
pub mod csrf;
pub mod error;
pub mod feeds;
pub mod middleware;
pub mod security_headers;
pub mod ui;

use actix_web::{HttpResponse, web};

use crate::app::AppState;
use crate::web::error::WebError;

pub mod enroll;
pub mod errors;
pub mod identity;
pub mod scep;

pub mod mdm;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
    scep::configure(cfg);
    enroll::configure(cfg);
    assets::configure(cfg);
    ui::configure(cfg);
    feeds::configure(cfg);
    cfg.route("/metrics", web::get().to(metrics))
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound)
}

/// Prometheus metrics (OpenMetrics text).
async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
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
