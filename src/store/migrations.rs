//! Embedded schema migrations. Each step runs in its own transaction; a database written by a
//! newer binary is refused rather than touched.

use rusqlite::{Connection, params};

use super::StoreError;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration the binary knows, in order. Append only: never edit a released step.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../../migrations/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "admin",
        sql: include_str!("../../migrations/0002_admin.sql"),
    },
    Migration {
        version: 3,
        name: "catalog",
        sql: include_str!("../../migrations/0003_catalog.sql"),
    },
    Migration {
        version: 4,
        name: "enrollment",
        sql: include_str!("../../migrations/0004_enrollment.sql"),
    },
    Migration {
        version: 5,
        name: "mdm",
        sql: include_str!("../../migrations/0005_mdm.sql"),
    },
    Migration {
        version: 7,
        name: "ddm",
        sql: include_str!("../../migrations/0007_ddm.sql"),
    },
    Migration {
        version: 8,
        name: "policy",
        sql: include_str!("../../migrations/0008_policy.sql"),
    },
    Migration {
        version: 9,
        name: "cache",
        sql: include_str!("../../migrations/0009_cache.sql"),
    },
    Migration {
        version: 10,
        name: "api",
        sql: include_str!("../../migrations/0010_api.sql"),
    },
    Migration {
        version: 11,
        name: "compliance_snapshots",
        sql: include_str!("../../migrations/0011_compliance_snapshots.sql"),
    },
    Migration {
        version: 12,
        name: "group_membership",
        sql: include_str!("../../migrations/0012_group_membership.sql"),
    },
    Migration {
        version: 13,
        name: "cache_settings",
        sql: include_str!("../../migrations/0013_cache_settings.sql"),
    },
    Migration {
        version: 16,
        name: "cache_policy_targets",
        sql: include_str!("../../migrations/0016_cache_policy_targets.sql"),
    },
    Migration {
        version: 17,
        name: "dashboard_cells",
        sql: include_str!("../../migrations/0017_dashboard_cells.sql"),
    },
    Migration {
        version: 19,
        name: "plan_summaries",
        sql: include_str!("../../migrations/0019_plan_summaries.sql"),
    },
    Migration {
        version: 21,
        name: "policy_device_changes",
        sql: include_str!("../../migrations/0021_policy_device_changes.sql"),
    },
    Migration {
        version: 22,
        name: "plan_kinds",
        sql: include_str!("../../migrations/0022_plan_kinds.sql"),
    },
];

/// `PRAGMA application_id` of an Orchard database ("ORCH").
pub const APPLICATION_ID: i64 = 0x4F52_4348;

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

/// Reads the schema version without changing anything. `Ok(None)` for an empty new database.
pub fn current_version(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(StoreError::from_open)?;
    let table_count: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(StoreError::from_open)?;
    if app_id == 0 && table_count == 0 {
        return Ok(None);
    }
    if app_id != APPLICATION_ID {
        return Err(StoreError::NotOrchard);
    }
    let version: i64 = conn
        .query_row("SELECT coalesce(max(version), 0) FROM schema_version", [], |r| {
            r.get(0)
        })
        .map_err(|_| StoreError::NotOrchard)?;
    Ok(Some(version))
}

/// Brings the database up to [`latest_version`].
pub fn migrate(conn: &mut Connection, now: &str) -> Result<(), StoreError> {
    let current = match current_version(conn)? {
        Some(v) => v,
        None => {
            let tx = conn.transaction()?;
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID};
                 CREATE TABLE schema_version (
                     version    INTEGER PRIMARY KEY,
                     name       TEXT NOT NULL,
                     applied_at TEXT NOT NULL
                 ) STRICT;"
            ))?;
            tx.commit()?;
            0
        }
    };
    let latest = latest_version();
    if current > latest {
        return Err(StoreError::TooNew {
            database: current,
            binary: latest,
        });
    }
    for step in MIGRATIONS.iter().filter(|m| m.version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(step.sql).map_err(|e| StoreError::Migration {
            version: step.version,
            name: step.name,
            message: e.to_string(),
        })?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![step.version, step.name, now],
        )?;
        tx.commit()?;
        tracing::info!(version = step.version, name = step.name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database at `version`, as the migrations up to it left it.
    fn database_at(version: i64) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID};
             CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                          applied_at TEXT NOT NULL) STRICT;"
        ))
        .unwrap();
        for step in MIGRATIONS.iter().filter(|m| m.version <= version) {
            tx.execute_batch(step.sql).unwrap();
            tx.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, 'then')",
                params![step.version, step.name],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        conn
    }

    #[test]
    fn deliveries_made_before_a_reenrollment_are_forgotten_once_and_the_fleet_is_asked_for() {
        use crate::store::devices::{self, Inventory};
        use crate::store::policies::plans;
        let mut conn = database_at(19);
        let t0 = chrono::Utc::now();
        let t1 = t0 + chrono::Duration::minutes(5);
        let t2 = t1 + chrono::Duration::minutes(5);
        for udid in ["A", "B"] {
            devices::fixtures::enrolled(&conn, udid, t1).unwrap();
            // The plan row as version 19 wrote it.
            conn.execute(
                "INSERT INTO device_plans (udid, summary_digest, fingerprint, path, evaluated_at)
                 VALUES (?1, 's', 'fp', 'declarative', 't')",
                [udid],
            )
            .unwrap();
        }
        // A's delivery was made before its enrollment at t1 (the old minute job had not run yet),
        // B's after.
        plans::mark_delivered(&conn, "A", "fp", "legacy", t0).unwrap();
        plans::mark_delivered(&conn, "B", "fp", "legacy", t2).unwrap();
        migrate(&mut conn, "now").unwrap();
        let delivered = |udid: &str| plans::plan(&conn, udid).unwrap().unwrap().delivered_fingerprint;
        assert_eq!(delivered("A"), None);
        assert_eq!(delivered("B").as_deref(), Some("fp"));
        assert!(
            plans::pending_request(&conn, plans::FleetScope::Devices)
                .unwrap()
                .is_some()
        );
        // From now on the triggers queue devices as their facts are written.
        assert_eq!(plans::queue_len(&conn).unwrap(), 0);
        devices::update_inventory(&conn, "B", &Inventory::default(), t2).unwrap();
        assert_eq!(plans::queue_len(&conn).unwrap(), 1);
    }

    #[test]
    fn plans_get_a_kind_that_leaving_enrollment_forgets_and_the_whole_fleet_is_evaluated_again() {
        use crate::store::devices;
        use crate::store::policies::{kinds, plans};
        let mut conn = database_at(21);
        let now = chrono::Utc::now();
        for udid in ["A", "B", "C"] {
            devices::fixtures::enrolled(&conn, udid, now).unwrap();
        }
        // Evaluated since their enrollment queued them.
        conn.execute_batch(
            "DELETE FROM settings WHERE key = 'policy.fleet_due';
             DELETE FROM policy_evaluation_queue;",
        )
        .unwrap();
        migrate(&mut conn, "now").unwrap();
        assert!(
            plans::pending_request(&conn, plans::FleetScope::Devices)
                .unwrap()
                .is_some(),
            "existing plans have no kind: every device is evaluated on its own once"
        );
        for udid in ["A", "B", "C"] {
            let mut row = plans::PlanRow::undelivered(udid, "s", "fp");
            row.kind = Some("k1".into());
            plans::save_evaluation(&conn, &row).unwrap();
        }
        let stored = kinds::kinds(&conn).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            (stored[0].representative.as_deref(), stored[0].devices),
            (Some("A"), 3)
        );
        devices::mark_unenrolled(&conn, "A", now).unwrap();
        conn.execute("DELETE FROM devices WHERE udid = 'B'", []).unwrap();
        let stored = kinds::kinds(&conn).unwrap();
        assert_eq!(
            (stored[0].representative.as_deref(), stored[0].devices),
            (Some("C"), 1),
            "an unenrolled or removed device has no kind"
        );
        assert_eq!(plans::plan(&conn, "A").unwrap().unwrap().kind, None);
    }

    #[test]
    fn plan_summaries_move_out_of_the_plan_rows_and_keep_their_text() {
        let mut conn = database_at(16);
        conn.execute(
            "INSERT INTO device_plans (udid, summary, fingerprint, path, evaluated_at, delivered_fingerprint)
             VALUES ('A', '{\"ring\":\"Vanguard\"}', 'fp-a', 'declarative', 't', 'fp-a')",
            [],
        )
        .unwrap();
        migrate(&mut conn, "now").unwrap();
        let (digest, delivered): (String, String) = conn
            .query_row(
                "SELECT summary_digest, delivered_fingerprint FROM device_plans WHERE udid = 'A'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((digest.as_str(), delivered.as_str()), ("udid:A", "fp-a"));
        let text: String = conn
            .query_row(
                "SELECT summary FROM plan_summaries WHERE digest = ?1",
                [&digest],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(text, "{\"ring\":\"Vanguard\"}");
        assert_eq!(current_version(&conn).unwrap(), Some(latest_version()));
    }
}
