//! API clients for device trust: a client id and a secret. Rotating gives a new secret that works
//! at once while the previous one keeps working for [`ROTATION_GRACE`]; invalidating stops every
//! secret at once (for a secret that may have leaked) and issues a new one.

use chrono::{DateTime, Utc};
use rand::RngCore;

use super::AdminError;
use super::api_access::{ApiAccess, ApiClient, ROTATION_GRACE, check_name, client_from_rows, sha256_hex};
use super::audit::{self, Actor};
use super::sessions::random_token;
use crate::config::secrets_equal;
use crate::store::api_access as rows;
use crate::store::{StoreError, sql_time};

fn new_client_id() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    format!("oc_{}", hex::encode(bytes))
}

fn not_found(e: StoreError, what: &str) -> AdminError {
    match e {
        StoreError::NotFound => AdminError::NotFound(format!("API client {what}")),
        StoreError::Conflict(m) => AdminError::NameTaken(m),
        other => AdminError::Store(other),
    }
}

/// How a secret change is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretChange {
    Rotate,
    Invalidate,
}

impl ApiAccess {
    /// Creates a client; returns it and its first secret (shown once).
    pub async fn create_client(&self, actor: &Actor, name: &str) -> Result<(ApiClient, String), AdminError> {
        let name = check_name(name)?;
        let client_id = new_client_id();
        let secret = random_token();
        let hash = sha256_hex(&secret);
        let (actor, now) = (actor.clone(), self.now());
        let lookup = client_id.clone();
        let client = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let at = sql_time(now);
                rows::insert_client(&tx, &client_id, &name, &hash, &at, &actor.name)?;
                audit::record(
                    &tx,
                    &actor,
                    now,
                    "api_client.create",
                    &format!("api_client:{client_id}"),
                    None,
                    Some(serde_json::json!({ "name": name })),
                )?;
                let client = load(&tx, &client_id, now)?;
                tx.commit()?;
                Ok(client)
            })
            .await
            .map_err(|e| not_found(e, &lookup))?;
        Ok((client, secret))
    }

    pub async fn list_clients(&self) -> Result<Vec<ApiClient>, AdminError> {
        let now = self.now();
        Ok(self
            .store
            .read(move |c| {
                rows::list_clients(c)?
                    .into_iter()
                    .map(|row| {
                        let secrets = rows::secrets_of(c, row.id)?;
                        Ok(client_from_rows(row, secrets, now))
                    })
                    .collect()
            })
            .await?)
    }

    /// A new secret that works at once; the previous one keeps working for 24 hours.
    pub async fn rotate_client_secret(
        &self,
        actor: &Actor,
        client_id: &str,
    ) -> Result<(ApiClient, String), AdminError> {
        self.change_secret(actor, client_id, SecretChange::Rotate).await
    }

    /// Every secret stops working at once; a new one is issued.
    pub async fn invalidate_client_secrets(
        &self,
        actor: &Actor,
        client_id: &str,
    ) -> Result<(ApiClient, String), AdminError> {
        self.change_secret(actor, client_id, SecretChange::Invalidate)
            .await
    }

    async fn change_secret(
        &self,
        actor: &Actor,
        client_id: &str,
        change: SecretChange,
    ) -> Result<(ApiClient, String), AdminError> {
        let secret = random_token();
        let hash = sha256_hex(&secret);
        let (actor, now, client_id) = (actor.clone(), self.now(), client_id.to_string());
        let lookup = client_id.clone();
        let client = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let row = rows::client_by_client_id(&tx, &client_id)?.ok_or(StoreError::NotFound)?;
                let at = sql_time(now);
                let action = match change {
                    SecretChange::Rotate => {
                        rows::rotate_secret(&tx, row.id, &hash, &at, &sql_time(now + ROTATION_GRACE))?;
                        "api_client.rotate"
                    }
                    SecretChange::Invalidate => {
                        rows::replace_all_secrets(&tx, row.id, &hash, &at)?;
                        "api_client.invalidate"
                    }
                };
                audit::record(
                    &tx,
                    &actor,
                    now,
                    action,
                    &format!("api_client:{client_id}"),
                    None,
                    None,
                )?;
                let client = load(&tx, &client_id, now)?;
                tx.commit()?;
                Ok(client)
            })
            .await
            .map_err(|e| not_found(e, &lookup))?;
        Ok((client, secret))
    }

    pub async fn delete_client(&self, actor: &Actor, client_id: &str) -> Result<(), AdminError> {
        let (actor, now, client_id) = (actor.clone(), self.now(), client_id.to_string());
        let lookup = client_id.clone();
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                let row = rows::client_by_client_id(&tx, &client_id)?.ok_or(StoreError::NotFound)?;
                rows::delete_client(&tx, row.id)?;
                audit::record(
                    &tx,
                    &actor,
                    now,
                    "api_client.delete",
                    &format!("api_client:{client_id}"),
                    None,
                    None,
                )?;
                tx.commit()?;
                Ok(())
            })
            .await
            .map_err(|e| not_found(e, &lookup))
    }

    /// The client `client_id` if `secret` is one of its working secrets at this moment.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<ApiClient>, AdminError> {
        let presented = sha256_hex(secret);
        let (now, client_id) = (self.now(), client_id.to_string());
        let found = self
            .store
            .read(move |c| {
                let Some(row) = rows::client_by_client_id(c, &client_id)? else {
                    return Ok(None);
                };
                let secrets = rows::secrets_of(c, row.id)?;
                Ok(Some((row, secrets)))
            })
            .await?;
        let Some((row, secrets)) = found else {
            return Ok(None);
        };
        let matches = secrets
            .iter()
            .filter(|s| works_at(s.expires_at.as_deref(), now))
            .fold(false, |hit, s| secrets_equal(&s.secret_hash, &presented) | hit);
        if !matches {
            return Ok(None);
        }
        let id = row.id;
        self.store
            .write(move |c| rows::touch_client(c, id, &sql_time(now)))
            .await?;
        Ok(Some(client_from_rows(row, secrets, now)))
    }
}

fn works_at(expires_at: Option<&str>, now: DateTime<Utc>) -> bool {
    match expires_at {
        None => true,
        Some(text) => DateTime::parse_from_rfc3339(text).is_ok_and(|e| e.to_utc() > now),
    }
}

fn load(c: &rusqlite::Connection, client_id: &str, now: DateTime<Utc>) -> Result<ApiClient, StoreError> {
    let row = rows::client_by_client_id(c, client_id)?.ok_or(StoreError::NotFound)?;
    let secrets = rows::secrets_of(c, row.id)?;
    Ok(client_from_rows(row, secrets, now))
}
