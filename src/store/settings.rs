//! Appliance-wide key/value settings.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// SHA-256 of the CA public key the database was created with.
pub const CA_KEY_ID: &str = "pki.ca_key_id";

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn set(conn: &Connection, key: &str, value: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, value, now],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, key: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM settings WHERE key = ?1", [key])?;
    Ok(())
}

/// Deletes `key` if it still holds `value`; true when it did.
pub fn delete_if(conn: &Connection, key: &str, value: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM settings WHERE key = ?1 AND value = ?2", [key, value])? > 0)
}
