//! Moving every device of some own groups to their new sets after a shared change, with the
//! list of those now due a sync: the hot path of a recomputation.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::Notification;
use crate::store::StoreError;

/// Devices moved to a new set by [`retarget_by_own_group`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retargeted {
    pub devices_changed: usize,
    /// The enrolled devices among them, now due a sync (see [`super::due_devices`]; not claimed).
    pub due: Vec<Notification>,
}

/// Points every device whose own group is in `targets` at the new set of that group, and returns
/// the enrolled ones, in one statement (each device row is written once). Nothing is claimed:
/// `notified_set` moves when the device is sent its sync command.
///
/// The statement scans the device rows in storage order (`+own_group` keeps SQLite off the
/// `own_group` index, whose order would visit every table page many times) and looks each row's
/// group up in the small target table; it returns set ids, which are mapped to their tokens here
/// rather than by a subquery per row.
pub fn retarget_by_own_group(
    conn: &Connection,
    targets: &[(String, String)],
    now: &str,
) -> Result<Retargeted, StoreError> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS ddm_retarget (
             own_group TEXT PRIMARY KEY, set_id INTEGER NOT NULL) WITHOUT ROWID;
         DELETE FROM temp.ddm_retarget;",
    )?;
    let mut tokens: HashMap<i64, &str> = HashMap::with_capacity(targets.len());
    {
        let mut insert = conn.prepare_cached(
            "INSERT INTO temp.ddm_retarget (own_group, set_id)
             VALUES (?1, (SELECT id FROM main.ddm_sets WHERE declarations_token = ?2))
             RETURNING set_id",
        )?;
        for (group, token) in targets {
            let set_id: i64 = insert.query_row(params![group, token], |r| r.get(0))?;
            tokens.insert(set_id, token.as_str());
        }
    }
    let mut retargeted = Retargeted::default();
    {
        let mut update = conn.prepare_cached(
            "UPDATE ddm_devices SET latest_set = r.set_id, latest_set_at = ?1
             FROM temp.ddm_retarget AS r
             WHERE +ddm_devices.own_group = r.own_group AND ddm_devices.latest_set <> r.set_id
             RETURNING udid, latest_set, enrolled_at IS NOT NULL AND notified_set IS NOT latest_set",
        )?;
        let mut rows = update.query([now])?;
        while let Some(row) = rows.next()? {
            retargeted.devices_changed += 1;
            if row.get::<_, bool>(2)? {
                let set_id: i64 = row.get(1)?;
                let token = tokens.get(&set_id).ok_or_else(|| {
                    StoreError::Conflict(format!("declaration set {set_id} is not a retarget target"))
                })?;
                retargeted.due.push(Notification {
                    udid: row.get(0)?,
                    declarations_token: (*token).to_string(),
                    token_at: now.to_string(),
                });
            }
        }
    }
    conn.execute("DELETE FROM temp.ddm_retarget", [])?;
    Ok(retargeted)
}
