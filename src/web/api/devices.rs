//! `/api/v1/devices` (list with filters, CSV export, one device, queue a query command) and
//! `/api/v1/compliance` (summary, one device).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, FieldProblem};
use crate::app::AppState;
use crate::compliance::Compliance;
use crate::device_list::ListPage;
use crate::mdm::MdmError;
use crate::policy::service::{DeviceGroup, GroupRef};
use crate::protocol::commands::CommandRequest;
use crate::store::device_list::DeviceRow;
use crate::store::devices;
use crate::web::device_filter::{self, DeviceListParams};
use crate::web::ui::can;

type Reader = Caller<can::View>;

/// Largest CSV export, in rows.
pub const EXPORT_MAX_ROWS: usize = 200_000;

#[derive(Serialize)]
pub struct DevicePage {
    pub devices: Vec<DeviceRow>,
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub pages: usize,
}

pub async fn list(
    _caller: Reader,
    state: web::Data<AppState>,
    params: web::Query<DeviceListParams>,
) -> Result<HttpResponse, ApiError> {
    let service = state.device_list();
    let view = device_filter::checked_view(&service, &params, state.clock.now())
        .await?
        .map_err(ApiError::Validation)?;
    let (per_page, page) = (view.per_page, view.page);
    let ListPage { rows: devices, total } = service.page(&view).await?;
    Ok(HttpResponse::Ok().json(DevicePage {
        devices,
        total,
        page,
        per_page,
        pages: total.div_ceil(per_page).max(1),
    }))
}

pub async fn export(
    _caller: Reader,
    state: web::Data<AppState>,
    params: web::Query<DeviceListParams>,
) -> Result<HttpResponse, ApiError> {
    csv_response(&state, &params).await
}

/// The CSV of every device in the filtered view (paging ignored), as a download.
pub async fn csv_response(state: &AppState, params: &DeviceListParams) -> Result<HttpResponse, ApiError> {
    let service = state.device_list();
    let view = device_filter::checked_view(&service, params, state.clock.now())
        .await?
        .map_err(ApiError::Validation)?;
    let rows = service.all_rows(&view, EXPORT_MAX_ROWS).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"devices.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(device_filter::csv(&rows)))
}

#[derive(Serialize)]
struct DeviceDetail {
    udid: String,
    name: Option<String>,
    serial_number: Option<String>,
    model: Option<String>,
    model_name: Option<String>,
    os_version: Option<String>,
    build_version: Option<String>,
    supervised: Option<bool>,
    enrollment: &'static str,
    enrolled_at: Option<String>,
    first_seen_at: String,
    last_seen_at: String,
    last_push_at: Option<String>,
    last_push_result: Option<String>,
    compliance: Option<Compliance>,
    /// Its ring (the lowest-order ring it is in), or null.
    ring: Option<GroupRef>,
    /// Every group it is in, rings first.
    groups: Vec<DeviceGroup>,
}

pub async fn show(
    _caller: Reader,
    state: web::Data<AppState>,
    udid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let udid = udid.into_inner();
    let lookup = udid.clone();
    let device = state
        .store
        .read(move |c| devices::get(c, &lookup))
        .await?
        .ok_or_else(|| ApiError::not_found("device with this UDID"))?;
    let compliance = state
        .compliance()
        .device(&udid)
        .await
        .map_err(ApiError::internal)?;
    let groups = state
        .policies
        .device_groups(&udid)
        .await
        .map_err(ApiError::internal)?;
    let inv = device.inventory;
    Ok(HttpResponse::Ok().json(DeviceDetail {
        udid: device.udid,
        name: inv.device_name,
        serial_number: inv.serial_number,
        model: inv.product_name,
        model_name: inv.model_name,
        os_version: inv.os_version,
        build_version: inv.build_version,
        supervised: inv.is_supervised,
        enrollment: device.state.as_str(),
        enrolled_at: device.enrolled_at,
        first_seen_at: device.first_seen_at,
        last_seen_at: device.last_seen_at,
        last_push_at: device.last_push_at,
        last_push_result: device.last_push_result,
        compliance,
        ring: groups.ring,
        groups: groups.groups,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    pub command: String,
}

pub async fn queue_command(
    caller: Caller<can::ManageDevices>,
    state: web::Data<AppState>,
    udid: web::Path<String>,
    body: ApiJson<CommandBody>,
) -> Result<HttpResponse, ApiError> {
    let udid = udid.into_inner();
    let command = body.0.command;
    let (actor, mdm) = (caller.actor(), state.mdm.clone());
    let (target, name) = (udid.clone(), command.clone());
    let queued = web::block(move || mdm.queue_admin_command(&target, &name, &actor))
        .await
        .map_err(ApiError::internal)?;
    match queued {
        Ok(uuid) => Ok(HttpResponse::Accepted().json(serde_json::json!({
            "udid": udid, "command": command, "uuid": uuid.as_str()
        }))),
        Err(MdmError::NotAQueryCommand(_)) => Err(ApiError::Validation(vec![FieldProblem::new(
            "command",
            format!(
                "only the information and update-scan commands can be sent: {}",
                CommandRequest::QUERY_REQUEST_TYPES.join(", ")
            ),
        )])),
        Err(MdmError::InvalidUdid | MdmError::NoSuchDevice(_)) => {
            Err(ApiError::not_found("device with this UDID"))
        }
        Err(MdmError::NotEnrolled(_)) => Err(ApiError::Conflict(
            "this device is not enrolled: commands cannot reach it until it enrolls again".into(),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

pub async fn compliance_summary(
    _caller: Reader,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let summary = state.compliance().summary().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(summary))
}

pub async fn compliance_of(
    _caller: Reader,
    state: web::Data<AppState>,
    udid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let udid = udid.into_inner();
    let compliance = state
        .compliance()
        .device(&udid)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("device with this UDID"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "udid": udid, "compliance": compliance })))
}
