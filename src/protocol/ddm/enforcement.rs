//! `com.apple.configuration.softwareupdate.enforcement.specific`: install this OS version by this
//! device-local date and time (facts §2).

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::declaration::DeclarationPayload;
use super::error::DeclarationError;
use super::platform::{Availability, DeviceTarget, NOT_MAC, OsVersion};

pub const ENFORCEMENT_SPECIFIC_TYPE: &str = "com.apple.configuration.softwareupdate.enforcement.specific";

/// iOS/iPadOS 17, macOS 14 (supervised only), tvOS 18.4, visionOS 26; never User Enrollment.
pub const ENFORCEMENT_AVAILABILITY: Availability = Availability {
    ios: Some(OsVersion::new(17, 0, 0)),
    macos: Some(OsVersion::new(14, 0, 0)),
    tvos: Some(OsVersion::new(18, 4, 0)),
    visionos: Some(OsVersion::new(26, 0, 0)),
    device_enrollment: NOT_MAC,
    user_enrollment: &[],
};

const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A wall-clock time on the device, without zone: `yyyy-mm-ddThh:mm:ss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetLocalDateTime(pub NaiveDateTime);

impl TargetLocalDateTime {
    pub fn parse(text: &str) -> Result<Self, DeclarationError> {
        // chrono accepts some variations (e.g. one-digit fields); Apple's format is fixed-width.
        let malformed = || DeclarationError::Malformed {
            path: "TargetLocalDateTime",
            value: text.to_string(),
            expected: "a local date and time yyyy-mm-ddThh:mm:ss, without time zone",
        };
        if text.len() != 19 {
            return Err(malformed());
        }
        NaiveDateTime::parse_from_str(text, LOCAL_FORMAT)
            .map(TargetLocalDateTime)
            .map_err(|_| malformed())
    }
}

impl fmt::Display for TargetLocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(LOCAL_FORMAT))
    }
}

impl Serialize for TargetLocalDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TargetLocalDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TargetLocalDateTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The declaration's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforcementSpecific {
    /// `16.1` installs the latest 16.1.x; `16.1.1` installs exactly that.
    #[serde(rename = "TargetOSVersion")]
    pub target_os_version: String,
    /// Optional build, possibly with a supplemental letter (`20A242a`). The version wins on conflict.
    #[serde(
        rename = "TargetBuildVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_build_version: Option<String>,
    #[serde(rename = "TargetLocalDateTime")]
    pub target_local_date_time: TargetLocalDateTime,
    #[serde(rename = "DetailsURL", default, skip_serializing_if = "Option::is_none")]
    pub details_url: Option<String>,
}

impl DeclarationPayload for EnforcementSpecific {
    const TYPE: &'static str = ENFORCEMENT_SPECIFIC_TYPE;
}

impl EnforcementSpecific {
    /// Checks the values themselves, whatever the device.
    pub fn validate(&self) -> Result<(), DeclarationError> {
        self.target_version()?;
        if let Some(build) = self
            .target_build_version
            .as_ref()
            .filter(|build| !is_build_version(build))
        {
            return Err(DeclarationError::Malformed {
                path: "TargetBuildVersion",
                value: build.clone(),
                expected: "an Apple build such as 22A3354 or 20A242a",
            });
        }
        if let Some(url) = &self.details_url {
            let has_host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if has_host.is_none_or(str::is_empty) || url.len() > 2048 || url.contains(char::is_whitespace) {
                return Err(DeclarationError::Malformed {
                    path: "DetailsURL",
                    value: url.clone(),
                    expected: "an http(s) URL of at most 2048 characters",
                });
            }
        }
        Ok(())
    }

    /// The payload to send to `target`, or why it cannot go there: the platform, OS or enrollment
    /// does not take the declaration, or the device already runs the target (or newer), which a
    /// device reports as an error.
    pub fn for_target(&self, target: &DeviceTarget) -> Result<EnforcementSpecific, DeclarationError> {
        self.validate()?;
        if let Some(why) = ENFORCEMENT_AVAILABILITY.refusal(target) {
            return Err(DeclarationError::NotSupported {
                declaration: ENFORCEMENT_SPECIFIC_TYPE,
                target: *target,
                why,
            });
        }
        let wanted = self.target_version()?;
        if wanted <= target.os_version {
            return Err(DeclarationError::TargetNotNewer {
                target_version: self.target_os_version.clone(),
                installed: target.os_version.to_string(),
            });
        }
        Ok(self.clone())
    }

    fn target_version(&self) -> Result<OsVersion, DeclarationError> {
        self.target_os_version
            .parse::<OsVersion>()
            .map_err(|_| DeclarationError::Malformed {
                path: "TargetOSVersion",
                value: self.target_os_version.clone(),
                expected: "an OS version such as 18.4 or 18.4.1",
            })
    }
}

/// `20A242`, `22G5027e`, `23A5276f`: 2 digits, one capital letter, 1–5 digits, optional lowercase letter.
fn is_build_version(build: &str) -> bool {
    let bytes = build.as_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&digits) || bytes.len() <= digits || !bytes[digits].is_ascii_uppercase() {
        return false;
    }
    let rest = &bytes[digits + 1..];
    let number = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let suffix = &rest[number..];
    (1..=5).contains(&number) && (suffix.is_empty() || (suffix.len() == 1 && suffix[0].is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_date_time_has_no_zone_and_a_fixed_width() {
        let t = TargetLocalDateTime::parse("2025-09-21T01:00:00").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2025-09-21T01:00:00\"");
        for bad in [
            "2025-09-21T01:00:00Z",
            "2025-09-21 01:00:00",
            "2025-9-21T01:00:00",
            "2025-09-21T1:00:00x",
        ] {
            assert!(TargetLocalDateTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn build_versions() {
        for good in ["20A242", "20A242a", "23A5276f", "9A334"] {
            assert!(is_build_version(good), "{good}");
        }
        for bad in ["", "20", "20a242", "A242", "20A", "20A242ab", "20A242A", "123A1"] {
            assert!(!is_build_version(bad), "{bad}");
        }
    }
}
