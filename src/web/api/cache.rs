//! `/api/v1/cache/...`: installing a cached macOS installer on Macs.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, FieldProblem};
use crate::app::AppState;
use crate::cache::Digest;
use crate::cache::delivery::DeliveryError;
use crate::web::ui::can;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    /// Serial numbers of the Macs.
    pub serials: Vec<String>,
}

/// `POST /cache/payloads/{digest}/install`: queue `InstallEnterpriseApplication` of the cached
/// installer for these Macs (all or none), with the manifest on the appliance's public URL.
pub async fn install_on(
    caller: Caller<can::ManageDevices>,
    state: web::Data<AppState>,
    req: HttpRequest,
    digest: web::Path<String>,
    body: ApiJson<InstallBody>,
) -> Result<HttpResponse, ApiError> {
    let digest = Digest::parse(&digest.into_inner())
        .ok_or_else(|| ApiError::not_found("cached payload with this digest"))?;
    let base = crate::web::enroll::public_url(&state, &req);
    let queued = state
        .installer_delivery()
        .install_on(&caller.actor(), &digest, &body.0.serials, &base)
        .await
        .map_err(api_error)?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "payload": digest.as_str(),
        "manifest_url": crate::cache::delivery::manifest_url(&base, digest.as_str()),
        "queued": queued,
    })))
}

fn api_error(e: DeliveryError) -> ApiError {
    match e {
        DeliveryError::NotCached => ApiError::not_found("cached payload with this digest"),
        DeliveryError::NotDeliverable(reason) => ApiError::Conflict(reason),
        DeliveryError::DeviceCount => ApiError::Validation(vec![FieldProblem::new("serials", e.to_string())]),
        DeliveryError::DevicesRefused(refused) => ApiError::Validation(
            refused
                .into_iter()
                .map(|r| FieldProblem::new("serials", format!("{}: {}", r.serial, r.reason)))
                .collect(),
        ),
        other => ApiError::internal(other),
    }
}
