//! `plan(device, catalog, policy, ring, now)`: what one device is told, and when. Pure: time is a
//! parameter, the catalog is an in-memory index.

use std::fmt;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

use super::delivery::{SettingsPlan, settings_plan};
use super::model::{BsiPolicy, Enforcement, Policy};
use super::rings::RingAssignment;
use super::select::{Choice, Selection, select};
use crate::catalog::{Applicability, Build, CatalogIndex, DeviceQuery, OsFamily, OsVersion, UnknownReason};
use crate::protocol::ddm::{self, DeviceTarget, ENFORCEMENT_AVAILABILITY, Enrollment, Platform, TargetLocalDateTime, UpdatePath};

/// What the appliance knows about a device, as the planner needs it.
#[derive(Debug, Clone)]
pub struct DeviceView {
    /// As reported; when absent, derived from the model identifier.
    pub platform: Option<Platform>,
    /// `ProductName` / `device.model.identifier`, e.g. `iPhone14,2`, `Mac14,9`.
    pub model: Option<String>,
    /// `SoftwareUpdateDeviceID` (the gdmf identifier, e.g. `J414sAP`).
    pub software_update_device_id: Option<String>,
    /// `OSVersion` without the supplemental letter.
    pub os_version: OsVersion,
    /// `BuildVersion` (base build).
    pub build: Option<Build>,
    /// `SupplementalOSVersionExtra`: the BSI letter installed, if any.
    pub supplemental_extra: Option<char>,
    pub enrollment: Enrollment,
    /// The DDM engine is on for this device (a `DeclarativeManagement` command was acknowledged).
    pub ddm_active: bool,
    /// The device's (or the site's) offset from UTC, to turn local deadlines into instants.
    pub utc_offset: FixedOffset,
}

impl DeviceView {
    pub fn platform(&self) -> Option<Platform> {
        self.platform
            .or_else(|| self.model.as_deref().and_then(Platform::of_model_identifier))
    }

    /// The installed version with its supplemental letter.
    pub fn version(&self) -> OsVersion {
        self.os_version.with_extra(self.supplemental_extra)
    }

    pub(super) fn query(&self, family: OsFamily, supervised: bool) -> DeviceQuery<'_> {
        DeviceQuery {
            family,
            device_id: self.software_update_device_id.as_deref(),
            model: self.model.as_deref(),
            version: self.version(),
            build: self.build.as_ref(),
            supervised,
        }
    }

    pub(super) fn target(&self, platform: Platform) -> DeviceTarget {
        let v = self.os_version;
        DeviceTarget::new(platform, ddm::OsVersion::new(v.major, v.minor, v.patch), self.enrollment)
    }
}

pub fn family_of(platform: Platform) -> OsFamily {
    match platform {
        Platform::Ios | Platform::IpadOs => OsFamily::Ios,
        Platform::MacOs => OsFamily::MacOs,
        Platform::TvOs => OsFamily::TvOs,
        Platform::VisionOs => OsFamily::VisionOs,
    }
}

/// The road an enforcement takes to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    NoAction { reason: NoAction },
    /// The planner cannot tell (model not in the catalog): never reported as up to date.
    Unknown { reason: Unknown },
    Enforce(Enforce),
}

/// Why a device gets no version enforcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum NoAction {
    NotManaged,
    PlatformNotCovered { platform: Platform },
    UpToDate { version: OsVersion },
    AtOrAboveMinimum { minimum: OsVersion },
    AtOrAboveTarget { target: OsVersion },
    ReleaseExpired { version: OsVersion, expired_on: NaiveDate },
    NotOffered { version: OsVersion },
    MajorNotAllowed { version: OsVersion },
    BeyondNewestMajor { version: OsVersion, newest_allowed: String },
    Deferred { version: OsVersion, visible_from: NaiveDate },
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
    UnknownModel { model: Option<String>, device_id: Option<String> },
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

/// Everything the device should be told.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub platform: Option<Platform>,
    pub target: Target,
    pub bsi: Option<BsiEnforce>,
    /// The release that becomes the target when its deferral ends (automatic latest).
    pub upcoming: Option<Upcoming>,
    #[serde(skip)]
    pub settings: SettingsPlan,
    /// For the device page: "policy X, ring Y, release Z posted on D, + N days".
    pub explanation: String,
}

/// The plan for `device` under its effective `policy` (see [`super::resolve`]) and ring, at `now`.
pub fn plan(
    device: &DeviceView,
    catalog: &CatalogIndex,
    policy: &Policy,
    ring: Option<&RingAssignment<'_>>,
    now: DateTime<Utc>,
) -> Plan {
    let mut head = format!("Policy {}", policy.display_name());
    if let Some(r) = ring {
        head.push_str(&format!(", ring {}", r.name));
    }
    let Some(platform) = device.platform() else {
        return finished(None, head, Target::Unknown { reason: Unknown::UnknownPlatform }, SettingsPlan::Nothing);
    };
    if !policy.covers(platform) {
        let reason = NoAction::PlatformNotCovered { platform };
        return finished(Some(platform), head, Target::NoAction { reason }, SettingsPlan::Nothing);
    }
    let path = update_path(device, platform);
    let settings = settings_plan(policy, device, platform, path);
    if matches!(policy.enforcement, Enforcement::DoNotManage) && policy.bsi == BsiPolicy::None {
        return finished(Some(platform), head, Target::NoAction { reason: NoAction::NotManaged }, settings);
    }
    let family = family_of(platform);
    let answer = match catalog.applicability(&device.query(family, device.enrollment == Enrollment::Supervised)) {
        Applicability::Known(answer) => answer,
        Applicability::Unknown(why) => {
            let reason = match why {
                UnknownReason::NoCatalog => Unknown::NoCatalog,
                UnknownReason::UnknownModel => Unknown::UnknownModel {
                    model: device.model.clone(),
                    device_id: device.software_update_device_id.clone(),
                },
            };
            return finished(Some(platform), head, Target::Unknown { reason }, settings);
        }
    };
    let local_now = now.with_timezone(&device.utc_offset).naive_local();
    let ctx = super::select::Context {
        device,
        platform,
        family,
        catalog,
        answer: &answer,
        policy,
        today: local_now.date(),
        base_date: ring.and_then(|r| r.schedule.base_date),
    };
    let mut notes = Vec::new();
    let usable = enforcement_blocker(device, platform, path);
    let declarative = matches!(usable, Ok(EnforcementPath::Declarative));
    let (target, upcoming) = match (select(&ctx), usable) {
        (Selection::NoAction(reason), _) => (Target::NoAction { reason }, None),
        (Selection::Enforce { .. } | Selection::Deferred { .. }, Err(reason)) => (Target::NoAction { reason }, None),
        (Selection::Deferred { reason, upcoming }, Ok(_)) => {
            notes.push(format!("{} becomes visible on {}", upcoming.version, upcoming.visible_from));
            (Target::NoAction { reason }, Some(shift(upcoming, ring)))
        }
        (Selection::Enforce { choice, upcoming }, Ok(road)) => {
            let (enforce, why) = enforce(choice, road, ring, device.utc_offset);
            notes.push(why);
            if let Some(u) = &upcoming {
                notes.push(format!("{} becomes visible on {}", u.version, u.visible_from));
            }
            (Target::Enforce(enforce), upcoming.map(|u| shift(u, ring)))
        }
    };
    let bsi = super::bsi::plan_bsi(&ctx, &target, declarative, ring, &mut notes);
    let mut plan = finished(Some(platform), head, target, settings);
    plan.bsi = bsi;
    plan.upcoming = upcoming;
    for n in notes {
        plan.explanation.push_str("; ");
        plan.explanation.push_str(&n);
    }
    plan
}

fn finished(platform: Option<Platform>, head: String, target: Target, settings: SettingsPlan) -> Plan {
    let explanation = match &target {
        Target::NoAction { reason } => format!("{head}: no enforcement: {reason}"),
        Target::Unknown { reason } => format!("{head}: unknown: {reason}"),
        Target::Enforce(_) => head,
    };
    Plan {
        platform,
        target,
        bsi: None,
        upcoming: None,
        settings,
        explanation,
    }
}

/// DDM when the OS takes the enforcement declaration and the engine is on; else the legacy
/// commands while they exist; else nothing.
pub(super) fn update_path(device: &DeviceView, platform: Platform) -> UpdatePath {
    let v = device.os_version;
    let support = ddm::supports(platform, ddm::OsVersion::new(v.major, v.minor, v.patch));
    if support.enforcement && device.ddm_active {
        UpdatePath::Declarative
    } else if support.legacy_commands {
        UpdatePath::Legacy
    } else {
        UpdatePath::Unmanaged
    }
}

fn enforcement_blocker(device: &DeviceView, platform: Platform, path: UpdatePath) -> Result<EnforcementPath, NoAction> {
    match path {
        UpdatePath::Declarative => match ENFORCEMENT_AVAILABILITY.refusal(&device.target(platform)) {
            None => Ok(EnforcementPath::Declarative),
            Some(ddm::Unavailable::UserEnrollment) => Err(NoAction::UserEnrollment),
            Some(ddm::Unavailable::NeedsSupervision) => Err(NoAction::NeedsSupervision),
            Some(_) => Err(NoAction::NoUpdatePath),
        },
        // ScheduleOSUpdate is supervised-only on every platform.
        UpdatePath::Legacy => match device.enrollment {
            Enrollment::Supervised => Ok(EnforcementPath::Legacy),
            Enrollment::Device => Err(NoAction::NeedsSupervision),
            Enrollment::User => Err(NoAction::UserEnrollment),
        },
        UpdatePath::Unmanaged => Err(NoAction::NoUpdatePath),
    }
}

/// Adds the ring's offset and applies its calendar to a wanted local deadline.
pub(super) fn schedule(wanted: NaiveDateTime, ring: Option<&RingAssignment<'_>>) -> (NaiveDateTime, Vec<String>) {
    let Some(ring) = ring else {
        return (wanted, Vec::new());
    };
    let offset = ring.offset_days();
    let shifted = wanted.checked_add_days(Days::new(offset.into())).unwrap_or(wanted);
    let adjusted = ring.schedule.adjust(shifted);
    let mut moves = Vec::new();
    if offset > 0 {
        moves.push(format!("+{offset} days for ring {}", ring.name));
    }
    moves.extend(adjusted.moves);
    (adjusted.at, moves)
}

pub(super) fn deadline(local: NaiveDateTime, offset: FixedOffset) -> Deadline {
    let utc = offset
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc());
    Deadline {
        utc,
        local: TargetLocalDateTime(local),
    }
}

fn shift(mut upcoming: Upcoming, ring: Option<&RingAssignment<'_>>) -> Upcoming {
    upcoming.deadline = schedule(upcoming.deadline, ring).0;
    upcoming
}

fn enforce(choice: Choice<'_>, path: EnforcementPath, ring: Option<&RingAssignment<'_>>, offset: FixedOffset) -> (Enforce, String) {
    let (local, moves) = schedule(choice.wanted_deadline, ring);
    let mut why = format!(
        "{} ({}) posted on {}, {}",
        choice.release.version, choice.release.build, choice.release.posting_date, choice.basis
    );
    for m in moves {
        why.push_str(", ");
        why.push_str(&m);
    }
    why.push_str(&format!(
        ": deadline {} local{}",
        local.format("%Y-%m-%d %H:%M"),
        if path == EnforcementPath::Legacy {
            " (legacy path: ScheduleOSUpdate at the deadline)"
        } else {
            ""
        }
    ));
    let enforce = Enforce {
        version: choice.release.version,
        build: choice.release.build.clone(),
        deadline: deadline(local, offset),
        visible_from: choice.visible_from,
        release_posted: choice.release.posting_date,
        path,
    };
    (enforce, why)
}
