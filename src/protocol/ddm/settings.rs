//! `com.apple.configuration.softwareupdate.settings` (facts §3): every key the schema defines, the
//! ranges it sets, and the combinations a device refuses. What each device may receive is decided in
//! `settings_target`.

use serde::{Deserialize, Deserializer, Serialize};

use super::declaration::DeclarationPayload;
use super::error::DeclarationError;

pub const SETTINGS_TYPE: &str = "com.apple.configuration.softwareupdate.settings";

/// The payload. Absent keys are left out of the JSON: the device then uses its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareUpdateSettings {
    /// `false`: only the notification one hour before the deadline, and the restart countdown.
    #[serde(rename = "Notifications", default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<bool>,
    #[serde(rename = "Deferrals", default, skip_serializing_if = "Option::is_none")]
    pub deferrals: Option<Deferrals>,
    #[serde(
        rename = "RecommendedCadence",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recommended_cadence: Option<RecommendedCadence>,
    #[serde(rename = "AutomaticActions", default, skip_serializing_if = "Option::is_none")]
    pub automatic_actions: Option<AutomaticActions>,
    /// Rapid Security Responses, called Background Security Improvements from OS 26 (same keys).
    #[serde(
        rename = "RapidSecurityResponse",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rapid_security_response: Option<RapidSecurityResponse>,
    #[serde(
        rename = "AllowStandardUserOSUpdates",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_standard_user_os_updates: Option<bool>,
    #[serde(rename = "Beta", default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<Beta>,
}

impl DeclarationPayload for SoftwareUpdateSettings {
    const TYPE: &'static str = SETTINGS_TYPE;
}

/// A deferral in days, 1–90 (the schema's `range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeferralDays(u8);

impl DeferralDays {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 90;

    pub fn new(days: i64, path: &'static str) -> Result<Self, DeclarationError> {
        if (Self::MIN..=Self::MAX).contains(&days) {
            Ok(DeferralDays(days as u8))
        } else {
            Err(DeclarationError::OutOfRange {
                path,
                value: days,
                min: Self::MIN,
                max: Self::MAX,
            })
        }
    }

    pub fn days(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for DeferralDays {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let days = i64::deserialize(deserializer)?;
        DeferralDays::new(days, "Deferrals").map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deferrals {
    /// Major and minor updates together (iOS, tvOS, visionOS; not macOS).
    #[serde(
        rename = "CombinedPeriodInDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub combined_period_in_days: Option<DeferralDays>,
    /// macOS only.
    #[serde(
        rename = "MajorPeriodInDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub major_period_in_days: Option<DeferralDays>,
    /// macOS only.
    #[serde(
        rename = "MinorPeriodInDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub minor_period_in_days: Option<DeferralDays>,
    /// macOS only: system and non-OS updates.
    #[serde(
        rename = "SystemPeriodInDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub system_period_in_days: Option<DeferralDays>,
}

impl Deferrals {
    pub fn is_empty(&self) -> bool {
        *self == Deferrals::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecommendedCadence {
    All,
    Oldest,
    Newest,
}

/// `Allowed` (the user decides), `AlwaysOn`, `AlwaysOff`. The device's default is `Allowed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UserControl {
    #[default]
    Allowed,
    AlwaysOn,
    AlwaysOff,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomaticActions {
    #[serde(rename = "Download", default, skip_serializing_if = "Option::is_none")]
    pub download: Option<UserControl>,
    #[serde(rename = "InstallOSUpdates", default, skip_serializing_if = "Option::is_none")]
    pub install_os_updates: Option<UserControl>,
    #[serde(
        rename = "InstallSecurityUpdate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub install_security_update: Option<UserControl>,
}

impl AutomaticActions {
    pub fn is_empty(&self) -> bool {
        *self == AutomaticActions::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RapidSecurityResponse {
    /// `false`: not offered to the user (enforcement can still install them).
    #[serde(rename = "Enable", default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// `false`: the user is not offered a rollback.
    #[serde(rename = "EnableRollback", default, skip_serializing_if = "Option::is_none")]
    pub enable_rollback: Option<bool>,
}

impl RapidSecurityResponse {
    pub fn is_empty(&self) -> bool {
        *self == RapidSecurityResponse::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beta {
    #[serde(
        rename = "ProgramEnrollment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub program_enrollment: Option<UserControl>,
    #[serde(rename = "OfferPrograms", default, skip_serializing_if = "Option::is_none")]
    pub offer_programs: Option<Vec<BetaProgram>>,
    #[serde(rename = "RequireProgram", default, skip_serializing_if = "Option::is_none")]
    pub require_program: Option<BetaProgram>,
}

impl Beta {
    pub fn is_empty(&self) -> bool {
        *self == Beta::default()
    }
}

/// A beta programme: a description for people and the ABM/ASM seeding-service token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BetaProgram {
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Token")]
    pub token: String,
}

impl SoftwareUpdateSettings {
    /// Refuses what a device would refuse, whatever the device (missing `Download` /
    /// `InstallOSUpdates` count as their default, `Allowed`).
    pub fn validate(&self) -> Result<(), DeclarationError> {
        if let Some(actions) = &self.automatic_actions {
            validate_automatic_actions(actions)?;
        }
        if let Some(beta) = &self.beta {
            validate_beta(beta)?;
        }
        Ok(())
    }
}

pub(super) fn validate_automatic_actions(actions: &AutomaticActions) -> Result<(), DeclarationError> {
    use UserControl::*;
    let download = actions.download.unwrap_or_default();
    let install = actions.install_os_updates.unwrap_or_default();
    match (download, install) {
        (Allowed, AlwaysOn) => Err(DeclarationError::ForcedInstallWithoutGuaranteedDownload),
        (AlwaysOff, Allowed) => Err(DeclarationError::UserInstallWithoutDownload),
        (AlwaysOff, AlwaysOn) => Err(DeclarationError::ForcedInstallWithDownloadDisabled),
        _ => Ok(()),
    }
}

fn validate_beta(beta: &Beta) -> Result<(), DeclarationError> {
    let enrollment = beta.program_enrollment.unwrap_or_default();
    if let Some(offered) = &beta.offer_programs {
        if beta.require_program.is_some() {
            return Err(DeclarationError::OfferedAndRequiredProgram);
        }
        if enrollment == UserControl::AlwaysOff {
            return Err(DeclarationError::OfferedProgramsWithEnrollmentOff);
        }
        if offered.is_empty() {
            return Err(DeclarationError::Empty {
                path: "Beta.OfferPrograms",
            });
        }
        for program in offered {
            validate_program(
                program,
                "Beta.OfferPrograms.Description",
                "Beta.OfferPrograms.Token",
            )?;
        }
    }
    if let Some(required) = &beta.require_program {
        if enrollment != UserControl::AlwaysOn {
            return Err(DeclarationError::RequiredProgramWithoutAlwaysOn);
        }
        validate_program(
            required,
            "Beta.RequireProgram.Description",
            "Beta.RequireProgram.Token",
        )?;
    }
    Ok(())
}

fn validate_program(
    program: &BetaProgram,
    description_path: &'static str,
    token_path: &'static str,
) -> Result<(), DeclarationError> {
    if program.description.trim().is_empty() {
        return Err(DeclarationError::Empty {
            path: description_path,
        });
    }
    if program.token.trim().is_empty() {
        return Err(DeclarationError::Empty { path: token_path });
    }
    Ok(())
}
