//! How a simulated device answers commands: pure functions of the command, the device profile
//! and what the device has installed. Result keys follow Apple's `mdm/commands/*.yaml`.

use std::collections::BTreeSet;

use plist::{Dictionary, Value};

use super::SimError;
use super::information;
use super::profile::DeviceProfile;
use crate::pki::signed;
use crate::protocol::content_caching::{self, ContentCachingStatus, status::status_response};
use crate::protocol::dict;
use crate::protocol::profile::Profile;

/// A command as the device received it from `/mdm/connect`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCommand {
    pub uuid: String,
    pub request_type: String,
    /// The `Command` dictionary (with `RequestType`).
    pub command: Dictionary,
}

impl ReceivedCommand {
    pub fn parse(body: &[u8]) -> Result<ReceivedCommand, SimError> {
        let d = dict::parse_dictionary(body).map_err(|e| SimError::Protocol(e.to_string()))?;
        let uuid = d
            .get("CommandUUID")
            .and_then(Value::as_string)
            .ok_or_else(|| SimError::Protocol("a command without CommandUUID".into()))?;
        let command = d
            .get("Command")
            .and_then(Value::as_dictionary)
            .ok_or_else(|| SimError::Protocol("a command without Command".into()))?;
        let request_type = command
            .get("RequestType")
            .and_then(Value::as_string)
            .ok_or_else(|| SimError::Protocol("a command without RequestType".into()))?;
        Ok(ReceivedCommand {
            uuid: uuid.to_string(),
            request_type: request_type.to_string(),
            command: command.clone(),
        })
    }
}

/// How a device answers a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `Acknowledged`, with the result keys.
    Acknowledged(Dictionary),
    /// `Error`, with an `ErrorChain`.
    Error {
        code: i64,
        domain: String,
        description: String,
    },
    NotNow,
    /// `DeclarativeManagement`: handed to the device's declarative hook with the `Data`.
    Declarative(Option<Vec<u8>>),
}

impl Answer {
    pub fn status(&self) -> &'static str {
        match self {
            Answer::Acknowledged(_) | Answer::Declarative(_) => "Acknowledged",
            Answer::Error { .. } => "Error",
            Answer::NotNow => "NotNow",
        }
    }

    /// The `/mdm/connect` body reporting this answer.
    pub fn result_body(&self, udid: &str, uuid: &str) -> Vec<u8> {
        let mut d = Dictionary::new();
        d.insert("UDID".into(), Value::String(udid.into()));
        d.insert("CommandUUID".into(), Value::String(uuid.into()));
        d.insert("Status".into(), Value::String(self.status().into()));
        match self {
            Answer::Acknowledged(keys) => {
                for (k, v) in keys {
                    d.insert(k.clone(), v.clone());
                }
            }
            Answer::Error {
                code,
                domain,
                description,
            } => {
                let mut item = Dictionary::new();
                item.insert("ErrorCode".into(), Value::Integer((*code).into()));
                item.insert("ErrorDomain".into(), Value::String(domain.clone()));
                item.insert("LocalizedDescription".into(), Value::String(description.clone()));
                item.insert("USEnglishDescription".into(), Value::String(description.clone()));
                d.insert("ErrorChain".into(), Value::Array(vec![Value::Dictionary(item)]));
            }
            Answer::NotNow | Answer::Declarative(_) => {}
        }
        dict::to_xml(d)
    }
}

/// Answer `NotNow` to the next `next` commands, and to every command of `request_types`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotNowPolicy {
    pub next: usize,
    pub request_types: BTreeSet<String>,
}

impl NotNowPolicy {
    fn take(&mut self, request_type: &str) -> bool {
        if self.request_types.contains(request_type) {
            return true;
        }
        if self.next > 0 {
            self.next -= 1;
            return true;
        }
        false
    }
}

/// A profile the device has installed.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledProfileRecord {
    pub identifier: String,
    pub uuid: String,
    pub display_name: Option<String>,
    pub organization: Option<String>,
    pub version: i64,
    pub payload_types: Vec<String>,
    pub managed: bool,
}

/// An update the device offers in `AvailableOSUpdates`.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferedUpdate {
    pub product_key: String,
    pub version: String,
    pub build: String,
    pub major: bool,
}

/// An `InstallEnterpriseApplication` a Mac accepted: where its manifest is and the certificates
/// the manifest server must chain to.
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseInstall {
    pub manifest_url: String,
    pub pinning_certs: Vec<Vec<u8>>,
}

/// What the device holds between commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceState {
    pub not_now: NotNowPolicy,
    pub installed_profiles: Vec<InstalledProfileRecord>,
    pub offered_updates: Vec<OfferedUpdate>,
    /// `(ProductKey, InstallAction)` of every scheduled update, latest last.
    pub scheduled_updates: Vec<(String, String)>,
    pub scans: u32,
    pub restarts: u32,
    /// What a Mac answers to `ContentCachingInformation` (`None`: on when the content-caching
    /// profile is installed, off otherwise).
    pub content_cache: Option<ContentCachingStatus>,
    /// Enterprise app (package) installs accepted (Macs only), oldest first.
    pub enterprise_installs: Vec<EnterpriseInstall>,
}

impl DeviceState {
    pub fn for_profile(profile: &DeviceProfile) -> DeviceState {
        DeviceState {
            offered_updates: vec![information::next_patch(profile)],
            ..DeviceState::default()
        }
    }

    pub(super) fn record_enrollment_profile(&mut self, profile: &Profile) {
        let payload_types = profile
            .content
            .iter()
            .map(|p| match p {
                crate::protocol::profile::Payload::Mdm(m) => m.payload_type.clone(),
                crate::protocol::profile::Payload::Scep(s) => s.payload_type.clone(),
                crate::protocol::profile::Payload::Root(r) => r.payload_type.clone(),
            })
            .collect();
        self.installed_profiles
            .retain(|p| p.identifier != profile.identifier);
        self.installed_profiles.push(InstalledProfileRecord {
            identifier: profile.identifier.clone(),
            uuid: profile.uuid.clone(),
            display_name: Some(profile.display_name.clone()),
            organization: profile.organization.clone(),
            version: i64::from(profile.version),
            payload_types,
            managed: true,
        });
    }

    /// The answer to `command`, updating what the device holds.
    pub fn answer(&mut self, profile: &DeviceProfile, command: &ReceivedCommand) -> Answer {
        if self.not_now.take(&command.request_type) {
            return Answer::NotNow;
        }
        let c = &command.command;
        match command.request_type.as_str() {
            "DeviceInformation" => Answer::Acknowledged(information::device_information(profile, c)),
            "SecurityInfo" => Answer::Acknowledged(information::security_info(profile)),
            "ProfileList" => Answer::Acknowledged(self.profile_list()),
            "InstallProfile" => self.install_profile(c),
            "RemoveProfile" => self.remove_profile(c),
            "DeclarativeManagement" => {
                Answer::Declarative(c.get("Data").and_then(Value::as_data).map(<[u8]>::to_vec))
            }
            "ScheduleOSUpdate" => self.schedule_os_update(profile, c),
            "ScheduleOSUpdateScan" => {
                self.scans += 1;
                Answer::Acknowledged(one("ScanInitiated", Value::Boolean(true)))
            }
            "AvailableOSUpdates" => {
                Answer::Acknowledged(information::available_os_updates(profile, &self.offered_updates))
            }
            "OSUpdateStatus" => Answer::Acknowledged(information::os_update_status(&self.scheduled_updates)),
            "ContentCachingInformation" if profile.platform.is_mac() => {
                Answer::Acknowledged(status_response(&self.content_cache_status()))
            }
            "InstallEnterpriseApplication" if profile.platform.is_mac() => {
                self.install_enterprise_application(c)
            }
            "RestartDevice" => {
                self.restarts += 1;
                Answer::Acknowledged(Dictionary::new())
            }
            other => Answer::Error {
                code: 12021,
                domain: "MCMDMErrorDomain".into(),
                description: format!("The command “{other}” is not supported."),
            },
        }
    }

    /// The Mac's content cache as `ContentCachingInformation` reports it.
    pub fn content_cache_status(&self) -> ContentCachingStatus {
        if let Some(status) = &self.content_cache {
            return status.clone();
        }
        let managed = self
            .installed_profiles
            .iter()
            .any(|p| p.payload_types.iter().any(|t| t == content_caching::PAYLOAD_TYPE));
        ContentCachingStatus {
            activated: managed,
            active: managed,
            cache_status: managed.then(|| "OK".to_string()),
            cache_used: managed.then_some(0),
            ..ContentCachingStatus::default()
        }
    }

    /// A Mac takes the manifest URL (https) and its pinning certificates; installing the package
    /// happens later, out of band, as on a real Mac.
    fn install_enterprise_application(&mut self, c: &Dictionary) -> Answer {
        let Some(url) = c
            .get("ManifestURL")
            .and_then(Value::as_string)
            .filter(|u| u.starts_with("https://"))
        else {
            return Answer::Error {
                code: 12064,
                domain: "MCMDMErrorDomain".into(),
                description: "The manifest URL is missing or not https.".into(),
            };
        };
        let pinning_certs = c
            .get("ManifestURLPinningCerts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_data)
            .map(<[u8]>::to_vec)
            .collect();
        self.enterprise_installs.push(EnterpriseInstall {
            manifest_url: url.to_string(),
            pinning_certs,
        });
        Answer::Acknowledged(Dictionary::new())
    }

    fn profile_list(&self) -> Dictionary {
        let list = self
            .installed_profiles
            .iter()
            .map(|p| {
                let mut d = Dictionary::new();
                d.insert("PayloadIdentifier".into(), Value::String(p.identifier.clone()));
                d.insert("PayloadUUID".into(), Value::String(p.uuid.clone()));
                d.insert("PayloadVersion".into(), Value::Integer(p.version.into()));
                if let Some(name) = &p.display_name {
                    d.insert("PayloadDisplayName".into(), Value::String(name.clone()));
                }
                if let Some(org) = &p.organization {
                    d.insert("PayloadOrganization".into(), Value::String(org.clone()));
                }
                d.insert("IsManaged".into(), Value::Boolean(p.managed));
                d.insert("IsEncrypted".into(), Value::Boolean(false));
                d.insert("HasRemovalPasscode".into(), Value::Boolean(false));
                let content = p
                    .payload_types
                    .iter()
                    .map(|t| Value::Dictionary(one("PayloadType", Value::String(t.clone()))))
                    .collect();
                d.insert("PayloadContent".into(), Value::Array(content));
                Value::Dictionary(d)
            })
            .collect();
        one("ProfileList", Value::Array(list))
    }

    fn install_profile(&mut self, c: &Dictionary) -> Answer {
        let Some(payload) = c.get("Payload").and_then(Value::as_data) else {
            return profile_error(4001, "The profile is missing.".into());
        };
        // A signed profile carries the plist inside a CMS SignedData.
        let xml = signed::verify(payload, None)
            .ok()
            .and_then(|v| v.content)
            .unwrap_or_else(|| payload.to_vec());
        let Ok(d) = dict::parse_dictionary(&xml) else {
            return profile_error(1000, "The profile cannot be read.".into());
        };
        let text = |key: &str| d.get(key).and_then(Value::as_string).map(str::to_string);
        let (Some(identifier), Some(uuid)) = (text("PayloadIdentifier"), text("PayloadUUID")) else {
            return profile_error(1000, "The profile has no identifier.".into());
        };
        let payload_types = d
            .get("PayloadContent")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_dictionary()?.get("PayloadType")?.as_string())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        self.installed_profiles.retain(|p| p.identifier != identifier);
        self.installed_profiles.push(InstalledProfileRecord {
            identifier,
            uuid,
            display_name: text("PayloadDisplayName"),
            organization: text("PayloadOrganization"),
            version: d
                .get("PayloadVersion")
                .and_then(Value::as_signed_integer)
                .unwrap_or(1),
            payload_types,
            managed: true,
        });
        Answer::Acknowledged(Dictionary::new())
    }

    fn remove_profile(&mut self, c: &Dictionary) -> Answer {
        let identifier = c.get("Identifier").and_then(Value::as_string).unwrap_or_default();
        let before = self.installed_profiles.len();
        self.installed_profiles.retain(|p| p.identifier != identifier);
        if self.installed_profiles.len() == before {
            return profile_error(1001, format!("The profile “{identifier}” could not be found."));
        }
        Answer::Acknowledged(Dictionary::new())
    }

    fn schedule_os_update(&mut self, profile: &DeviceProfile, c: &Dictionary) -> Answer {
        let updates = c
            .get("Updates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut results = Vec::new();
        for update in updates.iter().filter_map(Value::as_dictionary) {
            let text = |key: &str| update.get(key).and_then(Value::as_string).map(str::to_string);
            // `Default` is resolved by the device; the result names what it will do.
            let action = text("InstallAction")
                .filter(|a| a != "Default")
                .unwrap_or_else(|| "InstallASAP".into());
            let key = text("ProductKey").or_else(|| {
                let version = text("ProductVersion")?;
                self.offered_updates
                    .iter()
                    .find(|o| o.version == version)
                    .map(|o| o.product_key.clone())
                    .or_else(|| Some(information::product_key(profile, &version, "")))
            });
            let Some(key) = key else { continue };
            self.scheduled_updates.push((key.clone(), action.clone()));
            let mut result = Dictionary::new();
            result.insert("ProductKey".into(), Value::String(key));
            result.insert("InstallAction".into(), Value::String(action));
            result.insert("Status".into(), Value::String("Idle".into()));
            results.push(Value::Dictionary(result));
        }
        Answer::Acknowledged(one("UpdateResults", Value::Array(results)))
    }
}

fn one(key: &str, value: Value) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert(key.into(), value);
    d
}

fn profile_error(code: i64, description: String) -> Answer {
    Answer::Error {
        code,
        domain: "MCProfileErrorDomain".into(),
        description,
    }
}
