//! Stored compliance state per device (refreshed by the compliance service), and what the
//! service reads to assess a device.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRow {
    pub udid: String,
    pub state: String,
    pub reason: String,
    pub deadline: Option<String>,
    pub overdue_since: Option<String>,
    pub stale: bool,
    /// Since when the device has been in `state` (on write: now; kept while unchanged).
    pub since: String,
    pub evaluated_at: String,
}

pub fn upsert(conn: &Connection, row: &ComplianceRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO device_compliance (udid, state, reason, deadline, overdue_since, stale, since, evaluated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (udid) DO UPDATE SET
             since = CASE WHEN state = excluded.state THEN since ELSE excluded.since END,
             state = excluded.state, reason = excluded.reason,
             deadline = excluded.deadline, overdue_since = excluded.overdue_since,
             stale = excluded.stale, evaluated_at = excluded.evaluated_at",
    )?
    .execute(params![
        row.udid,
        row.state,
        row.reason,
        row.deadline,
        row.overdue_since,
        row.stale,
        row.evaluated_at
    ])?;
    Ok(())
}

pub fn get(conn: &Connection, udid: &str) -> Result<Option<ComplianceRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT udid, state, reason, deadline, overdue_since, stale, since, evaluated_at
             FROM device_compliance WHERE udid = ?1",
            [udid],
            |r| {
                Ok(ComplianceRow {
                    udid: r.get(0)?,
                    state: r.get(1)?,
                    reason: r.get(2)?,
                    deadline: r.get(3)?,
                    overdue_since: r.get(4)?,
                    stale: r.get(5)?,
                    since: r.get(6)?,
                    evaluated_at: r.get(7)?,
                })
            },
        )
        .optional()?)
}

/// Device counts by stored state; devices never assessed are counted under `None`. Summed
/// from the dashboard's maintained cells (migration 0017), not counted from the devices.
pub fn counts(conn: &Connection) -> Result<HashMap<Option<String>, usize>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, sum(devices) FROM dashboard_fleet_cells
         GROUP BY state HAVING sum(devices) <> 0",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (state, n) = row?;
        out.insert(state, usize::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

/// How many assessed devices are flagged stale.
pub fn stale_count(conn: &Connection) -> Result<usize, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM device_compliance WHERE stale = 1",
        [],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// What assessing a device reads from the device row: enrolled, last contact, OS version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    pub enrolled: bool,
    pub last_seen_at: String,
    pub os_version: Option<String>,
}

pub fn device_facts(conn: &Connection, udid: &str) -> Result<Option<DeviceFacts>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT enrollment_state, last_seen_at, os_version FROM devices WHERE udid = ?1")?
        .query_row([udid], |r| {
            Ok(DeviceFacts {
                enrolled: r.get::<_, String>(0)? == "enrolled",
                last_seen_at: r.get(1)?,
                os_version: r.get(2)?,
            })
        })
        .optional()?)
}

/// Devices whose stored state may be out of date because something it is derived from changed
/// after it was assessed: never assessed, a newer policy evaluation, a newer DDM status item, a
/// newer inventory, or an enrollment change. Times are compared as instants (`julianday`), since
/// the DDM tables keep milliseconds and this table microseconds.
pub fn needing_assessment(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT d.udid FROM devices d
         LEFT JOIN device_compliance c ON c.udid = d.udid
         WHERE c.udid IS NULL
            OR julianday(d.inventory_updated_at) > julianday(c.evaluated_at)
            OR julianday(d.enrolled_at) > julianday(c.evaluated_at)
            OR julianday(d.unenrolled_at) > julianday(c.evaluated_at)
            OR EXISTS (SELECT 1 FROM device_plans p
                       WHERE p.udid = d.udid AND julianday(p.evaluated_at) > julianday(c.evaluated_at))
            OR EXISTS (SELECT 1 FROM ddm_status_items s
                       WHERE s.udid = d.udid AND julianday(s.updated_at) > julianday(c.evaluated_at))
         ORDER BY d.udid",
    )?;
    Ok(stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
}

pub fn all_udids(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT udid FROM devices ORDER BY udid")?;
    Ok(stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
}

/// The UDID of the most recently seen device with this serial number.
pub fn udid_for_serial(conn: &Connection, serial: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT udid FROM devices WHERE serial_number = ?1 ORDER BY last_seen_at DESC LIMIT 1",
            [serial],
            |r| r.get(0),
        )
        .optional()?)
}
