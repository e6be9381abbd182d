//! What the simulated device is (platform, model, OS, passcode, free space, time zone), what Apple
//! offers it, and how long things take on it.

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Offset as _, Utc};

use crate::protocol::ddm::{OsVersion, Platform};

/// The device as its status items describe it, plus what the update model needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProfile {
    pub udid: String,
    pub serial_number: String,
    pub platform: Platform,
    /// E.g. `iPhone16,1`, `AppleTV14,1`, `Mac15,3`.
    pub model_identifier: String,
    /// The installed OS version, e.g. `18.3` or `18.3.1`.
    pub os_version: String,
    /// The installed build, e.g. `22D63`.
    pub build_version: String,
    /// A passcode is set: an enforced install on an iPhone or iPad waits until the user enters it.
    pub has_passcode: bool,
    pub free_space_bytes: u64,
    /// The device's time zone, as minutes east of UTC: `TargetLocalDateTime` is read in it.
    pub utc_offset_minutes: i32,
}

impl DeviceProfile {
    /// A device of `platform` with a typical model, a passcode where the platform has one, 64 GB
    /// free and UTC time.
    pub fn new(platform: Platform, udid: &str, os_version: &str, build_version: &str) -> Self {
        let model = match platform {
            Platform::Ios => "iPhone16,1",
            Platform::IpadOs => "iPad14,3",
            Platform::TvOs => "AppleTV14,1",
            Platform::MacOs => "Mac15,3",
            Platform::VisionOs => "RealityDevice14,1",
        };
        DeviceProfile {
            udid: udid.to_string(),
            serial_number: format!("SIM{}", udid.chars().rev().take(9).collect::<String>()),
            platform,
            model_identifier: model.to_string(),
            os_version: os_version.to_string(),
            build_version: build_version.to_string(),
            has_passcode: matches!(platform, Platform::Ios | Platform::IpadOs | Platform::MacOs),
            free_space_bytes: 64 * 1024 * 1024 * 1024,
            utc_offset_minutes: 0,
        }
    }

    /// `device.model.family`.
    pub fn model_family(&self) -> &'static str {
        match self.platform {
            Platform::Ios => "iPhone",
            Platform::IpadOs => "iPad",
            Platform::TvOs => "AppleTV",
            Platform::MacOs => "Mac",
            Platform::VisionOs => "Vision",
        }
    }

    /// `device.operating-system.family`.
    pub fn os_family(&self) -> &'static str {
        self.platform.display_name()
    }

    pub fn installed_version(&self) -> Option<OsVersion> {
        self.os_version.parse().ok()
    }

    /// Whether an enforced install waits for someone to enter the passcode (iPhone and iPad only:
    /// an Apple TV has none, a Mac restarts on its own at the deadline).
    pub fn install_needs_passcode(&self) -> bool {
        self.has_passcode && matches!(self.platform, Platform::Ios | Platform::IpadOs)
    }

    /// The UTC instant of a device-local wall-clock time.
    pub fn local_to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        local.and_utc() - Duration::minutes(i64::from(self.utc_offset_minutes))
    }

    /// The device-local wall-clock time of a UTC instant.
    pub fn utc_to_local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.utc_offset_minutes * 60).unwrap_or(Utc.fix());
        at.with_timezone(&offset)
    }
}

/// One update Apple offers this device: version, build, when it was posted, its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedUpdate {
    pub version: String,
    pub build: String,
    pub posted: DateTime<Utc>,
    /// Free space the download and preparation need.
    pub required_space_bytes: u64,
}

impl OfferedUpdate {
    pub fn new(version: &str, build: &str, posted: DateTime<Utc>) -> Self {
        OfferedUpdate {
            version: version.to_string(),
            build: build.to_string(),
            posted,
            required_space_bytes: 8 * 1024 * 1024 * 1024,
        }
    }

    pub fn parsed_version(&self) -> Option<OsVersion> {
        self.version.parse().ok()
    }
}

/// How long the device takes for each step, in virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelTiming {
    pub download: Duration,
    pub install: Duration,
    /// From the deadline to the user entering the passcode (iPhone, iPad with a passcode).
    pub passcode_entry: Duration,
    /// After a failed attempt (no space, download failure), the next one.
    pub retry_after: Duration,
    /// How long a user's "later" at the deadline postpones the install.
    pub postpone: Duration,
}

impl Default for ModelTiming {
    fn default() -> Self {
        ModelTiming {
            download: Duration::minutes(20),
            install: Duration::minutes(15),
            passcode_entry: Duration::hours(2),
            retry_after: Duration::hours(1),
            postpone: Duration::hours(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn local_times_follow_the_configured_offset() {
        let mut device = DeviceProfile::new(Platform::Ios, "UDID-1", "18.3", "22D63");
        device.utc_offset_minutes = -5 * 60;
        let local = NaiveDateTime::parse_from_str("2026-03-10T18:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        assert_eq!(
            device.local_to_utc(local),
            Utc.with_ymd_and_hms(2026, 3, 10, 23, 0, 0).unwrap()
        );
        assert_eq!(
            device
                .utc_to_local(Utc.with_ymd_and_hms(2026, 3, 10, 23, 0, 0).unwrap())
                .naive_local(),
            local
        );
        assert!(device.install_needs_passcode());
        assert!(!DeviceProfile::new(Platform::TvOs, "TV", "18.4", "22L572").install_needs_passcode());
    }
}
