//! Reading the policy book and the managed devices from the store.

use std::collections::HashSet;

use rusqlite::Connection;

use super::{PolicyError, PolicyService};
use crate::policy::book::{BookGroup, BookPolicy, DeviceRecord, PolicyBook};
use crate::policy::groups::{Group, GroupKind, GroupRules};
use crate::policy::{Policy, RingSchedule};
use crate::store::StoreError;
use crate::store::groups::{self as group_store, GroupRow};
use crate::store::policies::{self as policy_store, ManagedDeviceRow, PolicyRow};

/// The stored rows the book is built from.
pub(crate) struct BookRows {
    pub policies: Vec<PolicyRow>,
    pub groups: Vec<GroupRow>,
    pub members: Vec<(i64, String)>,
    pub group_assignments: Vec<(i64, i64)>,
    pub device_assignments: Vec<(i64, String)>,
    pub schedule: Option<String>,
}

pub(crate) fn read_book_rows(conn: &Connection) -> Result<BookRows, StoreError> {
    read_rows_with(
        conn,
        group_store::all_members(conn)?,
        policy_store::device_assignments(conn)?,
    )
}

/// The rows of the book for evaluating `udids` only: the static memberships and the direct
/// assignments of those devices, not the fleet's (one indexed lookup each). The book evaluates
/// each of them exactly as the whole book would (a static group needs only whether the device is
/// in it, a rule-based one no members), but its fleet-wide answers (a group's members, a policy's
/// devices) cover only `udids`.
pub(crate) fn read_book_rows_for(conn: &Connection, udids: &[String]) -> Result<BookRows, StoreError> {
    read_rows_with(
        conn,
        group_store::memberships_among(conn, udids)?,
        policy_store::device_assignments_among(conn, udids)?,
    )
}

/// [`read_book_rows_for`] with those of `udids` that are enrolled (call inside one snapshot).
pub(crate) fn read_for_devices(
    conn: &Connection,
    udids: &[String],
) -> Result<(BookRows, Vec<ManagedDeviceRow>), StoreError> {
    Ok((
        read_book_rows_for(conn, udids)?,
        policy_store::managed_devices_among(conn, udids)?,
    ))
}

/// The rows of the book without the static members: for questions about policies, groups and
/// assignments, never about which devices are in a static group.
pub(crate) fn read_book_rows_without_members(conn: &Connection) -> Result<BookRows, StoreError> {
    read_rows_with(conn, Vec::new(), policy_store::device_assignments(conn)?)
}

fn read_rows_with(
    conn: &Connection,
    members: Vec<(i64, String)>,
    device_assignments: Vec<(i64, String)>,
) -> Result<BookRows, StoreError> {
    Ok(BookRows {
        policies: policy_store::list(conn)?,
        groups: group_store::list(conn)?,
        members,
        group_assignments: policy_store::group_assignments(conn)?,
        device_assignments,
        schedule: policy_store::ring_schedule(conn)?,
    })
}

pub(crate) fn parse_policy(row: &PolicyRow) -> Result<Policy, PolicyError> {
    serde_json::from_str(&row.document).map_err(|e| PolicyError::Corrupt {
        what: "policy",
        name: row.name.clone(),
        message: e.to_string(),
    })
}

pub(crate) fn parse_group(row: &GroupRow) -> Result<Group, PolicyError> {
    let corrupt = |message: String| PolicyError::Corrupt {
        what: "group",
        name: row.name.clone(),
        message,
    };
    let kind = GroupKind::parse(&row.kind).ok_or_else(|| corrupt(format!("kind `{}`", row.kind)))?;
    let rules: GroupRules = serde_json::from_str(&row.rules).map_err(|e| corrupt(e.to_string()))?;
    Ok(Group {
        name: row.name.clone(),
        description: row.description.clone(),
        kind,
        rules,
        ring_order: row.ring_order.and_then(|o| u32::try_from(o).ok()),
    })
}

pub(crate) fn parse_schedule(document: Option<&str>) -> Result<RingSchedule, PolicyError> {
    match document {
        None => Ok(RingSchedule::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| PolicyError::Corrupt {
            what: "ring schedule",
            name: "rings".into(),
            message: e.to_string(),
        }),
    }
}

pub(crate) fn build_book(rows: BookRows) -> Result<PolicyBook, PolicyError> {
    let policies = rows
        .policies
        .iter()
        .map(|r| {
            Ok(BookPolicy {
                id: r.id,
                policy: parse_policy(r)?,
            })
        })
        .collect::<Result<Vec<_>, PolicyError>>()?;
    let groups = rows
        .groups
        .iter()
        .map(|r| {
            Ok(BookGroup {
                id: r.id,
                group: parse_group(r)?,
                members: HashSet::new(),
            })
        })
        .collect::<Result<Vec<_>, PolicyError>>()?;
    Ok(PolicyBook::new(
        policies,
        groups,
        rows.members,
        rows.group_assignments,
        rows.device_assignments,
        parse_schedule(rows.schedule.as_deref())?,
    ))
}

/// `(a)` or `a` → `a`.
fn extra_letter(text: Option<&str>) -> Option<char> {
    text.and_then(|t| t.trim().trim_matches(|c| c == '(' || c == ')').chars().next())
        .filter(char::is_ascii_lowercase)
}

/// The engine's view of a stored device; unparsable versions count as unknown.
pub fn device_record(row: ManagedDeviceRow) -> DeviceRecord {
    DeviceRecord {
        os_version: row.os_version.as_deref().and_then(|v| v.parse().ok()),
        build: row.build_version.as_deref().and_then(|b| b.parse().ok()),
        supplemental_extra: extra_letter(row.supplemental_os_version_extra.as_deref()),
        supervised: row.is_supervised == Some(true),
        ddm_enrolled: row.ddm_enrolled,
        udid: row.udid,
        name: row.device_name,
        serial: row.serial_number,
        model_identifier: row.product_name,
        model_name: row.model_name,
        software_update_device_id: row.software_update_device_id,
    }
}

impl PolicyService {
    /// The policy book as stored now.
    pub async fn book(&self) -> Result<PolicyBook, PolicyError> {
        let rows = self.store.read(read_book_rows).await?;
        build_book(rows)
    }

    /// The book for evaluating these devices, and those of them that are enrolled, read together
    /// (see [`read_book_rows_for`]: the book answers only about these devices).
    pub async fn book_for_devices(
        &self,
        udids: &[String],
    ) -> Result<(PolicyBook, Vec<DeviceRecord>), PolicyError> {
        let wanted = udids.to_vec();
        let (rows, devices) = self
            .store
            .read(move |c| {
                let snapshot = c.unchecked_transaction()?;
                read_for_devices(&snapshot, &wanted)
            })
            .await?;
        Ok((
            build_book(rows)?,
            devices.into_iter().map(device_record).collect(),
        ))
    }

    /// The book and every enrolled device, read together.
    pub(super) async fn book_and_devices(&self) -> Result<(PolicyBook, Vec<DeviceRecord>), PolicyError> {
        let (rows, devices) = self
            .store
            .read(|c| Ok((read_book_rows(c)?, policy_store::managed_devices(c)?)))
            .await?;
        Ok((
            build_book(rows)?,
            devices.into_iter().map(device_record).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supplemental_letter_is_read_with_or_without_parentheses() {
        assert_eq!(extra_letter(Some("(a)")), Some('a'));
        assert_eq!(extra_letter(Some("b")), Some('b'));
        assert_eq!(extra_letter(Some("")), None);
        assert_eq!(extra_letter(None), None);
    }
}
