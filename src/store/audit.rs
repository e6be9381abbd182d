//! The audit log. Call [`insert`] on the same transaction as the change it describes, so that a
//! change and its record are committed (or rolled back) together.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{StoreError, sql_time, time_column};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry<'a> {
    pub at: DateTime<Utc>,
    /// Who: `admin:<username>`, `cli`, `setup`, `system`.
    pub actor: &'a str,
    /// What, as `noun.verb`: `admin.create`, `policy.update`, ...
    pub action: &'a str,
    /// On what: `admin:bob`, `policy:12`, ...
    pub target: &'a str,
    /// Short descriptions of the state before and after (small JSON objects by convention).
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub remote_addr: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub remote_addr: Option<String>,
}

pub fn insert(conn: &Connection, entry: &NewAuditEntry<'_>) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, target, before, after, remote_addr)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            sql_time(entry.at),
            entry.actor,
            entry.action,
            entry.target,
            entry.before,
            entry.after,
            entry.remote_addr,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Up to `limit` entries, newest first, older than entry `before_id` when given.
pub fn page(conn: &Connection, before_id: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, action, target, before, after, remote_addr FROM audit_log
         WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![before_id.unwrap_or(i64::MAX), limit], |row| {
        Ok(AuditRecord {
            id: row.get(0)?,
            at: time_column(row, 1)?,
            actor: row.get(2)?,
            action: row.get(3)?,
            target: row.get(4)?,
            before: row.get(5)?,
            after: row.get(6)?,
            remote_addr: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))?)
}
