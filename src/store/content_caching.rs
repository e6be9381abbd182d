//! Mac content caching (migration 0013): the profile settings, the Macs the profile was sent
//! to, and each Mac's latest `ContentCachingInformation` answer.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::protocol::content_caching::ContentCachingStatus;

/// The saved settings (JSON) with who saved them and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRow {
    pub settings: String,
    pub updated_at: String,
    pub updated_by: String,
}

pub fn settings(conn: &Connection) -> Result<Option<SettingsRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT settings, updated_at, updated_by FROM content_caching_settings WHERE id = 1",
            [],
            |r| {
                Ok(SettingsRow {
                    settings: r.get(0)?,
                    updated_at: r.get(1)?,
                    updated_by: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn save_settings(conn: &Connection, row: &SettingsRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO content_caching_settings (id, settings, updated_at, updated_by)
         VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET settings = excluded.settings,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        params![row.settings, row.updated_at, row.updated_by],
    )?;
    Ok(())
}

/// Records that the profile (`profile_sha256`) was queued for a Mac.
pub fn record_install(
    conn: &Connection,
    udid: &str,
    profile_sha256: &str,
    command_uuid: &str,
    at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO content_caching_macs (udid, profile_sha256, command_uuid, queued_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (udid) DO UPDATE SET profile_sha256 = excluded.profile_sha256,
             command_uuid = excluded.command_uuid, queued_at = excluded.queued_at",
        params![udid, profile_sha256, command_uuid, at],
    )?;
    Ok(())
}

/// The latest status a Mac reported.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRow {
    pub reported_at: String,
    pub activated: bool,
    pub active: bool,
    pub cache_status: Option<String>,
    pub cache_used: Option<i64>,
    pub cache_limit: Option<i64>,
    pub cache_free: Option<i64>,
    /// JSON arrays of `protocol::content_caching::CacheNeighbour`.
    pub parents: String,
    pub peers: String,
    /// The whole `ContentCachingStatus` as JSON.
    pub raw: String,
}

/// Stores a Mac's latest `ContentCachingInformation` answer (replacing the previous one).
pub fn record_status(
    conn: &Connection,
    udid: &str,
    status: &ContentCachingStatus,
    at: &str,
) -> Result<(), StoreError> {
    let json = |v: serde_json::Result<String>| v.map_err(|e| StoreError::Conflict(e.to_string()));
    let parents = json(serde_json::to_string(&status.parents))?;
    let peers = json(serde_json::to_string(&status.peers))?;
    let raw = json(serde_json::to_string(status))?;
    conn.execute(
        "INSERT INTO content_caching_status (udid, reported_at, activated, active, cache_status,
             cache_used, cache_limit, cache_free, parents, peers, raw)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (udid) DO UPDATE SET reported_at = excluded.reported_at,
             activated = excluded.activated, active = excluded.active,
             cache_status = excluded.cache_status, cache_used = excluded.cache_used,
             cache_limit = excluded.cache_limit, cache_free = excluded.cache_free,
             parents = excluded.parents, peers = excluded.peers, raw = excluded.raw",
        params![
            udid,
            at,
            status.activated,
            status.active,
            status.cache_status,
            status.cache_used,
            status.cache_limit,
            status.cache_free,
            parents,
            peers,
            raw
        ],
    )?;
    Ok(())
}

/// A Mac the profile was sent to, with its device name and latest status (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct MacRow {
    pub udid: String,
    pub device_name: Option<String>,
    pub enrolled: bool,
    pub profile_sha256: String,
    pub queued_at: String,
    /// The state of the `InstallProfile` command (`pending`, `acknowledged`, `error`, ...).
    pub install_state: Option<String>,
    pub status: Option<StatusRow>,
}

/// Every Mac the profile was sent to, by device name.
pub fn macs(conn: &Connection) -> Result<Vec<MacRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT m.udid, d.device_name, d.enrollment_state = 'enrolled', m.profile_sha256, m.queued_at,
                c.status, s.reported_at, s.activated, s.active, s.cache_status, s.cache_used,
                s.cache_limit, s.cache_free, s.parents, s.peers, s.raw
         FROM content_caching_macs m
         JOIN devices d ON d.udid = m.udid
         LEFT JOIN commands c ON c.uuid = m.command_uuid
         LEFT JOIN content_caching_status s ON s.udid = m.udid
         ORDER BY coalesce(d.device_name, m.udid), m.udid",
    )?;
    let rows = stmt.query_map([], |r| {
        let reported_at: Option<String> = r.get(6)?;
        let status = match reported_at {
            Some(reported_at) => Some(StatusRow {
                reported_at,
                activated: r.get(7)?,
                active: r.get(8)?,
                cache_status: r.get(9)?,
                cache_used: r.get(10)?,
                cache_limit: r.get(11)?,
                cache_free: r.get(12)?,
                parents: r.get(13)?,
                peers: r.get(14)?,
                raw: r.get(15)?,
            }),
            None => None,
        };
        Ok(MacRow {
            udid: r.get(0)?,
            device_name: r.get(1)?,
            enrolled: r.get(2)?,
            profile_sha256: r.get(3)?,
            queued_at: r.get(4)?,
            install_state: r.get(5)?,
            status,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Enrolled Macs the profile was sent to (whose status Orchard asks for).
pub fn enrolled_udids(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT m.udid FROM content_caching_macs m JOIN devices d ON d.udid = m.udid
         WHERE d.enrollment_state = 'enrolled' ORDER BY m.udid",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An enrolled device offered for the profile: UDID, device name, model identifier.
pub type Candidate = (String, Option<String>, Option<String>);

/// Enrolled devices whose model identifier starts with one of `prefixes` (the Macs), by name:
/// the candidates for the profile. At most `limit`.
pub fn enrolled_with_model_prefix(
    conn: &Connection,
    prefixes: &[&str],
    limit: u32,
) -> Result<Vec<Candidate>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT udid, device_name, product_name FROM devices
         WHERE enrollment_state = 'enrolled' AND product_name IS NOT NULL
         ORDER BY coalesce(device_name, udid), udid",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        let is_match = row
            .2
            .as_deref()
            .is_some_and(|model| prefixes.iter().any(|p| model.starts_with(p)));
        if is_match {
            out.push(row);
            if out.len() >= limit as usize {
                break;
            }
        }
    }
    Ok(out)
}

/// Forgets a Mac's profile record and status (after its profile removal was queued). True when
/// the Mac had been sent the profile.
pub fn forget_mac(conn: &Connection, udid: &str) -> Result<bool, StoreError> {
    conn.execute("DELETE FROM content_caching_status WHERE udid = ?1", [udid])?;
    Ok(conn.execute("DELETE FROM content_caching_macs WHERE udid = ?1", [udid])? > 0)
}
