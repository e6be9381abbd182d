//! The dashboard's fleet figures: devices per model, OS version and compliance state (a few
//! hundred rows at 100,000 devices, that the compliance service folds into every breakdown), the
//! same per group and per ring (resolved membership, migration 0012), and devices due per day.
//!
//! The counts are maintained rows (migration 0017: triggers keep them exact in the transaction
//! of every change to a device, its compliance row or its membership), so reading them costs
//! nothing at 100,000 devices. The `*_recount` functions (tests only) count the same from the
//! devices with a full join: what the maintained rows must always equal.

use rusqlite::Connection;

use super::StoreError;

/// How many devices share a model, an OS version and a compliance state (`None`: not known /
/// not assessed yet).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FleetCell {
    pub model: Option<String>,
    pub os_version: Option<String>,
    pub state: Option<String>,
    pub devices: usize,
}

fn fleet_query(conn: &Connection, sql: &str) -> Result<Vec<FleetCell>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(FleetCell {
            model: r.get(0)?,
            os_version: r.get(1)?,
            state: r.get(2)?,
            devices: usize::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Devices per model, OS version and state (the maintained rows; cells with no device left are
/// skipped), in key order.
pub fn fleet_cells(conn: &Connection) -> Result<Vec<FleetCell>, StoreError> {
    fleet_query(
        conn,
        "SELECT product_name, os_version, state, devices FROM dashboard_fleet_cells
         WHERE devices <> 0 ORDER BY product_name, os_version, state",
    )
}

/// [`fleet_cells`] counted from the devices and their compliance rows, in the same order.
#[cfg(test)]
pub(crate) fn fleet_cells_recount(conn: &Connection) -> Result<Vec<FleetCell>, StoreError> {
    fleet_query(
        conn,
        "SELECT d.product_name, d.os_version, c.state, count(*)
         FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid
         GROUP BY d.product_name, d.os_version, c.state
         ORDER BY d.product_name, d.os_version, c.state",
    )
}

/// How many devices of a group (or ring) are in a compliance state (`None`: not assessed yet).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemberCell {
    pub group_id: i64,
    pub state: Option<String>,
    pub devices: usize,
}

fn member_cells(conn: &Connection, sql: &str) -> Result<Vec<MemberCell>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(MemberCell {
            group_id: r.get(0)?,
            state: r.get(1)?,
            devices: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Devices per group and state (resolved membership: a device counts in each of its groups),
/// in key order.
pub fn group_cells(conn: &Connection) -> Result<Vec<MemberCell>, StoreError> {
    member_cells(
        conn,
        "SELECT group_id, state, devices FROM dashboard_group_cells
         WHERE devices <> 0 ORDER BY group_id, state",
    )
}

/// [`group_cells`] counted from the membership rows, in the same order.
#[cfg(test)]
pub(crate) fn group_cells_recount(conn: &Connection) -> Result<Vec<MemberCell>, StoreError> {
    member_cells(
        conn,
        "SELECT m.group_id, c.state, count(*)
         FROM group_members_resolved m JOIN devices d ON d.udid = m.udid
              LEFT JOIN device_compliance c ON c.udid = m.udid
         GROUP BY m.group_id, c.state ORDER BY m.group_id, c.state",
    )
}

/// Devices per ring and state (each device in its ring only: the lowest order it is in), in
/// key order.
pub fn ring_cells(conn: &Connection) -> Result<Vec<MemberCell>, StoreError> {
    member_cells(
        conn,
        "SELECT ring_id, state, devices FROM dashboard_ring_cells
         WHERE devices <> 0 ORDER BY ring_id, state",
    )
}

/// [`ring_cells`] counted from the ring rows, in the same order.
#[cfg(test)]
pub(crate) fn ring_cells_recount(conn: &Connection) -> Result<Vec<MemberCell>, StoreError> {
    member_cells(
        conn,
        "SELECT r.ring_id, c.state, count(*)
         FROM device_rings r JOIN devices d ON d.udid = r.udid
              LEFT JOIN device_compliance c ON c.udid = r.udid
         GROUP BY r.ring_id, c.state ORDER BY r.ring_id, c.state",
    )
}

/// Devices whose stored deadline falls in `[from, until)` (stored time text), counted per UTC
/// day (`YYYY-MM-DD`), in day order.
pub fn deadlines_per_day(
    conn: &Connection,
    from: &str,
    until: &str,
) -> Result<Vec<(String, usize)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT substr(deadline, 1, 10) AS day, count(*) FROM device_compliance
         WHERE deadline >= ?1 AND deadline < ?2
         GROUP BY day ORDER BY day",
    )?;
    let rows = stmt.query_map([from, until], |r| {
        Ok((r.get(0)?, usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What the dashboard warns about in the payload cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheProblems {
    /// Payloads that failed verification (kept aside, never served).
    pub quarantined: usize,
    /// Download jobs that gave up, for a URL no later job has fetched.
    pub failed_downloads: usize,
}

pub fn cache_problems(conn: &Connection) -> Result<CacheProblems, StoreError> {
    let quarantined: i64 = conn.query_row(
        "SELECT count(*) FROM cache_payloads WHERE state = 'quarantined'",
        [],
        |r| r.get(0),
    )?;
    let failed: i64 = conn.query_row(
        "SELECT count(*) FROM cache_downloads f WHERE f.state = 'failed'
         AND NOT EXISTS (SELECT 1 FROM cache_downloads d
                         WHERE d.url = f.url AND d.id > f.id AND d.state = 'done')",
        [],
        |r| r.get(0),
    )?;
    Ok(CacheProblems {
        quarantined: usize::try_from(quarantined).unwrap_or(0),
        failed_downloads: usize::try_from(failed).unwrap_or(0),
    })
}

/// Writes the day's snapshot unless one exists; returns whether it wrote. One transaction.
pub fn write_snapshot(
    conn: &mut Connection,
    day: &str,
    counts: &[(String, usize)],
    at: &str,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let exists: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM compliance_snapshots WHERE day = ?1)",
        [day],
        |r| r.get(0),
    )?;
    if exists {
        return Ok(false);
    }
    for (state, devices) in counts {
        tx.execute(
            "INSERT INTO compliance_snapshots (day, state, devices, taken_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![day, state, i64::try_from(*devices).unwrap_or(i64::MAX), at],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// Snapshot rows from `since` (a `YYYY-MM-DD` day) on: (day, state, devices), in day order.
pub fn snapshots_since(conn: &Connection, since: &str) -> Result<Vec<(String, String, usize)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, state, devices FROM compliance_snapshots WHERE day >= ?1 ORDER BY day, state",
    )?;
    let rows = stmt.query_map([since], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
