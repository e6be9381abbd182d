//! Update policies (one JSON document each), their assignments to groups and devices, the ring
//! calendar, and what the policy engine reads of the managed devices. Plans, the re-evaluation
//! queue and the legacy-path records are in [`plans`].

pub mod deliveries;
pub mod kinds;
pub mod plans;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, sql_time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub id: i64,
    pub name: String,
    /// JSON of the `Policy`.
    pub document: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, name, document, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PolicyRow> {
    Ok(PolicyRow {
        id: r.get(0)?,
        name: r.get(1)?,
        document: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<PolicyRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM policies ORDER BY name"))?;
    let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<PolicyRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM policies WHERE name = ?1"))?;
    Ok(stmt.query_row([name], row).optional()?)
}

pub fn insert(conn: &Connection, name: &str, document: &str, now: DateTime<Utc>) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO policies (name, document, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        params![name, document, sql_time(now)],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn update(
    conn: &Connection,
    id: i64,
    name: &str,
    document: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE policies SET name = ?2, document = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, name, document, sql_time(now)],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the policy and its assignments.
pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM policies WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replaces the policy's assignments with these groups and devices.
pub fn set_assignments(
    conn: &Connection,
    policy_id: i64,
    group_ids: &[i64],
    udids: &[String],
) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM policy_group_assignments WHERE policy_id = ?1",
        [policy_id],
    )?;
    conn.execute(
        "DELETE FROM policy_device_assignments WHERE policy_id = ?1",
        [policy_id],
    )?;
    let mut groups = conn.prepare_cached(
        "INSERT INTO policy_group_assignments (policy_id, group_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for g in group_ids {
        groups.execute(params![policy_id, g])?;
    }
    let mut devices = conn.prepare_cached(
        "INSERT INTO policy_device_assignments (policy_id, udid) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for u in udids {
        devices.execute(params![policy_id, u])?;
    }
    Ok(())
}

/// Adds one group assignment (loading the default rings).
pub fn assign_group(conn: &Connection, policy_id: i64, group_id: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO policy_group_assignments (policy_id, group_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![policy_id, group_id],
    )?;
    Ok(())
}

/// Every group assignment, as (policy id, group id).
pub fn group_assignments(conn: &Connection) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT policy_id, group_id FROM policy_group_assignments")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every device assignment, as (policy id, UDID).
pub fn device_assignments(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT policy_id, udid FROM policy_device_assignments")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The direct assignments of these devices only, as (policy id, UDID).
pub fn device_assignments_among(
    conn: &Connection,
    udids: &[String],
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT policy_id, udid FROM policy_device_assignments WHERE udid = ?1")?;
    let mut out = Vec::new();
    for udid in udids {
        for row in stmt.query_map([udid], |r| Ok((r.get(0)?, r.get(1)?)))? {
            out.push(row?);
        }
    }
    Ok(out)
}

/// The ring calendar as JSON, if one was saved.
pub fn ring_schedule(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT document FROM policy_ring_schedule WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn set_ring_schedule(conn: &Connection, document: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO policy_ring_schedule (id, document, updated_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
        params![document, sql_time(now)],
    )?;
    Ok(())
}

/// What the policy engine reads of an enrolled device.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ManagedDeviceRow {
    pub udid: String,
    pub device_name: Option<String>,
    pub serial_number: Option<String>,
    /// The model identifier (`iPhone14,2`).
    pub product_name: Option<String>,
    /// The marketing family (`iPhone`, `MacBook Pro`).
    pub model_name: Option<String>,
    pub software_update_device_id: Option<String>,
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    pub supplemental_os_version_extra: Option<String>,
    pub is_supervised: Option<bool>,
    /// The device enrolled in declarative management (its DDM enrollment was recorded).
    pub ddm_enrolled: bool,
}

const DEVICE_SELECT: &str = "SELECT d.udid, d.device_name, d.serial_number, d.product_name, d.model_name,
        d.software_update_device_id, d.os_version, d.build_version, d.supplemental_os_version_extra,
        d.is_supervised, dd.enrolled_at IS NOT NULL
     FROM devices d LEFT JOIN ddm_devices dd ON dd.udid = d.udid
     WHERE d.enrollment_state = 'enrolled'";

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ManagedDeviceRow> {
    Ok(ManagedDeviceRow {
        udid: r.get(0)?,
        device_name: r.get(1)?,
        serial_number: r.get(2)?,
        product_name: r.get(3)?,
        model_name: r.get(4)?,
        software_update_device_id: r.get(5)?,
        os_version: r.get(6)?,
        build_version: r.get(7)?,
        supplemental_os_version_extra: r.get(8)?,
        is_supervised: r.get(9)?,
        ddm_enrolled: r.get(10)?,
    })
}

/// Every enrolled device, by UDID.
pub fn managed_devices(conn: &Connection) -> Result<Vec<ManagedDeviceRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{DEVICE_SELECT} ORDER BY d.udid"))?;
    let rows = stmt.query_map([], device_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// These enrolled devices (unknown or unenrolled UDIDs are left out).
pub fn managed_devices_among(
    conn: &Connection,
    udids: &[String],
) -> Result<Vec<ManagedDeviceRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{DEVICE_SELECT} AND d.udid = ?1"))?;
    let mut out = Vec::with_capacity(udids.len());
    for udid in udids {
        if let Some(device) = stmt.query_row([udid], device_row).optional()? {
            out.push(device);
        }
    }
    Ok(out)
}

/// The UDIDs among `udids` that Orchard has seen (in any enrollment state).
pub fn known_devices(conn: &Connection, udids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT udid FROM devices WHERE udid = ?1")?;
    let mut out = Vec::new();
    for udid in udids {
        if let Some(u) = stmt.query_row([udid], |r| r.get::<_, String>(0)).optional()? {
            out.push(u);
        }
    }
    Ok(out)
}
