//! Ingesting status reports: latest values, history only on change, errors, declaration states,
//! and the inventory the MDM layer keeps.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use super::{DdmError, DdmService};
use crate::protocol::ddm::status::catalogue::ItemShape;
use crate::protocol::ddm::token::canonical_json;
use crate::protocol::ddm::{StatusReport, status::DeclarationState};
use crate::store::ddm::status::{self as store, DeclarationStateRow};

const OS_VERSION: &str = "device.operating-system.version";
const OS_BUILD: &str = "device.operating-system.build-version";
const OS_SUPPLEMENTAL_BUILD: &str = "device.operating-system.supplemental.build-version";
const OS_SUPPLEMENTAL_EXTRA: &str = "device.operating-system.supplemental.extra-version";
const MODEL_IDENTIFIER: &str = "device.model.identifier";
const MODEL_FAMILY: &str = "device.model.family";
const DEVICE_ID: &str = "softwareupdate.device-id";
const INSTALL_STATE: &str = "softwareupdate.install-state";
const PENDING_VERSION: &str = "softwareupdate.pending-version";
const FAILURE_REASON: &str = "softwareupdate.failure-reason";

/// The items whose history is the device's OS version history.
pub const OS_VERSION_ITEMS: &[&str] = &[OS_VERSION, OS_BUILD, OS_SUPPLEMENTAL_BUILD, OS_SUPPLEMENTAL_EXTRA];
/// The items whose history is the device's update install history.
pub const INSTALL_STATE_ITEMS: &[&str] = &[
    INSTALL_STATE,
    PENDING_VERSION,
    FAILURE_REASON,
    "softwareupdate.install-reason",
];

const INVENTORY_ITEMS: &[&str] = &[
    OS_VERSION,
    OS_BUILD,
    OS_SUPPLEMENTAL_BUILD,
    OS_SUPPLEMENTAL_EXTRA,
    MODEL_IDENTIFIER,
    MODEL_FAMILY,
    DEVICE_ID,
];

/// What the device's status says of its inventory, after the latest report. `None`: not reported
/// (or gone from the last full report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusInventory {
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    /// Build with the RSR/BSI letter, e.g. `22E772610a`.
    pub supplemental_build_version: Option<String>,
    /// The RSR/BSI letter, e.g. `(a)`.
    pub supplemental_extra_version: Option<String>,
    /// E.g. `MacBookPro18,3`.
    pub model_identifier: Option<String>,
    /// E.g. `Mac`, `iPhone`.
    pub model_family: Option<String>,
    /// `softwareupdate.device-id`, what Apple's catalog lists as `SupportedDevices`.
    pub device_id: Option<String>,
    /// `softwareupdate.install-state`: `none`, `downloading`, `prepared`, `installing`, `failed`
    /// (and `waiting`, which some releases report).
    pub install_state: Option<String>,
    /// `softwareupdate.pending-version` `os-version` (`None` when empty: nothing pending).
    pub pending_version: Option<String>,
    /// `softwareupdate.failure-reason` `reason`.
    pub failure_reason: Option<String>,
    /// `softwareupdate.failure-reason` `count` (0 when no failures).
    pub failure_count: Option<u32>,
}

impl StatusInventory {
    /// From stored item values (canonical JSON text, by name).
    pub fn from_values(values: &HashMap<String, String>) -> StatusInventory {
        let text = |name: &str| {
            values
                .get(name)
                .and_then(|json| serde_json::from_str::<Value>(json).ok())
                .and_then(|value| value.as_str().map(str::to_string))
        };
        let dict = |name: &str| {
            values
                .get(name)
                .and_then(|json| serde_json::from_str::<Value>(json).ok())
                .filter(Value::is_object)
        };
        let pending = dict(PENDING_VERSION);
        let failure = dict(FAILURE_REASON);
        StatusInventory {
            install_state: text(INSTALL_STATE),
            pending_version: pending
                .as_ref()
                .and_then(|p| p.get("os-version"))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            failure_reason: failure
                .as_ref()
                .and_then(|f| f.get("reason"))
                .and_then(Value::as_str)
                .map(str::to_string),
            failure_count: failure
                .as_ref()
                .and_then(|f| f.get("count"))
                .and_then(Value::as_u64)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            os_version: text(OS_VERSION),
            build_version: text(OS_BUILD),
            supplemental_build_version: text(OS_SUPPLEMENTAL_BUILD),
            supplemental_extra_version: text(OS_SUPPLEMENTAL_EXTRA),
            model_identifier: text(MODEL_IDENTIFIER),
            model_family: text(MODEL_FAMILY),
            device_id: text(DEVICE_ID),
        }
    }
}

fn state_row(state: &DeclarationState, now: &str) -> Result<DeclarationStateRow, DdmError> {
    let reasons = serde_json::to_string(&state.reasons).map_err(|e| DdmError::Inconsistent(e.to_string()))?;
    Ok(DeclarationStateRow {
        identifier: state.identifier.clone(),
        class: state.class.as_str().to_string(),
        server_token: state.server_token.clone(),
        active: state.active,
        valid: String::from(state.valid.clone()),
        reasons,
        updated_at: now.to_string(),
    })
}

/// Applies a report to the stored status; returns the inventory if the report changed it.
fn apply(
    conn: &Connection,
    udid: &str,
    report: &StatusReport,
    now: &str,
) -> Result<Option<StatusInventory>, DdmError> {
    let mut values = store::item_values(conn, udid)?;
    let mut changed: HashSet<String> = HashSet::new();
    let mut reported: HashSet<&str> = HashSet::new();
    for item in &report.items {
        // Declaration states are arrays whose incremental reports carry only changed elements;
        // they are kept per declaration below, not as one value.
        if item.known.is_some_and(|known| known.shape == ItemShape::Array) {
            continue;
        }
        reported.insert(item.name.as_str());
        let value = canonical_json(&item.value);
        let old = values.get(&item.name);
        if old != Some(&value) {
            store::put_item(conn, udid, &item.name, old.map(String::as_str), &value, now)?;
            changed.insert(item.name.clone());
            values.insert(item.name.clone(), value);
        }
    }
    if report.full_report {
        let gone: Vec<String> = values
            .keys()
            .filter(|name| !reported.contains(name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            if let Some(old) = values.remove(&name) {
                store::remove_item(conn, udid, &name, &old, now)?;
                changed.insert(name);
            }
        }
        store::clear_errors(conn, udid)?;
        store::clear_declaration_states(conn, udid)?;
    } else {
        for name in &reported {
            store::remove_error(conn, udid, name)?;
        }
    }
    for error in &report.errors {
        let reasons =
            serde_json::to_string(&error.reasons).map_err(|e| DdmError::Inconsistent(e.to_string()))?;
        store::put_error(conn, udid, &error.status_item, &reasons, now)?;
    }
    for state in &report.declarations {
        store::put_declaration_state(conn, udid, &state_row(state, now)?)?;
    }
    let inventory_changed = INVENTORY_ITEMS.iter().any(|name| changed.contains(*name));
    Ok(inventory_changed.then(|| StatusInventory::from_values(&values)))
}

impl DdmService {
    /// Stores a parsed report in one transaction, then hands a changed inventory to the sink.
    pub(super) async fn ingest_status(&self, udid: &str, report: StatusReport) -> Result<(), DdmError> {
        let now = self.now_text();
        let owned_udid = udid.to_string();
        let inventory = self
            .in_transaction(move |tx| apply(tx, &owned_udid, &report, &now))
            .await?;
        if let Some(inventory) = inventory {
            self.inventory
                .inventory_changed(udid, &inventory)
                .await
                .map_err(|e| DdmError::Inventory(e.to_string()))?;
        }
        Ok(())
    }

    /// What the device's status says of its inventory now.
    pub async fn inventory(&self, udid: &str) -> Result<StatusInventory, DdmError> {
        let udid = udid.to_string();
        self.reading(move |conn| Ok(StatusInventory::from_values(&store::item_values(conn, &udid)?)))
            .await
    }
}
