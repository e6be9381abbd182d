//! The legacy path's messages: the restrictions profile that defers updates
//! (`com.apple.applicationaccess` with `forceDelayedSoftwareUpdates` and the
//! `enforcedSoftwareUpdate*Delay` keys), and the commands sent at the deadline.

use plist::{Dictionary, Value};
use sha2::{Digest, Sha256};

use super::wants::{DueUpdate, LEGACY_PROFILE_ID};
use crate::policy::LegacyDeferrals;
use crate::protocol::commands::{CommandRequest, InstallAction, ScheduledUpdate};

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
