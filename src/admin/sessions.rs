//! Logging in and out, and recognising a session from its cookie.
//!
//! A session id is 32 random bytes, base64url, known only to the browser; the database keeps its
//! SHA-256. The CSRF token of a session is derived from the id, so it needs no storage and is
//! worthless without the cookie. Sessions end after `security.session_idle_hours` without use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Actor, Admin, AdminError, Admins, audit, password, rate_limit};
use crate::store::sessions::{self as session_store, SessionRecord};
use crate::store::{StoreError, admins as admin_store, login_failures};

/// Where a request came from, for rate limiting and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub remote_addr: String,
    pub user_agent: String,
}

/// A session just opened: `id` goes into the cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub admin: Admin,
}

/// A request's verified session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub admin: Admin,
    /// The CSRF token forms of this session must carry.
    pub csrf_token: String,
}

/// Sessions are touched at most this often, to spare the writer.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// A new random secret, base64url without padding (URL- and cookie-safe).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn tagged_sha256(tag: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    h.update(b":");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// What the database keeps of a session id.
pub fn session_id_hash(session_id: &str) -> String {
    tagged_sha256("orchard-session", session_id)
}

/// The CSRF token belonging to a session id.
pub fn csrf_token_for(session_id: &str) -> String {
    tagged_sha256("orchard-csrf", session_id)
}

pub use crate::config::secrets_equal;

impl Admins {
    /// Checks the rate limit, then the password; opens a session on success. Failures are
    /// counted per username (as typed) and per address.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<NewSession, AdminError> {
        let key = rate_limit::username_key(username);
        let now = self.now();
        let policy = self.policy;
        let since = now - policy.window;
        let (k, addr) = (key.clone(), client.remote_addr.clone());
        let (by_user, by_addr, record) = self
            .store
            .read(move |c| {
                Ok((
                    login_failures::for_username_since(c, &k, since)?,
                    login_failures::for_addr_since(c, &addr, since)?,
                    admin_store::by_username(c, k.trim())?,
                ))
            })
            .await?;
        if let Err(limited) = rate_limit::check(&policy, now, by_user, by_addr) {
            tracing::warn!(username = %key, addr = %client.remote_addr, "login refused: rate limited");
            return Err(limited);
        }
        let stored_hash = record.as_ref().map(|r| r.password_hash.clone());
        let matches = password::verify_async(password.to_string(), stored_hash).await?;
        let record = match record {
            Some(r) if matches => r,
            _ => {
                let addr = client.remote_addr.clone();
                self.store
                    .write(move |c| {
                        let tx = c.transaction()?;
                        login_failures::prune_before(&tx, since)?;
                        login_failures::insert(&tx, &key, &addr, now)?;
                        tx.commit()?;
                        Ok(())
                    })
                    .await?;
                tracing::warn!(addr = %client.remote_addr, "failed login");
                return Err(AdminError::BadCredentials);
            }
        };
        let admin = Admin::try_from(record)?;
        if admin.disabled {
            return Err(AdminError::Disabled);
        }
        let id = random_token();
        let session = SessionRecord {
            id_hash: session_id_hash(&id),
            admin_id: admin.id,
            created_at: now,
            last_seen_at: now,
            remote_addr: client.remote_addr.clone(),
            user_agent: client.user_agent.chars().take(256).collect(),
        };
        let actor = Actor::admin(&admin, Some(client.remote_addr.clone()));
        let (admin_id, target) = (admin.id, format!("admin:{}", admin.username));
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                session_store::delete_idle_since(&tx, now - policy.session_idle)?;
                session_store::insert(&tx, &session)?;
                admin_store::record_login(&tx, admin_id, now)?;
                login_failures::clear_username(&tx, &key)?;
                audit::record(&tx, &actor, now, "session.login", &target, None, None)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        tracing::info!(username = %admin.username, addr = %client.remote_addr, "login");
        Ok(NewSession { id, admin })
    }

    /// The account behind a session cookie, or `None` when the session is unknown, idle past
    /// the limit, or its account disabled. Expired sessions are removed.
    pub async fn authenticate(&self, session_id: &str) -> Result<Option<Authenticated>, AdminError> {
        let id_hash = session_id_hash(session_id);
        let lookup = id_hash.clone();
        let found = self
            .store
            .read(move |c| {
                let Some(session) = session_store::get(c, &lookup)? else {
                    return Ok(None);
                };
                let admin = admin_store::by_id(c, session.admin_id)?.ok_or(StoreError::NotFound)?;
                Ok(Some((session, admin)))
            })
            .await?;
        let Some((session, record)) = found else {
            return Ok(None);
        };
        let now = self.now();
        let expired = session.last_seen_at + self.policy.session_idle <= now;
        if expired || record.disabled {
            self.store
                .write(move |c| session_store::delete(c, &id_hash).map(|_| ()))
                .await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            self.store
                .write(move |c| session_store::touch(c, &id_hash, now))
                .await?;
        }
        Ok(Some(Authenticated {
            admin: Admin::try_from(record)?,
            csrf_token: csrf_token_for(session_id),
        }))
    }

    /// Ends a session (audit entry included).
    pub async fn logout(&self, session_id: &str, actor: &Actor) -> Result<(), AdminError> {
        let id_hash = session_id_hash(session_id);
        let now = self.now();
        let actor = actor.clone();
        let target = actor.name.clone();
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                if session_store::delete(&tx, &id_hash)? {
                    audit::record(&tx, &actor, now, "session.logout", &target, None, None)?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_derived_values_differ() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_ne!(session_id_hash(&a), csrf_token_for(&a));
        assert_eq!(csrf_token_for(&a), csrf_token_for(&a));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
