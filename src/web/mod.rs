//! actix adapters. Handlers parse, call a service, and render; they hold no business rules.

use actix_web::{HttpResponse, web};

use crate::app::AppState;

pub mod mdm;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
}

/// Health: answers 200 only when the database answers.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let result = state
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM schema_version", [], |r| r.get::<_, i64>(0))?))
        .await;
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
