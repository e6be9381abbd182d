//! SQL of the update catalog: current documents and refresh history.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRow {
    pub slot: String,
    pub body: Vec<u8>,
    pub sha256: String,
    pub upstream_etag: Option<String>,
    pub upstream_last_modified: Option<String>,
    pub source: String,
    pub received_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRow {
    pub at: String,
    pub source: String,
    pub slot: Option<String>,
    pub result: String,
    pub error: Option<String>,
    pub bytes: Option<i64>,
}

pub fn documents(conn: &Connection) -> Result<Vec<DocumentRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT slot, body, sha256, upstream_etag, upstream_last_modified, source, received_at
         FROM catalog_documents ORDER BY slot",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DocumentRow {
            slot: r.get(0)?,
            body: r.get(1)?,
            sha256: r.get(2)?,
            upstream_etag: r.get(3)?,
            upstream_last_modified: r.get(4)?,
            source: r.get(5)?,
            received_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// (slot, sha256) of every current document: cheap to compare with what is in memory.
pub fn fingerprint(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT slot, sha256 FROM catalog_documents ORDER BY slot")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces the given documents and records the history rows, all in one transaction.
pub fn replace(
    conn: &mut Connection,
    documents: &[DocumentRow],
    history: &[RefreshRow],
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    for d in documents {
        tx.execute(
            "INSERT INTO catalog_documents
                 (slot, body, sha256, upstream_etag, upstream_last_modified, source, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (slot) DO UPDATE SET
                 body = excluded.body, sha256 = excluded.sha256,
                 upstream_etag = excluded.upstream_etag,
                 upstream_last_modified = excluded.upstream_last_modified,
                 source = excluded.source, received_at = excluded.received_at",
            params![
                d.slot,
                d.body,
                d.sha256,
                d.upstream_etag,
                d.upstream_last_modified,
                d.source,
                d.received_at
            ],
        )?;
    }
    for h in history {
        insert_refresh(&tx, h)?;
    }
    tx.commit()?;
    Ok(())
}

pub fn record(conn: &Connection, row: &RefreshRow) -> Result<(), StoreError> {
    insert_refresh(conn, row)
}

fn insert_refresh(conn: &Connection, h: &RefreshRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO catalog_refreshes (at, source, slot, result, error, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![h.at, h.source, h.slot, h.result, h.error, h.bytes],
    )?;
    Ok(())
}

fn refresh_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RefreshRow> {
    Ok(RefreshRow {
        at: r.get(0)?,
        source: r.get(1)?,
        slot: r.get(2)?,
        result: r.get(3)?,
        error: r.get(4)?,
        bytes: r.get(5)?,
    })
}

/// The most recent history rows, newest first.
pub fn recent(conn: &Connection, limit: u32) -> Result<Vec<RefreshRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT at, source, slot, result, error, bytes FROM catalog_refreshes ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], refresh_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The latest attempt of each source.
pub fn latest_per_source(conn: &Connection) -> Result<Vec<RefreshRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT at, source, slot, result, error, bytes FROM catalog_refreshes
         WHERE id IN (SELECT max(id) FROM catalog_refreshes GROUP BY source)
         ORDER BY source",
    )?;
    let rows = stmt.query_map([], refresh_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When each source last succeeded (`updated`, `unchanged` or `not-modified`).
pub fn last_success(conn: &Connection, source: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT max(at) FROM catalog_refreshes
             WHERE source = ?1 AND result IN ('updated', 'unchanged', 'not-modified')",
            [source],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}
