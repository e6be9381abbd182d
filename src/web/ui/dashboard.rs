//! `/`: the dashboard. Fleet compliance by state and broken down by ring, group, platform, model
//! and OS version (every number links to the devices behind it), the next 14 days of deadlines as a
//! calendar strip, and what the appliance knows about itself (accounts, audit, CA). Above it,
//! the alerts that need someone: the push certificate (missing, expiring at 30/14/7 days,
//! expired) and the catalog (not loaded, a source failing), each with a link to the page that
//! fixes it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::audit::AuditRow;
use super::dashboard_figures::{
    self as figures, DeadlineDay, FigureTable, HISTORY_COLUMN, HISTORY_DAYS, HISTORY_HEIGHT, HistoryDay,
    STRIP_BAR, STRIP_COLUMN, StateLine,
};
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
    match state.cache.problems().await {
        Ok(problems) => {
            if problems.quarantined > 0 {
                alerts.push(Alert {
                    level: "warning",
                    text: format!(
                        "{} cached payload(s) failed verification and are quarantined: devices are not served them.",
                        problems.quarantined
                    ),
                    href: "/cache",
                    action: "Open the cache",
                });
            }
            if problems.failed_downloads > 0 {
                alerts.push(Alert {
                    level: "warning",
                    text: format!(
                        "{} payload download(s) failed and were not fetched since.",
                        problems.failed_downloads
                    ),
                    href: "/cache",
                    action: "Open the cache",
                });
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the cache state for the dashboard");
            alerts.push(Alert {
                level: "warning",
                text: "The payload cache state cannot be read; the appliance log has the reason.".into(),
                href: "/cache",
                action: "Open the cache",
            });
        }
    }
    alerts
}

/// Days shown in the deadline strip, today first.
pub const DEADLINE_DAYS: u32 = 14;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(show));
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    alerts: Vec<Alert>,
    fleet_total: usize,
    states: Vec<StateLine>,
    headers: Vec<&'static str>,
    tables: Vec<FigureTable>,
    deadlines: Vec<DeadlineDay>,
    strip_width: usize,
    strip_column: usize,
    strip_bar: usize,
    history: Vec<HistoryDay>,
    history_width: usize,
    history_column: usize,
    history_height: usize,
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
    let compliance = state.compliance();
    let failed = |e: crate::compliance::ComplianceError| UiError::internal(e, "dashboard", &layout);
    let fleet = compliance.figures().await.map_err(failed)?;
    let deadlines = compliance
        .upcoming_deadlines(DEADLINE_DAYS)
        .await
        .map_err(failed)?;
    let deadlines = figures::deadline_strip(&deadlines);
    let history = figures::history(&compliance.history(HISTORY_DAYS).await.map_err(failed)?);
    Ok(page(
        StatusCode::OK,
        &DashboardPage {
            fleet_total: fleet.fleet.total(),
            states: figures::state_lines(&fleet),
            headers: figures::headers(),
            tables: figures::tables(&fleet),
            strip_width: deadlines.len() * STRIP_COLUMN,
            strip_column: STRIP_COLUMN,
            strip_bar: STRIP_BAR,
            history_width: history.len().max(1) * HISTORY_COLUMN,
            history_column: HISTORY_COLUMN,
            history_height: HISTORY_HEIGHT,
            history,
            deadlines,
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
