//! Resolved group membership (the `group_members_resolved` and `device_rings` tables): rebuilt
//! on demand here, kept current by group changes (in the change's own transaction) and by the
//! engine (each evaluation stores what it found). One rule evaluator:
//! [`PolicyBook::groups_of`](crate::policy::book::PolicyBook::groups_of).

use super::loading::{build_book, device_record, read_book_rows};
use super::{DeviceGroup, DeviceGroups, GroupRef, PolicyError, PolicyService};
use crate::policy::book::{DeviceRecord, PolicyBook};
use crate::store::membership::{self as membership_store, DeviceMembership};
use crate::store::policies as policy_store;

/// What a rebuild stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipReport {
    /// Enrolled devices resolved.
    pub devices: usize,
    /// (group, device) rows written.
    pub memberships: usize,
    /// Devices with a ring.
    pub in_rings: usize,
}

/// The membership of each of `devices` under `book`.
pub(super) fn resolve<'a>(
    book: &PolicyBook,
    devices: impl IntoIterator<Item = &'a DeviceRecord>,
) -> Vec<DeviceMembership> {
    devices.into_iter().map(|d| book.membership_of(d)).collect()
}

/// Gives the rows of a group created in this transaction its id.
pub(super) fn with_new_id(rows: &mut [DeviceMembership], new_id: i64) {
    for row in rows {
        for g in row.groups.iter_mut().filter(|g| **g == -1) {
            *g = new_id;
        }
        row.groups.sort_unstable();
        if row.ring == Some(-1) {
            row.ring = Some(new_id);
        }
    }
}

impl PolicyService {
    /// Rebuilds every device's resolved membership from the policy book and the enrolled
    /// devices, read and written in one write transaction (so no change made meanwhile is lost).
    /// Idempotent; callable at any time (a repair).
    pub async fn refresh_membership(&self) -> Result<MembershipReport, PolicyError> {
        Ok(self.rebuild_membership(false).await?.unwrap_or_default())
    }

    /// [`refresh_membership`](Self::refresh_membership), only when nothing is resolved yet: at
    /// start, after the upgrade that added the tables. Afterwards group changes and the engine keep
    /// the rows current, so a start does not pay for a rebuild of the whole fleet. `None`: skipped.
    pub async fn resolve_membership_once(&self) -> Result<Option<MembershipReport>, PolicyError> {
        self.rebuild_membership(true).await
    }

    async fn rebuild_membership(&self, only_if_empty: bool) -> Result<Option<MembershipReport>, PolicyError> {
        let outcome = self
            .store
            .write(move |conn| {
                let tx = conn.transaction()?;
                if only_if_empty && !membership_store::is_empty(&tx)? {
                    return Ok(Ok(None));
                }
                let rows = read_book_rows(&tx)?;
                let devices = policy_store::managed_devices(&tx)?;
                let book = match build_book(rows) {
                    Ok(book) => book,
                    Err(e) => return Ok(Err(e)),
                };
                let resolved = resolve(&book, &devices.into_iter().map(device_record).collect::<Vec<_>>());
                membership_store::replace_all(&tx, &resolved)?;
                tx.commit()?;
                Ok(Ok(Some(MembershipReport {
                    devices: resolved.len(),
                    memberships: resolved.iter().map(|m| m.groups.len()).sum(),
                    in_rings: resolved.iter().filter(|m| m.ring.is_some()).count(),
                })))
            })
            .await??;
        Ok(outcome)
    }

    /// The groups and ring of one device as stored.
    pub async fn stored_membership(&self, udid: &str) -> Result<DeviceMembership, PolicyError> {
        let wanted = vec![udid.to_string()];
        let found = self
            .store
            .read(move |c| membership_store::among(c, &wanted))
            .await?;
        Ok(found.into_values().next().unwrap_or_else(|| DeviceMembership {
            udid: udid.to_string(),
            ..DeviceMembership::default()
        }))
    }

    /// The groups this device is in and its ring (none for a device that is not enrolled).
    pub async fn device_groups(&self, udid: &str) -> Result<DeviceGroups, PolicyError> {
        let udid = udid.to_string();
        let stored = self
            .store
            .read(move |c| membership_store::of_device(c, &udid))
            .await?;
        let ring = stored
            .groups
            .iter()
            .find(|g| Some(g.id) == stored.ring)
            .map(|g| GroupRef {
                id: g.id,
                name: g.name.clone(),
            });
        Ok(DeviceGroups {
            rings: if ring.is_some() { stored.rings } else { 0 },
            ring,
            groups: stored
                .groups
                .into_iter()
                .map(|g| DeviceGroup {
                    id: g.id,
                    is_ring: g.ring_order.is_some(),
                    name: g.name,
                })
                .collect(),
        })
    }
}
