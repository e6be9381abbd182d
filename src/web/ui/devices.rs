//! `/devices/{udid}`: one device's page — identity, OS, model,
//! supervision, last seen, push status, its command history with results, its declarations and
//! their state on the device, its latest status items and OS history; buttons for the commands
//! that only ask the device something.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Authorized, CurrentAdmin, Layout, Section, UiError, can, page, see_other};
use crate::app::AppState;
use crate::ddm::{DeclarationOnDevice, StatusChange, StatusErrorView, StatusItemView};
use crate::mdm::MdmError;
use crate::policy::service::DeviceGroups;
use crate::store::commands::{self as command_store, CommandRecord};
use crate::store::devices::{self, Device};

const HISTORY_LIMIT: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    super::device_list::configure(cfg);
    cfg.route("/devices/{udid}", web::get().to(show))
        .route("/devices/{udid}/commands", web::post().to(queue_command));
}

/// The buttons of the device page: the query commands ([`CommandRequest::QUERY_REQUEST_TYPES`]),
/// each with its label.
const SAFE_COMMANDS: [(&str, &str); 6] = [
    ("DeviceInformation", "Refresh inventory"),
    ("SecurityInfo", "Security info"),
    ("ProfileList", "List profiles"),
    ("ScheduleOSUpdateScan", "Scan for updates"),
    ("AvailableOSUpdates", "Available updates"),
    ("OSUpdateStatus", "Update status"),
];

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("—")
}

fn supervised(value: &Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}

/// A command of the history, ready for display.
struct CommandRow {
    request_type: String,
    status: &'static str,
    created_at: String,
    completed_at: String,
    result: String,
}

impl From<CommandRecord> for CommandRow {
    fn from(r: CommandRecord) -> CommandRow {
        let result = match (&r.error_chain, &r.result) {
            (Some(chain), _) => chain.clone(),
            (None, Some(raw)) => String::from_utf8_lossy(raw).into_owned(),
            (None, None) => String::new(),
        };
        CommandRow {
            request_type: r.request_type,
            status: r.status.as_str(),
            created_at: r.created_at,
            completed_at: r.completed_at.unwrap_or_default(),
            result,
        }
    }
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    layout: Layout,
    device: Device,
    commands: Vec<CommandRow>,
    declarations: Vec<DeclarationOnDevice>,
    in_sync: Option<bool>,
    status_items: Vec<StatusItemView>,
    status_errors: Vec<StatusErrorView>,
    os_history: Vec<StatusChange>,
    install_history: Vec<StatusChange>,
    safe_commands: &'static [(&'static str, &'static str)],
    can_send: bool,
    update_plan: Result<Option<super::device_plan::PlanSection>, String>,
    groups: DeviceGroups,
    notice: Option<String>,
    error: Option<String>,
}

impl DevicePage {
    fn reasons(&self, d: &DeclarationOnDevice) -> String {
        d.on_device
            .as_ref()
            .map(|s| {
                reasons_text(
                    s.reasons
                        .iter()
                        .map(|r| (r.code.as_str(), r.description.as_deref())),
                )
            })
            .unwrap_or_default()
    }

    fn error_text(&self, e: &StatusErrorView) -> String {
        reasons_text(
            e.reasons
                .iter()
                .map(|r| (r.code.as_str(), r.description.as_deref())),
        )
    }
}

/// `code: description; code` — the reasons a device gave, as one line.
fn reasons_text<'a>(reasons: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> String {
    reasons
        .map(|(code, description)| match description {
            Some(text) => format!("{code}: {text}"),
            None => code.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn change_text(value: &Option<serde_json::Value>) -> String {
    value.as_ref().map_or_else(|| "—".into(), value_text)
}

fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    queued: Option<String>,
}

async fn show(
    admin: CurrentAdmin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, UiError> {
    let udid = path.into_inner();
    let layout = admin.layout("Device", Section::Devices);
    let failed = |e: String| refuse(StatusCode::INTERNAL_SERVER_ERROR, e, &layout);
    let lookup = udid.clone();
    let found = state
        .store
        .read(move |c| {
            let device = devices::get(c, &lookup)?;
            let history = command_store::history(c, &lookup, HISTORY_LIMIT)?;
            Ok((device, history))
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
    let (Some(device), history) = found else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "No device with this UDID.".into(),
            &layout,
        ));
    };
    let ddm = state
        .ddm
        .device_view(&udid, HISTORY_LIMIT)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let notice = query
        .queued
        .as_deref()
        .and_then(|name| SAFE_COMMANDS.iter().find(|(n, _)| *n == name))
        .map(|(name, _)| format!("{name} queued; the device was asked to check in."));
    let can_send = admin.admin.role.can(crate::admin::Permission::ManageDevices);
    let update_plan = super::device_plan::section(&state, &udid).await;
    let groups = state
        .policies
        .device_groups(&udid)
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(page(
        StatusCode::OK,
        &DevicePage {
            layout: Layout {
                title: format!(
                    "Device {}",
                    device.inventory.device_name.as_deref().unwrap_or(&udid)
                ),
                ..layout
            },
            device,
            commands: history.into_iter().map(CommandRow::from).collect(),
            in_sync: ddm.sync.map(|s| s.is_in_sync()),
            declarations: ddm.declarations,
            status_items: ddm.status_items,
            status_errors: ddm.status_errors,
            os_history: ddm.os_history,
            install_history: ddm.install_history,
            safe_commands: &SAFE_COMMANDS,
            can_send,
            update_plan,
            groups,
            notice,
            error: None,
        },
    ))
}

#[derive(Deserialize)]
pub struct CommandForm {
    #[serde(default)]
    command: String,
}

async fn queue_command(
    auth: Authorized<can::ManageDevices>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CommandForm>,
) -> Result<HttpResponse, UiError> {
    let udid = path.into_inner();
    let layout = auth.layout("Device", Section::Devices);
    let (actor, mdm, target) = (auth.actor(), state.mdm.clone(), udid.clone());
    let command = form.into_inner().command;
    let name = command.clone();
    let queued = web::block(move || mdm.queue_admin_command(&target, &name, &actor))
        .await
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), &layout))?;
    let (status, message) = match queued {
        Ok(_) => {
            let query = serde_urlencoded::to_string([("queued", command.as_str())]).unwrap_or_default();
            return Ok(see_other(&format!("/devices/{}?{query}", urlencode(&udid))));
        }
        Err(MdmError::NotAQueryCommand(_) | MdmError::InvalidUdid) => (
            StatusCode::BAD_REQUEST,
            "Only the information and update-scan commands listed on the device page can be sent from here.",
        ),
        Err(MdmError::NoSuchDevice(_)) => (StatusCode::NOT_FOUND, "No device with this UDID."),
        Err(MdmError::NotEnrolled(_)) => (
            StatusCode::CONFLICT,
            "This device is not enrolled: commands cannot reach it until it enrolls again.",
        ),
        Err(e) => return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), &layout)),
    };
    Err(refuse(status, message.into(), &layout))
}

fn refuse(status: StatusCode, message: String, layout: &Layout) -> UiError {
    if status.is_server_error() {
        tracing::error!(error = %message, "device page failed");
    }
    UiError::Status {
        status,
        message,
        layout: Some(Box::new(layout.clone())),
    }
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_button_is_a_query_command_and_every_query_command_has_a_button() {
        use crate::protocol::commands::CommandRequest;
        let buttons: Vec<&str> = super::SAFE_COMMANDS.iter().map(|(name, _)| *name).collect();
        assert_eq!(buttons, CommandRequest::QUERY_REQUEST_TYPES);
    }
}
