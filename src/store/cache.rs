//! SQL of the payload cache: payload metadata and download jobs.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

/// One stored payload (a row of `cache_payloads`).
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadRow {
    pub digest: String,
    pub kind: String,
    pub platform: String,
    pub version: String,
    pub build: String,
    pub filename: String,
    pub size: u64,
    pub chunklist_sha256: Option<String>,
    pub source_url: Option<String>,
    pub fetched_at: String,
    pub last_served_at: Option<String>,
    pub pinned: bool,
    pub state: String,
    pub problem: Option<String>,
}

const PAYLOAD_COLUMNS: &str = "digest, kind, platform, version, build, filename, size, chunklist_sha256, \
     source_url, fetched_at, last_served_at, pinned, state, problem";

fn payload(r: &Row<'_>) -> rusqlite::Result<PayloadRow> {
    Ok(PayloadRow {
        digest: r.get(0)?,
        kind: r.get(1)?,
        platform: r.get(2)?,
        version: r.get(3)?,
        build: r.get(4)?,
        filename: r.get(5)?,
        size: r.get::<_, i64>(6)?.max(0) as u64,
        chunklist_sha256: r.get(7)?,
        source_url: r.get(8)?,
        fetched_at: r.get(9)?,
        last_served_at: r.get(10)?,
        pinned: r.get::<_, i64>(11)? != 0,
        state: r.get(12)?,
        problem: r.get(13)?,
    })
}

/// Inserts or replaces a payload row (a re-import of the same content refreshes its metadata
/// but keeps its pin and last-served time).
pub fn upsert_payload(conn: &Connection, p: &PayloadRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO cache_payloads (digest, kind, platform, version, build, filename, size,
             chunklist_sha256, source_url, fetched_at, last_served_at, pinned, state, problem)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (digest) DO UPDATE SET
             kind = excluded.kind, platform = excluded.platform, version = excluded.version,
             build = excluded.build, filename = excluded.filename, size = excluded.size,
             chunklist_sha256 = coalesce(excluded.chunklist_sha256, chunklist_sha256),
             source_url = excluded.source_url, fetched_at = excluded.fetched_at,
             pinned = max(pinned, excluded.pinned), state = excluded.state,
             problem = excluded.problem",
        params![
            p.digest,
            p.kind,
            p.platform,
            p.version,
            p.build,
            p.filename,
            p.size as i64,
            p.chunklist_sha256,
            p.source_url,
            p.fetched_at,
            p.last_served_at,
            p.pinned as i64,
            p.state,
            p.problem,
        ],
    )?;
    Ok(())
}

pub fn payload_by_digest(conn: &Connection, digest: &str) -> Result<Option<PayloadRow>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {PAYLOAD_COLUMNS} FROM cache_payloads WHERE digest = ?1"),
            [digest],
            payload,
        )
        .optional()?)
}

/// Every payload, newest first.
pub fn payloads(conn: &Connection) -> Result<Vec<PayloadRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PAYLOAD_COLUMNS} FROM cache_payloads ORDER BY fetched_at DESC, digest"
    ))?;
    let rows = stmt.query_map([], payload)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ready payloads of a (platform, version, build) target.
pub fn ready_for_target(
    conn: &Connection,
    platform: &str,
    version: &str,
    build: &str,
) -> Result<Vec<PayloadRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PAYLOAD_COLUMNS} FROM cache_payloads
         WHERE state = 'ready' AND platform = ?1 AND version = ?2 AND build = ?3 ORDER BY digest"
    ))?;
    let rows = stmt.query_map(params![platform, version, build], payload)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Bytes taken by ready payloads (what the quota counts).
pub fn ready_bytes(conn: &Connection) -> Result<u64, StoreError> {
    let total: i64 = conn.query_row(
        "SELECT coalesce(sum(size), 0) FROM cache_payloads WHERE state = 'ready'",
        [],
        |r| r.get(0),
    )?;
    Ok(total.max(0) as u64)
}

/// Ready payloads that are neither pinned nor a target of an active policy, least recently used
/// (served, else fetched) first: eviction order.
pub fn eviction_candidates(conn: &Connection) -> Result<Vec<PayloadRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PAYLOAD_COLUMNS} FROM cache_payloads p WHERE state = 'ready' AND pinned = 0
           AND NOT EXISTS (SELECT 1 FROM cache_policy_targets t
                           WHERE t.platform = p.platform AND t.version = p.version AND t.build = p.build)
         ORDER BY coalesce(last_served_at, fetched_at), digest"
    ))?;
    let rows = stmt.query_map([], payload)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_pinned(conn: &Connection, digest: &str, pinned: bool) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE cache_payloads SET pinned = ?2 WHERE digest = ?1",
        params![digest, pinned as i64],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn mark_served(conn: &Connection, digest: &str, at: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE cache_payloads SET last_served_at = ?2 WHERE digest = ?1",
        params![digest, at],
    )?;
    Ok(())
}

pub fn delete_payload(conn: &Connection, digest: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM cache_payloads WHERE digest = ?1", [digest])? > 0)
}

/// One download job (a row of `cache_downloads`).
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadRow {
    pub id: i64,
    pub kind: String,
    pub platform: String,
    pub version: String,
    pub build: String,
    pub filename: String,
    pub url: String,
    pub integrity_url: Option<String>,
    pub expected_size: Option<u64>,
    pub expected_sha256: Option<String>,
    pub state: String,
    pub bytes_done: u64,
    pub attempts: u32,
    pub error: Option<String>,
    pub digest: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const DOWNLOAD_COLUMNS: &str = "id, kind, platform, version, build, filename, url, integrity_url, \
     expected_size, expected_sha256, state, bytes_done, attempts, error, digest, created_at, updated_at";

fn download(r: &Row<'_>) -> rusqlite::Result<DownloadRow> {
    Ok(DownloadRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        platform: r.get(2)?,
        version: r.get(3)?,
        build: r.get(4)?,
        filename: r.get(5)?,
        url: r.get(6)?,
        integrity_url: r.get(7)?,
        expected_size: r.get::<_, Option<i64>>(8)?.map(|s| s.max(0) as u64),
        expected_sha256: r.get(9)?,
        state: r.get(10)?,
        bytes_done: r.get::<_, i64>(11)?.max(0) as u64,
        attempts: r.get::<_, i64>(12)?.clamp(0, i64::from(u32::MAX)) as u32,
        error: r.get(13)?,
        digest: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

/// Queues a download unless one for the same URL is already pending; returns its id.
pub fn enqueue_download(conn: &mut Connection, d: &DownloadRow) -> Result<i64, StoreError> {
    let tx = conn.transaction()?;
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM cache_downloads
             WHERE url = ?1 AND state IN ('queued', 'running', 'deferred')",
            [&d.url],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO cache_downloads (kind, platform, version, build, filename, url, integrity_url,
             expected_size, expected_sha256, state, bytes_done, attempts, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', 0, 0, ?10, ?10)",
        params![
            d.kind,
            d.platform,
            d.version,
            d.build,
            d.filename,
            d.url,
            d.integrity_url,
            d.expected_size.map(|s| s as i64),
            d.expected_sha256,
            d.created_at,
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(id)
}

pub fn download_by_id(conn: &Connection, id: i64) -> Result<Option<DownloadRow>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {DOWNLOAD_COLUMNS} FROM cache_downloads WHERE id = ?1"),
            [id],
            download,
        )
        .optional()?)
}

/// Recent downloads, pending ones first.
pub fn downloads(conn: &Connection, limit: u32) -> Result<Vec<DownloadRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DOWNLOAD_COLUMNS} FROM cache_downloads
         ORDER BY state IN ('done', 'failed'), id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], download)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Jobs waiting to run (queued or deferred), oldest first.
pub fn pending_downloads(conn: &Connection) -> Result<Vec<DownloadRow>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DOWNLOAD_COLUMNS} FROM cache_downloads
         WHERE state IN ('queued', 'deferred') ORDER BY id"
    ))?;
    let rows = stmt.query_map([], download)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// After a restart no job is running: those that were go back to the queue (their partial
/// files stay, so they resume).
pub fn requeue_running(conn: &Connection, at: &str) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE cache_downloads SET state = 'queued', updated_at = ?1 WHERE state = 'running'",
        [at],
    )?)
}

/// Moves a job to `state` with its progress and error.
pub fn update_download(
    conn: &Connection,
    id: i64,
    state: &str,
    bytes_done: u64,
    error: Option<&str>,
    at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE cache_downloads SET state = ?2, bytes_done = ?3, error = ?4, updated_at = ?5
         WHERE id = ?1",
        params![id, state, bytes_done as i64, error, at],
    )?;
    Ok(())
}

/// Records a verification failure: the job starts again from zero.
pub fn record_failed_attempt(
    conn: &Connection,
    id: i64,
    state: &str,
    error: &str,
    at: &str,
) -> Result<u32, StoreError> {
    conn.execute(
        "UPDATE cache_downloads SET state = ?2, bytes_done = 0, attempts = attempts + 1,
             error = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, state, error, at],
    )?;
    let attempts: i64 = conn.query_row("SELECT attempts FROM cache_downloads WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    Ok(attempts.clamp(0, i64::from(u32::MAX)) as u32)
}

/// Publishes a finished download: the payload row and the job's end in one transaction.
pub fn finish_download(
    conn: &mut Connection,
    id: i64,
    payload_row: &PayloadRow,
    at: &str,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    upsert_payload(&tx, payload_row)?;
    tx.execute(
        "UPDATE cache_downloads SET state = 'done', bytes_done = ?2, digest = ?3, error = NULL,
             updated_at = ?4 WHERE id = ?1",
        params![id, payload_row.size as i64, payload_row.digest, at],
    )?;
    tx.commit()?;
    Ok(())
}

/// A release active policies move devices to (`cache_policy_targets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTargetRow {
    pub platform: String,
    pub version: String,
    pub build: String,
    pub devices: i64,
    pub earliest_deadline: Option<String>,
}

/// Replaces the list of policy targets with `rows` (call inside a transaction).
pub fn replace_policy_targets(conn: &Connection, rows: &[PolicyTargetRow]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM cache_policy_targets", [])?;
    let mut insert = conn.prepare(
        "INSERT INTO cache_policy_targets (platform, version, build, devices, earliest_deadline)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for r in rows {
        insert.execute(params![
            r.platform,
            r.version,
            r.build,
            r.devices,
            r.earliest_deadline
        ])?;
    }
    Ok(())
}

/// The policy targets, soonest deadline first.
pub fn policy_targets(conn: &Connection) -> Result<Vec<PolicyTargetRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT platform, version, build, devices, earliest_deadline FROM cache_policy_targets
         ORDER BY earliest_deadline IS NULL, earliest_deadline, platform, version, build",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PolicyTargetRow {
            platform: r.get(0)?,
            version: r.get(1)?,
            build: r.get(2)?,
            devices: r.get(3)?,
            earliest_deadline: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
