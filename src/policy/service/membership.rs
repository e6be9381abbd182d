//! Resolved group membership (the `group_members_resolved` and `device_rings` tables): rebuilt
//! on demand here, kept current by group changes (in the change's own transaction) and by the
//! engine (each evaluation stores what it found). One rule evaluator:
//! [`PolicyBook::groups_of`](crate::policy::book::PolicyBook::groups_of).

use super::loading::{build_book, device_record, read_book_rows};
use super::{PolicyError, PolicyService};
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
    /// Idempotent; run at start-up and callable at any time.
    pub async fn refresh_membership(&self) -> Result<MembershipReport, PolicyError> {
        let outcome = self
            .store
            .write(|conn| {
                let tx = conn.transaction()?;
                let rows = read_book_rows(&tx)?;
                let devices = policy_store::managed_devices(&tx)?;
                let book = match build_book(rows) {
                    Ok(book) => book,
                    Err(e) => return Ok(Err(e)),
                };
                let resolved = resolve(&book, &devices.into_iter().map(device_record).collect::<Vec<_>>());
                membership_store::replace_all(&tx, &resolved)?;
                tx.commit()?;
                Ok(Ok(MembershipReport {
                    devices: resolved.len(),
                    memberships: resolved.iter().map(|m| m.groups.len()).sum(),
                    in_rings: resolved.iter().filter(|m| m.ring.is_some()).count(),
                }))
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
}
