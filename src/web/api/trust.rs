//! `GET /api/v1/trust/device?serial_number=...|udid=...`: for identity providers and conditional
//! access, with an API client's id and secret (HTTP Basic): is the device enrolled, managed,
//! supervised, compliant, on which OS, and since when.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::TrustClient;
use super::error::{ApiError, FieldProblem};
use crate::app::AppState;
use crate::compliance::ComplianceState;
use crate::store::compliance as rows;
use crate::store::devices;

#[derive(Deserialize)]
pub struct TrustQuery {
    serial_number: Option<String>,
    udid: Option<String>,
}

#[derive(Serialize)]
struct TrustAnswer {
    /// False: no device with this identifier is known (every other field is then empty/false).
    known: bool,
    udid: Option<String>,
    serial_number: Option<String>,
    /// Enrolled in MDM now.
    enrolled: bool,
    enrolled_since: Option<String>,
    /// An update policy manages the device's OS version.
    managed: bool,
    supervised: Option<bool>,
    /// Up to date, deferred, in grace or installing.
    compliant: bool,
    compliance_state: Option<&'static str>,
    compliance_reason: Option<String>,
    /// Since when the device has been in its compliance state.
    compliance_since: Option<String>,
    os_version: Option<String>,
    build_version: Option<String>,
    last_seen_at: Option<String>,
}

fn unknown() -> TrustAnswer {
    TrustAnswer {
        known: false,
        udid: None,
        serial_number: None,
        enrolled: false,
        enrolled_since: None,
        managed: false,
        supervised: None,
        compliant: false,
        compliance_state: None,
        compliance_reason: None,
        compliance_since: None,
        os_version: None,
        build_version: None,
        last_seen_at: None,
    }
}

pub async fn device(
    _client: TrustClient,
    state: web::Data<AppState>,
    query: web::Query<TrustQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (serial, udid) = (
        query.serial_number.filter(|s| !s.trim().is_empty()),
        query.udid.filter(|s| !s.trim().is_empty()),
    );
    if serial.is_some() == udid.is_some() {
        return Err(ApiError::Validation(vec![FieldProblem::new(
            "serial_number",
            "give exactly one of serial_number and udid",
        )]));
    }
    let found = state
        .store
        .read(move |c| {
            let udid = match (udid, serial) {
                (Some(udid), _) => Some(udid),
                (None, Some(serial)) => rows::udid_for_serial(c, serial.trim())?,
                (None, None) => None,
            };
            match udid {
                Some(udid) => devices::get(c, &udid),
                None => Ok(None),
            }
        })
        .await?;
    let Some(device) = found else {
        return Ok(HttpResponse::Ok().json(unknown()));
    };
    let compliance = state.compliance();
    let assessed = compliance
        .device(&device.udid)
        .await
        .map_err(ApiError::internal)?;
    let stored = compliance
        .stored(&device.udid)
        .await
        .map_err(ApiError::internal)?;
    let enrolled = device.state == devices::EnrollmentState::Enrolled;
    let inv = device.inventory;
    Ok(HttpResponse::Ok().json(TrustAnswer {
        known: true,
        serial_number: inv.serial_number,
        enrolled,
        enrolled_since: if enrolled { device.enrolled_at } else { None },
        managed: assessed
            .as_ref()
            .is_some_and(|c| c.state != ComplianceState::NotManaged),
        supervised: inv.is_supervised,
        compliant: assessed.as_ref().is_some_and(|c| c.state.is_compliant()),
        compliance_state: assessed.as_ref().map(|c| c.state.as_str()),
        compliance_reason: assessed.map(|c| c.reason),
        compliance_since: stored.map(|s| s.since),
        os_version: inv.os_version,
        build_version: inv.build_version,
        last_seen_at: Some(device.last_seen_at),
        udid: Some(device.udid),
    }))
}
