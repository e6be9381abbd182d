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
            before: r.before.as_deref().map(describe).unwrap_or_default(),
            after: r.after.as_deref().map(describe).unwrap_or_default(),
            remote_addr: r.remote_addr.unwrap_or_default(),
        }
    }
}

/// A JSON object `{"role":"viewer","disabled":false}` reads as `role: viewer, disabled: false`;
/// anything else is shown as stored.
fn describe(stored: &str) -> String {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(stored) {
        Ok(map) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(_) => stored.to_string(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn json_objects_read_as_key_value_pairs() {
        assert_eq!(
            super::describe(r#"{"role":"viewer","disabled":false}"#),
            "disabled: false, role: viewer"
        );
        assert_eq!(super::describe("plain words"), "plain words");
    }
}
