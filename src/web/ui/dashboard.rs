//! `/`: the dashboard frame. Fleet figures come with the device and compliance pieces; until
//! then it shows what the appliance knows for real (accounts, audit, CA) and says the rest is
//! not built yet.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::audit::AuditRow;
use super::{CurrentAdmin, Layout, Section, UiError, page};
use crate::app::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(show));
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    username: String,
    accounts: i64,
    audit_total: i64,
    rows: Vec<AuditRow>,
    ca_fingerprint: String,
    version: &'static str,
}

async fn show(current: CurrentAdmin, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    let layout = current.layout("Dashboard", Section::Dashboard);
    let admins = state.admins();
    let accounts = admins
        .count()
        .await
        .map_err(|e| UiError::admin(e, Some(layout.clone())))?;
    let recent = admins
        .audit_page(None, 5)
        .await
        .map_err(|e| UiError::admin(e, Some(layout.clone())))?;
    Ok(page(
        StatusCode::OK,
        &DashboardPage {
            username: current.admin.username.clone(),
            accounts,
            audit_total: recent.total,
            rows: recent.entries.into_iter().map(AuditRow::from).collect(),
            ca_fingerprint: state.pki.ca_fingerprint(),
            version: env!("CARGO_PKG_VERSION"),
            layout,
        },
    ))
}
