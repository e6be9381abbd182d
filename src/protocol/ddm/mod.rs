//! Declarative Device Management: the declarations Orchard emits, their tokens, the
//! `declaration/<class>/<identifier>` path, and status reports. Pure: no I/O.
//!
//! Which devices get which declarations (facts file §1–§4; each builder refuses or trims for a
//! [`DeviceTarget`] accordingly):
//!
//! | declaration | iOS / iPadOS | macOS | tvOS | visionOS | enrollment |
//! |---|---|---|---|---|---|
//! | `softwareupdate.enforcement.specific` | 17+ | 14+ | 18.4+ | 26+ | supervised, or device enrollment (not macOS); never User Enrollment |
//! | `softwareupdate.settings` | 18+ | 15+ | 18.4+ | 26+ | as above; many keys need supervision or a platform (see `settings_target`) |
//! | `management.status-subscriptions` | 15+ | 13+ | 16+ | 1.1+ | `softwareupdate.*` items exist from iOS 17 / macOS 14 / tvOS 18.4 / visionOS 26 |
//! | `activation.simple`, `management.server-capabilities` | 15+ | 13+ | 16+ | 1.1+ | any |
//! | `management.properties` | 16+ | 13+ | 16+ | 1.1+ | any |
//!
//! Devices below the enforcement minimum take the legacy MDM path (restrictions deferrals and
//! `ScheduleOSUpdate`), which Apple removes in the 27 releases and never offered on visionOS;
//! [`supports`] tells the policy engine which road a device is on.

pub mod declaration;
pub mod endpoint;
pub mod enforcement;
pub mod error;
pub mod management;
pub mod platform;
pub mod set;
pub mod settings;
pub mod settings_target;
pub mod status;
pub mod token;

pub use declaration::{Declaration, DeclarationClass, DeclarationIdentifier, DeclarationPayload};
pub use endpoint::{DdmEndpoint, DeclarationPath, EndpointError};
pub use enforcement::{ENFORCEMENT_AVAILABILITY, EnforcementSpecific, TargetLocalDateTime};
pub use error::{DeclarationError, IdentifierProblem};
pub use management::{
    ActivationPredicate, ManagementProperties, PropertyValue, ServerCapabilities, SimpleActivation,
    StatusSubscriptions,
};
pub use platform::{Availability, DeviceTarget, Enrollment, OsVersion, Platform, Unavailable};
pub use set::{DeclarationItemsResponse, DeclarationSet, TokensResponse};
pub use settings::{
    AutomaticActions, Beta, BetaProgram, DeferralDays, Deferrals, RapidSecurityResponse, RecommendedCadence,
    SoftwareUpdateSettings, UserControl,
};
pub use settings_target::{DroppedKey, SETTINGS_AVAILABILITY, TargetedSettings};
pub use status::{StatusReport, StatusReportError};

const fn since(major: u32, minor: u32) -> Option<OsVersion> {
    Some(OsVersion::new(major, minor, 0))
}

/// Where DDM itself (and the always-available declarations) exists: iOS 15, macOS 13, tvOS 16,
/// visionOS 1.1.
pub const DDM_AVAILABILITY: Availability = Availability {
    ios: since(15, 0),
    macos: since(13, 0),
    tvos: since(16, 0),
    visionos: since(1, 1),
    device_enrollment: platform::EVERY_PLATFORM,
    user_enrollment: platform::EVERY_PLATFORM,
};

/// Where a declaration type Orchard emits is accepted; `None` for a type Orchard does not emit.
pub fn declaration_availability(declaration_type: &str) -> Option<Availability> {
    use management::*;
    match declaration_type {
        enforcement::ENFORCEMENT_SPECIFIC_TYPE => Some(ENFORCEMENT_AVAILABILITY),
        settings::SETTINGS_TYPE => Some(SETTINGS_AVAILABILITY),
        STATUS_SUBSCRIPTIONS_TYPE => Some(Availability {
            device_enrollment: platform::NOT_MAC,
            user_enrollment: &["iOS", "macOS", "visionOS"],
            ..DDM_AVAILABILITY
        }),
        SIMPLE_ACTIVATION_TYPE | SERVER_CAPABILITIES_TYPE => Some(DDM_AVAILABILITY),
        PROPERTIES_TYPE => Some(Availability {
            ios: since(16, 0),
            ..DDM_AVAILABILITY
        }),
        _ => None,
    }
}

/// How a device's OS updates can be managed, from its platform and OS version alone. Supervision
/// still matters: macOS takes the update declarations only when supervised, and the legacy
/// commands need supervision on iOS, iPadOS and tvOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DdmUpdateSupport {
    /// The DDM engine exists (`DeclarativeManagement` command).
    pub declarative_management: bool,
    /// `softwareupdate.enforcement.specific` is accepted.
    pub enforcement: bool,
    /// `softwareupdate.settings` is accepted.
    pub settings: bool,
    /// The `softwareupdate.*` status items are reported.
    pub update_status: bool,
    /// `ScheduleOSUpdate` / `AvailableOSUpdates` still exist (removed in the 27 releases).
    pub legacy_commands: bool,
}

/// The road a device's updates take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdatePath {
    /// Enforcement (and, where available, settings) declarations.
    Declarative,
    /// Restrictions deferrals and `ScheduleOSUpdate` at the deadline.
    Legacy,
    /// Nothing Orchard can use (e.g. visionOS before 26).
    Unmanaged,
}

impl DdmUpdateSupport {
    pub fn path(&self) -> UpdatePath {
        if self.enforcement {
            UpdatePath::Declarative
        } else if self.legacy_commands {
            UpdatePath::Legacy
        } else {
            UpdatePath::Unmanaged
        }
    }
}

/// The pure decision the policy engine uses to choose between DDM and the legacy path.
pub fn supports(platform: Platform, os_version: OsVersion) -> DdmUpdateSupport {
    let at_least = |availability: &Availability| {
        availability
            .introduced(platform)
            .is_some_and(|introduced| os_version >= introduced)
    };
    let legacy_since = match platform {
        Platform::Ios | Platform::IpadOs => since(9, 0),
        Platform::MacOs => since(10, 11),
        Platform::TvOs => since(12, 0),
        Platform::VisionOs => None,
    };
    let update_items =
        status::catalogue::known_item("softwareupdate.install-state").map(|item| item.availability);
    DdmUpdateSupport {
        declarative_management: at_least(&DDM_AVAILABILITY),
        enforcement: at_least(&ENFORCEMENT_AVAILABILITY),
        settings: at_least(&SETTINGS_AVAILABILITY),
        update_status: update_items.is_some_and(|availability| at_least(&availability)),
        legacy_commands: legacy_since.is_some_and(|since| os_version >= since)
            && os_version < OsVersion::new(27, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn road(platform: Platform, version: &str) -> UpdatePath {
        supports(platform, version.parse().unwrap()).path()
    }

    #[test]
    fn chooses_declarative_management_from_the_documented_minimums() {
        assert_eq!(road(Platform::Ios, "16.7.10"), UpdatePath::Legacy);
        assert_eq!(road(Platform::Ios, "17.0"), UpdatePath::Declarative);
        assert_eq!(road(Platform::IpadOs, "17.0"), UpdatePath::Declarative);
        assert_eq!(road(Platform::MacOs, "13.6"), UpdatePath::Legacy);
        assert_eq!(road(Platform::MacOs, "14.0"), UpdatePath::Declarative);
        assert_eq!(road(Platform::TvOs, "18.3"), UpdatePath::Legacy);
        assert_eq!(road(Platform::TvOs, "18.4"), UpdatePath::Declarative);
        assert_eq!(road(Platform::VisionOs, "2.4"), UpdatePath::Unmanaged);
        assert_eq!(road(Platform::VisionOs, "26.0"), UpdatePath::Declarative);
        let ios17 = supports(Platform::Ios, "17.5".parse().unwrap());
        assert!(ios17.enforcement && !ios17.settings && ios17.update_status && ios17.legacy_commands);
        let ios27 = supports(Platform::Ios, "27.0".parse().unwrap());
        assert!(ios27.settings && !ios27.legacy_commands);
        let mac15 = supports(Platform::MacOs, "15.0".parse().unwrap());
        assert!(mac15.settings);
    }
}
