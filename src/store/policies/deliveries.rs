//! What the policy engine records about a whole batch of deliveries at once: which devices
//! hold the legacy restrictions profile (and which one), which were sent a ScheduleOSUpdate, and
//! that their plans were delivered. One statement per
//! batch, not one per device.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::store::{StoreError, json_list, sql_time};

/// The devices among `udids` that hold the legacy restrictions profile.
pub fn legacy_profile_holders(conn: &Connection, udids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT udid FROM legacy_update_profiles WHERE udid IN (SELECT value FROM json_each(?1))
         ORDER BY udid",
    )?;
    let rows = stmt.query_map([json_list(udids)], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The legacy restrictions profile fingerprint of each device among `udids` that holds one
/// ([`super::plans::legacy_profile`] for a batch).
pub fn legacy_profiles_among(
    conn: &Connection,
    udids: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT udid, fingerprint FROM legacy_update_profiles
         WHERE udid IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([json_list(udids)], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The (device, target version) pairs among `udids` that were already sent a ScheduleOSUpdate
/// ([`super::plans::scheduled_update_sent`] for a batch).
pub fn scheduled_updates_among(
    conn: &Connection,
    udids: &[String],
) -> Result<HashSet<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT udid, target_version FROM legacy_scheduled_updates
         WHERE udid IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([json_list(udids)], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records that each (device, fingerprint) plan reached its device by `path`
/// ([`super::plans::mark_delivered`] for a batch).
pub fn mark_delivered_many(
    conn: &Connection,
    delivered: &[(String, String)],
    path: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if delivered.is_empty() {
        return Ok(0);
    }
    Ok(conn
        .prepare_cached(
            "UPDATE device_plans
             SET delivered_fingerprint = d.fingerprint, delivered_path = ?2, delivered_at = ?3
             FROM (SELECT value ->> 0 AS udid, value ->> 1 AS fingerprint FROM json_each(?1)) AS d
             WHERE device_plans.udid = d.udid",
        )?
        .execute(params![json_list(delivered), path, sql_time(now)])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::policies::plans::{self, PlanRow};

    fn plan(udid: &str) -> PlanRow {
        PlanRow::undelivered(udid, "", &format!("fp-{udid}"))
    }

    #[test]
    fn a_batch_is_marked_delivered_with_each_device_its_own_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let now = Utc::now();
        store
            .write_blocking(move |c| {
                for u in ["A", "B", "C"] {
                    plans::save_evaluation(c, &plan(u))?;
                }
                let done = vec![
                    ("A".to_string(), "fp-A".to_string()),
                    ("C".to_string(), "other".to_string()),
                    ("UNKNOWN".to_string(), "x".to_string()),
                ];
                assert_eq!(mark_delivered_many(c, &done, "declarative", now)?, 2);
                let a = plans::plan(c, "A")?.unwrap();
                assert_eq!(a.delivered_fingerprint.as_deref(), Some("fp-A"));
                assert_eq!(a.delivered_path.as_deref(), Some("declarative"));
                assert_eq!(a.delivered_at, Some(sql_time(now)));
                assert_eq!(plans::plan(c, "B")?.unwrap().delivered_fingerprint, None);
                let c_row = plans::plan(c, "C")?.unwrap();
                assert_eq!(c_row.delivered_fingerprint.as_deref(), Some("other"));
                assert!(plans::plan(c, "UNKNOWN")?.is_none(), "no row is created");
                assert_eq!(mark_delivered_many(c, &[], "declarative", now)?, 0);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn only_the_devices_holding_the_legacy_profile_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let now = Utc::now();
        store
            .write_blocking(move |c| {
                plans::set_legacy_profile(c, "B", "id", "fp", "uuid-b", now)?;
                plans::set_legacy_profile(c, "D", "id", "fp", "uuid-d", now)?;
                let asked: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
                assert_eq!(legacy_profile_holders(c, &asked)?, vec!["B", "D"]);
                assert!(legacy_profile_holders(c, &[])?.is_empty());
                assert!(legacy_profile_holders(c, &["A".to_string()])?.is_empty());
                Ok(())
            })
            .unwrap();
    }
}
