//! `/`: the dashboard frame. Fleet figures come with the device and compliance pieces; until
//! then it shows what the appliance knows for real (accounts, audit, CA) and says the rest is
//! not built yet. Above it, the alerts that need someone: the push certificate (missing,
//! expiring at 30/14/7 days, expired) and the catalog (not loaded, a source failing), each with
//! a link to the page that fixes it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::audit::AuditRow;
use super::{CurrentAdmin, Layout, Section, UiError, page};
use crate::app::AppState;
use crate::push::ExpiryStatus;

/// Something that needs attention, and where to fix it.
pub struct Alert {
    /// `warning` or `danger` (a CSS class).
    pub level: &'static str,
    pub text: String,
    pub href: &'static str,
    pub action: &'static str,
}

async fn alerts(state: &AppState) -> Vec<Alert> {
    let mut alerts = Vec::new();
    let now = state.clock.now();
    match crate::push::import::current(&state.store).await {
        Ok(None) => alerts.push(Alert {
            level: "danger",
            text: "No push certificate is imported: devices cannot enroll and cannot be woken.".into(),
            href: "/settings",
            action: "Import the push certificate",
        }),
        Ok(Some(info)) => {
            if let Some((level, text)) = super::settings::expiry_warning(&ExpiryStatus::new(&info, now)) {
                alerts.push(Alert {
                    level,
                    text,
                    href: "/settings",
                    action: "Import the renewed certificate",
                });
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the push certificate for the dashboard");
            alerts.push(Alert {
                level: "danger",
                text: "The stored push certificate details cannot be read; the appliance log has the reason."
                    .into(),
                href: "/settings",
                action: "Open the settings",
            });
        }
    }
    if let Some(reason) = state.pusher.health().certificate_alert {
        alerts.push(Alert {
            level: "danger",
            text: format!("Apple's push service refuses the push certificate: {reason}."),
            href: "/settings",
            action: "Import a valid certificate",
        });
    }
    let health = state.catalog.health();
    if !health.has_catalog {
        alerts.push(Alert {
            level: "warning",
            text: "No Apple catalog is loaded: which updates devices may install is unknown.".into(),
            href: "/catalog",
            action: "Refresh or import the catalog",
        });
    }
    for failure in &health.failures {
        alerts.push(Alert {
            level: "warning",
            text: format!(
                "The catalog refresh from {} failed at {}: {}. The last good copy is still in use.",
                failure.source, failure.at, failure.error
            ),
            href: "/catalog",
            action: "Open the catalog",
        });
    }
    alerts
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(show));
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    alerts: Vec<Alert>,
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
            alerts: alerts(&state).await,
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
