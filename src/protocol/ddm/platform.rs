//! Who a declaration is for: platform, OS version and enrollment, and the "introduced in" checks
//! built on them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An Apple platform Orchard manages. iPadOS is its own platform for the UI and the catalog, but
/// Apple's schemas describe it under `iOS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Platform {
    #[serde(rename = "iOS")]
    Ios,
    #[serde(rename = "iPadOS")]
    IpadOs,
    #[serde(rename = "tvOS")]
    TvOs,
    #[serde(rename = "macOS")]
    MacOs,
    #[serde(rename = "visionOS")]
    VisionOs,
}

/// Model-identifier prefixes and their platforms.
const MODEL_PREFIXES: [(&str, Platform); 8] = [
    ("iPhone", Platform::Ios),
    ("iPod", Platform::Ios),
    ("iPad", Platform::IpadOs),
    ("AppleTV", Platform::TvOs),
    ("RealityDevice", Platform::VisionOs),
    ("Mac", Platform::MacOs),
    ("iMac", Platform::MacOs),
    ("VirtualMac", Platform::MacOs),
];

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Ios,
        Platform::IpadOs,
        Platform::TvOs,
        Platform::MacOs,
        Platform::VisionOs,
    ];

    /// The platform name Apple's YAML schemas use in `supportedOS` (iPadOS is `iOS` there).
    pub fn schema_name(self) -> &'static str {
        match self {
            Platform::Ios | Platform::IpadOs => "iOS",
            Platform::TvOs => "tvOS",
            Platform::MacOs => "macOS",
            Platform::VisionOs => "visionOS",
        }
    }

    /// The platform of a device from its model identifier (`ProductName` in `DeviceInformation`,
    /// `device.model.identifier` in DDM status): `iPhone17,3`, `iPad16,3`, `AppleTV14,1`,
    /// `Mac15,12`, `MacBookPro16,1`, `iMac21,1`, `VirtualMac2,1`, `RealityDevice14,1`.
    pub fn of_model_identifier(identifier: &str) -> Option<Platform> {
        MODEL_PREFIXES
            .iter()
            .find(|(prefix, _)| identifier.starts_with(prefix))
            .map(|(_, platform)| *platform)
    }

    /// The model-identifier prefixes of this platform's devices (for filtering stored devices).
    pub fn model_prefixes(self) -> impl Iterator<Item = &'static str> {
        MODEL_PREFIXES
            .iter()
            .filter(move |(_, platform)| *platform == self)
            .map(|(prefix, _)| *prefix)
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Ios => "iOS",
            Platform::IpadOs => "iPadOS",
            Platform::TvOs => "tvOS",
            Platform::MacOs => "macOS",
            Platform::VisionOs => "visionOS",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// A dotted OS version (`17`, `17.4`, `18.4.1`). Missing parts count as zero, so `17` == `17.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OsVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl OsVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        OsVersion { major, minor, patch }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an OS version (expected numbers separated by dots, such as 17.4 or 15.0.1)")]
pub struct OsVersionError(pub String);

impl FromStr for OsVersion {
    type Err = OsVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || OsVersionError(text.to_string());
        let parts: Vec<&str> = text.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(bad());
        }
        let mut numbers = [0u32; 3];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || part.len() > 6 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = part.parse().map_err(|_| bad())?;
        }
        Ok(OsVersion::new(numbers[0], numbers[1], numbers[2]))
    }
}

impl TryFrom<String> for OsVersion {
    type Error = OsVersionError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<OsVersion> for String {
    fn from(version: OsVersion) -> String {
        version.to_string()
    }
}

impl fmt::Display for OsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// How the device is enrolled, in the terms of the schemas' `allowed-enrollments`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enrollment {
    /// Supervised (Automated Device Enrollment, or Apple Configurator).
    Supervised,
    /// Device enrollment without supervision (profile-based enrollment of an org-owned device).
    Device,
    /// User Enrollment (personal devices): no software-update declarations apply.
    User,
}

/// The device a declaration is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceTarget {
    pub platform: Platform,
    pub os_version: OsVersion,
    pub enrollment: Enrollment,
}

impl DeviceTarget {
    pub fn new(platform: Platform, os_version: OsVersion, enrollment: Enrollment) -> Self {
        DeviceTarget {
            platform,
            os_version,
            enrollment,
        }
    }

    pub fn supervised(&self) -> bool {
        self.enrollment == Enrollment::Supervised
    }
}

impl fmt::Display for DeviceTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enrollment = match self.enrollment {
            Enrollment::Supervised => "supervised",
            Enrollment::Device => "unsupervised",
            Enrollment::User => "User Enrollment",
        };
        write!(f, "{} {} ({enrollment})", self.platform, self.os_version)
    }
}

/// When a declaration or key became available on each platform (`None`: not on that platform),
/// and which enrollments may receive it. One value per row of the facts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    pub ios: Option<OsVersion>,
    pub macos: Option<OsVersion>,
    pub tvos: Option<OsVersion>,
    pub visionos: Option<OsVersion>,
    /// Platforms (schema names: `iOS`, `macOS`, `tvOS`, `visionOS`) whose unsupervised device
    /// enrollments accept it (the schemas' `allowed-enrollments: device`). Supervised devices
    /// always do.
    pub device_enrollment: &'static [&'static str],
    /// Platforms whose User Enrollments accept it (`allowed-enrollments: user`).
    pub user_enrollment: &'static [&'static str],
}

/// Schema platform names, for the enrollment lists.
pub const EVERY_PLATFORM: &[&str] = &["iOS", "macOS", "tvOS", "visionOS"];
/// The platforms with device enrollment and no supervision requirement except on the Mac.
pub const NOT_MAC: &[&str] = &["iOS", "tvOS", "visionOS"];

impl Availability {
    pub fn introduced(&self, platform: Platform) -> Option<OsVersion> {
        match platform {
            Platform::Ios | Platform::IpadOs => self.ios,
            Platform::MacOs => self.macos,
            Platform::TvOs => self.tvos,
            Platform::VisionOs => self.visionos,
        }
    }

    /// Why this target cannot take it, or `None` when it can.
    pub fn refusal(&self, target: &DeviceTarget) -> Option<Unavailable> {
        let Some(introduced) = self.introduced(target.platform) else {
            return Some(Unavailable::Platform);
        };
        if target.os_version < introduced {
            return Some(Unavailable::OsTooOld { introduced });
        }
        let platform = target.platform.schema_name();
        match target.enrollment {
            Enrollment::Supervised => None,
            Enrollment::Device if !self.device_enrollment.contains(&platform) => {
                Some(Unavailable::NeedsSupervision)
            }
            Enrollment::User if !self.user_enrollment.contains(&platform) => {
                Some(Unavailable::UserEnrollment)
            }
            Enrollment::Device | Enrollment::User => None,
        }
    }
}

/// Why a key or declaration was left out for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Unavailable {
    /// The platform does not have it at all.
    Platform,
    /// It needs a newer OS.
    OsTooOld { introduced: OsVersion },
    /// Only supervised devices accept it.
    NeedsSupervision,
    /// User Enrollment does not allow it.
    UserEnrollment,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::Platform => f.write_str("not supported on this platform"),
            Unavailable::OsTooOld { introduced } => write!(f, "needs OS {introduced} or later"),
            Unavailable::NeedsSupervision => f.write_str("needs a supervised device"),
            Unavailable::UserEnrollment => f.write_str("not available under User Enrollment"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_identifiers_name_their_platform() {
        use super::Platform;
        for (id, want) in [
            ("iPhone17,3", Some(Platform::Ios)),
            ("iPad16,3", Some(Platform::IpadOs)),
            ("AppleTV14,1", Some(Platform::TvOs)),
            ("Mac15,12", Some(Platform::MacOs)),
            ("MacBookPro16,1", Some(Platform::MacOs)),
            ("iMac21,1", Some(Platform::MacOs)),
            ("VirtualMac2,1", Some(Platform::MacOs)),
            ("RealityDevice14,1", Some(Platform::VisionOs)),
            ("Watch7,1", None),
            ("", None),
        ] {
            assert_eq!(Platform::of_model_identifier(id), want, "{id}");
        }
    }

    use super::*;

    #[test]
    fn versions_compare_numerically_and_missing_parts_are_zero() {
        let v = |s: &str| s.parse::<OsVersion>().unwrap();
        assert!(v("18.4") > v("18.3.9"));
        assert!(v("10.15") < v("11"));
        assert_eq!(v("17"), v("17.0.0"));
        assert_eq!(v("26.0.1").to_string(), "26.0.1");
        assert_eq!(v("26").to_string(), "26.0");
        for bad in ["", "17.", ".1", "17.a", "1.2.3.4", "-1", "17 .1", "1234567"] {
            assert!(bad.parse::<OsVersion>().is_err(), "{bad:?} should be refused");
        }
    }
}
