//! Failed login attempts, counted per username and per remote address for rate limiting.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{StoreError, sql_time, time_column};

/// How many failures count against a username or an address, and when the oldest of them was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub oldest: Option<DateTime<Utc>>,
}

fn failures(conn: &Connection, sql: &str, key: &str, since: DateTime<Utc>) -> Result<Failures, StoreError> {
    Ok(conn.query_row(sql, params![key, sql_time(since)], |r| {
        let oldest: Option<String> = r.get(1)?;
        Ok(Failures {
            count: r.get(0)?,
            oldest: match oldest {
                Some(_) => Some(time_column(r, 1)?),
                None => None,
            },
        })
    })?)
}

pub fn insert(
    conn: &Connection,
    username: &str,
    remote_addr: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO login_failures (username, remote_addr, at) VALUES (?1, ?2, ?3)",
        params![username, remote_addr, sql_time(at)],
    )?;
    Ok(())
}

/// Failures for `username` at or after `since`.
pub fn for_username_since(
    conn: &Connection,
    username: &str,
    since: DateTime<Utc>,
) -> Result<Failures, StoreError> {
    failures(
        conn,
        "SELECT count(*), min(at) FROM login_failures WHERE username = ?1 AND at >= ?2",
        username,
        since,
    )
}

/// Failures from `remote_addr` at or after `since`.
pub fn for_addr_since(
    conn: &Connection,
    remote_addr: &str,
    since: DateTime<Utc>,
) -> Result<Failures, StoreError> {
    failures(
        conn,
        "SELECT count(*), min(at) FROM login_failures WHERE remote_addr = ?1 AND at >= ?2",
        remote_addr,
        since,
    )
}

/// Forgets the failures of `username` (after a successful login).
pub fn clear_username(conn: &Connection, username: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM login_failures WHERE username = ?1", [username])?;
    Ok(())
}

/// Drops failures older than `cutoff`; they no longer count.
pub fn prune_before(conn: &Connection, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM login_failures WHERE at < ?1", [sql_time(cutoff)])?)
}
