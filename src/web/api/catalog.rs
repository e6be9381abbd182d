//! `/api/v1/catalog`: the releases Apple offers (with fleet counts), refresh, offline import.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::{parse, read_limited};
use super::error::{ApiError, FieldProblem};
use crate::app::AppState;
use crate::catalog::CatalogError;
use crate::catalog::overview::ReleaseRow;
use crate::web::ui::catalog::MAX_FILES;
use crate::web::ui::{audit_event, can};

#[derive(Serialize)]
struct Release {
    platform: &'static str,
    version: String,
    builds: Vec<String>,
    /// False: offered only to supervised devices through MDM.
    public: bool,
    posted: NaiveDate,
    expires: NaiveDate,
    supported_models: usize,
    fleet_devices: usize,
    cve_count: Option<usize>,
    actively_exploited: Option<usize>,
    security_info: Option<String>,
}

impl From<&ReleaseRow> for Release {
    fn from(r: &ReleaseRow) -> Release {
        Release {
            platform: r.family.as_str(),
            version: r.version.to_string(),
            builds: r.builds.clone(),
            public: r.public,
            posted: r.posting_date,
            expires: r.expiration_date,
            supported_models: r.supported_models,
            fleet_devices: r.fleet_devices,
            cve_count: r.cve_count,
            actively_exploited: r.actively_exploited,
            security_info: r.security_info.clone(),
        }
    }
}

pub async fn releases(
    _caller: Caller<can::View>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (overview, _) = state.catalog.fleet_overview().await?;
    let releases: Vec<Release> = overview.releases.iter().map(Release::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "has_catalog": overview.health.has_catalog,
        "releases": releases,
    })))
}

pub async fn refresh(
    caller: Caller<can::ManageCatalog>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let outcomes = state.catalog.refresh().await.map_err(ApiError::internal)?;
    let updated = outcomes.iter().filter(|o| o.result == "updated").count();
    let failed = outcomes.iter().filter(|o| o.result == "failed").count();
    let summary = serde_json::json!({ "updated": updated, "failed": failed });
    audit_event(
        &state,
        &caller.actor(),
        "catalog.refresh",
        "catalog",
        Some(summary),
    )
    .await;
    let sources: Vec<_> = outcomes
        .iter()
        .map(|o| serde_json::json!({ "source": o.source, "result": o.result, "error": o.error }))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "updated": updated, "failed": failed, "sources": sources
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    pub files: Vec<ImportFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    pub name: String,
    /// The document's text (gdmf catalog or SOFA feed JSON).
    pub content: String,
}

pub async fn import(
    caller: Caller<can::ManageCatalog>,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let per_file = usize::try_from(state.config.catalog.max_document_bytes).unwrap_or(usize::MAX);
    let limit = per_file.saturating_add(4096).saturating_mul(MAX_FILES);
    let bytes = read_limited(&mut payload, limit).await?;
    let body: ImportBody = parse(&bytes)?;
    if body.files.is_empty() || body.files.len() > MAX_FILES {
        return Err(ApiError::Validation(vec![FieldProblem::new(
            "files",
            format!("give 1 to {MAX_FILES} documents"),
        )]));
    }
    let items: Vec<(String, Vec<u8>)> = body
        .files
        .into_iter()
        .map(|f| (f.name, f.content.into_bytes()))
        .collect();
    let catalog = state.catalog.clone();
    let result = web::block(move || catalog.import_documents(items, &mut |_| {}))
        .await
        .map_err(ApiError::internal)?;
    match result {
        Ok(imported) => {
            let files: Vec<_> = imported
                .iter()
                .map(|i| serde_json::json!({ "name": i.name, "kind": i.kind.slot(), "changed": i.changed }))
                .collect();
            let after = serde_json::json!({ "files": files });
            audit_event(
                &state,
                &caller.actor(),
                "catalog.import",
                "catalog",
                Some(after.clone()),
            )
            .await;
            Ok(HttpResponse::Ok().json(after))
        }
        Err(e) => {
            let inner = match &e {
                CatalogError::InFile { source, .. } => source.as_ref(),
                other => other,
            };
            if let CatalogError::TooLarge { .. } = inner {
                return Err(ApiError::PayloadTooLarge { limit: per_file });
            }
            if e.is_bad_input() {
                Err(ApiError::Validation(vec![FieldProblem::new(
                    "files",
                    format!("{e}; the catalog is unchanged"),
                )]))
            } else {
                Err(ApiError::internal(e))
            }
        }
    }
}
