//! The device page's "Why this target" section: the effective policy, ring, release, posted date,
//! offset, deadline and conflicts, from `PolicyService::device_plan`.

use crate::app::AppState;
use crate::policy::service::DevicePlanView;

/// What the section shows.
pub struct PlanSection {
    pub policy: String,
    pub ring: String,
    pub groups: String,
    pub conflicts: Vec<String>,
    pub decision: &'static str,
    pub target: String,
    pub visible_from: String,
    pub deadline: String,
    pub bsi: Option<String>,
    /// "Policy X, ring Y: 26.4 (23E246) posted on D, + N days: deadline ...".
    pub explanation: String,
    pub evaluated_at: String,
    pub delivered: Option<String>,
}

fn or_dash(text: Option<String>) -> String {
    text.filter(|t| !t.is_empty()).unwrap_or_else(|| "—".into())
}

impl From<DevicePlanView> for PlanSection {
    fn from(v: DevicePlanView) -> PlanSection {
        let p = v.plan;
        PlanSection {
            policy: or_dash(v.policy),
            ring: or_dash(v.ring),
            groups: or_dash(Some(v.groups.join(", "))),
            conflicts: v.conflicts,
            decision: match p.decision.as_str() {
                "enforce" => "update enforced",
                "no-action" => "nothing to install",
                "unknown" => "unknown",
                "conflict" => "conflict between policies",
                _ => "no policy",
            },
            target: or_dash(p.target_version.map(|v| match &p.target_build {
                Some(b) => format!("{v} ({b})"),
                None => v,
            })),
            visible_from: or_dash(p.visible_from.map(|d| d.to_string())),
            deadline: or_dash(
                p.deadline_local
                    .map(|d| format!("{} (device-local)", d.format("%Y-%m-%d %H:%M"))),
            ),
            bsi: p.bsi_version.map(|v| match p.bsi_deadline_local {
                Some(d) => format!("{v} by {}", d.format("%Y-%m-%d %H:%M")),
                None => v,
            }),
            explanation: p.explanation,
            evaluated_at: super::utc_minute(v.evaluated_at),
            delivered: v.delivered.map(|(path, at)| format!("{path} at {at}")),
        }
    }
}

/// The section for `udid`: `Ok(None)` when the policy engine does not know the device, `Err`
/// with a sentence when it failed (logged; the rest of the page still shows).
pub async fn section(state: &AppState, udid: &str) -> Result<Option<PlanSection>, String> {
    match state.policies.device_plan(udid).await {
        Ok(view) => Ok(view.map(PlanSection::from)),
        Err(e) => {
            tracing::error!(error = %e, udid, "device plan failed");
            Err("The update plan could not be computed; the details are in the appliance's log.".into())
        }
    }
}
