//! The download windows and bandwidth set in the UI (`cache_download_limits`, migration 0013):
//! at most one row, which takes precedence over the `[cache]` configuration.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The saved limits, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsRow {
    pub allowed_windows: Vec<String>,
    pub window_time_zone: String,
    pub bandwidth_bytes_per_second: u64,
    pub updated_at: String,
    pub updated_by: String,
}

pub fn get(conn: &Connection) -> Result<Option<LimitsRow>, StoreError> {
    let row = conn
        .query_row(
            "SELECT allowed_windows, window_time_zone, bandwidth_bytes_per_second, updated_at,
                    updated_by
             FROM cache_download_limits WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((windows, zone, rate, updated_at, updated_by)) = row else {
        return Ok(None);
    };
    let allowed_windows = serde_json::from_str(&windows)
        .map_err(|e| StoreError::Corrupt(format!("cache_download_limits.allowed_windows: {e}")))?;
    Ok(Some(LimitsRow {
        allowed_windows,
        window_time_zone: zone,
        bandwidth_bytes_per_second: u64::try_from(rate).unwrap_or(0),
        updated_at,
        updated_by,
    }))
}

pub fn set(conn: &Connection, row: &LimitsRow) -> Result<(), StoreError> {
    let windows = serde_json::Value::from(row.allowed_windows.clone()).to_string();
    let rate = i64::try_from(row.bandwidth_bytes_per_second)
        .map_err(|_| StoreError::Conflict("the bandwidth is out of range".into()))?;
    conn.execute(
        "INSERT INTO cache_download_limits
             (id, allowed_windows, window_time_zone, bandwidth_bytes_per_second, updated_at, updated_by)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET
             allowed_windows = excluded.allowed_windows,
             window_time_zone = excluded.window_time_zone,
             bandwidth_bytes_per_second = excluded.bandwidth_bytes_per_second,
             updated_at = excluded.updated_at,
             updated_by = excluded.updated_by",
        params![
            windows,
            row.window_time_zone,
            rate,
            row.updated_at,
            row.updated_by
        ],
    )?;
    Ok(())
}

/// Forgets the saved limits (the configuration applies again). True when a row was deleted.
pub fn clear(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM cache_download_limits", [])? > 0)
}
