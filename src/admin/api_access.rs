//! API tokens (bearer tokens for `/api/v1`, each with a role) and API clients (client id and
//! secret, for the device trust endpoint). Only SHA-256 hashes of the secrets are stored; the
//! secret itself is shown once, when created. Every change is audited.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::audit::{self, Actor};
use super::sessions::random_token;
use super::{AdminError, Role};
use crate::clock::SharedClock;
use crate::config::secrets_equal;
use crate::store::api_access::{self as rows, ApiClientRow, ApiTokenRow, NewApiToken};
use crate::store::{Store, StoreError, sql_time};

/// How long the previous secret of a rotated client keeps working.
pub const ROTATION_GRACE: Duration = Duration::hours(24);
const TOKEN_PREFIX: &str = "orchard_";
const NAME_MAX: usize = 64;

/// An API token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    #[serde(serialize_with = "role_text")]
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn role_text<S: serde::Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

impl ApiToken {
    /// The audit actor of calls made with this token.
    pub fn actor(&self, remote_addr: Option<String>) -> Actor {
        Actor {
            name: format!("token:{}", self.name),
            remote_addr,
        }
    }

    pub fn active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

fn token_from_row(row: ApiTokenRow) -> Result<ApiToken, AdminError> {
    let role = row.role.parse().map_err(|e: super::role::UnknownRole| {
        AdminError::Store(StoreError::Conflict(format!("API token {}: {e}", row.name)))
    })?;
    Ok(ApiToken {
        id: row.id,
        name: row.name,
        role,
        created_at: parse_time(&row.created_at),
        created_by: row.created_by,
        last_used_at: row.last_used_at.as_deref().map(parse_time),
        revoked_at: row.revoked_at.as_deref().map(parse_time),
    })
}

pub(super) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn public_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Names of tokens and clients: 1 to 64 letters, digits, `-`, `_`, `.`, `@`, space.
pub fn check_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= NAME_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ' '));
    if ok {
        Ok(name.to_string())
    } else {
        Err(AdminError::Invalid(format!(
            "the name must be 1 to {NAME_MAX} letters, digits, spaces or - _ . @"
        )))
    }
}

/// Splits `orchard_<public id>_<secret>` into its public id.
fn public_id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty()).then_some(id)
}

/// The API-access service: tokens and clients. Cheap to clone.
#[derive(Clone)]
pub struct ApiAccess {
    pub(super) store: Store,
    pub(super) clock: SharedClock,
}

impl ApiAccess {
    pub fn new(store: Store, clock: SharedClock) -> ApiAccess {
        ApiAccess { store, clock }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates a token; returns it and its secret (shown once).
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
    ) -> Result<(ApiToken, String), AdminError> {
        let name = check_name(name)?;
        let public = public_id();
        let secret = format!("{TOKEN_PREFIX}{public}_{}", random_token());
        let hash = sha256_hex(&secret);
        let (actor, now) = (actor.clone(), self.now());
        let token = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let at = sql_time(now);
                let id = rows::insert_token(
                    &tx,
                    &NewApiToken {
                        public_id: &public,
                        token_hash: &hash,
                        name: &name,
                        role: role.as_str(),
                        created_at: &at,
                        created_by: &actor.name,
                    },
                )?;
                audit::record(
                    &tx,
                    &actor,
                    now,
                    "api_token.create",
                    &format!("api_token:{name}"),
                    None,
                    Some(serde_json::json!({ "role": role.as_str() })),
                )?;
                let row = rows::token_by_id(&tx, id)?.ok_or(StoreError::NotFound)?;
                tx.commit()?;
                Ok(row)
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => AdminError::NameTaken(m),
                other => AdminError::Store(other),
            })?;
        Ok((token_from_row(token)?, secret))
    }

    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, AdminError> {
        let rows = self.store.read(rows::list_tokens).await?;
        rows.into_iter().map(token_from_row).collect()
    }

    /// Revokes a token: it stops working at once. `NotFound` when there is none.
    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<ApiToken, AdminError> {
        let (actor, now) = (actor.clone(), self.now());
        let row = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                if !rows::revoke_token(&tx, id, &sql_time(now))? {
                    return Err(StoreError::NotFound);
                }
                let row = rows::token_by_id(&tx, id)?.ok_or(StoreError::NotFound)?;
                audit::record(
                    &tx,
                    &actor,
                    now,
                    "api_token.revoke",
                    &format!("api_token:{}", row.name),
                    None,
                    None,
                )?;
                tx.commit()?;
                Ok(row)
            })
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AdminError::NotFound(format!("API token {id}")),
                other => AdminError::Store(other),
            })?;
        token_from_row(row)
    }

    /// The active token `presented` is, or `None` (unknown, malformed, wrong secret, revoked).
    pub async fn authenticate_token(&self, presented: &str) -> Result<Option<ApiToken>, AdminError> {
        let Some(public) = public_id_of(presented).map(str::to_string) else {
            return Ok(None);
        };
        let hash = sha256_hex(presented);
        let now = self.now();
        let found = self
            .store
            .read(move |c| rows::token_by_public_id(c, &public))
            .await?;
        let Some(row) = found else { return Ok(None) };
        if !secrets_equal(&row.token_hash, &hash) || row.revoked_at.is_some() {
            return Ok(None);
        }
        let token = token_from_row(row)?;
        // Last use is kept to the minute: a busy client does not turn every read into a write.
        let stale = token.last_used_at.is_none_or(|t| now - t >= Duration::minutes(1));
        if stale {
            let id = token.id;
            self.store
                .write(move |c| rows::touch_token(c, id, &sql_time(now)))
                .await?;
        }
        Ok(Some(token))
    }
}

/// A client as listed: its id, name and the state of its secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiClient {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub secrets: Vec<SecretState>,
}

/// One working secret of a client (never its value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretState {
    pub created_at: DateTime<Utc>,
    /// `None`: the current secret. Set on a rotated-out secret: it "expires soon".
    pub expires_at: Option<DateTime<Utc>>,
}

impl SecretState {
    pub fn expires_soon(&self) -> bool {
        self.expires_at.is_some()
    }
}

pub(super) fn client_from_rows(
    row: ApiClientRow,
    secrets: Vec<rows::ClientSecretRow>,
    now: DateTime<Utc>,
) -> ApiClient {
    ApiClient {
        id: row.id,
        client_id: row.client_id,
        name: row.name,
        created_at: parse_time(&row.created_at),
        created_by: row.created_by,
        last_used_at: row.last_used_at.as_deref().map(parse_time),
        secrets: secrets
            .into_iter()
            .map(|s| SecretState {
                created_at: parse_time(&s.created_at),
                expires_at: s.expires_at.as_deref().map(parse_time),
            })
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_have_a_public_id() {
        assert_eq!(
            public_id_of("orchard_0123456789abcdef_secret"),
            Some("0123456789abcdef")
        );
        assert_eq!(public_id_of("orchard_0123456789abcdef_"), None);
        assert_eq!(public_id_of("orchard_0123_secret"), None);
        assert_eq!(public_id_of("bearer_0123456789abcdef_secret"), None);
        assert_eq!(public_id_of(""), None);
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("  ci bot ").unwrap(), "ci bot");
        assert!(check_name("").is_err());
        assert!(check_name("a<b>").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
