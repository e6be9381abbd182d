//! Typed values of the status items update management reads (declarative/status/*.yaml).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `softwareupdate.install-state`. `waiting` is described in Apple's text (not its rangelist) and
/// kept defensively; a value Apple adds later is kept as `Other`, never refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InstallState {
    None,
    Waiting,
    Downloading,
    Prepared,
    Installing,
    Failed,
    Other(String),
}

impl InstallState {
    pub fn as_str(&self) -> &str {
        match self {
            InstallState::None => "none",
            InstallState::Waiting => "waiting",
            InstallState::Downloading => "downloading",
            InstallState::Prepared => "prepared",
            InstallState::Installing => "installing",
            InstallState::Failed => "failed",
            InstallState::Other(other) => other,
        }
    }
}

impl From<String> for InstallState {
    fn from(text: String) -> Self {
        match text.as_str() {
            "none" => InstallState::None,
            "waiting" => InstallState::Waiting,
            "downloading" => InstallState::Downloading,
            "prepared" => InstallState::Prepared,
            "installing" => InstallState::Installing,
            "failed" => InstallState::Failed,
            _ => InstallState::Other(text),
        }
    }
}

impl From<InstallState> for String {
    fn from(state: InstallState) -> String {
        state.as_str().to_string()
    }
}

impl fmt::Display for InstallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `softwareupdate.pending-version`: both strings are empty when nothing is pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PendingVersion {
    pub os_version: String,
    pub build_version: String,
    /// Present only when the update is enforced (OS 26 schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_local_date_time: Option<String>,
}

impl PendingVersion {
    pub fn is_pending(&self) -> bool {
        !self.os_version.is_empty() || !self.build_version.is_empty()
    }
}

/// `softwareupdate.failure-reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureReason {
    /// How often the current update failed; 0 when it has not (or nothing is pending).
    pub count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339 time of the last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// One of the reasons in `softwareupdate.install-reason`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InstallReasonCode {
    SystemSettings,
    InstallTonight,
    AutoUpdate,
    Notification,
    SetupAssistant,
    CommandLine,
    Mdm,
    Declaration,
    Other(String),
}

const INSTALL_REASONS: [(&str, InstallReasonCode); 8] = [
    ("system-settings", InstallReasonCode::SystemSettings),
    ("install-tonight", InstallReasonCode::InstallTonight),
    ("auto-update", InstallReasonCode::AutoUpdate),
    ("notification", InstallReasonCode::Notification),
    ("setup-assistant", InstallReasonCode::SetupAssistant),
    ("command-line", InstallReasonCode::CommandLine),
    ("mdm", InstallReasonCode::Mdm),
    ("declaration", InstallReasonCode::Declaration),
];

impl From<String> for InstallReasonCode {
    fn from(text: String) -> Self {
        INSTALL_REASONS
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, code)| code.clone())
            .unwrap_or(InstallReasonCode::Other(text))
    }
}

impl From<InstallReasonCode> for String {
    fn from(code: InstallReasonCode) -> String {
        match code {
            InstallReasonCode::Other(text) => text,
            known => INSTALL_REASONS
                .iter()
                .find(|(_, code)| *code == known)
                .map(|(name, _)| (*name).to_string())
                .unwrap_or_default(),
        }
    }
}

/// `softwareupdate.install-reason`: an empty list means nothing is pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct InstallReason {
    pub reason: Vec<InstallReasonCode>,
    /// The declaration that caused the update, when `reason` holds `declaration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration_id: Option<String>,
}

/// `device.operating-system.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperatingSystemStatus {
    pub version: Option<String>,
    pub build_version: Option<String>,
    /// Build with the RSR/BSI letter, e.g. `20A123a`.
    pub supplemental_build_version: Option<String>,
    /// The RSR/BSI letter; macOS 13 reports it in parentheses, e.g. `(a)`.
    pub supplemental_extra_version: Option<String>,
    pub family: Option<String>,
    pub marketing_name: Option<String>,
}

/// `device.model.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelStatus {
    pub family: Option<String>,
    /// E.g. `MacBookPro15,1`: what GDMF's `SupportedDevices` lists.
    pub identifier: Option<String>,
    pub marketing_name: Option<String>,
    pub number: Option<String>,
}

/// The update-related items of one report: each field is set only when the report carried it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateStatus {
    pub install_state: Option<InstallState>,
    pub pending_version: Option<PendingVersion>,
    pub failure_reason: Option<FailureReason>,
    pub install_reason: Option<InstallReason>,
    pub beta_enrollment: Option<String>,
    pub device_id: Option<String>,
    pub operating_system: OperatingSystemStatus,
    pub model: ModelStatus,
}

/// Whether the device considers a declaration valid (`management.declarations`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Validity {
    Valid,
    Invalid,
    Unknown,
    Other(String),
}

impl From<String> for Validity {
    fn from(text: String) -> Self {
        match text.as_str() {
            "valid" => Validity::Valid,
            "invalid" => Validity::Invalid,
            "unknown" => Validity::Unknown,
            _ => Validity::Other(text),
        }
    }
}

impl From<Validity> for String {
    fn from(validity: Validity) -> String {
        match validity {
            Validity::Valid => "valid".into(),
            Validity::Invalid => "invalid".into(),
            Validity::Unknown => "unknown".into(),
            Validity::Other(text) => text,
        }
    }
}

/// A reason inside `management.declarations` (lowercase keys, statusreason.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationReason {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
}

/// A reason in the report's `Errors` (capitalised keys, statusreport.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReason {
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Description", default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "Details", default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
}

/// An entry of the report's `Errors`: a status item the device could not report, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusItemError {
    #[serde(rename = "StatusItem")]
    pub status_item: String,
    #[serde(rename = "Reasons", default)]
    pub reasons: Vec<ErrorReason>,
}
