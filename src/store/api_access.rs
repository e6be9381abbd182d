//! API tokens and API clients (with their secrets). Only hashes of secrets are stored.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub id: i64,
    pub public_id: String,
    pub token_hash: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

const TOKEN_COLUMNS: &str =
    "id, public_id, token_hash, name, role, created_at, created_by, last_used_at, revoked_at";

fn token_row(r: &Row<'_>) -> rusqlite::Result<ApiTokenRow> {
    Ok(ApiTokenRow {
        id: r.get(0)?,
        public_id: r.get(1)?,
        token_hash: r.get(2)?,
        name: r.get(3)?,
        role: r.get(4)?,
        created_at: r.get(5)?,
        created_by: r.get(6)?,
        last_used_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

pub struct NewApiToken<'a> {
    pub public_id: &'a str,
    pub token_hash: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub created_at: &'a str,
    pub created_by: &'a str,
}

/// Inserts a token; `Conflict` when the name is taken.
pub fn insert_token(c: &Connection, t: &NewApiToken<'_>) -> Result<i64, StoreError> {
    let taken: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE name = ?1)",
        [t.name],
        |r| r.get(0),
    )?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "an API token named {:?} already exists",
            t.name
        )));
    }
    c.execute(
        "INSERT INTO api_tokens (public_id, token_hash, name, role, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            t.public_id,
            t.token_hash,
            t.name,
            t.role,
            t.created_at,
            t.created_by
        ],
    )?;
    Ok(c.last_insert_rowid())
}

pub fn list_tokens(c: &Connection) -> Result<Vec<ApiTokenRow>, StoreError> {
    let mut stmt = c.prepare(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"))?;
    Ok(stmt.query_map([], token_row)?.collect::<Result<_, _>>()?)
}

pub fn token_by_public_id(c: &Connection, public_id: &str) -> Result<Option<ApiTokenRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE public_id = ?1"
    ))?
    .query_row([public_id], token_row)
    .optional()?)
}

pub fn token_by_id(c: &Connection, id: i64) -> Result<Option<ApiTokenRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"),
        [id],
        token_row,
    )
    .optional()?)
}

/// Marks the token revoked (once); returns false when there is no such token.
pub fn revoke_token(c: &Connection, id: i64, at: &str) -> Result<bool, StoreError> {
    let exists = c.execute(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
        params![id, at],
    )?;
    Ok(exists == 1)
}

pub fn touch_token(c: &Connection, id: i64, at: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
        params![id, at],
    )?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClientRow {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretRow {
    pub id: i64,
    pub secret_hash: String,
    pub created_at: String,
    /// `None`: the current secret.
    pub expires_at: Option<String>,
}

const CLIENT_COLUMNS: &str = "id, client_id, name, created_at, created_by, last_used_at";

fn client_row(r: &Row<'_>) -> rusqlite::Result<ApiClientRow> {
    Ok(ApiClientRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
        created_by: r.get(4)?,
        last_used_at: r.get(5)?,
    })
}

/// Inserts a client with its first secret; `Conflict` when the name is taken.
pub fn insert_client(
    c: &Connection,
    client_id: &str,
    name: &str,
    secret_hash: &str,
    at: &str,
    by: &str,
) -> Result<i64, StoreError> {
    let taken: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM api_clients WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "an API client named {name:?} already exists"
        )));
    }
    c.execute(
        "INSERT INTO api_clients (client_id, name, created_at, created_by) VALUES (?1, ?2, ?3, ?4)",
        params![client_id, name, at, by],
    )?;
    let id = c.last_insert_rowid();
    insert_secret(c, id, secret_hash, at)?;
    Ok(id)
}

fn insert_secret(c: &Connection, client_ref: i64, secret_hash: &str, at: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO api_client_secrets (client_ref, secret_hash, created_at) VALUES (?1, ?2, ?3)",
        params![client_ref, secret_hash, at],
    )?;
    Ok(())
}

pub fn list_clients(c: &Connection) -> Result<Vec<ApiClientRow>, StoreError> {
    let mut stmt = c.prepare(&format!("SELECT {CLIENT_COLUMNS} FROM api_clients ORDER BY id"))?;
    Ok(stmt.query_map([], client_row)?.collect::<Result<_, _>>()?)
}

pub fn client_by_client_id(c: &Connection, client_id: &str) -> Result<Option<ApiClientRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {CLIENT_COLUMNS} FROM api_clients WHERE client_id = ?1"
    ))?
    .query_row([client_id], client_row)
    .optional()?)
}

/// Every secret of a client that has not been deleted, newest first.
pub fn secrets_of(c: &Connection, client_ref: i64) -> Result<Vec<ClientSecretRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, secret_hash, created_at, expires_at FROM api_client_secrets
         WHERE client_ref = ?1 ORDER BY id DESC",
    )?;
    Ok(stmt
        .query_map([client_ref], |r| {
            Ok(ClientSecretRow {
                id: r.get(0)?,
                secret_hash: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// A rotation: secrets still open (or expiring later than `previous_expires`) expire at
/// `previous_expires`; already-expired ones are deleted; the new secret becomes current.
pub fn rotate_secret(
    c: &Connection,
    client_ref: i64,
    new_hash: &str,
    at: &str,
    previous_expires: &str,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM api_client_secrets WHERE client_ref = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
        params![client_ref, at],
    )?;
    c.execute(
        "UPDATE api_client_secrets SET expires_at = ?2
         WHERE client_ref = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
        params![client_ref, previous_expires],
    )?;
    insert_secret(c, client_ref, new_hash, at)
}

/// Every secret of the client stops working now; `new_hash` becomes its only secret.
pub fn replace_all_secrets(
    c: &Connection,
    client_ref: i64,
    new_hash: &str,
    at: &str,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM api_client_secrets WHERE client_ref = ?1",
        [client_ref],
    )?;
    insert_secret(c, client_ref, new_hash, at)
}

pub fn delete_client(c: &Connection, client_ref: i64) -> Result<bool, StoreError> {
    c.execute(
        "DELETE FROM api_client_secrets WHERE client_ref = ?1",
        [client_ref],
    )?;
    Ok(c.execute("DELETE FROM api_clients WHERE id = ?1", [client_ref])? == 1)
}

pub fn touch_client(c: &Connection, client_ref: i64, at: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE api_clients SET last_used_at = ?2 WHERE id = ?1",
        params![client_ref, at],
    )?;
    Ok(())
}
