//! Consistent copies of the database (for backups) and checks of a copy before it is trusted
//! (for restores).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{StoreError, migrations};

/// What a checked database copy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub schema_version: i64,
}

/// Writes a consistent copy of the database at `source` to `dest` (which must not exist),
/// while other processes may be reading and writing it: in WAL mode the copy sees one
/// committed state. The copy is compacted and in rollback-journal mode, so it is one
/// self-contained file. The source is never migrated or written.
pub fn copy_to(source: &Path, dest: &Path) -> Result<SnapshotInfo, StoreError> {
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from_open)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let schema_version = migrations::current_version(&conn)?.ok_or(StoreError::NotOrchard)?;
    let dest_text = dest
        .to_str()
        .ok_or_else(|| StoreError::Conflict(format!("{} is not a UTF-8 path", dest.display())))?;
    conn.execute("VACUUM INTO ?1", [dest_text])?;
    drop(conn);
    let copy = Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let _mode: String = copy.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    Ok(SnapshotInfo { schema_version })
}

/// Checks a database copy without changing it: readable, `PRAGMA integrity_check` clean, an
/// Orchard database, and a schema this binary knows (not newer).
pub fn check(path: &Path) -> Result<SnapshotInfo, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from_open)?;
    let problems: Vec<String> = {
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(StoreError::from_open)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(StoreError::from_open)?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from_open)?
    };
    if problems != ["ok"] {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        return Err(StoreError::Corrupt(format!(
            "integrity check failed: {}",
            shown.join("; ")
        )));
    }
    let schema_version = migrations::current_version(&conn)?.ok_or(StoreError::NotOrchard)?;
    let latest = migrations::latest_version();
    if schema_version > latest {
        return Err(StoreError::TooNew {
            database: schema_version,
            binary: latest,
        });
    }
    Ok(SnapshotInfo { schema_version })
}

/// Reads one appliance setting from a database copy, without changing it.
pub fn setting(path: &Path, key: &str) -> Result<Option<String>, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from_open)?;
    super::settings::get(&conn, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, settings};

    #[test]
    fn copy_of_a_live_database_has_its_rows_and_passes_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        store
            .write_blocking(|c| settings::set(c, "k", "v", "now"))
            .unwrap();
        let dest = dir.path().join("copy.db");
        let info = copy_to(store.path(), &dest).unwrap();
        assert_eq!(info.schema_version, migrations::latest_version());
        assert_eq!(check(&dest).unwrap(), info);
        let copy = Connection::open(&dest).unwrap();
        assert_eq!(settings::get(&copy, "k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn damaged_copy_fails_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        store
            .write_blocking(|c| {
                c.execute_batch(
                    "CREATE TABLE filler (x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL \
                     SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO filler SELECT hex(randomblob(64)) FROM n;",
                )?;
                Ok(())
            })
            .unwrap();
        let dest = dir.path().join("copy.db");
        copy_to(store.path(), &dest).unwrap();
        let mut bytes = std::fs::read(&dest).unwrap();
        // Overwrite the middle pages with garbage; the header stays valid.
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 8192] {
            *b = 0xA5;
        }
        std::fs::write(&dest, &bytes).unwrap();
        let err = check(&dest).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }
}
