//! Enrollment tokens, one-time SCEP challenges and the register of issued certificates.
//! Times are RFC 3339 UTC strings written by the services (same format, so they compare).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub label: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<String>,
}

const TOKEN_COLUMNS: &str = "id, label, created_at, expires_at, max_uses, uses, revoked_at";

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        label: r.get(1)?,
        created_at: r.get(2)?,
        expires_at: r.get(3)?,
        max_uses: r.get(4)?,
        uses: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub label: &'a str,
    pub created_at: &'a str,
    pub expires_at: Option<&'a str>,
    pub max_uses: Option<i64>,
}

pub fn insert_token(c: &Connection, t: &NewToken<'_>) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO enrollment_tokens (token_hash, label, created_at, expires_at, max_uses)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![t.token_hash, t.label, t.created_at, t.expires_at, t.max_uses],
    )?;
    Ok(c.last_insert_rowid())
}

pub fn list_tokens(c: &Connection) -> Result<Vec<TokenRow>, StoreError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens ORDER BY id"
    ))?;
    let rows = stmt.query_map([], token_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn token_by_hash(c: &Connection, hash: &str) -> Result<Option<TokenRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE token_hash = ?1"),
        [hash],
        token_row,
    )
    .optional()?)
}

pub fn token_by_id(c: &Connection, id: i64) -> Result<Option<TokenRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE id = ?1"),
        [id],
        token_row,
    )
    .optional()?)
}

/// Marks a token revoked (keeping the first revocation time). `NotFound` for an unknown id.
pub fn revoke_token(c: &Connection, id: i64, at: &str) -> Result<(), StoreError> {
    let changed = c.execute(
        "UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
        params![id, at],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn insert_challenge(
    c: &Connection,
    hash: &str,
    token_id: i64,
    created_at: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO scep_challenges (challenge_hash, token_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![hash, token_id, created_at, expires_at],
    )?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    pub token_id: i64,
    pub expires_at: String,
    pub used_at: Option<String>,
}

pub fn challenge(c: &Connection, hash: &str) -> Result<Option<ChallengeRow>, StoreError> {
    Ok(c.query_row(
        "SELECT token_id, expires_at, used_at FROM scep_challenges WHERE challenge_hash = ?1",
        [hash],
        |r| {
            Ok(ChallengeRow {
                token_id: r.get(0)?,
                expires_at: r.get(1)?,
                used_at: r.get(2)?,
            })
        },
    )
    .optional()?)
}

/// Deletes challenges that expired before `now`; returns how many.
pub fn prune_challenges(c: &Connection, now: &str) -> Result<usize, StoreError> {
    Ok(c.execute("DELETE FROM scep_challenges WHERE expires_at < ?1", [now])?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRow {
    pub serial: String,
    pub fingerprint: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    pub issued_at: String,
    pub request_type: String,
    pub token_id: Option<i64>,
    pub renewed_from: Option<String>,
}

/// How an issuance is paid for: a one-time challenge of a token, or nothing more to consume.
pub enum Consume<'a> {
    Nothing,
    Challenge {
        hash: &'a str,
        token_id: i64,
        now: &'a str,
    },
}

/// Records an issued certificate and, in the same transaction, consumes its one-time challenge
/// and one use of its token. `Conflict` (and nothing written) when the challenge was used or
/// the token ran out in the meantime.
pub fn record_issued(c: &mut Connection, row: &IssuedRow, consume: Consume<'_>) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    if let Consume::Challenge { hash, token_id, now } = consume {
        let used = tx.execute(
            "UPDATE scep_challenges SET used_at = ?2
             WHERE challenge_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![hash, now],
        )?;
        let counted = tx.execute(
            "UPDATE enrollment_tokens SET uses = uses + 1
             WHERE id = ?1 AND revoked_at IS NULL
               AND (max_uses IS NULL OR uses < max_uses)
               AND (expires_at IS NULL OR expires_at > ?2)",
            params![token_id, now],
        )?;
        if used != 1 || counted != 1 {
            return Err(StoreError::Conflict(
                "the challenge or its token is no longer usable".into(),
            ));
        }
    }
    tx.execute(
        "INSERT INTO issued_certificates
           (serial, fingerprint, subject, not_before, not_after, issued_at, request_type, token_id, renewed_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            row.serial,
            row.fingerprint,
            row.subject,
            row.not_before,
            row.not_after,
            row.issued_at,
            row.request_type,
            row.token_id,
            row.renewed_from
        ],
    )?;
    tx.commit()?;
    Ok(())
}

fn issued_row(r: &Row<'_>) -> rusqlite::Result<IssuedRow> {
    Ok(IssuedRow {
        serial: r.get(0)?,
        fingerprint: r.get(1)?,
        subject: r.get(2)?,
        not_before: r.get(3)?,
        not_after: r.get(4)?,
        issued_at: r.get(5)?,
        request_type: r.get(6)?,
        token_id: r.get(7)?,
        renewed_from: r.get(8)?,
    })
}

const ISSUED_COLUMNS: &str =
    "serial, fingerprint, subject, not_before, not_after, issued_at, request_type, token_id, renewed_from";

pub fn issued_by_fingerprint(c: &Connection, fingerprint: &str) -> Result<Option<IssuedRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE fingerprint = ?1"),
        [fingerprint],
        issued_row,
    )
    .optional()?)
}

/// The most recent certificates first.
pub fn list_issued(c: &Connection, limit: i64) -> Result<Vec<IssuedRow>, StoreError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {ISSUED_COLUMNS} FROM issued_certificates ORDER BY issued_at DESC, serial LIMIT ?1"
    ))?;
    let rows = stmt
        .query_map([limit], issued_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
