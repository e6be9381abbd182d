//! The update settings a device is sent under its policy: the `softwareupdate.settings`
//! declaration (trimmed to what the device accepts) on the declarative path, restrictions
//! deferrals on the legacy path. Never both on one device.

use super::model::{Enforcement, Policy};
use super::plan::DeviceView;
use crate::protocol::ddm::{self, Platform, SoftwareUpdateSettings, TargetedSettings, UpdatePath};

/// Restrictions-profile deferrals (`com.apple.applicationaccess`) for the legacy path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyDeferrals {
    /// `forceDelayedSoftwareUpdates` + `enforcedSoftwareUpdateDelay` (iOS, tvOS; macOS before 11.3).
    pub delay_days: u32,
    /// macOS 11.3+: `forceDelayedMajorSoftwareUpdates` + `enforcedSoftwareUpdateMajorOSDeferredInstallDelay`.
    pub major_days: Option<u32>,
    /// macOS 11.3+: `enforcedSoftwareUpdateMinorOSDeferredInstallDelay`.
    pub minor_days: Option<u32>,
    /// macOS 11.3+: `forceDelayedAppSoftwareUpdates` + `enforcedSoftwareUpdateNonOSDeferredInstallDelay`.
    pub non_os_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum SettingsPlan {
    /// The policy sets nothing for this device.
    #[default]
    Nothing,
    Declarative(TargetedSettings),
    Legacy(LegacyDeferrals),
    /// The policy sets something this device cannot take: shown, never sent.
    NotSent {
        reason: String,
    },
}

/// The declaration content the policy asks for: its settings, with the automatic-latest
/// deferrals as `Deferrals`.
pub fn declared_settings(policy: &Policy) -> SoftwareUpdateSettings {
    let mut settings = policy.settings.clone();
    if let Enforcement::AutomaticLatest(auto) = &policy.enforcement {
        let days = |d: Option<u32>, path| d.and_then(|d| ddm::DeferralDays::new(d.into(), path).ok());
        let d = &auto.deferral;
        let deferrals = ddm::Deferrals {
            combined_period_in_days: days(d.combined, "Deferrals.CombinedPeriodInDays"),
            major_period_in_days: days(d.major, "Deferrals.MajorPeriodInDays"),
            minor_period_in_days: days(d.minor, "Deferrals.MinorPeriodInDays"),
            system_period_in_days: days(d.system, "Deferrals.SystemPeriodInDays"),
        };
        if !deferrals.is_empty() {
            settings.deferrals = Some(deferrals);
        }
    }
    settings
}

pub(super) fn settings_plan(
    policy: &Policy,
    device: &DeviceView,
    platform: Platform,
    path: UpdatePath,
) -> SettingsPlan {
    let wanted = declared_settings(policy);
    let empty = wanted == SoftwareUpdateSettings::default();
    match path {
        UpdatePath::Declarative => {
            if empty {
                return SettingsPlan::Nothing;
            }
            match wanted.for_target(&device.target(platform)) {
                Ok(t) if t.payload == SoftwareUpdateSettings::default() => SettingsPlan::NotSent {
                    reason: format!(
                        "none of the policy's settings apply to this device ({})",
                        t.dropped.iter().map(|d| format!("{}: {}", d.path, d.why)).collect::<Vec<_>>().join(", ")
                    ),
                },
                Ok(t) => SettingsPlan::Declarative(t),
                Err(e) => SettingsPlan::NotSent { reason: e.to_string() },
            }
        }
        UpdatePath::Legacy => match legacy(policy, platform) {
            Some(l) => SettingsPlan::Legacy(l),
            None if policy.settings == SoftwareUpdateSettings::default() => SettingsPlan::Nothing,
            None => SettingsPlan::NotSent {
                reason: "update settings are declarative; this device takes the legacy path (restrictions and ScheduleOSUpdate)".into(),
            },
        },
        UpdatePath::Unmanaged if empty => SettingsPlan::Nothing,
        UpdatePath::Unmanaged => SettingsPlan::NotSent {
            reason: "this device's OS takes neither update declarations nor legacy update restrictions".into(),
        },
    }
}

fn legacy(policy: &Policy, platform: Platform) -> Option<LegacyDeferrals> {
    let Enforcement::AutomaticLatest(auto) = &policy.enforcement else {
        return None;
    };
    let d = &auto.deferral;
    match platform {
        Platform::MacOs => {
            let delay = d.minor.or(d.major)?;
            Some(LegacyDeferrals {
                delay_days: delay,
                major_days: d.major,
                minor_days: d.minor,
                non_os_days: d.system,
            })
        }
        Platform::Ios | Platform::IpadOs | Platform::TvOs => Some(LegacyDeferrals {
            delay_days: d.combined?,
            major_days: None,
            minor_days: None,
            non_os_days: None,
        }),
        Platform::VisionOs => None,
    }
}
