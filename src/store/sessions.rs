//! Admin browser sessions, keyed by a hash of the session id (the id itself is only in the cookie).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, sql_time, time_column};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub admin_id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub remote_addr: String,
    pub user_agent: String,
}

pub fn insert(conn: &Connection, session: &SessionRecord) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO admin_sessions (id_hash, admin_id, created_at, last_seen_at, remote_addr, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            session.id_hash,
            session.admin_id,
            sql_time(session.created_at),
            sql_time(session.last_seen_at),
            session.remote_addr,
            session.user_agent,
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id_hash, admin_id, created_at, last_seen_at, remote_addr, user_agent
             FROM admin_sessions WHERE id_hash = ?1",
            [id_hash],
            |row| {
                Ok(SessionRecord {
                    id_hash: row.get(0)?,
                    admin_id: row.get(1)?,
                    created_at: time_column(row, 2)?,
                    last_seen_at: time_column(row, 3)?,
                    remote_addr: row.get(4)?,
                    user_agent: row.get(5)?,
                })
            },
        )
        .optional()?)
}

pub fn touch(conn: &Connection, id_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE admin_sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
        params![id_hash, sql_time(at)],
    )?;
    Ok(())
}

/// Removes one session; `true` when it existed.
pub fn delete(conn: &Connection, id_hash: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM admin_sessions WHERE id_hash = ?1", [id_hash])? > 0)
}

/// Ends every session of an account (after a password reset, a disable or a role change).
pub fn delete_for_admin(conn: &Connection, admin_id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM admin_sessions WHERE admin_id = ?1", [admin_id])?)
}

/// Removes sessions not seen since `cutoff`.
pub fn delete_idle_since(conn: &Connection, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM admin_sessions WHERE last_seen_at < ?1",
        [sql_time(cutoff)],
    )?)
}
