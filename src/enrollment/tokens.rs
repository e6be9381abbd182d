//! Enrollment tokens: created by an admin (label, expiry, maximum uses), revoked at will.
//! A use is a device that obtained its identity certificate with the token's one-time challenge.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::{Enrollment, EnrollmentError, random_secret, secret_hash};
use crate::admin::Actor;
use crate::admin::audit;
use crate::clock::SharedClock;
use crate::store::Store;
use crate::store::StoreError;
use crate::store::enrollment::{self as rows, NewToken, TokenRow};

/// Why a token cannot be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Expired,
    Revoked,
    UsedUp,
}

impl fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenRefusal::Unknown => "the token is not known",
            TokenRefusal::Expired => "the token has expired",
            TokenRefusal::Revoked => "the token has been revoked",
            TokenRefusal::UsedUp => "the token has been used the maximum number of times",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Refused(TokenRefusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub state: TokenState,
}

pub struct NewTokenRequest {
    pub label: String,
    /// How long the token is valid; `None`: no expiry.
    pub valid_for: Option<Duration>,
    /// How many devices may enroll with it; `None`: no limit.
    pub max_uses: Option<u32>,
}

fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

pub(super) fn token_info(row: TokenRow, now: DateTime<Utc>) -> TokenInfo {
    let expires_at = row.expires_at.as_deref().map(parse_time);
    let revoked_at = row.revoked_at.as_deref().map(parse_time);
    let state = if revoked_at.is_some() {
        TokenState::Refused(TokenRefusal::Revoked)
    } else if expires_at.is_some_and(|e| e <= now) {
        TokenState::Refused(TokenRefusal::Expired)
    } else if row.max_uses.is_some_and(|m| row.uses >= m) {
        TokenState::Refused(TokenRefusal::UsedUp)
    } else {
        TokenState::Active
    };
    TokenInfo {
        id: row.id,
        label: row.label,
        created_at: parse_time(&row.created_at),
        expires_at,
        max_uses: row.max_uses,
        uses: row.uses,
        revoked_at,
        state,
    }
}

/// Enrollment tokens over the store alone (no CA, no profile signer): the part of enrollment the
/// CLI's `enrollment token` commands need. The [`Enrollment`] service hands its own out.
#[derive(Clone)]
pub struct EnrollmentTokens {
    store: Store,
    clock: SharedClock,
}

impl EnrollmentTokens {
    pub fn new(store: Store, clock: SharedClock) -> EnrollmentTokens {
        EnrollmentTokens { store, clock }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates a token; the secret is returned once and only its hash is kept. Audited as `cli`.
    pub fn create_token(&self, req: NewTokenRequest) -> Result<(TokenInfo, String), EnrollmentError> {
        self.create_token_as(&Actor::cli(), req)
    }

    /// [`EnrollmentTokens::create_token`] on behalf of `actor`, audited in the same transaction.
    pub fn create_token_as(
        &self,
        actor: &Actor,
        req: NewTokenRequest,
    ) -> Result<(TokenInfo, String), EnrollmentError> {
        let label = req.label.trim().to_string();
        if label.is_empty() || label.len() > 200 {
            return Err(EnrollmentError::Invalid(
                "a token needs a label of 1 to 200 characters".into(),
            ));
        }
        if req.valid_for.is_some_and(|d| d <= Duration::zero()) {
            return Err(EnrollmentError::Invalid("the validity must be positive".into()));
        }
        if req.max_uses == Some(0) {
            return Err(EnrollmentError::Invalid(
                "the maximum number of uses must be at least 1".into(),
            ));
        }
        let now = self.now();
        let secret = random_secret();
        let hash = secret_hash(&secret);
        let created_at = now.to_rfc3339();
        let expires_at = req.valid_for.map(|d| (now + d).to_rfc3339());
        let max_uses = req.max_uses.map(i64::from);
        let row = self.store.write_blocking(move |c| {
            let tx = c.transaction()?;
            let id = rows::insert_token(
                &tx,
                &NewToken {
                    token_hash: &hash,
                    label: &label,
                    created_at: &created_at,
                    expires_at: expires_at.as_deref(),
                    max_uses,
                },
            )?;
            let after = serde_json::json!({
                "label": label, "expires_at": expires_at, "max_uses": max_uses
            });
            audit::record(
                &tx,
                actor,
                now,
                "enrollment.token.create",
                &format!("enrollment-token:{id}"),
                None,
                Some(after),
            )?;
            let row = rows::token_by_id(&tx, id)?.ok_or(StoreError::NotFound)?;
            tx.commit()?;
            Ok(row)
        })?;
        Ok((token_info(row, now), secret))
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, EnrollmentError> {
        let now = self.now();
        let rows = self.store.read_blocking(rows::list_tokens)?;
        Ok(rows.into_iter().map(|r| token_info(r, now)).collect())
    }

    /// Revokes a token. Audited as `cli`.
    pub fn revoke_token(&self, id: i64) -> Result<TokenInfo, EnrollmentError> {
        self.revoke_token_as(&Actor::cli(), id)
    }

    /// [`EnrollmentTokens::revoke_token`] on behalf of `actor`, audited in the same transaction.
    pub fn revoke_token_as(&self, actor: &Actor, id: i64) -> Result<TokenInfo, EnrollmentError> {
        let now = self.now();
        let at = now.to_rfc3339();
        let row = self.store.write_blocking(move |c| {
            let tx = c.transaction()?;
            let before = rows::token_by_id(&tx, id)?.ok_or(StoreError::NotFound)?;
            rows::revoke_token(&tx, id, &at)?;
            if before.revoked_at.is_none() {
                audit::record(
                    &tx,
                    actor,
                    now,
                    "enrollment.token.revoke",
                    &format!("enrollment-token:{id}"),
                    Some(serde_json::json!({ "label": before.label, "revoked": false })),
                    Some(serde_json::json!({ "revoked": true })),
                )?;
            }
            let row = rows::token_by_id(&tx, id)?.ok_or(StoreError::NotFound)?;
            tx.commit()?;
            Ok(row)
        });
        match row {
            Ok(row) => Ok(token_info(row, now)),
            Err(StoreError::NotFound) => Err(EnrollmentError::Invalid(format!("no enrollment token {id}"))),
            Err(e) => Err(e.into()),
        }
    }

    /// The token a secret names, if it can be used now.
    pub fn check_token(&self, secret: &str) -> Result<TokenInfo, EnrollmentError> {
        let hash = secret_hash(secret);
        let row = self.store.read_blocking(move |c| rows::token_by_hash(c, &hash))?;
        let info = token_info(
            row.ok_or(EnrollmentError::TokenRefused(TokenRefusal::Unknown))?,
            self.now(),
        );
        match info.state {
            TokenState::Active => Ok(info),
            TokenState::Refused(why) => Err(EnrollmentError::TokenRefused(why)),
        }
    }
}

/// The service hands out its token operations (the web handlers and the enrollment check use them).
impl Enrollment {
    pub fn tokens(&self) -> &EnrollmentTokens {
        &self.tokens
    }
}
