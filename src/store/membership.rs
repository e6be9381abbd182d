//! Resolved group membership (migration 0012): which groups each enrolled device is in and its
//! ring, as the policy service and engine compute them. This module only stores rows; it does
//! not evaluate group rules.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// One device's groups (ids) and ring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceMembership {
    pub udid: String,
    /// Ascending ids of the groups the device is in.
    pub groups: Vec<i64>,
    /// The ring group of lowest order among them.
    pub ring: Option<i64>,
    /// How many ring groups the device is in.
    pub rings: usize,
}

/// A group as a filter value: its id, name and ring order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChoice {
    pub id: i64,
    pub name: String,
    pub ring_order: Option<i64>,
}

/// The groups of one device, by name, with its ring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupsOfDevice {
    /// Rings first in ring order, then the other groups by name.
    pub groups: Vec<GroupChoice>,
    /// The id of its ring (one of `groups`): the ring of lowest order it is in.
    pub ring: Option<i64>,
    /// How many rings it is in (0 without a ring).
    pub rings: usize,
}

fn delete_device(conn: &Connection, udid: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM group_members_resolved WHERE udid = ?1")?
        .execute([udid])?;
    conn.prepare_cached("DELETE FROM device_rings WHERE udid = ?1")?
        .execute([udid])?;
    Ok(())
}

/// `row` with its groups in ascending order, once each, and `rings` 0 without a ring (as
/// [`all`] and [`among`] return rows).
fn normalised(row: &DeviceMembership) -> DeviceMembership {
    let mut groups = row.groups.clone();
    groups.sort_unstable();
    groups.dedup();
    DeviceMembership {
        udid: row.udid.clone(),
        groups,
        ring: row.ring,
        rings: if row.ring.is_some() { row.rings.max(1) } else { 0 },
    }
}

/// Makes the device's rows say `wanted` (normalised), given what they say now: only the rows
/// that differ are written (each write also moves the dashboard's counts, migration 0017).
fn apply_device(
    conn: &Connection,
    current: Option<&DeviceMembership>,
    wanted: &DeviceMembership,
) -> Result<(), StoreError> {
    let empty = DeviceMembership::default();
    let current = current.unwrap_or(&empty);
    if current.groups == wanted.groups && current.ring == wanted.ring && current.rings == wanted.rings {
        return Ok(());
    }
    let mut leave =
        conn.prepare_cached("DELETE FROM group_members_resolved WHERE group_id = ?1 AND udid = ?2")?;
    for group in current.groups.iter().filter(|g| !wanted.groups.contains(g)) {
        leave.execute(params![group, wanted.udid])?;
    }
    let mut join =
        conn.prepare_cached("INSERT INTO group_members_resolved (group_id, udid) VALUES (?1, ?2)")?;
    for group in wanted.groups.iter().filter(|g| !current.groups.contains(g)) {
        join.execute(params![group, wanted.udid])?;
    }
    match wanted.ring {
        None if current.ring.is_some() => {
            conn.prepare_cached("DELETE FROM device_rings WHERE udid = ?1")?
                .execute([&wanted.udid])?;
        }
        None => {}
        Some(ring) if current.ring != Some(ring) || current.rings != wanted.rings => {
            conn.prepare_cached(
                "INSERT INTO device_rings (udid, ring_id, rings) VALUES (?1, ?2, ?3)
                 ON CONFLICT (udid) DO UPDATE SET ring_id = excluded.ring_id, rings = excluded.rings",
            )?
            .execute(params![
                wanted.udid,
                ring,
                i64::try_from(wanted.rings).unwrap_or(1)
            ])?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Replaces the membership of these devices (the caller's transaction makes it atomic). Rows
/// that do not change are not written.
pub fn replace_devices(conn: &Connection, rows: &[DeviceMembership]) -> Result<(), StoreError> {
    let udids: Vec<String> = rows.iter().map(|r| r.udid.clone()).collect();
    let current = among(conn, &udids)?;
    for row in rows {
        apply_device(conn, current.get(&row.udid), &normalised(row))?;
    }
    Ok(())
}

/// These devices are in no group (unenrolled, unknown).
pub fn remove_devices(conn: &Connection, udids: &[String]) -> Result<(), StoreError> {
    for udid in udids {
        delete_device(conn, udid)?;
    }
    Ok(())
}

/// Replaces every row with `rows` (the rebuild); the caller's transaction makes it atomic. Only
/// the rows that differ from the stored ones are written.
pub fn replace_all(conn: &Connection, rows: &[DeviceMembership]) -> Result<(), StoreError> {
    let mut current = all(conn)?;
    for row in rows {
        let stored = current.remove(&row.udid);
        apply_device(conn, stored.as_ref(), &normalised(row))?;
    }
    for udid in current.keys() {
        delete_device(conn, udid)?;
    }
    Ok(())
}

/// No membership is resolved at all (a database just migrated to 0012, or one with no groups).
pub fn is_empty(conn: &Connection) -> Result<bool, StoreError> {
    Ok(!conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM group_members_resolved) OR EXISTS (SELECT 1 FROM device_rings)",
        [],
        |r| r.get::<_, bool>(0),
    )?)
}

/// Every stored membership, by UDID (devices in no group are absent).
pub fn all(conn: &Connection) -> Result<HashMap<String, DeviceMembership>, StoreError> {
    let mut out: HashMap<String, DeviceMembership> = HashMap::new();
    let mut stmt =
        conn.prepare_cached("SELECT udid, group_id FROM group_members_resolved ORDER BY udid, group_id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let udid: String = r.get(0)?;
        let group: i64 = r.get(1)?;
        out.entry(udid.clone())
            .or_insert_with(|| DeviceMembership {
                udid,
                ..DeviceMembership::default()
            })
            .groups
            .push(group);
    }
    let mut stmt = conn.prepare_cached("SELECT udid, ring_id, rings FROM device_rings")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let udid: String = r.get(0)?;
        let entry = out.entry(udid.clone()).or_insert_with(|| DeviceMembership {
            udid,
            ..DeviceMembership::default()
        });
        entry.ring = Some(r.get(1)?);
        entry.rings = usize::try_from(r.get::<_, i64>(2)?).unwrap_or(1);
    }
    Ok(out)
}

/// The stored membership of these devices, by UDID (devices in no group are absent).
pub fn among(conn: &Connection, udids: &[String]) -> Result<HashMap<String, DeviceMembership>, StoreError> {
    let mut groups =
        conn.prepare_cached("SELECT group_id FROM group_members_resolved WHERE udid = ?1 ORDER BY group_id")?;
    let mut ring = conn.prepare_cached("SELECT ring_id, rings FROM device_rings WHERE udid = ?1")?;
    let mut out = HashMap::new();
    for udid in udids {
        let ids = groups
            .query_map([udid], |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        let found: Option<(i64, i64)> = ring
            .query_row([udid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if ids.is_empty() && found.is_none() {
            continue;
        }
        out.insert(
            udid.clone(),
            DeviceMembership {
                udid: udid.clone(),
                groups: ids,
                ring: found.map(|(id, _)| id),
                rings: found.and_then(|(_, n)| usize::try_from(n).ok()).unwrap_or(0),
            },
        );
    }
    Ok(out)
}

/// The groups one device is in (rings first in order, then the others by name), which of them is
/// its ring and how many rings it is in. One query; a device in no group has no rows.
pub fn of_device(conn: &Connection, udid: &str) -> Result<GroupsOfDevice, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.id, g.name, g.ring_order, r.ring_id, r.rings
         FROM group_members_resolved m
         JOIN policy_groups g ON g.id = m.group_id
         LEFT JOIN device_rings r ON r.udid = m.udid
         WHERE m.udid = ?1
         ORDER BY g.ring_order IS NULL, g.ring_order, g.name",
    )?;
    let mut rows = stmt.query([udid])?;
    let mut out = GroupsOfDevice::default();
    while let Some(r) = rows.next()? {
        let group = GroupChoice {
            id: r.get(0)?,
            name: r.get(1)?,
            ring_order: r.get(2)?,
        };
        if r.get::<_, Option<i64>>(3)? == Some(group.id) {
            out.ring = Some(group.id);
            out.rings = usize::try_from(r.get::<_, i64>(4)?).unwrap_or(1);
        }
        out.groups.push(group);
    }
    Ok(out)
}

/// Every group as a filter choice: rings first in order, then the others by name.
pub fn choices(conn: &Connection) -> Result<Vec<GroupChoice>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, ring_order FROM policy_groups ORDER BY ring_order IS NULL, ring_order, name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(GroupChoice {
                id: r.get(0)?,
                name: r.get(1)?,
                ring_order: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The group with this id, if any.
pub fn choice(conn: &Connection, id: i64) -> Result<Option<GroupChoice>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, name, ring_order FROM policy_groups WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(GroupChoice {
                id: r.get(0)?,
                name: r.get(1)?,
                ring_order: r.get(2)?,
            })
        })
        .optional()?)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::Store;
    use crate::store::groups::{self as group_store, GroupFields};

    #[test]
    fn rows_are_replaced_per_device_and_go_with_their_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        store
            .write_blocking(|c| {
                let fields = GroupFields::static_group;
                let ring = group_store::insert(c, &fields("Pilot", Some(1)), Utc::now())?;
                let lab = group_store::insert(c, &fields("Lab", None), Utc::now())?;
                let a = DeviceMembership {
                    udid: "A".into(),
                    groups: vec![ring, lab],
                    ring: Some(ring),
                    rings: 1,
                };
                let b = DeviceMembership {
                    udid: "B".into(),
                    groups: vec![lab],
                    ..DeviceMembership::default()
                };
                replace_all(c, &[a.clone(), b.clone()])?;
                assert_eq!(all(c)?.get("A"), Some(&a));
                let moved = DeviceMembership {
                    groups: vec![ring],
                    ring: Some(ring),
                    rings: 1,
                    ..b.clone()
                };
                replace_devices(c, std::slice::from_ref(&moved))?;
                assert_eq!(among(c, &["B".into()])?.get("B"), Some(&moved));
                let of_a = of_device(c, "A")?;
                assert_eq!(
                    (
                        of_a.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
                        of_a.ring,
                        of_a.rings
                    ),
                    (vec!["Pilot", "Lab"], Some(ring), 1),
                    "the ring first, then the others"
                );
                assert_eq!(of_device(c, "nobody")?, GroupsOfDevice::default());
                group_store::delete(c, ring)?;
                let left = all(c)?;
                assert_eq!(
                    left.get("A").map(|m| (m.groups.clone(), m.ring)),
                    Some((vec![lab], None))
                );
                assert!(!left.contains_key("B"), "B was only in the deleted ring");
                remove_devices(c, &["A".into()])?;
                assert!(all(c)?.is_empty());
                assert_eq!(choice(c, lab)?.map(|g| g.name), Some("Lab".into()));
                assert_eq!(choices(c)?.len(), 1);
                Ok(())
            })
            .unwrap();
    }
}
