//! WAL checkpoints off the writer's path. SQLite's automatic checkpoint runs inside the commit
//! that grows the WAL past its limit: a fleet-wide write (plans, declaration sets and commands
//! for thousands of devices) then copies the pages back into the database file while it holds
//! the one writer. Here a thread of the store's own copies them meanwhile (a `PASSIVE`
//! checkpoint waits for nobody: it copies what no reader still needs), on the other core; the
//! writer's automatic checkpoint stays as a backstop at a higher limit.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How often the WAL is copied back.
const INTERVAL: Duration = Duration::from_millis(250);

/// WAL pages after which a commit checkpoints by itself (if this thread fell behind).
pub(super) const WRITER_BACKSTOP_PAGES: u32 = 10_000;

/// The size the WAL file is cut back to after it was reset (it grows during large writes).
pub(super) const WAL_KEEP_BYTES: i64 = 64 << 20;

/// Stops the thread when dropped (with the store).
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

pub(super) fn spawn(path: &Path) -> Result<Checkpointer, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from_open)?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                // Busy (a restore, a backup holding the locks) is tried again next time.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "WAL checkpoint skipped");
                }
            }
        })
        .map_err(|e| StoreError::Task(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(Checkpointer { _stop: stop })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use crate::store::Store;

    #[test]
    fn the_wal_is_copied_back_into_the_database_without_a_commit_doing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let store = Store::open(&path, "now").unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        // About 2,000 pages: below the writer's own checkpoint limit, so only the checkpoint
        // thread moves them into the database file.
        store
            .write_blocking(|c| {
                c.execute_batch(
                    "CREATE TABLE filler (b BLOB);
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                     INSERT INTO filler SELECT randomblob(3000) FROM n;",
                )?;
                Ok(())
            })
            .unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        let grown = loop {
            let len = std::fs::metadata(&path).unwrap().len();
            if len > before + 5_000_000 || Instant::now() > deadline {
                break len;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(
            grown > before + 5_000_000,
            "the database file stayed at {grown} bytes (was {before})"
        );
    }
}
