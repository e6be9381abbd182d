//! DDM declarations, groups, sets and per-device sync pointers. Status storage is in [`status`].
//!
//! Declarations, groups and sets are content-addressed and never changed once written, so a device
//! can be served the set it was offered while newer sets are computed.

pub mod assign;
mod retarget;
pub mod status;

pub use retarget::{Retargeted, retarget_by_own_group};

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// A declaration as stored; the service rebuilds and verifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeclaration {
    pub identifier: String,
    pub server_token: String,
    pub declaration_type: String,
    /// The payload dictionary as JSON text.
    pub payload: String,
}

/// One member of a group: (group key, identifier, server token, declaration id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub group_key: String,
    pub identifier: String,
    pub server_token: String,
    pub declaration_id: i64,
}

/// A device's DDM sync state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSync {
    pub udid: String,
    pub own_group: String,
    pub latest_set: String,
    pub latest_set_at: String,
    pub offered_set: Option<String>,
    pub manifest_set: Option<String>,
    pub notified_set: Option<String>,
    pub enrolled_at: Option<String>,
}

/// A device due a sync, or claimed as it is sent one: the device and the set (token) it is to be
/// told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub udid: String,
    pub declarations_token: String,
    pub token_at: String,
}

/// Stores a declaration's content once; returns its id.
pub fn intern_declaration(
    conn: &Connection,
    declaration: &StoredDeclaration,
    now: &str,
) -> Result<i64, StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO ddm_declarations (identifier, server_token, declaration_type, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (identifier, server_token) DO NOTHING",
    )?;
    insert.execute(params![
        declaration.identifier,
        declaration.server_token,
        declaration.declaration_type,
        declaration.payload,
        now
    ])?;
    let mut select =
        conn.prepare_cached("SELECT id FROM ddm_declarations WHERE identifier = ?1 AND server_token = ?2")?;
    Ok(
        select.query_row(params![declaration.identifier, declaration.server_token], |r| {
            r.get(0)
        })?,
    )
}

/// Stores a group and its members, unless a group with this key exists (same key, same content).
pub fn intern_group(
    conn: &Connection,
    group_key: &str,
    declaration_ids: &[i64],
    now: &str,
) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO ddm_groups (group_key, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![group_key, now])?;
    if inserted == 0 {
        return Ok(());
    }
    let mut member =
        conn.prepare_cached("INSERT INTO ddm_group_members (group_key, declaration_id) VALUES (?1, ?2)")?;
    for id in declaration_ids {
        member.execute(params![group_key, id])?;
    }
    Ok(())
}

/// The declarations of a group, by identifier.
pub fn group_declarations(conn: &Connection, group_key: &str) -> Result<Vec<StoredDeclaration>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.identifier, d.server_token, d.declaration_type, d.payload
         FROM ddm_group_members m JOIN ddm_declarations d ON d.id = m.declaration_id
         WHERE m.group_key = ?1 ORDER BY d.identifier",
    )?;
    let rows = stmt.query_map([group_key], |r| {
        Ok(StoredDeclaration {
            identifier: r.get(0)?,
            server_token: r.get(1)?,
            declaration_type: r.get(2)?,
            payload: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupMember> {
    Ok(GroupMember {
        group_key: r.get(0)?,
        identifier: r.get(1)?,
        server_token: r.get(2)?,
        declaration_id: r.get(3)?,
    })
}

/// The (identifier, token) members of one group.
pub fn group_members(conn: &Connection, group_key: &str) -> Result<Vec<GroupMember>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.group_key, d.identifier, d.server_token, d.id
         FROM ddm_group_members m JOIN ddm_declarations d ON d.id = m.declaration_id
         WHERE m.group_key = ?1",
    )?;
    let rows = stmt.query_map([group_key], member_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every distinct own group of the DDM devices, with its members (an empty group has one row
/// with no member: `declaration_id` 0), ordered by group.
pub fn own_groups_in_use(conn: &Connection) -> Result<Vec<GroupMember>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.own_group, coalesce(d.identifier, ''), coalesce(d.server_token, ''), coalesce(d.id, 0)
         FROM (SELECT DISTINCT own_group FROM ddm_devices) g
         LEFT JOIN ddm_group_members m ON m.group_key = g.own_group
         LEFT JOIN ddm_declarations d ON d.id = m.declaration_id
         ORDER BY g.own_group",
    )?;
    let rows = stmt.query_map([], member_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn shared_group(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT group_key FROM ddm_shared WHERE id = 1", [], |r| r.get(0))
        .optional()?)
}

pub fn set_shared_group(conn: &Connection, group_key: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO ddm_shared (id, group_key, updated_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET group_key = excluded.group_key, updated_at = excluded.updated_at",
        params![group_key, now],
    )?;
    Ok(())
}

/// Records a set (shared group + own group) under its token, unless already known.
pub fn intern_set(
    conn: &Connection,
    declarations_token: &str,
    shared_group: &str,
    own_group: &str,
    now: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ddm_sets (declarations_token, shared_group, own_group, created_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?
    .execute(params![declarations_token, shared_group, own_group, now])?;
    Ok(())
}

/// The (shared group, own group) a set was made of.
pub fn set_groups(
    conn: &Connection,
    declarations_token: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT shared_group, own_group FROM ddm_sets WHERE declarations_token = ?1")?
        .query_row([declarations_token], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn device(conn: &Connection, udid: &str) -> Result<Option<DeviceSync>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT udid, own_group, (SELECT declarations_token FROM ddm_sets WHERE id = latest_set),
                    latest_set_at,
                    (SELECT declarations_token FROM ddm_sets WHERE id = offered_set),
                    (SELECT declarations_token FROM ddm_sets WHERE id = manifest_set),
                    (SELECT declarations_token FROM ddm_sets WHERE id = notified_set),
                    enrolled_at
             FROM ddm_devices WHERE udid = ?1",
        )?
        .query_row([udid], |r| {
            Ok(DeviceSync {
                udid: r.get(0)?,
                own_group: r.get(1)?,
                latest_set: r.get(2)?,
                latest_set_at: r.get(3)?,
                offered_set: r.get(4)?,
                manifest_set: r.get(5)?,
                notified_set: r.get(6)?,
                enrolled_at: r.get(7)?,
            })
        })
        .optional()?)
}

/// Creates or updates a device's own group and latest set ([`assign::put_devices`] for one
/// device). Returns whether its row changed (a new device, own group or latest set).
pub fn put_device(
    conn: &Connection,
    udid: &str,
    own_group: &str,
    latest_set: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let changed = assign::put_devices(conn, &[udid.to_string()], own_group, latest_set, now)?;
    Ok(changed > 0)
}

fn notification_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    Ok(Notification {
        udid: r.get(0)?,
        declarations_token: r.get(1)?,
        token_at: r.get(2)?,
    })
}

/// The devices due a sync: enrolled, and their latest set is not the one they were last told
/// about. Nothing is claimed: the claim is [`claim_due`], when the device is sent its command.
pub fn due_devices(conn: &Connection) -> Result<Vec<Notification>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT udid, (SELECT declarations_token FROM ddm_sets WHERE id = latest_set), latest_set_at
         FROM ddm_devices WHERE enrolled_at IS NOT NULL AND notified_set IS NOT latest_set",
    )?;
    let rows = stmt.query_map([], notification_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// [`is_due`]: a point read by primary key (checked by `EXPLAIN QUERY PLAN` in the tests).
pub const IS_DUE_SQL: &str = "SELECT EXISTS (SELECT 1 FROM ddm_devices
     WHERE udid = ?1 AND enrolled_at IS NOT NULL AND notified_set IS NOT latest_set)";

/// Whether one device is due a sync (see [`due_devices`]): one point read by primary key.
pub fn is_due(conn: &Connection, udid: &str) -> Result<bool, StoreError> {
    Ok(conn.prepare_cached(IS_DUE_SQL)?.query_row([udid], |r| r.get(0))?)
}

/// Claims a device's due sync as it is sent its command: `notified_set` and `offered_set` move
/// to the latest set, so the same change is not sent twice. Returns the set it is told about,
/// or `None` when it is not due.
pub fn claim_due(conn: &Connection, udid: &str) -> Result<Option<Notification>, StoreError> {
    Ok(conn
        .prepare_cached(CLAIM_DUE_SQL)?
        .query_row([udid], notification_row)
        .optional()?)
}

/// [`claim_due`]: one row updated by primary key.
pub const CLAIM_DUE_SQL: &str = "UPDATE ddm_devices SET notified_set = latest_set, offered_set = latest_set
     WHERE udid = ?1 AND enrolled_at IS NOT NULL AND notified_set IS NOT latest_set
     RETURNING udid, (SELECT declarations_token FROM ddm_sets WHERE id = latest_set), latest_set_at";

/// Marks a device enrolled and due a sync of its latest set whatever it was told before (a
/// re-enrolled device may have lost its declarations); claims nothing. Returns the set it is due.
pub fn enroll(conn: &Connection, udid: &str, now: &str) -> Result<Option<Notification>, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE ddm_devices SET enrolled_at = ?2, notified_set = NULL, manifest_set = NULL
             WHERE udid = ?1
             RETURNING udid, (SELECT declarations_token FROM ddm_sets WHERE id = latest_set), latest_set_at",
        )?
        .query_row(params![udid, now], notification_row)
        .optional()?)
}

/// Records that the device was given `token` (by `tokens`): it needs no notification of it any
/// more. Marks the device enrolled if it was not (it is talking DDM, so the MDM layer enrolled it).
pub fn mark_offered(conn: &Connection, udid: &str, token: &str, now: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE ddm_devices SET offered_set = s.id, notified_set = s.id,
                enrolled_at = coalesce(enrolled_at, ?3)
         FROM (SELECT id FROM ddm_sets WHERE declarations_token = ?2) AS s
         WHERE udid = ?1",
    )?
    .execute(params![udid, token, now])?;
    Ok(())
}

/// Records that the device fetched the manifest of `token` (`declaration-items`).
pub fn mark_manifest(conn: &Connection, udid: &str, token: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE ddm_devices SET manifest_set = s.id, offered_set = coalesce(offered_set, s.id)
         FROM (SELECT id FROM ddm_sets WHERE declarations_token = ?2) AS s
         WHERE udid = ?1",
    )?
    .execute(params![udid, token])?;
    Ok(())
}

/// How many rows [`prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub sets: usize,
    pub groups: usize,
    pub declarations: usize,
}

/// Removes sets no device points at (latest, offered, manifest or notified: an id must not be
/// reused while a device's pointer names it), then groups and declarations
/// nothing refers to any more.
pub fn prune(conn: &Connection) -> Result<Pruned, StoreError> {
    let sets = conn.execute(
        "DELETE FROM ddm_sets WHERE id NOT IN (
             SELECT latest_set FROM ddm_devices
             UNION SELECT offered_set FROM ddm_devices WHERE offered_set IS NOT NULL
             UNION SELECT manifest_set FROM ddm_devices WHERE manifest_set IS NOT NULL
             UNION SELECT notified_set FROM ddm_devices WHERE notified_set IS NOT NULL)",
        [],
    )?;
    let groups = conn.execute(
        "DELETE FROM ddm_groups WHERE group_key NOT IN (
             SELECT own_group FROM ddm_devices
             UNION SELECT shared_group FROM ddm_sets
             UNION SELECT own_group FROM ddm_sets
             UNION SELECT group_key FROM ddm_shared)",
        [],
    )?;
    let declarations = conn.execute(
        "DELETE FROM ddm_declarations WHERE id NOT IN (SELECT declaration_id FROM ddm_group_members)",
        [],
    )?;
    Ok(Pruned {
        sets,
        groups,
        declarations,
    })
}

/// How many devices take part in DDM (for figures and the UI).
pub fn device_count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM ddm_devices", [], |r| r.get(0))?)
}
