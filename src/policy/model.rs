//! The policy model ("Managed OS" library items): what an administrator decides. Serialisable to
//! JSON so the store can keep a policy as one document. Values are checked by [`super::validate`],
//! not here, so that every problem of a form can be reported at once.

use chrono::{Months, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::catalog::{Build, OsVersion};
use crate::protocol::ddm::{Platform, SoftwareUpdateSettings};

/// One "Managed OS" item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Unique name.
    pub name: String,
    /// What administrators see; several policies of the same kind differ by label.
    pub label: String,
    /// The platforms it applies to; a device of another platform ignores it.
    pub platforms: Vec<Platform>,
    /// Higher wins when several policies reach one device; equal priorities are a conflict.
    pub priority: i32,
    pub enforcement: Enforcement,
    #[serde(default)]
    pub bsi: BsiPolicy,
    /// Becomes `com.apple.configuration.softwareupdate.settings` (trimmed per device).
    #[serde(default)]
    pub settings: SoftwareUpdateSettings,
    #[serde(default)]
    pub majors: MajorPolicy,
}

impl Policy {
    pub fn covers(&self, platform: Platform) -> bool {
        self.platforms.contains(&platform)
    }

    /// "label (name)" for explanations and conflicts.
    pub fn display_name(&self) -> String {
        if self.label.is_empty() || self.label == self.name {
            self.name.clone()
        } else {
            format!("{} ({})", self.label, self.name)
        }
    }
}

/// How the OS version is enforced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Enforcement {
    DoNotManage,
    /// Each new release is enforced within `within` of its release, at local time `at`.
    Rolling {
        within: RollingWindow,
        at: NaiveTime,
    },
    /// Devices below `version` install it by `deadline` (device-local); others are left alone.
    Minimum {
        #[serde(with = "version_text")]
        version: OsVersion,
        deadline: NaiveDateTime,
    },
    /// Exactly this version (and build, if given) by `deadline` (device-local).
    Specific {
        #[serde(with = "version_text")]
        version: OsVersion,
        #[serde(default, with = "build_text", skip_serializing_if = "Option::is_none")]
        build: Option<Build>,
        deadline: NaiveDateTime,
    },
    AutomaticLatest(AutomaticLatest),
    SecuritySla(SecuritySla),
}

impl Enforcement {
    pub fn mode_name(&self) -> &'static str {
        match self {
            Enforcement::DoNotManage => "do not manage",
            Enforcement::Rolling { .. } => "rolling enforcement",
            Enforcement::Minimum { .. } => "minimum version",
            Enforcement::Specific { .. } => "specific version",
            Enforcement::AutomaticLatest(_) => "automatic latest",
            Enforcement::SecuritySla(_) => "security SLA",
        }
    }
}

/// The rolling-enforcement choices offered in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RollingWindow {
    #[serde(rename = "1d")]
    OneDay,
    #[serde(rename = "2d")]
    TwoDays,
    #[serde(rename = "1w")]
    OneWeek,
    #[serde(rename = "2w")]
    TwoWeeks,
    #[serde(rename = "3w")]
    ThreeWeeks,
    #[serde(rename = "1mo")]
    OneMonth,
    #[serde(rename = "2mo")]
    TwoMonths,
    #[serde(rename = "3mo")]
    ThreeMonths,
}

impl RollingWindow {
    pub const ALL: [RollingWindow; 8] = [
        RollingWindow::OneDay,
        RollingWindow::TwoDays,
        RollingWindow::OneWeek,
        RollingWindow::TwoWeeks,
        RollingWindow::ThreeWeeks,
        RollingWindow::OneMonth,
        RollingWindow::TwoMonths,
        RollingWindow::ThreeMonths,
    ];

    /// The date `within` after `from` (calendar months for the month choices).
    pub fn after(self, from: NaiveDate) -> NaiveDate {
        let days = |n: u64| from.checked_add_days(chrono::Days::new(n)).unwrap_or(from);
        let months = |n: u32| from.checked_add_months(Months::new(n)).unwrap_or(from);
        match self {
            RollingWindow::OneDay => days(1),
            RollingWindow::TwoDays => days(2),
            RollingWindow::OneWeek => days(7),
            RollingWindow::TwoWeeks => days(14),
            RollingWindow::ThreeWeeks => days(21),
            RollingWindow::OneMonth => months(1),
            RollingWindow::TwoMonths => months(2),
            RollingWindow::ThreeMonths => months(3),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RollingWindow::OneDay => "1 day",
            RollingWindow::TwoDays => "2 days",
            RollingWindow::OneWeek => "1 week",
            RollingWindow::TwoWeeks => "2 weeks",
            RollingWindow::ThreeWeeks => "3 weeks",
            RollingWindow::OneMonth => "1 month",
            RollingWindow::TwoMonths => "2 months",
            RollingWindow::ThreeMonths => "3 months",
        }
    }
}

pub const DEFAULT_GRACE_DAYS: u32 = 30;

/// Automatic latest with deferral and grace: a release is hidden for the deferral, then visible,
/// then enforced `grace_days` after the deferral ends, at local time `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomaticLatest {
    #[serde(default)]
    pub deferral: DeferralPeriods,
    #[serde(default = "default_grace")]
    pub grace_days: u32,
    pub at: NaiveTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_url: Option<String>,
}

fn default_grace() -> u32 {
    DEFAULT_GRACE_DAYS
}

/// Deferrals in days (1–90 each). macOS defers majors, minors and system/non-OS updates separately;
/// iOS, iPadOS, tvOS and visionOS have one combined deferral for majors and minors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeferralPeriods {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combined: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<u32>,
}

impl DeferralPeriods {
    pub const MIN: u32 = 1;
    pub const MAX: u32 = 90;

    /// The days a release is hidden on `platform`: combined on the iOS family, major or minor
    /// on macOS. Absent means no deferral.
    pub fn for_release(&self, platform: Platform, major_upgrade: bool) -> u32 {
        let days = match platform {
            Platform::MacOs if major_upgrade => self.major,
            Platform::MacOs => self.minor,
            _ => self.combined,
        };
        days.unwrap_or(0)
    }
}

/// Security SLA: the deadline follows the release's security content (SOFA enrichment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySla {
    /// The release fixes at least one actively exploited CVE.
    #[serde(default = "sla_exploited")]
    pub exploited_days: u32,
    /// The release fixes CVEs, none known to be exploited.
    #[serde(default = "sla_cve")]
    pub cve_days: u32,
    /// No CVEs listed (or no security data).
    #[serde(default = "sla_other")]
    pub other_days: u32,
    pub at: NaiveTime,
}

impl SecuritySla {
    pub const MIN_DAYS: u32 = 1;
    pub const MAX_DAYS: u32 = 365;

    pub fn with_defaults(at: NaiveTime) -> SecuritySla {
        SecuritySla {
            exploited_days: sla_exploited(),
            cve_days: sla_cve(),
            other_days: sla_other(),
            at,
        }
    }
}

fn sla_exploited() -> u32 {
    14
}
fn sla_cve() -> u32 {
    21
}
fn sla_other() -> u32 {
    28
}

/// Major upgrades: allowed or not, and how new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MajorPolicy {
    pub allow_major: bool,
    pub newest_major: NewestMajor,
}

impl Default for MajorPolicy {
    /// Conservative: no major upgrade until an administrator allows it.
    fn default() -> Self {
        MajorPolicy {
            allow_major: false,
            newest_major: NewestMajor::N,
        }
    }
}

/// The newest major allowed: the newest Apple ships for the platform (N), or the one before (N-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NewestMajor {
    #[serde(rename = "N")]
    N,
    #[serde(rename = "N-1")]
    NMinusOne,
}

/// Background Security Improvements: separate from version enforcement; only for devices already
/// on the latest minor release, running the improvement's prerequisite build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum BsiPolicy {
    #[default]
    None,
    Within {
        days: u32,
        at: NaiveTime,
    },
}

impl BsiPolicy {
    pub const MAX_DAYS: u32 = 90;
}

mod version_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::catalog::OsVersion;

    pub fn serialize<S: Serializer>(v: &OsVersion, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OsVersion, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

mod build_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::catalog::Build;

    pub fn serialize<S: Serializer>(b: &Option<Build>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.collect_str(b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Build>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.filter(|t| !t.trim().is_empty())
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, 0, 0).unwrap()
    }

    #[test]
    fn a_policy_round_trips_through_json_with_readable_values() {
        let policy = Policy {
            name: "ios-specific".into(),
            label: "Pin iOS".into(),
            platforms: vec![Platform::Ios, Platform::IpadOs],
            priority: 5,
            enforcement: Enforcement::Specific {
                version: "26.3.1".parse().unwrap(),
                build: Some("23D8133".parse().unwrap()),
                deadline: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap().and_time(t(18)),
            },
            bsi: BsiPolicy::Within { days: 3, at: t(20) },
            settings: SoftwareUpdateSettings::default(),
            majors: MajorPolicy {
                allow_major: true,
                newest_major: NewestMajor::NMinusOne,
            },
        };
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(json["enforcement"]["mode"], "specific");
        assert_eq!(json["enforcement"]["version"], "26.3.1");
        assert_eq!(json["enforcement"]["build"], "23D8133");
        assert_eq!(json["enforcement"]["deadline"], "2026-04-01T18:00:00");
        assert_eq!(json["majors"]["newest_major"], "N-1");
        assert_eq!(json["platforms"][1], "iPadOS");
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn automatic_latest_defaults_to_thirty_days_of_grace_and_bad_versions_are_refused() {
        let json =
            serde_json::json!({"mode": "automatic-latest", "at": "18:00:00", "deferral": {"combined": 7}});
        let e: Enforcement = serde_json::from_value(json).unwrap();
        let Enforcement::AutomaticLatest(a) = e else {
            panic!("not automatic latest")
        };
        assert_eq!(a.grace_days, 30);
        assert_eq!(a.deferral.for_release(Platform::Ios, true), 7);
        assert_eq!(a.deferral.for_release(Platform::MacOs, false), 0);
        let bad =
            serde_json::json!({"mode": "minimum", "version": "26.x", "deadline": "2026-04-01T18:00:00"});
        assert!(serde_json::from_value::<Enforcement>(bad).is_err());
    }

    #[test]
    fn rolling_windows_count_days_and_calendar_months() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let after: Vec<String> = RollingWindow::ALL
            .iter()
            .map(|w| w.after(d).to_string())
            .collect();
        assert_eq!(
            after,
            [
                "2026-02-01",
                "2026-02-02",
                "2026-02-07",
                "2026-02-14",
                "2026-02-21",
                "2026-02-28",
                "2026-03-31",
                "2026-04-30"
            ]
        );
    }
}
