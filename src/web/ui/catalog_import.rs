//! `POST /catalog/import`: the offline import form. The files stream in under the size limit,
//! are validated together like `orchard catalog import`, and the answer lists each file and what
//! happened to it; one bad file refuses the whole import and leaves the catalog unchanged.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::catalog::{CatalogManager, MAX_FILES};
use super::upload::{self, Limits};
use super::{Layout, Section, UiError, audit_event, page};
use crate::app::AppState;
use crate::catalog::CatalogError;

/// One file of an import as the result page lists it.
pub struct FileOutcome {
    pub name: String,
    pub bytes: usize,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "catalog_import.html")]
struct ImportPage {
    layout: Layout,
    imported: bool,
    error: Option<String>,
    files: Vec<FileOutcome>,
}

fn import_page(
    auth: &CatalogManager,
    status: StatusCode,
    error: Option<String>,
    files: Vec<FileOutcome>,
) -> HttpResponse {
    page(
        status,
        &ImportPage {
            layout: auth.layout("Catalog import", Section::Catalog),
            imported: error.is_none(),
            error,
            files,
        },
    )
}

fn status_of(e: &CatalogError) -> StatusCode {
    let inner = match e {
        CatalogError::InFile { source, .. } => source.as_ref(),
        other => other,
    };
    match inner {
        CatalogError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ if e.is_bad_input() => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(super) async fn import(
    auth: CatalogManager,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, UiError> {
    let limits = Limits {
        file_bytes: state.config.catalog.max_document_bytes,
        max_files: MAX_FILES,
        text_bytes: 1024,
    };
    let upload = match upload::read(&req, payload, limits).await {
        Ok(upload) => upload,
        Err(e) => return Ok(import_page(&auth, e.status(), Some(e.to_string()), Vec::new())),
    };
    let items: Vec<(String, Vec<u8>)> = upload.files.into_iter().map(|f| (f.name, f.bytes)).collect();
    let received: Vec<(String, usize)> = items.iter().map(|(n, b)| (n.clone(), b.len())).collect();
    let catalog = state.catalog.clone();
    let result = web::block(move || catalog.import_documents(items, &mut |_| {}))
        .await
        .map_err(|e| {
            UiError::internal(
                e,
                "catalog import",
                &auth.layout("Catalog import", Section::Catalog),
            )
        })?;
    match result {
        Ok(imported) => {
            let files: Vec<FileOutcome> = imported
                .iter()
                .zip(&received)
                .map(|(i, (_, bytes))| FileOutcome {
                    name: i.name.clone(),
                    bytes: *bytes,
                    outcome: format!(
                        "{}: {}",
                        i.kind.describe(),
                        if i.changed {
                            "imported, replaces the previous copy"
                        } else {
                            "same as the current copy"
                        }
                    ),
                })
                .collect();
            let after = serde_json::json!({
                "files": imported.iter().map(|i| serde_json::json!({
                    "name": i.name, "kind": i.kind.slot(), "changed": i.changed
                })).collect::<Vec<_>>()
            });
            audit_event(&state, &auth.actor(), "catalog.import", "catalog", Some(after)).await;
            Ok(import_page(&auth, StatusCode::OK, None, files))
        }
        Err(e) => {
            let status = status_of(&e);
            let message = if status.is_server_error() {
                tracing::error!(error = %e, "catalog import failed");
                super::error::INTERNAL_MESSAGE.into()
            } else {
                format!("Refused: {e}. The catalog is unchanged.")
            };
            let files = received
                .into_iter()
                .map(|(name, bytes)| FileOutcome {
                    name,
                    bytes,
                    outcome: "not imported".into(),
                })
                .collect();
            Ok(import_page(&auth, status, Some(message), files))
        }
    }
}
