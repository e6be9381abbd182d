//! What one device is to be told, decided from its plan: on the declarative path its whole own
//! declaration set; on the legacy path a restrictions profile and, once the deadline has come, a
//! `ScheduleOSUpdate`. Never both. A fingerprint of it makes delivery idempotent.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::catalog::OsVersion;
use crate::ddm::device_set::device_own_set;
use crate::policy::book::{DeviceRecord, Evaluation};
use crate::policy::{
    Enforcement, EnforcementPath, LegacyDeferrals, NoAction, Plan, Policy, SettingsPlan, Target,
};
use crate::protocol::ddm::{
    self, Declaration, DeclarationError, DeclarationIdentifier, DeviceTarget, EnforcementSpecific,
    Enrollment, Platform, TargetLocalDateTime, UpdatePath,
};

/// The policy engine's configuration identifiers (one of each per device).
pub const ENFORCEMENT_ID: &str = "com.orchard.policy.enforcement";
pub const SETTINGS_ID: &str = "com.orchard.policy.settings";
/// The legacy restrictions profile's identifier.
pub const LEGACY_PROFILE_ID: &str = "com.orchard.policy.update-deferrals";

/// A `ScheduleOSUpdate` to send now (the deadline has come).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueUpdate {
    pub version: OsVersion,
    pub build: String,
    pub deadline_utc: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// The device's own declaration set (status subscription, configurations, activation).
    Declarative { set: Vec<Declaration> },
    Legacy {
        deferrals: Option<LegacyDeferrals>,
        /// Due now; `None` before the deadline or with nothing to enforce.
        due: Option<DueUpdate>,
    },
    /// Nothing can be told (OS unknown, no update path): whatever was delivered stays.
    Nothing,
}

impl Want {
    pub fn path(&self) -> &'static str {
        match self {
            Want::Declarative { .. } => "declarative",
            Want::Legacy { .. } => "legacy",
            Want::Nothing => "none",
        }
    }

    /// Same content, same fingerprint.
    pub fn fingerprint(&self) -> String {
        let mut text = String::from(self.path());
        match self {
            Want::Declarative { set } => {
                for d in set {
                    text.push_str(&format!("|{}={}", d.identifier().as_str(), d.server_token()));
                }
            }
            Want::Legacy { deferrals, due } => {
                if let Some(d) = deferrals {
                    text.push_str(&format!(
                        "|delay={}/{:?}/{:?}/{:?}",
                        d.delay_days, d.major_days, d.minor_days, d.non_os_days
                    ));
                }
                if let Some(u) = due {
                    text.push_str(&format!("|schedule={}", u.version));
                }
            }
            Want::Nothing => {}
        }
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

fn identifier(text: &str) -> Result<DeclarationIdentifier, DeclarationError> {
    DeclarationIdentifier::parse(text).map_err(|reason| DeclarationError::Identifier {
        path: "Identifier",
        reason,
    })
}

fn details_url(policy: Option<&Policy>) -> Option<String> {
    match policy.map(|p| &p.enforcement) {
        Some(Enforcement::AutomaticLatest(a)) => a.details_url.clone(),
        _ => None,
    }
}

/// The enforcement and settings declarations of a declarative plan.
pub fn configurations(plan: &Plan, policy: Option<&Policy>) -> Result<Vec<Declaration>, DeclarationError> {
    let mut out = Vec::new();
    let enforcement = match (&plan.target, &plan.bsi) {
        (Target::Enforce(e), _) if e.path == EnforcementPath::Declarative => Some(EnforcementSpecific {
            target_os_version: e.version.base().to_string(),
            target_build_version: Some(e.build.to_string()),
            target_local_date_time: e.deadline.local,
            details_url: details_url(policy),
        }),
        // A Background Security Improvement: the supplemental build on its base version.
        (Target::NoAction { .. }, Some(b)) => Some(EnforcementSpecific {
            target_os_version: b.version.base().to_string(),
            target_build_version: Some(b.build.to_string()),
            target_local_date_time: TargetLocalDateTime(b.deadline.local.0),
            details_url: details_url(policy),
        }),
        _ => None,
    };
    if let Some(e) = enforcement {
        e.validate()?;
        out.push(Declaration::new(identifier(ENFORCEMENT_ID)?, &e)?);
    }
    if let SettingsPlan::Declarative(t) = &plan.settings {
        out.push(Declaration::new(identifier(SETTINGS_ID)?, &t.payload)?);
    }
    Ok(out)
}

fn device_target(device: &DeviceRecord) -> Option<(DeviceTarget, UpdatePath)> {
    let platform = device.platform()?;
    let v = device.os_version?;
    let version = ddm::OsVersion::new(v.major, v.minor, v.patch);
    let support = ddm::supports(platform, version);
    let path = if support.enforcement && device.ddm_enrolled {
        UpdatePath::Declarative
    } else if support.legacy_commands {
        UpdatePath::Legacy
    } else {
        UpdatePath::Unmanaged
    };
    let enrollment = if device.supervised {
        Enrollment::Supervised
    } else {
        Enrollment::Device
    };
    Some((DeviceTarget::new(platform, version, enrollment), path))
}

/// Why a legacy-path device with a plan is told nothing: Apple's schemas mark the restrictions
/// keys `forceDelayedSoftwareUpdates` and `enforcedSoftwareUpdateDelay`
/// (`com.apple.applicationaccess`) and the `ScheduleOSUpdate` command supervised-only on iOS,
/// iPadOS and tvOS, so an unsupervised device there would ignore them.
pub const UNSUPERVISED_LEGACY: &str = "Nothing is sent to this device: on iOS, iPadOS and tvOS the \
     update deferral restrictions and ScheduleOSUpdate need a supervised device, and this one is not \
     supervised (it would ignore them). Declarative management (iOS, iPadOS and tvOS 17 or later) \
     does not need supervision.";

/// The reason the legacy path withholds the device's plan, if it does (see [`UNSUPERVISED_LEGACY`]).
pub fn legacy_withheld(device: &DeviceRecord, plan: Option<&Plan>) -> Option<&'static str> {
    plan?;
    let (target, path) = device_target(device)?;
    let needs_supervision = matches!(target.platform, Platform::Ios | Platform::IpadOs | Platform::TvOs);
    (path == UpdatePath::Legacy && needs_supervision && !device.supervised).then_some(UNSUPERVISED_LEGACY)
}

/// What the device is to be told now under `evaluation` (its plan, if any).
pub fn want(
    device: &DeviceRecord,
    evaluation: &Evaluation,
    policy: Option<&Policy>,
    now: DateTime<Utc>,
) -> Result<Want, DeclarationError> {
    let Some((target, path)) = device_target(device) else {
        return Ok(Want::Nothing);
    };
    let plan = evaluation.plan.as_ref();
    match path {
        UpdatePath::Declarative => {
            let configs = match plan {
                Some(p) => configurations(p, policy)?,
                None => Vec::new(),
            };
            Ok(Want::Declarative {
                set: device_own_set(&target, configs)?,
            })
        }
        UpdatePath::Legacy if legacy_withheld(device, plan).is_some() => Ok(Want::Legacy {
            deferrals: None,
            due: None,
        }),
        UpdatePath::Legacy => {
            let deferrals = match plan.map(|p| &p.settings) {
                Some(SettingsPlan::Legacy(l)) => Some(l.clone()),
                _ => None,
            };
            let due = match plan.map(|p| &p.target) {
                Some(Target::Enforce(e)) if e.path == EnforcementPath::Legacy && now >= e.deadline.utc => {
                    Some(DueUpdate {
                        version: e.version,
                        build: e.build.to_string(),
                        deadline_utc: e.deadline.utc,
                    })
                }
                _ => None,
            };
            Ok(Want::Legacy { deferrals, due })
        }
        UpdatePath::Unmanaged => Ok(Want::Nothing),
    }
}

/// When the plan changes with time alone: a deferral ends (the release becomes visible and is
/// then enforced), or a legacy deadline comes (ScheduleOSUpdate is due). Local dates are read in
/// `offset`, the zone the plan was computed in.
pub fn next_change(plan: Option<&Plan>, offset: FixedOffset, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let plan = plan?;
    let midnight = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(offset).single())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut candidates: Vec<DateTime<Utc>> = Vec::new();
    if let Some(u) = &plan.upcoming {
        candidates.extend(midnight(u.visible_from));
    }
    if let Target::NoAction {
        reason: NoAction::Deferred { visible_from, .. },
    } = &plan.target
    {
        candidates.extend(midnight(*visible_from));
    }
    if let Target::Enforce(e) = &plan.target
        && e.path == EnforcementPath::Legacy
    {
        candidates.push(e.deadline.utc);
    }
    candidates.into_iter().filter(|t| *t > now).min()
}
