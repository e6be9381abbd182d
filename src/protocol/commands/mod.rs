//! MDM commands: the envelope Orchard sends on `/mdm/connect`, builders for the commands it
//! uses, and parsers for what devices answer.
//!
//! Key names and types follow `mdm/commands/*.yaml` exactly; a test validates every command
//! built here against its schema.

pub mod app_manifest;
pub mod application;
mod body;
pub mod information;
pub mod os_update;
pub mod report;

use plist::{Dictionary, Value};

use super::CommandUuid;
use super::dict;

pub use application::{EnterpriseApplication, RestartOptions};
pub use body::CommandBody;
pub use information::{DeviceInformation, InstalledProfile, SecurityInfo, UPDATE_QUERIES};
pub use os_update::{
    AvailableOsUpdate, InstallAction, OsUpdateStatusItem, ScheduledUpdate, UpdatePriority, UpdateResult,
};
pub use report::{ConnectReport, ErrorChainItem, ReportStatus};

/// What a command asks the device to do (the `Command` dictionary of the envelope).
#[derive(Debug, Clone, PartialEq)]
pub enum CommandRequest {
    /// `Queries`: the names of the values wanted (see [`UPDATE_QUERIES`]).
    DeviceInformation {
        queries: Vec<String>,
    },
    SecurityInfo,
    ProfileList {
        managed_only: Option<bool>,
    },
    /// `Payload`: the (possibly signed or encrypted) profile.
    InstallProfile {
        payload: Vec<u8>,
    },
    RemoveProfile {
        identifier: String,
    },
    /// `Data`: the `TokensResponse` JSON; the plist layer writes it base64-encoded.
    DeclarativeManagement {
        data: Option<Vec<u8>>,
    },
    ScheduleOsUpdate {
        updates: Vec<ScheduledUpdate>,
    },
    ScheduleOsUpdateScan {
        force: Option<bool>,
    },
    AvailableOsUpdates,
    OsUpdateStatus,
    InstallEnterpriseApplication(EnterpriseApplication),
    RestartDevice(RestartOptions),
    /// macOS 10.15.4+: the status of the Mac's content cache (no keys; the answer is read by
    /// `protocol::content_caching::ContentCachingStatus`).
    ContentCachingInformation,
}

impl CommandRequest {
    /// `DeviceInformation` with the queries update management needs.
    pub fn device_information_for_updates() -> CommandRequest {
        CommandRequest::DeviceInformation {
            queries: UPDATE_QUERIES.iter().map(|q| q.to_string()).collect(),
        }
    }

    /// `DeclarativeManagement`, optionally carrying the device's current `TokensResponse` JSON.
    pub fn declarative_management(tokens_response_json: Option<&[u8]>) -> CommandRequest {
        CommandRequest::DeclarativeManagement {
            data: tokens_response_json.map(<[u8]>::to_vec),
        }
    }

    /// The commands that only ask the device something (or to look for updates) and change
    /// nothing on it, by `RequestType`: what an operator may send without further thought.
    pub const QUERY_REQUEST_TYPES: [&'static str; 6] = [
        "DeviceInformation",
        "SecurityInfo",
        "ProfileList",
        "ScheduleOSUpdateScan",
        "AvailableOSUpdates",
        "OSUpdateStatus",
    ];

    /// The query command of `request_type` (one of [`Self::QUERY_REQUEST_TYPES`]), with the
    /// arguments Orchard uses; `None` for any other command.
    pub fn query(request_type: &str) -> Option<CommandRequest> {
        Some(match request_type {
            "DeviceInformation" => CommandRequest::device_information_for_updates(),
            "SecurityInfo" => CommandRequest::SecurityInfo,
            "ProfileList" => CommandRequest::ProfileList { managed_only: None },
            "ScheduleOSUpdateScan" => CommandRequest::ScheduleOsUpdateScan { force: None },
            "AvailableOSUpdates" => CommandRequest::AvailableOsUpdates,
            "OSUpdateStatus" => CommandRequest::OsUpdateStatus,
            _ => return None,
        })
    }

    /// The `RequestType` value, as in the schema's `payload.requesttype`.
    pub fn request_type(&self) -> &'static str {
        match self {
            CommandRequest::DeviceInformation { .. } => "DeviceInformation",
            CommandRequest::SecurityInfo => "SecurityInfo",
            CommandRequest::ProfileList { .. } => "ProfileList",
            CommandRequest::InstallProfile { .. } => "InstallProfile",
            CommandRequest::RemoveProfile { .. } => "RemoveProfile",
            CommandRequest::DeclarativeManagement { .. } => "DeclarativeManagement",
            CommandRequest::ScheduleOsUpdate { .. } => "ScheduleOSUpdate",
            CommandRequest::ScheduleOsUpdateScan { .. } => "ScheduleOSUpdateScan",
            CommandRequest::AvailableOsUpdates => "AvailableOSUpdates",
            CommandRequest::OsUpdateStatus => "OSUpdateStatus",
            CommandRequest::InstallEnterpriseApplication(_) => "InstallEnterpriseApplication",
            CommandRequest::RestartDevice(_) => "RestartDevice",
            CommandRequest::ContentCachingInformation => "ContentCachingInformation",
        }
    }

    /// The `Command` dictionary: `RequestType` and the command's keys.
    pub fn to_dictionary(&self) -> Dictionary {
        let mut d = Dictionary::new();
        d.insert("RequestType".into(), Value::String(self.request_type().into()));
        match self {
            CommandRequest::DeviceInformation { queries } => {
                let list = queries.iter().map(|q| Value::String(q.clone())).collect();
                d.insert("Queries".into(), Value::Array(list));
            }
            CommandRequest::SecurityInfo
            | CommandRequest::AvailableOsUpdates
            | CommandRequest::OsUpdateStatus
            | CommandRequest::ContentCachingInformation => {}
            CommandRequest::ProfileList { managed_only } => {
                insert_bool(&mut d, "ManagedOnly", *managed_only);
            }
            CommandRequest::InstallProfile { payload } => {
                d.insert("Payload".into(), Value::Data(payload.clone()));
            }
            CommandRequest::RemoveProfile { identifier } => {
                d.insert("Identifier".into(), Value::String(identifier.clone()));
            }
            CommandRequest::DeclarativeManagement { data } => {
                if let Some(data) = data {
                    d.insert("Data".into(), Value::Data(data.clone()));
                }
            }
            CommandRequest::ScheduleOsUpdate { updates } => {
                let list = updates
                    .iter()
                    .map(|u| Value::Dictionary(u.to_dictionary()))
                    .collect();
                d.insert("Updates".into(), Value::Array(list));
            }
            CommandRequest::ScheduleOsUpdateScan { force } => insert_bool(&mut d, "Force", *force),
            CommandRequest::InstallEnterpriseApplication(app) => app.write_keys(&mut d),
            CommandRequest::RestartDevice(options) => options.write_keys(&mut d),
        }
        d
    }
}

pub(crate) fn insert_bool(d: &mut Dictionary, key: &str, value: Option<bool>) {
    if let Some(v) = value {
        d.insert(key.into(), Value::Boolean(v));
    }
}

/// A command with its identifier: the envelope sent to the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub uuid: CommandUuid,
    pub request: CommandRequest,
}

impl Command {
    /// A command with a fresh `CommandUUID`.
    pub fn new(request: CommandRequest) -> Command {
        Command {
            uuid: CommandUuid::generate(),
            request,
        }
    }

    /// `{ CommandUUID, Command: { RequestType, … } }`.
    pub fn to_dictionary(&self) -> Dictionary {
        let mut d = Dictionary::new();
        d.insert("CommandUUID".into(), Value::String(self.uuid.as_str().into()));
        d.insert("Command".into(), Value::Dictionary(self.request.to_dictionary()));
        d
    }

    /// The body of a `/mdm/connect` answer (`application/x-apple-aspen-mdm`).
    pub fn to_plist(&self) -> Vec<u8> {
        dict::to_xml(self.to_dictionary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_commands_are_exactly_the_listed_read_only_ones() {
        for name in CommandRequest::QUERY_REQUEST_TYPES {
            let request = CommandRequest::query(name).expect(name);
            assert_eq!(request.request_type(), name);
        }
        for other in [
            "RestartDevice",
            "InstallProfile",
            "RemoveProfile",
            "ScheduleOSUpdate",
            "",
            "x",
        ] {
            assert_eq!(CommandRequest::query(other), None, "{other}");
        }
    }

    #[test]
    fn envelope_carries_uuid_request_type_and_keys() {
        let command = Command::new(CommandRequest::RemoveProfile {
            identifier: "com.example.wifi".into(),
        });
        let parsed = dict::parse_dictionary(&command.to_plist()).unwrap();
        assert_eq!(
            parsed.get("CommandUUID").and_then(Value::as_string),
            Some(command.uuid.as_str())
        );
        let inner = parsed.get("Command").and_then(Value::as_dictionary).unwrap();
        assert_eq!(
            inner.get("RequestType").and_then(Value::as_string),
            Some("RemoveProfile")
        );
        assert_eq!(
            inner.get("Identifier").and_then(Value::as_string),
            Some("com.example.wifi")
        );
    }

    #[test]
    fn declarative_management_data_is_written_as_data_not_integers() {
        let json = br#"{"SyncTokens":{"DeclarationsToken":"x","Timestamp":"2026-01-01T00:00:00Z"}}"#;
        let xml =
            String::from_utf8(Command::new(CommandRequest::declarative_management(Some(json))).to_plist())
                .unwrap();
        assert!(xml.contains("<data>"), "{xml}");
        assert!(!xml.contains("<integer>"), "{xml}");
    }
}
