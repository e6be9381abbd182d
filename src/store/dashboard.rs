//! The dashboard's fleet figures: one aggregate query over devices and their stored compliance
//! state (grouped by model, OS version and state, so at 100,000 devices it returns a few hundred
//! rows that the compliance service folds into every breakdown), and devices due per day.

use rusqlite::Connection;

use super::StoreError;

/// How many devices share a model, an OS version and a compliance state (`None`: not known /
/// not assessed yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCell {
    pub model: Option<String>,
    pub os_version: Option<String>,
    pub state: Option<String>,
    pub devices: usize,
}

pub fn fleet_cells(conn: &Connection) -> Result<Vec<FleetCell>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.product_name, d.os_version, c.state, count(*)
         FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid
         GROUP BY d.product_name, d.os_version, c.state",
    )?;
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
