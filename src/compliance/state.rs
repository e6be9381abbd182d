//! `assess(...)`: a device's compliance state from its plan and its latest status. Pure: no I/O,
//! time is a parameter.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::catalog::OsVersion;
use crate::ddm::StatusInventory;
use crate::policy::{NoAction, Plan, Target};

/// Where a device stands with its OS updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceState {
    UpToDate,
    /// An update exists but the policy hides it for now.
    Deferred,
    /// An update is pending, before its deadline.
    InGrace,
    /// Downloading, prepared or installing.
    Installing,
    /// Past the deadline and not on the target.
    Overdue,
    /// The device reports a failure.
    Failed,
    /// No recent report, unknown model, or no catalog.
    Unknown,
    NotManaged,
}

impl ComplianceState {
    pub const ALL: [ComplianceState; 8] = [
        ComplianceState::UpToDate,
        ComplianceState::Deferred,
        ComplianceState::InGrace,
        ComplianceState::Installing,
        ComplianceState::Overdue,
        ComplianceState::Failed,
        ComplianceState::Unknown,
        ComplianceState::NotManaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceState::UpToDate => "up_to_date",
            ComplianceState::Deferred => "deferred",
            ComplianceState::InGrace => "in_grace",
            ComplianceState::Installing => "installing",
            ComplianceState::Overdue => "overdue",
            ComplianceState::Failed => "failed",
            ComplianceState::Unknown => "unknown",
            ComplianceState::NotManaged => "not_managed",
        }
    }

    pub fn parse(text: &str) -> Option<ComplianceState> {
        ComplianceState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            ComplianceState::UpToDate => "up to date",
            ComplianceState::Deferred => "deferred",
            ComplianceState::InGrace => "in grace",
            ComplianceState::Installing => "installing",
            ComplianceState::Overdue => "overdue",
            ComplianceState::Failed => "failed",
            ComplianceState::Unknown => "unknown",
            ComplianceState::NotManaged => "not managed",
        }
    }

    /// Whether the state counts as compliant for other systems (trust endpoint).
    pub fn is_compliant(self) -> bool {
        matches!(
            self,
            ComplianceState::UpToDate
                | ComplianceState::Deferred
                | ComplianceState::InGrace
                | ComplianceState::Installing
        )
    }
}

impl fmt::Display for ComplianceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The state with the sentence a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compliance {
    pub state: ComplianceState,
    pub reason: String,
    /// The enforcement deadline, when there is one.
    pub deadline: Option<DateTime<Utc>>,
    /// Set when overdue: the deadline that passed.
    pub overdue_since: Option<DateTime<Utc>>,
    /// No contact for more than the configured number of days.
    pub stale: bool,
}

/// What [`assess`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub enrolled: bool,
    /// The device's stored plan; `None` when no policy applies to it.
    pub plan: Option<&'a Plan>,
    /// The latest DDM status of the device.
    pub status: &'a StatusInventory,
    /// The OS version from MDM inventory, used when status has none.
    pub inventory_os_version: Option<&'a str>,
    pub last_contact: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    pub stale_after_days: u32,
}

const INSTALLING_STATES: [&str; 4] = ["downloading", "prepared", "installing", "waiting"];

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The compliance state of one device.
pub fn assess(inputs: &Inputs<'_>) -> Compliance {
    let stale = inputs
        .last_contact
        .is_none_or(|t| inputs.now - t > Duration::days(i64::from(inputs.stale_after_days)));
    let done = |state, reason: String| Compliance {
        state,
        reason,
        deadline: None,
        overdue_since: None,
        stale,
    };
    if !inputs.enrolled {
        return done(ComplianceState::NotManaged, "not enrolled".into());
    }
    let Some(plan) = inputs.plan else {
        return done(
            ComplianceState::NotManaged,
            "no update policy applies to this device".into(),
        );
    };
    let assessed = match &plan.target {
        Target::Unknown { reason } => done(ComplianceState::Unknown, reason.to_string()),
        Target::NoAction { reason } => match reason {
            NoAction::NotManaged
            | NoAction::PlatformNotCovered { .. }
            | NoAction::NeedsSupervision
            | NoAction::UserEnrollment
            | NoAction::NoUpdatePath => return done(ComplianceState::NotManaged, reason.to_string()),
            NoAction::Deferred { .. } => done(ComplianceState::Deferred, reason.to_string()),
            _ => done(ComplianceState::UpToDate, reason.to_string()),
        },
        Target::Enforce(enforce) => {
            let deadline = enforce.deadline.utc;
            let with_deadline = |state, reason: String| Compliance {
                deadline: Some(deadline),
                overdue_since: (state == ComplianceState::Overdue).then_some(deadline),
                ..done(state, reason)
            };
            let installed = inputs
                .status
                .os_version
                .as_deref()
                .or(inputs.inventory_os_version)
                .and_then(|v| v.parse::<OsVersion>().ok());
            let status = inputs.status;
            let failures = status.failure_count.unwrap_or(0);
            let install_state = status.install_state.as_deref().unwrap_or("none");
            if installed.is_some_and(|v| v.base() >= enforce.version.base()) {
                done(
                    ComplianceState::UpToDate,
                    format!("on {}, the target", enforce.version),
                )
            } else if install_state == "failed"
                || (failures > 0 && !INSTALLING_STATES.contains(&install_state))
            {
                let why = status.failure_reason.as_deref().unwrap_or("no reason given");
                with_deadline(
                    ComplianceState::Failed,
                    format!(
                        "installing {} failed ({failures} failure(s)): {why}",
                        enforce.version
                    ),
                )
            } else if INSTALLING_STATES.contains(&install_state) {
                let pending = status
                    .pending_version
                    .clone()
                    .unwrap_or_else(|| enforce.version.to_string());
                with_deadline(ComplianceState::Installing, format!("{install_state} {pending}"))
            } else if inputs.now >= deadline {
                with_deadline(
                    ComplianceState::Overdue,
                    format!("{} was due by {}", enforce.version, day(deadline)),
                )
            } else {
                with_deadline(
                    ComplianceState::InGrace,
                    format!("{} due by {}", enforce.version, day(deadline)),
                )
            }
        }
    };
    if stale {
        let since = inputs
            .last_contact
            .map(|t| format!("since {}", day(t)))
            .unwrap_or_else(|| "ever".into());
        return Compliance {
            state: ComplianceState::Unknown,
            reason: format!(
                "no report {since} (last known: {}, {})",
                assessed.state, assessed.reason
            ),
            ..assessed
        };
    }
    assessed
}
