//! The queue's queries are served by indexes (not table scans or temporary sorts), so that
//! 100,000 devices with millions of command rows stay fast. Checked with EXPLAIN QUERY PLAN on
//! a real database holding a mix of statuses.

use chrono::{DateTime, Utc};
use orchard::store::Store;
use orchard::store::commands::{HISTORY_SQL, NEXT_FOR_DEVICE_SQL, PRUNE_SQL};
use orchard::store::ddm::{CLAIM_DUE_SQL, IS_DUE_SQL};
use rusqlite::Connection;

fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let n = stmt.parameter_count();
    let params: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
}

fn filled_store(dir: &std::path::Path) -> Store {
    let store = Store::open(&dir.join("o.db"), "2026-01-01T00:00:00Z").unwrap();
    store
        .write_blocking(|c| {
            let tx = c.transaction()?;
            let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
            let t = orchard::store::devices::db_time(now);
            for d in 0..200 {
                tx.execute(
                    "INSERT INTO devices (udid, enrollment_state, first_seen_at, authenticated_at, last_seen_at, topic)
                     VALUES (?1, 'enrolled', ?2, ?2, ?2, 'com.apple.mgmt.x')",
                    rusqlite::params![format!("D{d}"), t],
                )?;
                for i in 0..40 {
                    let status = ["pending", "sent", "notnow", "acknowledged", "error", "cancelled"][i % 6];
                    let completed = (i % 6 >= 3).then(|| t.clone());
                    tx.execute(
                        "INSERT INTO commands (uuid, udid, request_type, priority, payload, status, created_at, completed_at)
                         VALUES (?1, ?2, 'SecurityInfo', ?3, x'00', ?4, ?5, ?6)",
                        rusqlite::params![format!("D{d}-{i}"), format!("D{d}"), (i % 3) as i64, status, t, completed],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .unwrap();
    store
}

#[test]
fn queue_history_notnow_and_pruning_queries_use_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path());
    store
        .read_blocking(|c| {
            let next = plan(c, NEXT_FOR_DEVICE_SQL);
            assert!(next.contains("USING INDEX commands_queue"), "{next}");
            assert!(!next.contains("TEMP B-TREE"), "the queue index also gives the order: {next}");

            let prune = plan(c, PRUNE_SQL);
            assert!(prune.contains("commands_completed"), "{prune}");
            assert!(!prune.lines().any(|l| l.trim() == "SCAN commands"), "no full scan: {prune}");

            let release = plan(c, "UPDATE commands SET status = 'pending' WHERE udid = ?1 AND status = 'notnow'");
            assert!(release.contains("commands_notnow"), "{release}");

            let history = plan(c, HISTORY_SQL);
            assert!(history.contains("USING INDEX commands_history"), "{history}");
            assert!(!history.contains("TEMP B-TREE"), "{history}");

            let by_uuid = plan(c, "SELECT id, udid, request_type, status FROM commands WHERE uuid = ?1");
            assert!(by_uuid.contains("USING INDEX sqlite_autoindex_commands"), "{by_uuid}");

            // The declarative sync at check-in: whether it is due (also on the idle fast path)
            // and its claim are point lookups by primary key, never a scan of the devices.
            for (what, sql) in [("is due", IS_DUE_SQL), ("claim", CLAIM_DUE_SQL)] {
                let due = plan(c, sql);
                assert!(
                    due.contains("SEARCH ddm_devices USING INDEX sqlite_autoindex_ddm_devices"),
                    "{what}: {due}"
                );
                assert!(!due.lines().any(|l| l.trim() == "SCAN ddm_devices"), "{what}: {due}");
            }

            let replaced = plan(
                c,
                "UPDATE commands SET status = 'cancelled', completed_at = ?3
                 WHERE udid = ?1 AND status IN ('pending', 'sent', 'notnow') AND request_type = ?2",
            );
            assert!(replaced.contains("USING INDEX"), "an older sync is found by device: {replaced}");

            let cancel = plan(
                c,
                "UPDATE commands SET status = 'cancelled' WHERE udid = ?1 AND status IN ('pending', 'sent', 'notnow')",
            );
            assert!(cancel.contains("USING INDEX"), "{cancel}");

            let identity = plan(c, "SELECT udid FROM devices WHERE identity_fingerprint = ?1");
            assert!(identity.contains("devices_identity"), "{identity}");
            Ok(())
        })
        .unwrap();
}
