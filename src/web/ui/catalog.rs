//! `/catalog`: the OS releases Apple offers per platform, how many enrolled devices each applies
//! to, the state of the refresh sources; "Refresh now" and the offline import form (managers of
//! the catalog only; every role may read). The import itself is in [`super::catalog_import`].

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Authorized, CurrentAdmin, Layout, Section, UiError, audit_event, can, page, see_other};
use crate::app::AppState;
use crate::catalog::OsFamily;
use crate::catalog::fleet::FleetCoverage;
use crate::catalog::overview::{BsiRow, ReleaseRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/catalog", web::get().to(show))
        .route("/catalog/refresh", web::post().to(refresh))
        .route("/catalog/import", web::post().to(super::catalog_import::import));
}

pub(super) type CatalogManager = Authorized<can::ManageCatalog>;

/// Most files in one import: a gdmf catalog and the SOFA feeds (v1/v2, macOS/iOS, extras).
pub const MAX_FILES: usize = 8;

/// The platforms in the order the page shows them.
const PLATFORMS: [(OsFamily, &str); 7] = [
    (OsFamily::Ios, "iOS and iPadOS"),
    (OsFamily::MacOs, "macOS"),
    (OsFamily::TvOs, "tvOS"),
    (OsFamily::VisionOs, "visionOS"),
    (OsFamily::WatchOs, "watchOS"),
    (OsFamily::AudioOs, "audioOS (HomePod)"),
    (OsFamily::Other, "Other"),
];

fn platform_name(family: OsFamily) -> &'static str {
    PLATFORMS
        .iter()
        .find(|(f, _)| *f == family)
        .map(|(_, name)| *name)
        .unwrap_or("Other")
}

pub struct ReleaseView {
    pub version: String,
    pub builds: String,
    pub supervised_only: bool,
    pub posted: String,
    pub expires: String,
    pub cves: String,
    pub exploited: Option<usize>,
    pub security_info: Option<String>,
    pub fleet_devices: usize,
    pub models: usize,
}

impl From<&ReleaseRow> for ReleaseView {
    fn from(r: &ReleaseRow) -> ReleaseView {
        ReleaseView {
            version: r.version.to_string(),
            builds: r.builds.join(", "),
            supervised_only: !r.public,
            posted: r.posting_date.to_string(),
            expires: r.expiration_date.to_string(),
            cves: r
                .cve_count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "unknown".into()),
            exploited: r.actively_exploited,
            security_info: r.security_info.clone().filter(|s| s.starts_with("https://")),
            fleet_devices: r.fleet_devices,
            models: r.supported_models,
        }
    }
}

pub struct PlatformView {
    pub name: &'static str,
    pub releases: Vec<ReleaseView>,
}

pub struct BsiView {
    pub platform: &'static str,
    pub version: String,
    pub build: String,
    pub prerequisite: String,
    pub posted: String,
    pub expires: String,
    pub models: usize,
    pub cves: String,
}

impl From<&BsiRow> for BsiView {
    fn from(b: &BsiRow) -> BsiView {
        BsiView {
            platform: platform_name(b.family),
            version: b.version.to_string(),
            build: b.build.clone(),
            prerequisite: b.prerequisite_build.clone(),
            posted: b.posting_date.to_string(),
            expires: b.expiration_date.to_string(),
            models: b.supported_models,
            cves: b
                .cve_count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "unknown".into()),
        }
    }
}

pub struct DocumentView {
    pub description: String,
    pub source: String,
    pub received: String,
    pub bytes: usize,
}

/// One attempt of a refresh or import, as the history table shows it.
pub struct AttemptView {
    pub at: String,
    pub source: String,
    pub result: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    layout: Layout,
    notice: Option<String>,
    error: Option<String>,
    has_catalog: bool,
    platforms: Vec<PlatformView>,
    bsis: Vec<BsiView>,
    documents: Vec<DocumentView>,
    coverage: FleetCoverage,
    /// The latest attempt of each source, newest first.
    sources: Vec<AttemptView>,
    history: Vec<AttemptView>,
    failing: bool,
    /// The account may refresh and import.
    can_manage: bool,
    max_mb: u64,
    max_files: usize,
}

#[derive(Deserialize)]
pub struct Done {
    refreshed: Option<String>,
    updated: Option<usize>,
    failed: Option<usize>,
}

fn notice_for(done: &Done) -> Option<String> {
    done.refreshed.as_ref()?;
    let (updated, failed) = (done.updated.unwrap_or(0), done.failed.unwrap_or(0));
    Some(match failed {
        0 => format!("Refresh finished: {updated} document(s) updated, no source failed."),
        _ => format!(
            "Refresh finished: {updated} document(s) updated, {failed} source(s) failed (their last good copy is kept; see below)."
        ),
    })
}

fn attempt(r: crate::store::catalog::RefreshRow) -> AttemptView {
    AttemptView {
        at: r.at,
        source: r.source,
        result: r.result,
        error: r.error.unwrap_or_default(),
    }
}

async fn render(
    current: &CurrentAdmin,
    state: &AppState,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, UiError> {
    let layout = current.layout("Catalog", Section::Catalog);
    let (overview, coverage) = state
        .catalog
        .fleet_overview()
        .await
        .map_err(|e| UiError::internal(e, "catalog", &layout))?;
    let history = state
        .catalog
        .recent_refreshes(40)
        .await
        .map_err(|e| UiError::internal(e, "catalog", &layout))?;
    let mut latest: BTreeMap<&str, &crate::store::catalog::RefreshRow> = BTreeMap::new();
    for row in &history {
        latest.entry(row.source.as_str()).or_insert(row);
    }
    let mut sources: Vec<AttemptView> = latest.into_values().cloned().map(attempt).collect();
    sources.sort_by(|a, b| b.at.cmp(&a.at));
    let platforms = PLATFORMS
        .iter()
        .map(|(family, name)| PlatformView {
            name,
            releases: overview.releases_of(*family).map(ReleaseView::from).collect(),
        })
        .filter(|p| !p.releases.is_empty())
        .collect();
    Ok(page(
        status,
        &CatalogPage {
            notice,
            error,
            has_catalog: overview.health.has_catalog,
            failing: overview.health.alert(),
            can_manage: current.admin.can(crate::admin::Permission::ManageCatalog),
            platforms,
            bsis: overview.bsis.iter().map(BsiView::from).collect(),
            documents: overview
                .documents
                .iter()
                .map(|d| DocumentView {
                    description: d.description.clone(),
                    source: d.source.clone(),
                    received: super::utc_minute(d.received_at),
                    bytes: d.bytes,
                })
                .collect(),
            coverage,
            sources,
            history: history.into_iter().take(15).map(attempt).collect(),
            max_mb: state.config.catalog.max_document_bytes.div_ceil(1024 * 1024),
            max_files: MAX_FILES,
            layout,
        },
    ))
}

async fn show(
    current: CurrentAdmin,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    render(&current, &state, StatusCode::OK, notice_for(&query), None).await
}

async fn refresh(auth: CatalogManager, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    match state.catalog.refresh().await {
        Ok(outcomes) => {
            let updated = outcomes.iter().filter(|o| o.result == "updated").count();
            let failed = outcomes.iter().filter(|o| o.result == "failed").count();
            let summary = serde_json::json!({ "updated": updated, "failed": failed });
            audit_event(&state, &auth.actor(), "catalog.refresh", "catalog", Some(summary)).await;
            let query = serde_urlencoded::to_string([
                ("refreshed", "1".to_string()),
                ("updated", updated.to_string()),
                ("failed", failed.to_string()),
            ])
            .unwrap_or_default();
            Ok(see_other(&format!("/catalog?{query}")))
        }
        Err(e) => {
            let message = format!("The refresh could not run: {e}");
            tracing::warn!(error = %e, "catalog refresh from the UI failed");
            render(
                &auth,
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                Some(message),
            )
            .await
        }
    }
}
