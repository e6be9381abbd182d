//! `plan(device, catalog, policy, ring, now)`: what one device is told, and when. Pure: time is a
//! parameter, the catalog is an in-memory index.

use chrono::{DateTime, Days, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

use super::delivery::{SettingsPlan, settings_plan};
use super::model::{BsiPolicy, Enforcement, Policy};
use super::outcome::{BsiEnforce, Deadline, Enforce, EnforcementPath, NoAction, Target, Unknown, Upcoming};
use super::rings::RingAssignment;
use super::select::{Choice, Selection, select};
use crate::catalog::{Applicability, Build, CatalogIndex, DeviceQuery, OsFamily, OsVersion, UnknownReason};
use crate::protocol::ddm::{
    self, DeviceTarget, ENFORCEMENT_AVAILABILITY, Enrollment, Platform, TargetLocalDateTime, UpdatePath,
};

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
        DeviceTarget::new(
            platform,
            ddm::OsVersion::new(v.major, v.minor, v.patch),
            self.enrollment,
        )
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
        return finished(
            None,
            head,
            Target::Unknown {
                reason: Unknown::UnknownPlatform,
            },
            SettingsPlan::Nothing,
        );
    };
    if !policy.covers(platform) {
        let reason = NoAction::PlatformNotCovered { platform };
        return finished(
            Some(platform),
            head,
            Target::NoAction { reason },
            SettingsPlan::Nothing,
        );
    }
    let path = update_path(device, platform);
    let settings = settings_plan(policy, device, platform, path);
    if matches!(policy.enforcement, Enforcement::DoNotManage) && policy.bsi == BsiPolicy::None {
        return finished(
            Some(platform),
            head,
            Target::NoAction {
                reason: NoAction::NotManaged,
            },
            settings,
        );
    }
    let family = family_of(platform);
    let answer =
        match catalog.applicability(&device.query(family, device.enrollment == Enrollment::Supervised)) {
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
        (Selection::Enforce { .. } | Selection::Deferred { .. }, Err(reason)) => {
            (Target::NoAction { reason }, None)
        }
        (Selection::Deferred { reason, upcoming }, Ok(_)) => {
            notes.push(format!(
                "{} becomes visible on {}",
                upcoming.version, upcoming.visible_from
            ));
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
pub fn update_path(device: &DeviceView, platform: Platform) -> UpdatePath {
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

fn enforcement_blocker(
    device: &DeviceView,
    platform: Platform,
    path: UpdatePath,
) -> Result<EnforcementPath, NoAction> {
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
pub(super) fn schedule(
    wanted: NaiveDateTime,
    ring: Option<&RingAssignment<'_>>,
) -> (NaiveDateTime, Vec<String>) {
    let Some(ring) = ring else {
        return (wanted, Vec::new());
    };
    let offset = ring.offset_days();
    let shifted = wanted
        .checked_add_days(Days::new(offset.into()))
        .unwrap_or(wanted);
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

fn enforce(
    choice: Choice<'_>,
    path: EnforcementPath,
    ring: Option<&RingAssignment<'_>>,
    offset: FixedOffset,
) -> (Enforce, String) {
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
