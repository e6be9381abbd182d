//! The device page's "why": the effective policy, ring, conflicts and plan of one device now.

use super::loading::{build_book, device_record, read_book_rows};
use super::views::{DevicePlanView, PlanSummary};
use super::{PolicyError, PolicyService};
use crate::store::policies::{self as policy_store, plans};

impl PolicyService {
    /// The device's plan as it stands now; `None` when no enrolled device has this UDID.
    pub async fn device_plan(&self, udid: &str) -> Result<Option<DevicePlanView>, PolicyError> {
        let wanted = vec![udid.to_string()];
        let (rows, device, stored) = self
            .store
            .read(move |c| {
                let device = policy_store::managed_devices_among(c, &wanted)?
                    .into_iter()
                    .next();
                let stored = plans::plan(c, &wanted[0])?;
                Ok((read_book_rows(c)?, device, stored))
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
            plan: PlanSummary::of(&evaluation),
            evaluated_at: now,
            delivered: stored.and_then(|s| s.delivered_path.zip(s.delivered_at)),
        }))
    }
}
