//! One own group and its set given to many devices at once (a batch of the policy engine, whose
//! devices mostly share their set): which of them change, their rows, and which of them are due
//! a sync, each one statement for the whole list instead of one per device.

use rusqlite::{Connection, params};

use super::{Notification, notification_row};
use crate::store::{StoreError, json_list};

/// The devices among `udids` whose latest set is not the set `declarations_token` (devices
/// without a row included), in the order given.
pub fn devices_off_set(
    conn: &Connection,
    udids: &[String],
    declarations_token: &str,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.value FROM json_each(?1) AS j LEFT JOIN ddm_devices AS d ON d.udid = j.value
         WHERE d.latest_set IS NOT (SELECT id FROM ddm_sets WHERE declarations_token = ?2)
         ORDER BY j.key",
    )?;
    let rows = stmt.query_map(params![json_list(udids), declarations_token], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Creates or updates the rows of the devices in `udids`, all with the same own group and latest
/// set (which must be interned); `latest_set_at` moves only where the latest set changes.
/// Returns how many rows were written (a row already holding both is left alone).
pub fn put_devices(
    conn: &Connection,
    udids: &[String],
    own_group: &str,
    declarations_token: &str,
    now: &str,
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO ddm_devices (udid, own_group, latest_set, latest_set_at)
             SELECT j.value, ?2, (SELECT id FROM ddm_sets WHERE declarations_token = ?3), ?4
             FROM json_each(?1) AS j
             WHERE true
             ON CONFLICT (udid) DO UPDATE SET
                 own_group = excluded.own_group,
                 latest_set = excluded.latest_set,
                 latest_set_at = CASE WHEN ddm_devices.latest_set IS excluded.latest_set
                                      THEN ddm_devices.latest_set_at ELSE excluded.latest_set_at END
             WHERE ddm_devices.own_group IS NOT excluded.own_group
                OR ddm_devices.latest_set IS NOT excluded.latest_set",
        )?
        .execute(params![json_list(udids), own_group, declarations_token, now])?)
}

/// [`super::due_devices`] among the devices in `udids` (nothing is claimed).
pub fn due_among(conn: &Connection, udids: &[String]) -> Result<Vec<Notification>, StoreError> {
    if udids.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT udid, (SELECT declarations_token FROM ddm_sets WHERE id = latest_set), latest_set_at
         FROM ddm_devices
         WHERE udid IN (SELECT value FROM json_each(?1))
           AND enrolled_at IS NOT NULL AND notified_set IS NOT latest_set",
    )?;
    let rows = stmt.query_map([json_list(udids)], notification_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::ddm;

    const NOW: &str = "2026-04-07T00:00:00.000Z";
    const LATER: &str = "2026-04-08T00:00:00.000Z";

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn setup(c: &Connection) -> Result<(), StoreError> {
        for group in ["shared", "own-a", "own-b"] {
            ddm::intern_group(c, group, &[], NOW)?;
        }
        ddm::intern_set(c, "set-a", "shared", "own-a", NOW)?;
        ddm::intern_set(c, "set-b", "shared", "own-b", NOW)?;
        Ok(())
    }

    #[test]
    fn many_devices_get_one_set_and_only_the_changed_enrolled_ones_are_due() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        store
            .write_blocking(|c| {
                setup(c)?;
                // A is on set-a and enrolled, B on set-b and enrolled, C on set-b not enrolled.
                ddm::put_device(c, "A", "own-a", "set-a", NOW)?;
                ddm::put_device(c, "B", "own-b", "set-b", NOW)?;
                ddm::put_device(c, "C", "own-b", "set-b", NOW)?;
                ddm::enroll(c, "A", NOW)?;
                ddm::enroll(c, "B", NOW)?;
                let all = strings(&["A", "B", "C", "NEW"]);
                assert_eq!(devices_off_set(c, &all, "set-a")?, strings(&["B", "C", "NEW"]));
                assert_eq!(
                    put_devices(c, &all, "own-a", "set-a", LATER)?,
                    3,
                    "A is unchanged"
                );
                assert!(devices_off_set(c, &all, "set-a")?.is_empty());
                let a = ddm::device(c, "A")?.unwrap();
                assert_eq!(a.latest_set_at, NOW, "an unchanged set keeps its time");
                let b = ddm::device(c, "B")?.unwrap();
                assert_eq!((b.own_group.as_str(), b.latest_set.as_str()), ("own-a", "set-a"));
                assert_eq!(b.latest_set_at, LATER);
                assert_eq!(ddm::device(c, "NEW")?.unwrap().latest_set, "set-a");
                let due = due_among(c, &strings(&["B", "C", "NEW"]))?;
                assert_eq!(due.len(), 1, "only enrolled devices are due: {due:?}");
                assert_eq!(due[0].udid, "B");
                assert_eq!(due[0].declarations_token, "set-a");
                assert_eq!(due[0].token_at, LATER);
                assert_eq!(
                    due_among(c, &strings(&["B"]))?.len(),
                    1,
                    "still due: nothing is claimed until the device is sent its command"
                );
                assert_eq!(
                    ddm::claim_due(c, "B")?.map(|n| n.declarations_token).as_deref(),
                    Some("set-a")
                );
                assert!(due_among(c, &strings(&["B"]))?.is_empty(), "claimed once");
                assert!(ddm::claim_due(c, "B")?.is_none());
                assert!(due_among(c, &[])?.is_empty());
                Ok(())
            })
            .unwrap();
    }
}
