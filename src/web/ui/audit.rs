//! `/audit`: the audit log, newest first, 50 entries a page (`?before=<id>` for older ones).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Authorized, Layout, Section, UiError, can, page};
use crate::app::AppState;
use crate::store::audit::AuditRecord;

pub const PAGE_SIZE: u32 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(show));
}

/// An audit entry ready for display.
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: String,
    pub after: String,
    pub remote_addr: String,
}

impl From<AuditRecord> for AuditRow {
    fn from(r: AuditRecord) -> AuditRow {
        AuditRow {
            id: r.id,
            at: r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            actor: r.actor,
            action: r.action,
            target: r.target,
            before: r.before.unwrap_or_default(),
            after: r.after.unwrap_or_default(),
            remote_addr: r.remote_addr.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPageView {
    layout: Layout,
    rows: Vec<AuditRow>,
    total: i64,
    older: Option<i64>,
    is_first_page: bool,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

async fn show(
    auth: Authorized<can::View>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, UiError> {
    let layout = auth.layout("Audit log", Section::Audit);
    let result = state
        .admins()
        .audit_page(query.before, PAGE_SIZE)
        .await
        .map_err(|e| UiError::admin(e, Some(layout.clone())))?;
    Ok(page(
        StatusCode::OK,
        &AuditPageView {
            layout,
            rows: result.entries.into_iter().map(AuditRow::from).collect(),
            total: result.total,
            older: result.older,
            is_first_page: query.before.is_none(),
        },
    ))
}
