//! The device page's "why": the effective policy, ring, conflicts and plan of one device now.

use std::collections::HashMap;

use super::loading::{build_book, device_record, read_for_devices};
use super::views::{DevicePlanView, PlanSummary};
use super::{PolicyError, PolicyService};
use crate::store::policies::plans;

impl PolicyService {
    /// The device's plan as it stands now; `None` when no enrolled device has this UDID.
    pub async fn device_plan(&self, udid: &str) -> Result<Option<DevicePlanView>, PolicyError> {
        let wanted = vec![udid.to_string()];
        let (rows, device, stored) = self
            .store
            .read(move |c| {
                // One snapshot; only this device's static memberships, not the fleet's.
                let snapshot = c.unchecked_transaction()?;
                let (rows, devices) = read_for_devices(&snapshot, &wanted)?;
                let stored = plans::plan(&snapshot, &wanted[0])?;
                Ok((rows, devices.into_iter().next(), stored))
            })
            .await?;
        let Some(device) = device else {
            return Ok(None);
        };
        let book = build_book(rows)?;
        let device = device_record(device);
        let now = self.clock.now();
        let snapshot = self.catalog.snapshot();
        let groups = book.groups_of(&device);
        let reaches = book.reaching(&device, &groups);
        let evaluation =
            book.evaluate_reached(&device, &groups, &reaches, &snapshot.index, self.utc_offset, now);
        let mut plan = PlanSummary::of(&evaluation);
        if let Some(note) = crate::policy::engine::wants::legacy_withheld(&device, evaluation.plan.as_ref()) {
            plan.add_note(note);
        }
        Ok(Some(DevicePlanView {
            udid: device.udid.clone(),
            platform: evaluation.platform,
            policy: evaluation.policy.map(|i| book.policies[i].policy.display_name()),
            ring: evaluation.ring.clone(),
            groups: groups
                .iter()
                .map(|&g| book.groups[g].group.name.clone())
                .collect(),
            conflicts: evaluation.conflicts.iter().map(|c| c.to_string()).collect(),
            plan,
            evaluated_at: now,
            delivered: stored.and_then(|s| s.delivered_path.zip(s.delivered_at)),
        }))
    }
}

/// What the engine last decided for a device (from `device_plans`), for compliance and reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlannedTarget {
    pub udid: String,
    /// The enforced version, when one is enforced.
    pub target_version: Option<String>,
    pub deadline_utc: Option<String>,
    /// `declarative`, `legacy` or `none`.
    pub path: String,
    pub evaluated_at: String,
    /// When it was last delivered (`None`: not yet, or nothing to deliver).
    pub delivered_at: Option<String>,
    /// The stored summary: policy, ring, conflicts and plan ("why").
    pub summary: Option<crate::policy::engine::StoredPlan>,
}

impl PolicyService {
    /// The engine's last decision for every device it has evaluated.
    pub async fn planned_targets(&self) -> Result<Vec<PlannedTarget>, PolicyError> {
        let (rows, texts) = self
            .store
            .read(|c| {
                let snapshot = c.unchecked_transaction()?;
                Ok((plans::all_plans(&snapshot)?, plans::summaries(&snapshot)?))
            })
            .await?;
        // A few hundred distinct summaries for the whole fleet: each parsed once.
        let parsed: HashMap<String, crate::policy::engine::StoredPlan> = texts
            .into_iter()
            .filter_map(|(digest, text)| Some((digest, serde_json::from_str(&text).ok()?)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| PlannedTarget {
                summary: parsed.get(&r.summary_digest).cloned(),
                udid: r.udid,
                target_version: r.target_version,
                deadline_utc: r.deadline_utc,
                path: r.path,
                evaluated_at: r.evaluated_at,
                delivered_at: r.delivered_at,
            })
            .collect())
    }
}
