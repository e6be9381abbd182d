//! SQLite storage. All SQL of the appliance lives under this module.
//!
//! One writer connection (SQLite allows one writer at a time anyway) and a small pool of
//! readers, all in WAL mode. Async callers go through [`Store::read`] / [`Store::write`], which
//! run the closure on the blocking thread pool so the async runtime never waits on the disk.

pub mod admins;
pub mod api_access;
pub mod audit;
pub mod cache;
pub mod cache_limits;
pub mod catalog;
mod checkpoint;
pub mod command_fanout;
pub mod commands;
pub mod compliance;
pub mod content_caching;
pub mod dashboard;
#[cfg(test)]
mod dashboard_cells_tests;
pub mod ddm;
pub mod device_list;
pub mod devices;
pub mod enrollment;
pub mod groups;
pub mod login_failures;
pub mod membership;
pub mod migrations;
pub mod policies;
pub mod sessions;
pub mod settings;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the file is not a readable SQLite database ({0}); it was left untouched")]
    Corrupt(String),
    #[error("the database is not an Orchard database; it was left untouched")]
    NotOrchard,
    #[error(
        "the database is at schema version {database}, newer than this binary knows ({binary}); \
         run a newer Orchard or restore a backup"
    )]
    TooNew { database: i64, binary: i64 },
    #[error("migration {version} ({name}) failed: {message}")]
    Migration {
        version: i64,
        name: &'static str,
        message: String,
    },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("background task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Errors met while first reading a file are about the file, not about a query.
    fn from_open(e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Timestamps are stored as fixed-width UTC text (`2026-01-02T03:04:05.000000Z`), so that text
/// order is time order and range queries can use indexes.
pub fn sql_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Values as one JSON array parameter, for statements over a whole batch
/// (`... IN (SELECT value FROM json_each(?1))`): one statement per batch, not one per row.
/// Serializing strings (or pairs of them) cannot fail; were it to, the empty text makes
/// `json_each` fail the statement rather than silently match nothing.
pub fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

/// Reads column `idx` of `row` as a timestamp written by [`sql_time`] (any RFC 3339 text).
pub fn time_column(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(idx)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.to_utc())
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

const READERS: usize = 4;

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Total nanoseconds callers waited for a connection.
    wait_nanos: AtomicU64,
    _checkpointer: checkpoint::Checkpointer,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Every connection reads the database file through a memory map of up to this size (bytes):
/// page reads are then memory accesses, not a system call and a copy each. A fleet of 100,000
/// devices makes a file of about 250 MB; beyond the map, pages are read as usual.
const MMAP_BYTES: i64 = 512 << 20;

/// The writer's page cache (KiB; SQLite's default is 2,000). A fleet-wide write (plans, commands
/// for thousands of devices) touches index pages all over the file: with the default cache it
/// spills dirty pages to the WAL before its commit and re-reads pages it just left.
const WRITER_CACHE_KIB: i64 = 64 << 10;

fn configure(conn: &Connection, cache_kib: Option<i64>) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA mmap_size = {MMAP_BYTES};"
    ))
    .map_err(StoreError::from_open)?;
    if let Some(kib) = cache_kib {
        conn.execute_batch(&format!("PRAGMA cache_size = -{kib};"))
            .map_err(StoreError::from_open)?;
    }
    Ok(())
}

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(StoreError::from_open)?;
    configure(&conn, None)?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    /// `now` is recorded in the migration table.
    pub fn open(path: &Path, now: &str) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut writer = Connection::open_with_flags(path, flags).map_err(StoreError::from_open)?;
        configure(&writer, Some(WRITER_CACHE_KIB))?;
        // Reading the header first tells a corrupt or foreign file apart before anything is written.
        migrations::current_version(&writer)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(StoreError::from_open)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "cannot enable WAL (journal mode {mode})"
            )));
        }
        migrations::migrate(&mut writer, now)?;
        writer
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint = {};
                 PRAGMA journal_size_limit = {};",
                checkpoint::WRITER_BACKSTOP_PAGES,
                checkpoint::WAL_KEEP_BYTES
            ))
            .map_err(StoreError::from_open)?;
        let checkpointer = checkpoint::spawn(path)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_connection(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?);
        }
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(readers),
                wait_nanos: AtomicU64::new(0),
                _checkpointer: checkpointer,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Seconds callers have spent waiting for a database connection since start.
    pub fn wait_seconds(&self) -> f64 {
        self.inner.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    fn lock_writer(&self) -> MutexGuard<'_, Connection> {
        let start = Instant::now();
        let guard = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.record_wait(start);
        guard
    }

    fn record_wait(&self, start: Instant) {
        let waited = start.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.inner.wait_nanos.fetch_add(waited, Ordering::Relaxed);
    }

    /// Runs `f` with the writer connection, on the calling thread. For CLI commands and for
    /// code already on a blocking thread.
    pub fn write_blocking<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut conn = self.lock_writer();
        f(&mut conn)
    }

    /// Runs `f` with a read-only connection, on the calling thread.
    pub fn read_blocking<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let start = Instant::now();
        let taken = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match taken {
            Some(c) => c,
            // All readers busy: open another one rather than wait; it joins the pool after use.
            None => open_connection(
                &self.inner.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?,
        };
        self.record_wait(start);
        let result = f(&conn);
        let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READERS * 4 {
            pool.push(conn);
        }
        result
    }

    /// Runs `f` with the writer connection on the blocking thread pool.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` with a read-only connection on the blocking thread pool.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_database_is_migrated_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let store = Store::open(&path, "2026-01-01T00:00:00Z").unwrap();
        let v = store.read_blocking(migrations::current_version).unwrap();
        assert_eq!(v, Some(migrations::latest_version()));
        drop(store);
        Store::open(&path, "2026-01-02T00:00:00Z").unwrap();
    }

    #[test]
    fn garbage_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let garbage = vec![0x42u8; 8192];
        std::fs::write(&path, &garbage).unwrap();
        let err = Store::open(&path, "now").err().unwrap();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn foreign_sqlite_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(Store::open(&path, "now"), Err(StoreError::NotOrchard)));
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        drop(Store::open(&path, "now").unwrap());
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO schema_version VALUES (9999, 'future', 'now')", [])
            .unwrap();
        let err = Store::open(&path, "now").err().unwrap();
        assert!(matches!(err, StoreError::TooNew { database: 9999, .. }), "{err}");
    }
}
