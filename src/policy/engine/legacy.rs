//! The legacy path's messages: the restrictions profile that defers updates
//! (`com.apple.applicationaccess` with `forceDelayedSoftwareUpdates` and the
//! `enforcedSoftwareUpdate*Delay` keys), and the commands sent at the deadline.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use plist::{Dictionary, Value};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::wants::{DueUpdate, LEGACY_PROFILE_ID};
use crate::policy::LegacyDeferrals;
use crate::protocol::commands::{CommandRequest, InstallAction, ScheduledUpdate};
use crate::protocol::{CommandUuid, Udid};
use crate::store::StoreError;
use crate::store::policies::plans;

/// Commands of the policy engine go after enrollment's.
const POLICY_PRIORITY: i64 = 5;

/// Devices per transaction on the legacy path (the writer is never held for long).
pub(super) const LEGACY_BATCH: usize = 1_000;

fn days(n: u32) -> Value {
    Value::Integer(i64::from(n.clamp(1, 90)).into())
}

/// The restrictions payload. macOS 11.3+ reads the major/minor/non-OS keys; iOS and tvOS read
/// `enforcedSoftwareUpdateDelay` (macOS before 11.3 too, which is why it is always present).
pub fn restrictions_payload(deferrals: &LegacyDeferrals) -> Dictionary {
    let mut p = Dictionary::new();
    p.insert("forceDelayedSoftwareUpdates".into(), Value::Boolean(true));
    p.insert("enforcedSoftwareUpdateDelay".into(), days(deferrals.delay_days));
    if let Some(major) = deferrals.major_days {
        p.insert("forceDelayedMajorSoftwareUpdates".into(), Value::Boolean(true));
        p.insert(
            "enforcedSoftwareUpdateMajorOSDeferredInstallDelay".into(),
            days(major),
        );
    }
    if let Some(minor) = deferrals.minor_days {
        p.insert(
            "enforcedSoftwareUpdateMinorOSDeferredInstallDelay".into(),
            days(minor),
        );
    }
    if let Some(non_os) = deferrals.non_os_days {
        p.insert("forceDelayedAppSoftwareUpdates".into(), Value::Boolean(true));
        p.insert(
            "enforcedSoftwareUpdateNonOSDeferredInstallDelay".into(),
            days(non_os),
        );
    }
    p
}

/// The profile (XML plist) and its fingerprint. Sent over the authenticated MDM channel; it is
/// not CMS-signed (devices accept unsigned profiles from their MDM server).
pub fn restrictions_profile(deferrals: &LegacyDeferrals) -> (Vec<u8>, String) {
    let mut payload = restrictions_payload(deferrals);
    let seed = format!("{deferrals:?}");
    payload.insert("PayloadType".into(), "com.apple.applicationaccess".into());
    payload.insert(
        "PayloadIdentifier".into(),
        format!("{LEGACY_PROFILE_ID}.restrictions").into(),
    );
    payload.insert(
        "PayloadUUID".into(),
        crate::protocol::profile::stable_uuid(&format!("payload {seed}")).into(),
    );
    payload.insert("PayloadVersion".into(), Value::Integer(1.into()));
    payload.insert("PayloadDisplayName".into(), "Software update deferrals".into());
    let mut profile = Dictionary::new();
    profile.insert(
        "PayloadContent".into(),
        Value::Array(vec![Value::Dictionary(payload)]),
    );
    profile.insert("PayloadType".into(), "Configuration".into());
    profile.insert("PayloadIdentifier".into(), LEGACY_PROFILE_ID.into());
    profile.insert(
        "PayloadUUID".into(),
        crate::protocol::profile::stable_uuid(&format!("profile {seed}")).into(),
    );
    profile.insert("PayloadVersion".into(), Value::Integer(1.into()));
    profile.insert(
        "PayloadDisplayName".into(),
        "Orchard software update deferrals".into(),
    );
    let mut xml = Vec::new();
    // Writing a dictionary of plain values into memory cannot fail.
    let _ = plist::to_writer_xml(&mut xml, &Value::Dictionary(profile));
    let fingerprint = hex::encode(Sha256::digest(&xml));
    (xml, fingerprint)
}

pub fn install_profile(profile: Vec<u8>) -> CommandRequest {
    CommandRequest::InstallProfile { payload: profile }
}

pub fn remove_profile() -> CommandRequest {
    CommandRequest::RemoveProfile {
        identifier: LEGACY_PROFILE_ID.into(),
    }
}

/// `ScheduleOSUpdate` for the due version, installed as soon as possible.
pub fn schedule_update(due: &DueUpdate) -> CommandRequest {
    CommandRequest::ScheduleOsUpdate {
        updates: vec![ScheduledUpdate::by_version(
            &due.version.base().to_string(),
            InstallAction::InstallAsap,
        )],
    }
}

/// A device of a [`LegacyBatch`], with the plan fingerprint its delivery records (none when the
/// batch only removes its profile).
pub(super) struct BatchDevice {
    pub udid: Udid,
    pub fingerprint: Option<String>,
}

/// What a queued command's record is.
enum Record {
    /// The profile `profiles[at]` installed.
    Profile {
        at: usize,
    },
    ProfileRemoved,
    /// A ScheduleOSUpdate; the next command of the batch is its OSUpdateStatus.
    Scheduled(DueUpdate),
    Status,
}

/// One command of a batch: `requests[request]` for `devices[device]`.
pub(super) struct BatchEntry {
    pub device: usize,
    pub request: usize,
    pub priority: i64,
    record: Record,
}

/// The legacy commands of a batch of devices, each distinct request built once (one profile per
/// set of deferrals, one ScheduleOSUpdate per version), with the records they make.
#[derive(Default)]
pub(super) struct LegacyBatch {
    pub devices: Vec<BatchDevice>,
    pub requests: Vec<CommandRequest>,
    pub commands: Vec<BatchEntry>,
    /// Deferrals, the request installing their profile, its fingerprint.
    profiles: Vec<(LegacyDeferrals, usize, String)>,
    schedules: HashMap<String, usize>,
    removal: Option<usize>,
    status: Option<usize>,
}

impl LegacyBatch {
    /// Adds a device; returns its index for the other methods.
    pub fn device(&mut self, udid: Udid, fingerprint: Option<String>) -> usize {
        self.devices.push(BatchDevice { udid, fingerprint });
        self.devices.len() - 1
    }

    fn request(&mut self, request: CommandRequest) -> usize {
        self.requests.push(request);
        self.requests.len() - 1
    }

    fn push(&mut self, device: usize, request: usize, priority: i64, record: Record) {
        self.commands.push(BatchEntry {
            device,
            request,
            priority,
            record,
        });
    }

    /// The restrictions profile for `wanted`, unless the device holds it already (`current`
    /// is the fingerprint of the one it holds).
    pub fn install(&mut self, device: usize, wanted: &LegacyDeferrals, current: Option<&String>) {
        let at = match self.profiles.iter().position(|(d, _, _)| d == wanted) {
            Some(at) => at,
            None => {
                let (xml, fingerprint) = restrictions_profile(wanted);
                let request = self.request(install_profile(xml));
                self.profiles.push((wanted.clone(), request, fingerprint));
                self.profiles.len() - 1
            }
        };
        if current != Some(&self.profiles[at].2) {
            let request = self.profiles[at].1;
            self.push(device, request, POLICY_PRIORITY, Record::Profile { at });
        }
    }

    /// The removal of the restrictions profile.
    pub fn remove(&mut self, device: usize) {
        let request = match self.removal {
            Some(r) => r,
            None => {
                let r = self.request(remove_profile());
                self.removal = Some(r);
                r
            }
        };
        self.push(device, request, POLICY_PRIORITY, Record::ProfileRemoved);
    }

    /// `ScheduleOSUpdate` for `due`, then `OSUpdateStatus` (lower priority: after the schedule).
    pub fn schedule(&mut self, device: usize, due: &DueUpdate) {
        let version = due.version.base().to_string();
        let request = match self.schedules.get(&version) {
            Some(r) => *r,
            None => {
                let r = self.request(schedule_update(due));
                self.schedules.insert(version, r);
                r
            }
        };
        let status = match self.status {
            Some(r) => r,
            None => {
                let r = self.request(CommandRequest::OsUpdateStatus);
                self.status = Some(r);
                r
            }
        };
        self.push(device, request, POLICY_PRIORITY, Record::Scheduled(due.clone()));
        self.push(device, status, POLICY_PRIORITY - 1, Record::Status);
    }

    /// Writes the record of each queued command (`uuids[i]` is the identifier of
    /// `commands[i]`, `None` when its device was skipped).
    pub fn write_records(
        &self,
        tx: &Connection,
        uuids: &[Option<CommandUuid>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for (i, (command, uuid)) in self.commands.iter().zip(uuids).enumerate() {
            let Some(uuid) = uuid else {
                continue;
            };
            let udid = self.devices[command.device].udid.as_str();
            match &command.record {
                Record::Profile { at } => {
                    let fingerprint = &self.profiles[*at].2;
                    plans::set_legacy_profile(tx, udid, LEGACY_PROFILE_ID, fingerprint, uuid.as_str(), now)?;
                }
                Record::ProfileRemoved => {
                    plans::clear_legacy_profile(tx, udid)?;
                }
                Record::Scheduled(due) => {
                    let version = due.version.base().to_string();
                    let status = uuids.get(i + 1).and_then(Option::as_ref).map(CommandUuid::as_str);
                    plans::record_scheduled_update(
                        tx,
                        &plans::ScheduledUpdate {
                            udid,
                            target_version: &version,
                            target_build: Some(&due.build),
                            deadline_utc: due.deadline_utc,
                            command_uuid: uuid.as_str(),
                            status_uuid: status,
                        },
                        now,
                    )?;
                    tracing::info!(%udid, schedule = %uuid, %version, "ScheduleOSUpdate sent at the deadline");
                }
                Record::Status => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_carries_the_documented_keys_and_is_stable() {
        let d = LegacyDeferrals {
            delay_days: 7,
            major_days: Some(30),
            minor_days: Some(7),
            non_os_days: None,
        };
        let p = restrictions_payload(&d);
        assert_eq!(p.get("forceDelayedSoftwareUpdates"), Some(&Value::Boolean(true)));
        assert_eq!(
            p.get("enforcedSoftwareUpdateDelay"),
            Some(&Value::Integer(7.into()))
        );
        assert_eq!(
            p.get("enforcedSoftwareUpdateMajorOSDeferredInstallDelay"),
            Some(&Value::Integer(30.into()))
        );
        assert!(p.get("forceDelayedAppSoftwareUpdates").is_none());
        let (a, fa) = restrictions_profile(&d);
        let (b, fb) = restrictions_profile(&d);
        assert_eq!((a, fa), (b.clone(), fb));
        let text = String::from_utf8(b).unwrap();
        assert!(text.contains("com.apple.applicationaccess"), "{text}");
    }
}
