//! Administrator accounts. Roles are stored as their names; the `admin` service gives them meaning.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{StoreError, sql_time, time_column};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

pub struct NewAdmin<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub at: DateTime<Utc>,
}

const COLUMNS: &str = "id, username, password_hash, role, disabled, created_at, updated_at, \
                       password_changed_at, last_login_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<AdminRecord> {
    let last_login: Option<String> = row.get(8)?;
    Ok(AdminRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        role: row.get(3)?,
        disabled: row.get::<_, i64>(4)? != 0,
        created_at: time_column(row, 5)?,
        updated_at: time_column(row, 6)?,
        password_changed_at: time_column(row, 7)?,
        last_login_at: match last_login {
            Some(_) => Some(time_column(row, 8)?),
            None => None,
        },
    })
}

/// Inserts an account; a taken username (in any letter case) is a [`StoreError::Conflict`].
pub fn insert(conn: &Connection, new: &NewAdmin<'_>) -> Result<i64, StoreError> {
    let at = sql_time(new.at);
    let result = conn.execute(
        "INSERT INTO admins (username, password_hash, role, created_at, updated_at, password_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
        params![new.username, new.password_hash, new.role, at],
    );
    match result {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => Err(
            StoreError::Conflict(format!("an account named {:?} already exists", new.username)),
        ),
        Err(e) => Err(e.into()),
    }
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<AdminRecord>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM admins WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// Looks an account up by name, ignoring letter case.
pub fn by_username(conn: &Connection, username: &str) -> Result<Option<AdminRecord>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM admins WHERE username = ?1"),
            [username],
            from_row,
        )
        .optional()?)
}

/// Every account, by username.
pub fn list(conn: &Connection) -> Result<Vec<AdminRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM admins ORDER BY username"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM admins", [], |r| r.get(0))?)
}

/// Accounts of `role` that are not disabled.
pub fn count_active_with_role(conn: &Connection, role: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM admins WHERE role = ?1 AND disabled = 0",
        [role],
        |r| r.get(0),
    )?)
}

fn update_one(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<(), StoreError> {
    match conn.execute(sql, params)? {
        1 => Ok(()),
        _ => Err(StoreError::NotFound),
    }
}

pub fn set_role(conn: &Connection, id: i64, role: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    update_one(
        conn,
        "UPDATE admins SET role = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, role, sql_time(at)],
    )
}

pub fn set_disabled(conn: &Connection, id: i64, disabled: bool, at: DateTime<Utc>) -> Result<(), StoreError> {
    update_one(
        conn,
        "UPDATE admins SET disabled = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, i64::from(disabled), sql_time(at)],
    )
}

pub fn set_password_hash(
    conn: &Connection,
    id: i64,
    hash: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    update_one(
        conn,
        "UPDATE admins SET password_hash = ?2, password_changed_at = ?3, updated_at = ?3 WHERE id = ?1",
        params![id, hash, sql_time(at)],
    )
}

pub fn record_login(conn: &Connection, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
    update_one(
        conn,
        "UPDATE admins SET last_login_at = ?2 WHERE id = ?1",
        params![id, sql_time(at)],
    )
}
