//! The first administrator. There is no default password: while no account exists, each start
//! issues a fresh one-time token (only its hash is stored, in `settings`) and prints the link
//! `<public_url>/setup?token=...`. Creating the first account, by that link or by the CLI,
//! removes the token.

use super::accounts::{self, SETUP_TOKEN_KEY, insert_with_audit};
use super::sessions::{random_token, secrets_equal};
use super::{Actor, Admin, AdminError, Admins, Role, password};
use crate::store::{StoreError, admins as admin_store, settings, sql_time};

fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("orchard-setup:{token}").as_bytes()))
}

/// The link an operator opens to create the first administrator.
pub fn setup_link(public_url: &str, token: &str) -> String {
    format!("{}/setup?token={token}", public_url.trim_end_matches('/'))
}

impl Admins {
    /// While no account exists, replaces any previous setup token with a new one and returns it;
    /// `None` once an account exists.
    pub async fn issue_setup_token(&self) -> Result<Option<String>, AdminError> {
        let now = sql_time(self.now());
        Ok(self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                if admin_store::count(&tx)? > 0 {
                    settings::delete(&tx, SETUP_TOKEN_KEY)?;
                    tx.commit()?;
                    return Ok(None);
                }
                let token = random_token();
                settings::set(&tx, SETUP_TOKEN_KEY, &token_hash(&token), &now)?;
                tx.commit()?;
                Ok(Some(token))
            })
            .await?)
    }

    /// `Ok(())` when `token` is the current setup token and no account exists yet.
    pub async fn check_setup_token(&self, token: &str) -> Result<(), AdminError> {
        let presented = token_hash(token);
        let (count, stored) = self
            .store
            .read(|c| Ok((admin_store::count(c)?, settings::get(c, SETUP_TOKEN_KEY)?)))
            .await?;
        if count > 0 {
            return Err(AdminError::SetupDone);
        }
        match stored {
            Some(stored) if secrets_equal(&stored, &presented) => Ok(()),
            _ => Err(AdminError::SetupTokenInvalid),
        }
    }

    /// Creates the first administrator with the setup token; the token dies in the same
    /// transaction.
    pub async fn complete_setup(
        &self,
        token: &str,
        username: &str,
        password: String,
        remote_addr: Option<String>,
    ) -> Result<Admin, AdminError> {
        self.check_setup_token(token).await?;
        let username = accounts::check_username(username)?;
        password::check_policy(&username, &password)?;
        let hash = password::hash_async(password).await?;
        let presented = token_hash(token);
        let now = self.now();
        let actor = Actor::setup(remote_addr);
        let name = username.clone();
        let outcome = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                // Checked again under the write lock: two setup forms may race.
                if admin_store::count(&tx)? > 0 {
                    return Ok(Err(AdminError::SetupDone));
                }
                match settings::get(&tx, SETUP_TOKEN_KEY)? {
                    Some(stored) if secrets_equal(&stored, &presented) => {}
                    _ => return Ok(Err(AdminError::SetupTokenInvalid)),
                }
                let id = insert_with_audit(&tx, &actor, &name, Role::Admin, &hash, now)?;
                let record = admin_store::by_id(&tx, id)?.ok_or(StoreError::NotFound)?;
                tx.commit()?;
                Ok(Ok(record))
            })
            .await??;
        tracing::info!(username = %username, "first administrator created through the setup link");
        Admin::try_from(outcome)
    }
}
