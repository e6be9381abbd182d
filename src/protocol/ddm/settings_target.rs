//! Which `softwareupdate.settings` keys a given device may receive.
//!
//! The table follows the facts file §3: Apple's 18.1 schema, plus the newer availability from
//! Apple's 2026 documentation (tvOS 18.4, visionOS 26, `Beta` on macOS 15.4). Where sources
//! disagree, the narrower reading wins, because a device reports unknown keys as
//! `Error.UnknownPayloadKeys`:
//! - `RecommendedCadence` and `AutomaticActions.Download` are not sent to tvOS (only iOS, macOS
//!   and visionOS are listed for them);
//! - `Beta` is not sent to tvOS or visionOS (their metadata may only be inherited);
//! - `AutomaticActions.InstallSecurityUpdate` goes to iOS/iPadOS only from 26.0: the 18.x schema
//!   says iOS n/a, Apple's 2026 pages list iOS 18, and the feature it drives (Background Security
//!   Improvements) arrived with OS 26.

use serde::Serialize;

use super::error::DeclarationError;
use super::platform::{Availability, DeviceTarget, NOT_MAC, OsVersion, Unavailable};
use super::settings::{SETTINGS_TYPE, SoftwareUpdateSettings, validate_automatic_actions};

const V15: Option<OsVersion> = Some(OsVersion::new(15, 0, 0));
const V15_4: Option<OsVersion> = Some(OsVersion::new(15, 4, 0));
const V18: Option<OsVersion> = Some(OsVersion::new(18, 0, 0));
const V18_4: Option<OsVersion> = Some(OsVersion::new(18, 4, 0));
const V26: Option<OsVersion> = Some(OsVersion::new(26, 0, 0));

const fn on(
    ios: Option<OsVersion>,
    macos: Option<OsVersion>,
    tvos: Option<OsVersion>,
    visionos: Option<OsVersion>,
    device_enrollment: &'static [&'static str],
) -> Availability {
    Availability {
        ios,
        macos,
        tvos,
        visionos,
        device_enrollment,
        user_enrollment: &[],
    }
}

/// The declaration: iOS/iPadOS 18, macOS 15 (supervised only), tvOS 18.4, visionOS 26.
pub const SETTINGS_AVAILABILITY: Availability = on(V18, V15, V18_4, V26, MAC);

/// Supervision needed on the Mac only (the declaration's own rule).
const MAC: &[&str] = NOT_MAC;
/// Supervision needed on iOS/iPadOS and the Mac.
const IOS_MAC: &[&str] = &["tvOS", "visionOS"];
/// Supervision needed everywhere.
const ALL: &[&str] = &[];

/// Each key path with where it is accepted (already narrowed by the declaration's own availability).
pub const SETTINGS_KEY_AVAILABILITY: &[(&str, Availability)] = &[
    ("Notifications", on(V18, V15, V18_4, V26, MAC)),
    ("Deferrals", on(V18, V15, V18_4, V26, ALL)),
    ("Deferrals.CombinedPeriodInDays", on(V18, None, V18_4, V26, ALL)),
    ("Deferrals.MajorPeriodInDays", on(None, V15, None, None, ALL)),
    ("Deferrals.MinorPeriodInDays", on(None, V15, None, None, ALL)),
    ("Deferrals.SystemPeriodInDays", on(None, V15, None, None, ALL)),
    ("RecommendedCadence", on(V18, None, None, V26, MAC)),
    ("AutomaticActions", on(V18, V15, V18_4, V26, IOS_MAC)),
    ("AutomaticActions.Download", on(V18, V15, None, V26, IOS_MAC)),
    (
        "AutomaticActions.InstallOSUpdates",
        on(V18, V15, V18_4, V26, IOS_MAC),
    ),
    (
        "AutomaticActions.InstallSecurityUpdate",
        on(V26, V15, None, V26, IOS_MAC),
    ),
    ("RapidSecurityResponse", on(V18, V15, None, None, IOS_MAC)),
    ("RapidSecurityResponse.Enable", on(V18, V15, None, None, IOS_MAC)),
    (
        "RapidSecurityResponse.EnableRollback",
        on(V18, V15, None, None, IOS_MAC),
    ),
    ("AllowStandardUserOSUpdates", on(None, V15, None, None, MAC)),
    ("Beta", on(V18, V15_4, None, None, MAC)),
    ("Beta.ProgramEnrollment", on(V18, V15_4, None, None, IOS_MAC)),
    ("Beta.OfferPrograms", on(V18, V15_4, None, None, MAC)),
    ("Beta.RequireProgram", on(V18, V15_4, None, None, IOS_MAC)),
];

/// A key left out for a device, and why: the UI shows these next to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DroppedKey {
    pub path: &'static str,
    #[serde(flatten)]
    pub why: Unavailable,
}

/// The settings a device receives, and what was left out for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetedSettings {
    pub payload: SoftwareUpdateSettings,
    pub dropped: Vec<DroppedKey>,
}

struct Filter<'a> {
    target: &'a DeviceTarget,
    dropped: Vec<DroppedKey>,
}

impl Filter<'_> {
    /// Keeps `value` when the key applies to the device; otherwise records it as dropped.
    fn keep<T>(&mut self, path: &'static str, value: Option<T>) -> Option<T> {
        let value = value?;
        let rule = SETTINGS_KEY_AVAILABILITY
            .iter()
            .find(|(key, _)| *key == path)
            .map(|(_, rule)| rule);
        match rule.and_then(|rule| rule.refusal(self.target)) {
            None if rule.is_some() => Some(value),
            None => {
                // A key missing from the table is a programming error: never send what is not listed.
                self.dropped.push(DroppedKey {
                    path,
                    why: Unavailable::Platform,
                });
                None
            }
            Some(why) => {
                self.dropped.push(DroppedKey { path, why });
                None
            }
        }
    }
}

impl SoftwareUpdateSettings {
    /// The payload for `target`: validated, with every key the device does not accept left out and
    /// listed in `dropped`. Refuses when the device cannot take the declaration at all.
    pub fn for_target(&self, target: &DeviceTarget) -> Result<TargetedSettings, DeclarationError> {
        self.validate()?;
        if let Some(why) = SETTINGS_AVAILABILITY.refusal(target) {
            return Err(DeclarationError::NotSupported {
                declaration: SETTINGS_TYPE,
                target: *target,
                why,
            });
        }
        let mut filter = Filter {
            target,
            dropped: Vec::new(),
        };
        let mut out = SoftwareUpdateSettings {
            notifications: filter.keep("Notifications", self.notifications),
            recommended_cadence: filter.keep("RecommendedCadence", self.recommended_cadence),
            allow_standard_user_os_updates: filter
                .keep("AllowStandardUserOSUpdates", self.allow_standard_user_os_updates),
            ..SoftwareUpdateSettings::default()
        };
        if let Some(d) = filter.keep("Deferrals", self.deferrals.clone()) {
            let mut kept = d.clone();
            kept.combined_period_in_days =
                filter.keep("Deferrals.CombinedPeriodInDays", d.combined_period_in_days);
            kept.major_period_in_days = filter.keep("Deferrals.MajorPeriodInDays", d.major_period_in_days);
            kept.minor_period_in_days = filter.keep("Deferrals.MinorPeriodInDays", d.minor_period_in_days);
            kept.system_period_in_days = filter.keep("Deferrals.SystemPeriodInDays", d.system_period_in_days);
            out.deferrals = Some(kept).filter(|kept| !kept.is_empty());
        }
        if let Some(a) = filter.keep("AutomaticActions", self.automatic_actions.clone()) {
            let mut kept = a.clone();
            kept.download = filter.keep("AutomaticActions.Download", a.download);
            kept.install_os_updates = filter.keep("AutomaticActions.InstallOSUpdates", a.install_os_updates);
            kept.install_security_update = filter.keep(
                "AutomaticActions.InstallSecurityUpdate",
                a.install_security_update,
            );
            out.automatic_actions = Some(kept).filter(|kept| !kept.is_empty());
        }
        if let Some(r) = filter.keep("RapidSecurityResponse", self.rapid_security_response.clone()) {
            let mut kept = r.clone();
            kept.enable = filter.keep("RapidSecurityResponse.Enable", r.enable);
            kept.enable_rollback = filter.keep("RapidSecurityResponse.EnableRollback", r.enable_rollback);
            out.rapid_security_response = Some(kept).filter(|kept| !kept.is_empty());
        }
        if let Some(b) = filter.keep("Beta", self.beta.clone()) {
            let mut kept = b.clone();
            kept.program_enrollment = filter.keep("Beta.ProgramEnrollment", b.program_enrollment);
            kept.offer_programs = filter.keep("Beta.OfferPrograms", b.offer_programs);
            kept.require_program = filter.keep("Beta.RequireProgram", b.require_program);
            out.beta = Some(kept).filter(|kept| !kept.is_empty());
        }
        // What is left must still be a combination the device accepts. Where the device has no
        // `Download` key (tvOS), there is no download setting to contradict.
        let download_key = SETTINGS_KEY_AVAILABILITY
            .iter()
            .find(|(key, _)| *key == "AutomaticActions.Download");
        let device_has_download = download_key.is_some_and(|(_, rule)| rule.refusal(target).is_none());
        if let (Some(actions), true) = (&out.automatic_actions, device_has_download) {
            validate_automatic_actions(actions)?;
        }
        let beta_only = SoftwareUpdateSettings {
            beta: out.beta.clone(),
            ..SoftwareUpdateSettings::default()
        };
        beta_only.validate()?;
        Ok(TargetedSettings {
            payload: out,
            dropped: filter.dropped,
        })
    }
}
