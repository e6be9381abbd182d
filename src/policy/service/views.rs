//! What the policy service returns to the UI, the API and the device page.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::book::Evaluation;
use crate::policy::groups::{Group, GroupKind};
use crate::policy::{EnforcementPath, Plan, Policy, Problem, Target};
use crate::protocol::ddm::Platform;

/// Where a policy applies: groups (by name) and single devices (by UDID).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignments {
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub devices: Vec<String>,
}

/// A group a policy is assigned to, with its device counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssignedGroup {
    pub name: String,
    pub ring_order: Option<u32>,
    /// Enrolled devices in the group.
    pub devices: usize,
    /// Of those, the devices of the policy's platforms.
    pub covered_devices: usize,
}

/// One line of the policies list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicySummary {
    pub name: String,
    pub label: String,
    /// "rolling enforcement", "automatic latest", ...
    pub mode: &'static str,
    pub platforms: Vec<Platform>,
    pub priority: i32,
    pub groups: Vec<AssignedGroup>,
    /// Devices the policy is assigned to directly.
    pub devices: Vec<String>,
    /// Enrolled devices of its platforms it reaches (through groups or directly).
    pub covered_devices: usize,
    /// Devices where it is the effective policy.
    pub effective_devices: usize,
    /// Ties with other policies, as sentences.
    pub conflicts: Vec<String>,
    /// Assigned to nobody, or to no enrolled device of its platforms.
    pub takes_effect_on_no_device: bool,
    pub updated_at: String,
}

/// A policy as stored, with its assignments and the settings some platforms will not receive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyDetail {
    pub policy: Policy,
    pub assignments: Assignments,
    /// Not-applicable notes (never errors: a stored policy was valid when saved).
    pub notes: Vec<Problem>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedPolicy {
    pub name: String,
    /// Settings some of its platforms will not receive.
    pub notes: Vec<Problem>,
    /// Devices the change affects (they were or are reached), queued for re-evaluation.
    pub queued_devices: usize,
}

/// A device's plan in a few fields, for tables and the device page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// `enforce`, `no-action`, `unknown`, `no-policy` or `conflict`.
    pub decision: String,
    pub target_version: Option<String>,
    pub target_build: Option<String>,
    pub deadline_local: Option<NaiveDateTime>,
    pub deadline_utc: Option<DateTime<Utc>>,
    pub visible_from: Option<NaiveDate>,
    pub path: Option<EnforcementPath>,
    /// A Background Security Improvement to install, e.g. `26.3.1 (a)`.
    pub bsi_version: Option<String>,
    pub bsi_deadline_local: Option<NaiveDateTime>,
    /// The "why" sentence: "Policy X, ring Y: 26.4 (23E246) posted on D, + N days: deadline ...".
    pub explanation: String,
}

impl PlanSummary {
    pub fn of(evaluation: &Evaluation) -> PlanSummary {
        let mut out = PlanSummary {
            decision: String::new(),
            target_version: None,
            target_build: None,
            deadline_local: None,
            deadline_utc: None,
            visible_from: None,
            path: None,
            bsi_version: None,
            bsi_deadline_local: None,
            explanation: evaluation.why_not.clone().unwrap_or_default(),
        };
        let Some(plan) = &evaluation.plan else {
            out.decision = if evaluation.conflicts.is_empty() {
                "no-policy".into()
            } else {
                "conflict".into()
            };
            return out;
        };
        out.fill(plan);
        out
    }

    /// Adds a sentence the plan alone does not say (why nothing is sent to the device).
    pub fn add_note(&mut self, note: &str) {
        if !self.explanation.is_empty() {
            self.explanation.push(' ');
        }
        self.explanation.push_str(note);
    }

    fn fill(&mut self, plan: &Plan) {
        self.explanation = plan.explanation.clone();
        self.decision = match &plan.target {
            Target::Enforce(e) => {
                self.target_version = Some(e.version.to_string());
                self.target_build = Some(e.build.to_string());
                self.deadline_local = Some(e.deadline.local.0);
                self.deadline_utc = Some(e.deadline.utc);
                self.visible_from = Some(e.visible_from);
                self.path = Some(e.path);
                "enforce"
            }
            Target::NoAction { .. } => "no-action",
            Target::Unknown { .. } => "unknown",
        }
        .into();
        if let Some(u) = &plan.upcoming
            && self.visible_from.is_none()
        {
            self.visible_from = Some(u.visible_from);
        }
        if let Some(b) = &plan.bsi {
            self.bsi_version = Some(b.version.to_string());
            self.bsi_deadline_local = Some(b.deadline.local.0);
        }
    }
}

/// One device of a preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewRow {
    pub udid: String,
    pub name: Option<String>,
    pub platform: Option<Platform>,
    pub plan: PlanSummary,
    /// Set when another policy (or a tie) decides for this device instead of the previewed one.
    pub note: Option<String>,
}

/// What each assigned device would get if the policy were saved (nothing is saved).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub rows: Vec<PreviewRow>,
    /// The policy's problems (errors would refuse the save) and not-applicable notes.
    pub problems: Vec<Problem>,
}

/// The device page's "why".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevicePlanView {
    pub udid: String,
    pub platform: Option<Platform>,
    /// Display name of the effective policy.
    pub policy: Option<String>,
    pub ring: Option<String>,
    /// The device's groups.
    pub groups: Vec<String>,
    pub conflicts: Vec<String>,
    pub plan: PlanSummary,
    pub evaluated_at: DateTime<Utc>,
    /// The last delivery: path (`declarative`, `legacy`, `none`) and when.
    pub delivered: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// What the devices list filters on (`/devices?group=<id>`).
    pub id: i64,
    pub name: String,
    pub description: String,
    pub kind: GroupKind,
    pub ring_order: Option<u32>,
    /// Enrolled devices in the group now.
    pub devices: usize,
    pub policies: Vec<String>,
}

/// A static member, with what is known of the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub udid: String,
    pub name: Option<String>,
    pub serial: Option<String>,
    pub enrolled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupDetail {
    pub group: Group,
    pub static_members: Vec<MemberView>,
    /// Enrolled devices in the group now (static members enrolled, or rule matches).
    pub devices: usize,
    pub policies: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What `load_default_rings` did: names like `group Vanguard`, `policy ring-vanguard-ios`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DefaultsOutcome {
    pub created: Vec<String>,
    pub already_present: Vec<String>,
}

/// A group named by id and name (the id is what the devices list filters on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    pub id: i64,
    pub name: String,
}

/// A group a device is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceGroup {
    pub id: i64,
    pub name: String,
    pub is_ring: bool,
}

/// The groups one device is in and its ring, as resolved and stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceGroups {
    /// Its ring: the ring of lowest order it is in.
    pub ring: Option<GroupRef>,
    /// How many rings it is in (more than one: `ring` is the lowest).
    pub rings: usize,
    /// Every group it is in, rings first in ring order, then the others by name.
    pub groups: Vec<DeviceGroup>,
}
