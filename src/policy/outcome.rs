//! What the planner decides for one device: the target (or why none), deadlines, and the
//! reasons a person reads on the device page.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Build, OsVersion};
use crate::protocol::ddm::{Platform, TargetLocalDateTime};

/// The road an enforcement takes to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementPath {
    /// `softwareupdate.enforcement.specific` with `TargetLocalDateTime`.
    Declarative,
    /// Restrictions deferrals, then `ScheduleOSUpdate` at the deadline.
    Legacy,
}

/// A deadline, as the device reads it (local, no zone) and as the scheduler waits for it (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub utc: DateTime<Utc>,
    pub local: TargetLocalDateTime,
}

/// Install this release by this deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enforce {
    pub version: OsVersion,
    pub build: Build,
    pub deadline: Deadline,
    /// The local date from which the device shows the update (end of the deferral).
    pub visible_from: NaiveDate,
    pub release_posted: NaiveDate,
    pub path: EnforcementPath,
}

/// Install this Background Security Improvement by this deadline (declarative only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BsiEnforce {
    /// The version with its letter, e.g. `26.3.1 (a)`.
    pub version: OsVersion,
    /// The supplemental build, e.g. `23D771330a`: the `TargetBuildVersion` to send.
    pub build: Build,
    pub deadline: Deadline,
    pub release_posted: NaiveDate,
}

/// The next release that will become the target once its deferral ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upcoming {
    pub version: OsVersion,
    pub visible_from: NaiveDate,
    pub deadline: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Target {
    NoAction {
        reason: NoAction,
    },
    /// The planner cannot tell (model not in the catalog): never reported as up to date.
    Unknown {
        reason: Unknown,
    },
    Enforce(Enforce),
}

/// Why a device gets no version enforcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum NoAction {
    NotManaged,
    PlatformNotCovered {
        platform: Platform,
    },
    UpToDate {
        version: OsVersion,
    },
    AtOrAboveMinimum {
        minimum: OsVersion,
    },
    AtOrAboveTarget {
        target: OsVersion,
    },
    ReleaseExpired {
        version: OsVersion,
        expired_on: NaiveDate,
    },
    NotOffered {
        version: OsVersion,
    },
    MajorNotAllowed {
        version: OsVersion,
    },
    BeyondNewestMajor {
        version: OsVersion,
        newest_allowed: String,
    },
    Deferred {
        version: OsVersion,
        visible_from: NaiveDate,
    },
    NeedsSupervision,
    UserEnrollment,
    NoUpdatePath,
}

impl fmt::Display for NoAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoAction::NotManaged => f.write_str("OS version not managed by this policy"),
            NoAction::PlatformNotCovered { platform } => write!(f, "the policy does not cover {platform}"),
            NoAction::UpToDate { version } => write!(f, "up to date on {version}"),
            NoAction::AtOrAboveMinimum { minimum } => write!(f, "already at or above the minimum {minimum}"),
            NoAction::AtOrAboveTarget { target } => write!(f, "already at or above the target {target}"),
            NoAction::ReleaseExpired { version, expired_on } => write!(
                f,
                "{version} expired on {expired_on}: Apple no longer offers it, so it is not enforced"
            ),
            NoAction::NotOffered { version } => write!(f, "{version} is not offered to this model"),
            NoAction::MajorNotAllowed { version } => write!(
                f,
                "{version} is a major upgrade and the policy does not allow major upgrades"
            ),
            NoAction::BeyondNewestMajor {
                version,
                newest_allowed,
            } => write!(
                f,
                "{version} is beyond the newest major the policy allows ({newest_allowed})"
            ),
            NoAction::Deferred { version, visible_from } => {
                write!(f, "{version} is deferred until {visible_from}")
            }
            NoAction::NeedsSupervision => f.write_str("update enforcement on this device needs supervision"),
            NoAction::UserEnrollment => f.write_str("User Enrollment does not allow update enforcement"),
            NoAction::NoUpdatePath => f.write_str(
                "this OS has no way for an MDM to enforce updates (no declarative enforcement, no legacy commands)",
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Unknown {
    NoCatalog,
    UnknownModel {
        model: Option<String>,
        device_id: Option<String>,
    },
    UnknownPlatform,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unknown::NoCatalog => f.write_str("no update catalog loaded yet"),
            Unknown::UnknownModel { model, device_id } => write!(
                f,
                "model {} (update id {}) is not in the catalog",
                model.as_deref().unwrap_or("?"),
                device_id.as_deref().unwrap_or("?")
            ),
            Unknown::UnknownPlatform => f.write_str("the device's platform is not known yet"),
        }
    }
}
