//! Read functions for the device page: the device's declarations and their state on the device,
//! its latest status items and errors, and the history of its OS versions and install states.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use super::sync::load_set;
use super::{DdmError, DdmService, INSTALL_STATE_ITEMS, OS_VERSION_ITEMS, parse_timestamp};
use crate::protocol::ddm::status::{DeclarationReason, ErrorReason};
use crate::store::ddm::{self as store, status as status_store};

/// Where the device stands with one declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeclarationCondition {
    /// Valid and active on the device.
    Active,
    /// Valid but not active (e.g. not referenced by an activation, or its predicate is false).
    Inactive,
    /// The device found it invalid: see the reasons.
    Failed,
    /// Assigned, but the device has not reported it yet.
    Pending,
    /// Reported by the device, but no longer assigned (it goes at the next sync).
    Unassigned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceDeclarationState {
    pub server_token: String,
    pub active: bool,
    /// `valid`, `invalid`, `unknown` (or a value Apple adds later).
    pub valid: String,
    pub reasons: Vec<DeclarationReason>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclarationOnDevice {
    pub identifier: String,
    /// `activation`, `configuration`, `asset` or `management`.
    pub class: String,
    /// `None` for a declaration the device reports but no longer has assigned.
    pub declaration_type: Option<String>,
    /// The token of the assigned (latest) content.
    pub latest_server_token: Option<String>,
    pub on_device: Option<DeviceDeclarationState>,
    /// The device reports the latest token for this declaration.
    pub holds_latest_token: bool,
    pub condition: DeclarationCondition,
}

/// The device's place in the sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSyncView {
    /// The `DeclarationsToken` of the set the device should have.
    pub latest_token: String,
    pub latest_token_at: DateTime<Utc>,
    /// The last token handed to the device (`tokens` or a `DeclarativeManagement` command).
    pub offered_token: Option<String>,
    /// The token of the last manifest the device fetched.
    pub manifest_token: Option<String>,
    pub enrolled_at: Option<DateTime<Utc>>,
}

impl DeviceSyncView {
    /// The device fetched the manifest of its latest set.
    pub fn is_in_sync(&self) -> bool {
        self.manifest_token.as_deref() == Some(self.latest_token.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusItemView {
    pub name: String,
    pub value: Value,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusChange {
    pub name: String,
    /// `None`: first seen.
    pub old: Option<Value>,
    /// `None`: gone from a full report.
    pub new: Option<Value>,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusErrorView {
    pub status_item: String,
    pub reasons: Vec<ErrorReason>,
    pub reported_at: DateTime<Utc>,
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DdmError> {
    serde_json::from_str(text).map_err(|e| DdmError::Inconsistent(format!("stored status JSON: {e}")))
}

/// Everything the device page shows of a device's DDM side, read at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceDdmView {
    /// `None` for a device DDM has not seen.
    pub sync: Option<DeviceSyncView>,
    pub declarations: Vec<DeclarationOnDevice>,
    pub status_items: Vec<StatusItemView>,
    pub status_errors: Vec<StatusErrorView>,
    /// The latest `history_limit` changes of the OS version items, oldest first.
    pub os_history: Vec<StatusChange>,
    /// The latest `history_limit` changes of the install-state items, oldest first.
    pub install_history: Vec<StatusChange>,
}

fn sync_view(conn: &Connection, udid: &str) -> Result<Option<DeviceSyncView>, DdmError> {
    let Some(device) = store::device(conn, udid)? else {
        return Ok(None);
    };
    Ok(Some(DeviceSyncView {
        latest_token_at: parse_timestamp(&device.latest_set_at)?,
        latest_token: device.latest_set,
        offered_token: device.offered_set,
        manifest_token: device.manifest_set,
        enrolled_at: device.enrolled_at.as_deref().map(parse_timestamp).transpose()?,
    }))
}

fn declarations_on_device(conn: &Connection, udid: &str) -> Result<Vec<DeclarationOnDevice>, DdmError> {
    let mut states: BTreeMap<String, status_store::DeclarationStateRow> =
        status_store::declaration_states(conn, udid)?
            .into_iter()
            .map(|state| (state.identifier.clone(), state))
            .collect();
    let mut rows = Vec::new();
    if let Some(device) = store::device(conn, udid)? {
        for declaration in load_set(conn, &device.latest_set)?.iter() {
            let identifier = declaration.identifier().to_string();
            let state = states.remove(&identifier);
            rows.push(view(
                identifier,
                declaration.class().as_str().to_string(),
                Some(declaration.declaration_type().to_string()),
                Some(declaration.server_token().to_string()),
                state,
            )?);
        }
    }
    for (identifier, state) in states {
        let class = state.class.clone();
        rows.push(view(identifier, class, None, None, Some(state))?);
    }
    Ok(rows)
}

fn status_items(conn: &Connection, udid: &str) -> Result<Vec<StatusItemView>, DdmError> {
    status_store::items(conn, udid)?
        .into_iter()
        .map(|row| {
            Ok(StatusItemView {
                value: json(&row.value)?,
                updated_at: parse_timestamp(&row.updated_at)?,
                name: row.name,
            })
        })
        .collect()
}

fn status_errors(conn: &Connection, udid: &str) -> Result<Vec<StatusErrorView>, DdmError> {
    status_store::errors(conn, udid)?
        .into_iter()
        .map(|row| {
            Ok(StatusErrorView {
                reasons: json(&row.reasons)?,
                reported_at: parse_timestamp(&row.reported_at)?,
                status_item: row.status_item,
            })
        })
        .collect()
}

fn status_history(
    conn: &Connection,
    udid: &str,
    names: &[&str],
    limit: usize,
) -> Result<Vec<StatusChange>, DdmError> {
    status_store::history(conn, udid, names, limit)?
        .into_iter()
        .map(|row| {
            Ok(StatusChange {
                old: row.old_value.as_deref().map(json).transpose()?,
                new: row.new_value.as_deref().map(json).transpose()?,
                changed_at: parse_timestamp(&row.changed_at)?,
                name: row.name,
            })
        })
        .collect()
}

impl DdmService {
    /// What the device page shows, in one read.
    pub async fn device_view(&self, udid: &str, history_limit: usize) -> Result<DeviceDdmView, DdmError> {
        let udid = udid.to_string();
        self.reading(move |conn| {
            Ok(DeviceDdmView {
                sync: sync_view(conn, &udid)?,
                declarations: declarations_on_device(conn, &udid)?,
                status_items: status_items(conn, &udid)?,
                status_errors: status_errors(conn, &udid)?,
                os_history: status_history(conn, &udid, OS_VERSION_ITEMS, history_limit)?,
                install_history: status_history(conn, &udid, INSTALL_STATE_ITEMS, history_limit)?,
            })
        })
        .await
    }

    /// The device's sync state; `None` for a device DDM has not seen.
    pub async fn sync_view(&self, udid: &str) -> Result<Option<DeviceSyncView>, DdmError> {
        let udid = udid.to_string();
        self.reading(move |conn| sync_view(conn, &udid)).await
    }

    /// The device's assigned declarations with their state on the device, then the ones the
    /// device still reports but no longer has assigned; by identifier.
    pub async fn declarations_on_device(&self, udid: &str) -> Result<Vec<DeclarationOnDevice>, DdmError> {
        let udid = udid.to_string();
        self.reading(move |conn| declarations_on_device(conn, &udid))
            .await
    }

    /// The latest value of every status item, by name.
    pub async fn status_items(&self, udid: &str) -> Result<Vec<StatusItemView>, DdmError> {
        let udid = udid.to_string();
        self.reading(move |conn| status_items(conn, &udid)).await
    }

    /// The status items the device last said it could not report, with its reasons.
    pub async fn status_errors(&self, udid: &str) -> Result<Vec<StatusErrorView>, DdmError> {
        let udid = udid.to_string();
        self.reading(move |conn| status_errors(conn, &udid)).await
    }

    /// Changes of the named items (every item when empty), oldest first, the latest `limit`.
    pub async fn status_history(
        &self,
        udid: &str,
        names: &'static [&'static str],
        limit: usize,
    ) -> Result<Vec<StatusChange>, DdmError> {
        let udid = udid.to_string();
        self.reading(move |conn| status_history(conn, &udid, names, limit))
            .await
    }

    /// The history of the device's OS version, build and supplemental (RSR/BSI) version.
    pub async fn os_version_history(&self, udid: &str, limit: usize) -> Result<Vec<StatusChange>, DdmError> {
        self.status_history(udid, OS_VERSION_ITEMS, limit).await
    }

    /// The history of install state, pending version, failure and install reasons.
    pub async fn install_state_history(
        &self,
        udid: &str,
        limit: usize,
    ) -> Result<Vec<StatusChange>, DdmError> {
        self.status_history(udid, INSTALL_STATE_ITEMS, limit).await
    }
}

fn view(
    identifier: String,
    class: String,
    declaration_type: Option<String>,
    latest_server_token: Option<String>,
    state: Option<status_store::DeclarationStateRow>,
) -> Result<DeclarationOnDevice, DdmError> {
    let on_device = state
        .map(|row| {
            Ok::<_, DdmError>(DeviceDeclarationState {
                reasons: json(&row.reasons)?,
                updated_at: parse_timestamp(&row.updated_at)?,
                server_token: row.server_token,
                active: row.active,
                valid: row.valid,
            })
        })
        .transpose()?;
    let holds_latest_token = match (&on_device, &latest_server_token) {
        (Some(state), Some(latest)) => &state.server_token == latest,
        _ => false,
    };
    let condition = match (&on_device, &latest_server_token) {
        (_, None) => DeclarationCondition::Unassigned,
        (None, Some(_)) => DeclarationCondition::Pending,
        (Some(state), Some(_)) if state.valid == "invalid" => DeclarationCondition::Failed,
        (Some(state), Some(_)) if state.active => DeclarationCondition::Active,
        (Some(_), Some(_)) => DeclarationCondition::Inactive,
    };
    Ok(DeclarationOnDevice {
        identifier,
        class,
        declaration_type,
        latest_server_token,
        on_device,
        holds_latest_token,
        condition,
    })
}
