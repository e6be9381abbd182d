//! The DDM status channel as stored: latest item values, their history, errors, and each
//! declaration's state on the device.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::store::StoreError;

/// A status item's latest value (canonical JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusItemRow {
    pub name: String,
    pub value: String,
    pub updated_at: String,
}

/// One change of a status item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChangeRow {
    pub name: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub changed_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusErrorRow {
    pub status_item: String,
    /// JSON array of `{Code, Description, Details}`.
    pub reasons: String,
    pub reported_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationStateRow {
    pub identifier: String,
    pub class: String,
    pub server_token: String,
    pub active: bool,
    pub valid: String,
    /// JSON array of `{code, description, details}`.
    pub reasons: String,
    pub updated_at: String,
}

/// The latest values of a device's items, by name.
pub fn item_values(conn: &Connection, udid: &str) -> Result<HashMap<String, String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT name, value FROM ddm_status_items WHERE udid = ?1")?;
    let rows = stmt.query_map([udid], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets an item's value and records the change (`old` is what was stored, `None` if nothing).
pub fn put_item(
    conn: &Connection,
    udid: &str,
    name: &str,
    old: Option<&str>,
    value: &str,
    now: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ddm_status_items (udid, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (udid, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute(params![udid, name, value, now])?;
    record_change(conn, udid, name, old, Some(value), now)
}

/// Removes an item (gone from a full report) and records the change.
pub fn remove_item(
    conn: &Connection,
    udid: &str,
    name: &str,
    old: &str,
    now: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM ddm_status_items WHERE udid = ?1 AND name = ?2")?
        .execute(params![udid, name])?;
    record_change(conn, udid, name, Some(old), None, now)
}

fn record_change(
    conn: &Connection,
    udid: &str,
    name: &str,
    old: Option<&str>,
    new: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ddm_status_history (udid, name, old_value, new_value, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![udid, name, old, new, now])?;
    Ok(())
}

pub fn clear_errors(conn: &Connection, udid: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM ddm_status_errors WHERE udid = ?1")?
        .execute([udid])?;
    Ok(())
}

pub fn remove_error(conn: &Connection, udid: &str, status_item: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM ddm_status_errors WHERE udid = ?1 AND status_item = ?2")?
        .execute(params![udid, status_item])?;
    Ok(())
}

pub fn put_error(
    conn: &Connection,
    udid: &str,
    status_item: &str,
    reasons: &str,
    now: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ddm_status_errors (udid, status_item, reasons, reported_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (udid, status_item) DO UPDATE SET reasons = excluded.reasons,
             reported_at = excluded.reported_at",
    )?
    .execute(params![udid, status_item, reasons, now])?;
    Ok(())
}

pub fn clear_declaration_states(conn: &Connection, udid: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM ddm_declaration_states WHERE udid = ?1")?
        .execute([udid])?;
    Ok(())
}

pub fn put_declaration_state(
    conn: &Connection,
    udid: &str,
    state: &DeclarationStateRow,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ddm_declaration_states
             (udid, identifier, class, server_token, active, valid, reasons, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (udid, identifier) DO UPDATE SET class = excluded.class,
             server_token = excluded.server_token, active = excluded.active, valid = excluded.valid,
             reasons = excluded.reasons, updated_at = excluded.updated_at",
    )?
    .execute(params![
        udid,
        state.identifier,
        state.class,
        state.server_token,
        state.active,
        state.valid,
        state.reasons,
        state.updated_at
    ])?;
    Ok(())
}

pub fn items(conn: &Connection, udid: &str) -> Result<Vec<StatusItemRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, value, updated_at FROM ddm_status_items WHERE udid = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([udid], |r| {
        Ok(StatusItemRow {
            name: r.get(0)?,
            value: r.get(1)?,
            updated_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The changes of the named items (all items when `names` is empty), oldest first, at most
/// `limit` of the most recent.
pub fn history(
    conn: &Connection,
    udid: &str,
    names: &[&str],
    limit: usize,
) -> Result<Vec<StatusChangeRow>, StoreError> {
    let names_json = serde_json::to_string(names).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(
        "SELECT name, old_value, new_value, changed_at FROM (
             SELECT id, name, old_value, new_value, changed_at FROM ddm_status_history
             WHERE udid = ?1
               AND (json_array_length(?2) = 0 OR name IN (SELECT value FROM json_each(?2)))
             ORDER BY id DESC LIMIT ?3)
         ORDER BY id",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![udid, names_json, limit], |r| {
        Ok(StatusChangeRow {
            name: r.get(0)?,
            old_value: r.get(1)?,
            new_value: r.get(2)?,
            changed_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn errors(conn: &Connection, udid: &str) -> Result<Vec<StatusErrorRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT status_item, reasons, reported_at FROM ddm_status_errors WHERE udid = ?1
         ORDER BY status_item",
    )?;
    let rows = stmt.query_map([udid], |r| {
        Ok(StatusErrorRow {
            status_item: r.get(0)?,
            reasons: r.get(1)?,
            reported_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn declaration_states(conn: &Connection, udid: &str) -> Result<Vec<DeclarationStateRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT identifier, class, server_token, active, valid, reasons, updated_at
         FROM ddm_declaration_states WHERE udid = ?1 ORDER BY identifier",
    )?;
    let rows = stmt.query_map([udid], |r| {
        Ok(DeclarationStateRow {
            identifier: r.get(0)?,
            class: r.get(1)?,
            server_token: r.get(2)?,
            active: r.get(3)?,
            valid: r.get(4)?,
            reasons: r.get(5)?,
            updated_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
