//! The MDM command queue and its history.
//!
//! Every query here is served by an index of migration 0005 (checked by `EXPLAIN QUERY PLAN`
//! in the tests), so the queue stays fast with millions of rows.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::devices::db_time;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandStatus {
    Pending,
    Sent,
    NotNow,
    Acknowledged,
    Error,
    FormatError,
    Cancelled,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Pending => "pending",
            CommandStatus::Sent => "sent",
            CommandStatus::NotNow => "notnow",
            CommandStatus::Acknowledged => "acknowledged",
            CommandStatus::Error => "error",
            CommandStatus::FormatError => "format_error",
            CommandStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_db(value: &str) -> Result<CommandStatus, StoreError> {
        Ok(match value {
            "pending" => CommandStatus::Pending,
            "sent" => CommandStatus::Sent,
            "notnow" => CommandStatus::NotNow,
            "acknowledged" => CommandStatus::Acknowledged,
            "error" => CommandStatus::Error,
            "format_error" => CommandStatus::FormatError,
            "cancelled" => CommandStatus::Cancelled,
            other => return Err(StoreError::Conflict(format!("unknown command status `{other}`"))),
        })
    }

    /// Whether a result has been recorded (or the command was dropped).
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            CommandStatus::Acknowledged
                | CommandStatus::Error
                | CommandStatus::FormatError
                | CommandStatus::Cancelled
        )
    }
}

/// A command to queue.
#[derive(Debug, Clone)]
pub struct NewCommand<'a> {
    pub uuid: &'a str,
    pub udid: &'a str,
    pub request_type: &'a str,
    pub priority: i64,
    pub payload: &'a [u8],
}

pub fn enqueue(conn: &Connection, command: &NewCommand<'_>, now: DateTime<Utc>) -> Result<i64, StoreError> {
    // Cached: a fan-out queues thousands in one transaction.
    conn.prepare_cached(
        "INSERT INTO commands (uuid, udid, request_type, priority, payload, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
    )?
    .execute(params![
        command.uuid,
        command.udid,
        command.request_type,
        command.priority,
        command.payload,
        db_time(now)
    ])?;
    Ok(conn.last_insert_rowid())
}

/// The next command to deliver to a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Deliverable {
    pub id: i64,
    pub uuid: String,
    pub request_type: String,
    pub priority: i64,
    pub payload: Vec<u8>,
}

pub const NEXT_FOR_DEVICE_SQL: &str = "SELECT id, uuid, request_type, priority, payload FROM commands
     WHERE udid = ?1 AND status IN ('pending', 'sent')
     ORDER BY priority DESC, id
     LIMIT 1";

/// The next deliverable command of a device: highest priority first, then oldest. A command
/// already sent without a result is sent again (the device may never have received it).
pub fn next_for_device(conn: &Connection, udid: &str) -> Result<Option<Deliverable>, StoreError> {
    let mut stmt = conn.prepare_cached(NEXT_FOR_DEVICE_SQL)?;
    Ok(stmt
        .query_row([udid], |r| {
            Ok(Deliverable {
                id: r.get(0)?,
                uuid: r.get(1)?,
                request_type: r.get(2)?,
                priority: r.get(3)?,
                payload: r.get(4)?,
            })
        })
        .optional()?)
}

pub fn mark_sent(conn: &Connection, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE commands SET status = 'sent', sent_at = ?2 WHERE id = ?1")?
        .execute(params![id, db_time(now)])?;
    Ok(())
}

/// A command found by its UUID.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRef {
    pub id: i64,
    pub udid: String,
    pub request_type: String,
    pub status: CommandStatus,
}

pub fn find(conn: &Connection, uuid: &str) -> Result<Option<CommandRef>, StoreError> {
    let row = conn
        .prepare_cached("SELECT id, udid, request_type, status FROM commands WHERE uuid = ?1")?
        .query_row([uuid], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    row.map(|(id, udid, request_type, status)| {
        Ok(CommandRef {
            id,
            udid,
            request_type,
            status: CommandStatus::from_db(&status)?,
        })
    })
    .transpose()
}

/// Records a result: `Acknowledged`, `Error` or `FormatError`, with the raw plist and the
/// parsed error chain (JSON).
pub fn complete(
    conn: &Connection,
    id: i64,
    status: CommandStatus,
    raw_result: &[u8],
    error_chain_json: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE commands SET status = ?2, completed_at = ?3, result = ?4, error_chain = ?5 WHERE id = ?1",
    )?
    .execute(params![
        id,
        status.as_str(),
        db_time(now),
        raw_result,
        error_chain_json
    ])?;
    Ok(())
}

/// The device answered `NotNow`: hold the command until the next push.
pub fn mark_not_now(conn: &Connection, id: i64, raw_result: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE commands SET status = 'notnow', result = ?2 WHERE id = ?1")?
        .execute(params![id, raw_result])?;
    Ok(())
}

/// A push was sent: commands held by `NotNow` become deliverable again. Returns how many.
pub fn release_not_now(conn: &Connection, udid: &str) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("UPDATE commands SET status = 'pending' WHERE udid = ?1 AND status = 'notnow'")?
        .execute([udid])?)
}

/// Drops every command not yet completed (re-enrollment, check-out); history is kept.
pub fn cancel_open(conn: &Connection, udid: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE commands SET status = 'cancelled', completed_at = ?2
         WHERE udid = ?1 AND status IN ('pending', 'sent', 'notnow')",
        params![udid, db_time(now)],
    )?)
}

/// Drops the device's commands of one type not yet completed (a newer one replaces them: an
/// older `DeclarativeManagement`, queued or sent without a result, would carry older tokens).
pub fn cancel_open_of_type(
    conn: &Connection,
    udid: &str,
    request_type: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE commands SET status = 'cancelled', completed_at = ?3
             WHERE udid = ?1 AND status IN ('pending', 'sent', 'notnow') AND request_type = ?2",
        )?
        .execute(params![udid, request_type, db_time(now)])?)
}

pub const PRUNE_SQL: &str = "DELETE FROM commands WHERE id IN (
         SELECT id FROM commands WHERE completed_at IS NOT NULL AND completed_at < ?1 LIMIT ?2)";

/// Deletes up to `batch` commands completed before `before`. Returns how many were deleted;
/// callers loop until it returns less than `batch`, so the writer is never held for long.
pub fn prune_completed_batch(
    conn: &Connection,
    before: DateTime<Utc>,
    batch: usize,
) -> Result<usize, StoreError> {
    let batch = i64::try_from(batch).unwrap_or(i64::MAX);
    Ok(conn
        .prepare_cached(PRUNE_SQL)?
        .execute(params![db_time(before), batch])?)
}

/// One command of a device's history.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRecord {
    pub uuid: String,
    pub request_type: String,
    pub priority: i64,
    pub status: CommandStatus,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub completed_at: Option<String>,
    pub result: Option<Vec<u8>>,
    pub error_chain: Option<String>,
}

pub const HISTORY_SQL: &str = "SELECT uuid, request_type, priority, status, created_at, sent_at,
         completed_at, result, error_chain
     FROM commands WHERE udid = ?1 ORDER BY id DESC LIMIT ?2";

/// A device's commands, newest first.
pub fn history(conn: &Connection, udid: &str, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(HISTORY_SQL)?;
    let rows = stmt.query_map(params![udid, limit], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, Option<Vec<u8>>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (uuid, request_type, priority, status, created_at, sent_at, completed_at, result, error_chain) =
            row?;
        out.push(CommandRecord {
            uuid,
            request_type,
            priority,
            status: CommandStatus::from_db(&status)?,
            created_at,
            sent_at,
            completed_at,
            result,
            error_chain,
        });
    }
    Ok(out)
}
