//! Parsing a device's `StatusReport` (statusreport.yaml): the nested `StatusItems` become a flat
//! list of (dotted name, value), known items are checked and typed, unknown ones kept raw.

pub mod catalogue;
pub mod items;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::declaration::DeclarationClass;
use catalogue::{ItemShape, KnownStatusItem, is_known_prefix, known_item};
pub use items::*;

/// More leaves than any real report carries; beyond it the report is refused.
pub const MAX_STATUS_ITEMS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusReportError {
    #[error("the status report is not valid JSON: {0}")]
    Json(String),
    #[error("the status report must be a JSON object")]
    NotAnObject,
    #[error("the status report lacks the required key {0}")]
    Missing(&'static str),
    #[error("{path}: expected {expected}")]
    WrongShape { path: String, expected: &'static str },
    #[error("the status report holds more than {MAX_STATUS_ITEMS} items")]
    TooManyItems,
}

/// One leaf of `StatusItems`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedItem {
    /// Dotted name, e.g. `softwareupdate.install-state`.
    pub name: String,
    pub value: Value,
    /// What the schemas say of it; `None` for items Orchard does not know (kept as they came).
    pub known: Option<&'static KnownStatusItem>,
}

/// A declaration's state on the device, from `management.declarations.<class>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationState {
    pub class: DeclarationClass,
    pub identifier: String,
    pub server_token: String,
    pub active: bool,
    pub valid: Validity,
    pub reasons: Vec<DeclarationReason>,
}

/// A parsed status report.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    /// Every leaf item, in the order of the report.
    pub items: Vec<ReportedItem>,
    pub errors: Vec<StatusItemError>,
    /// Declaration states from `management.declarations.*`. In an incremental report only the
    /// changed ones are present.
    pub declarations: Vec<DeclarationState>,
    /// `true`: a complete snapshot that replaces what is stored; `false`: only what changed.
    pub full_report: bool,
    /// The update-related items, typed.
    pub update: UpdateStatus,
}

impl StatusReport {
    pub fn parse(body: &[u8]) -> Result<StatusReport, StatusReportError> {
        let root: Value =
            serde_json::from_slice(body).map_err(|error| StatusReportError::Json(error.to_string()))?;
        let Value::Object(mut root) = root else {
            return Err(StatusReportError::NotAnObject);
        };
        let status_items = root
            .remove("StatusItems")
            .ok_or(StatusReportError::Missing("StatusItems"))?;
        let Value::Object(status_items) = status_items else {
            return Err(wrong("StatusItems", "a dictionary"));
        };
        let errors = root
            .remove("Errors")
            .ok_or(StatusReportError::Missing("Errors"))?;
        let errors: Vec<StatusItemError> = typed("Errors", errors, "an array of {StatusItem, Reasons}")?;
        let full_report = match root.remove("FullReport") {
            None => false,
            Some(Value::Bool(full)) => full,
            Some(_) => return Err(wrong("FullReport", "a boolean")),
        };

        let mut items = Vec::new();
        for (key, value) in status_items {
            flatten(key, value, &mut items)?;
        }
        let mut report = StatusReport {
            items: Vec::new(),
            errors,
            declarations: Vec::new(),
            full_report,
            update: UpdateStatus::default(),
        };
        for item in &items {
            report.absorb(item)?;
        }
        report.items = items;
        Ok(report)
    }

    pub fn item(&self, name: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|item| item.name == name)
            .map(|item| &item.value)
    }

    /// Checks a known item's shape and files its typed value.
    fn absorb(&mut self, item: &ReportedItem) -> Result<(), StatusReportError> {
        let Some(known) = item.known else { return Ok(()) };
        let name = item.name.as_str();
        let text = || {
            item.value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| wrong(name, "a string"))
        };
        let update = &mut self.update;
        match (known.shape, name) {
            (ItemShape::Array, _) => {
                let class = match name.rsplit('.').next() {
                    Some("activations") => DeclarationClass::Activation,
                    Some("configurations") => DeclarationClass::Configuration,
                    Some("assets") => DeclarationClass::Asset,
                    _ => DeclarationClass::Management,
                };
                let states: Vec<RawDeclarationState> =
                    typed(name, item.value.clone(), "an array of declaration states")?;
                self.declarations
                    .extend(states.into_iter().map(|raw| raw.into_state(class)));
            }
            (ItemShape::Dictionary, "softwareupdate.pending-version") => {
                update.pending_version =
                    Some(typed(name, item.value.clone(), "{os-version, build-version}")?);
            }
            (ItemShape::Dictionary, "softwareupdate.failure-reason") => {
                update.failure_reason = Some(typed(name, item.value.clone(), "{count, reason, timestamp}")?);
            }
            (ItemShape::Dictionary, "softwareupdate.install-reason") => {
                update.install_reason = Some(typed(name, item.value.clone(), "{reason: [string]}")?);
            }
            (ItemShape::Dictionary, _) => {
                if !item.value.is_object() {
                    return Err(wrong(name, "a dictionary"));
                }
            }
            (ItemShape::String, _) => {
                let value = text()?;
                let os = &mut update.operating_system;
                let model = &mut update.model;
                let slot = match name {
                    "softwareupdate.install-state" => {
                        update.install_state = Some(InstallState::from(value));
                        return Ok(());
                    }
                    "softwareupdate.beta-enrollment" => &mut update.beta_enrollment,
                    "softwareupdate.device-id" => &mut update.device_id,
                    "device.operating-system.version" => &mut os.version,
                    "device.operating-system.build-version" => &mut os.build_version,
                    "device.operating-system.supplemental.build-version" => {
                        &mut os.supplemental_build_version
                    }
                    "device.operating-system.supplemental.extra-version" => {
                        &mut os.supplemental_extra_version
                    }
                    "device.operating-system.family" => &mut os.family,
                    "device.operating-system.marketing-name" => &mut os.marketing_name,
                    "device.model.family" => &mut model.family,
                    "device.model.identifier" => &mut model.identifier,
                    "device.model.marketing-name" => &mut model.marketing_name,
                    "device.model.number" => &mut model.number,
                    _ => return Ok(()),
                };
                *slot = Some(value);
            }
        }
        Ok(())
    }
}

fn wrong(path: &str, expected: &'static str) -> StatusReportError {
    StatusReportError::WrongShape {
        path: path.to_string(),
        expected,
    }
}

fn typed<T: DeserializeOwned>(
    path: &str,
    value: Value,
    expected: &'static str,
) -> Result<T, StatusReportError> {
    serde_json::from_value(value).map_err(|_| wrong(path, expected))
}

/// Walks the nested items: a known item stops the walk (its value may be a dictionary); a path
/// leading to known items must be a dictionary; anything else is kept as an unknown leaf.
fn flatten(name: String, value: Value, out: &mut Vec<ReportedItem>) -> Result<(), StatusReportError> {
    if let Some(known) = known_item(&name) {
        return push(
            out,
            ReportedItem {
                name,
                value,
                known: Some(known),
            },
        );
    }
    let leads_to_known = is_known_prefix(&name);
    match value {
        Value::Object(map) if leads_to_known || !map.is_empty() => {
            for (key, child) in map {
                flatten(format!("{name}.{key}"), child, out)?;
            }
            Ok(())
        }
        _ if leads_to_known => Err(wrong(&name, "a dictionary")),
        other => push(
            out,
            ReportedItem {
                name,
                value: other,
                known: None,
            },
        ),
    }
}

fn push(out: &mut Vec<ReportedItem>, item: ReportedItem) -> Result<(), StatusReportError> {
    if out.len() >= MAX_STATUS_ITEMS {
        return Err(StatusReportError::TooManyItems);
    }
    out.push(item);
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawDeclarationState {
    identifier: String,
    server_token: String,
    active: bool,
    valid: Validity,
    #[serde(default)]
    reasons: Vec<DeclarationReason>,
}

impl RawDeclarationState {
    fn into_state(self, class: DeclarationClass) -> DeclarationState {
        DeclarationState {
            class,
            identifier: self.identifier,
            server_token: self.server_token,
            active: self.active,
            valid: self.valid,
            reasons: self.reasons,
        }
    }
}
