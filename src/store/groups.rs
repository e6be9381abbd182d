//! Policy groups (static and rule-based, some of them deployment rings) and their static members.
//! Rules are kept as the JSON the policy service writes; this module does not read them.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, sql_time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `static` or `rules`.
    pub kind: String,
    /// JSON of the group's rules.
    pub rules: String,
    pub ring_order: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// What is written for a group (the id and times are the store's).
#[derive(Debug, Clone, Copy)]
pub struct GroupFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub kind: &'a str,
    pub rules: &'a str,
    pub ring_order: Option<i64>,
}

#[cfg(test)]
impl<'a> GroupFields<'a> {
    /// A static group with no description (tests).
    pub(crate) fn static_group(name: &'a str, ring_order: Option<i64>) -> GroupFields<'a> {
        GroupFields {
            name,
            description: "",
            kind: "static",
            rules: "{}",
            ring_order,
        }
    }
}

const COLUMNS: &str = "id, name, description, kind, rules, ring_order, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRow> {
    Ok(GroupRow {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        kind: r.get(3)?,
        rules: r.get(4)?,
        ring_order: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

/// Every group: rings first in ring order, then the others by name.
pub fn list(conn: &Connection) -> Result<Vec<GroupRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM policy_groups
         ORDER BY ring_order IS NULL, ring_order, name"
    ))?;
    let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<GroupRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM policy_groups WHERE name = ?1"))?;
    Ok(stmt.query_row([name], row).optional()?)
}

pub fn insert(conn: &Connection, group: &GroupFields<'_>, now: DateTime<Utc>) -> Result<i64, StoreError> {
    let at = sql_time(now);
    conn.execute(
        "INSERT INTO policy_groups (name, description, kind, rules, ring_order, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            group.name,
            group.description,
            group.kind,
            group.rules,
            group.ring_order,
            at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn update(
    conn: &Connection,
    id: i64,
    group: &GroupFields<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE policy_groups SET name = ?2, description = ?3, kind = ?4, rules = ?5, ring_order = ?6,
                updated_at = ?7
         WHERE id = ?1",
        params![
            id,
            group.name,
            group.description,
            group.kind,
            group.rules,
            group.ring_order,
            sql_time(now)
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the group, its members and its policy assignments.
pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM policy_groups WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Every static membership, as (group id, UDID).
pub fn all_members(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT group_id, udid FROM policy_group_members")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The static memberships of these devices only, as (group id, UDID): one indexed lookup per
/// device, for questions about a page or a batch of devices rather than the fleet.
pub fn memberships_among(conn: &Connection, udids: &[String]) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT group_id, udid FROM policy_group_members WHERE udid = ?1")?;
    let mut out = Vec::new();
    for udid in udids {
        for row in stmt.query_map([udid], |r| Ok((r.get(0)?, r.get(1)?)))? {
            out.push(row?);
        }
    }
    Ok(out)
}

/// The static members of one group, by UDID.
pub fn members(conn: &Connection, group_id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT udid FROM policy_group_members WHERE group_id = ?1 ORDER BY udid")?;
    let rows = stmt
        .query_map([group_id], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Adds members; returns how many were new.
pub fn add_members(
    conn: &Connection,
    group_id: i64,
    udids: &[String],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let at = sql_time(now);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO policy_group_members (group_id, udid, added_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?;
    let mut added = 0;
    for udid in udids {
        added += stmt.execute(params![group_id, udid, at])?;
    }
    Ok(added)
}

/// Removes members; returns how many were members.
pub fn remove_members(conn: &Connection, group_id: i64, udids: &[String]) -> Result<usize, StoreError> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM policy_group_members WHERE group_id = ?1 AND udid = ?2")?;
    let mut removed = 0;
    for udid in udids {
        removed += stmt.execute(params![group_id, udid])?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn groups_are_unique_by_name_and_deleting_one_drops_its_members() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let now = Utc::now();
        store
            .write_blocking(|c| {
                let fields = GroupFields {
                    name: "Vanguard",
                    description: "",
                    kind: "static",
                    rules: "{}",
                    ring_order: Some(1),
                };
                let id = insert(c, &fields, now)?;
                assert!(insert(c, &fields, now).is_err(), "a second group of that name");
                let udids = vec!["A".to_string(), "B".to_string()];
                assert_eq!(add_members(c, id, &udids, now)?, 2);
                assert_eq!(add_members(c, id, &udids, now)?, 0);
                assert_eq!(remove_members(c, id, &udids[..1])?, 1);
                assert_eq!(members(c, id)?, ["B"]);
                let other = insert(c, &GroupFields::static_group("Pilot", None), now)?;
                add_members(c, other, &udids, now)?;
                let mut of_b = memberships_among(c, &["B".to_string(), "C".to_string()])?;
                of_b.sort();
                assert_eq!(of_b, [(id, "B".to_string()), (other, "B".to_string())]);
                assert_eq!(
                    memberships_among(c, &["A".to_string()])?,
                    [(other, "A".to_string())]
                );
                remove_members(c, other, &udids)?;
                delete(c, id)?;
                assert!(all_members(c)?.is_empty());
                assert!(get(c, "Vanguard")?.is_none());
                Ok(())
            })
            .unwrap();
    }
}
