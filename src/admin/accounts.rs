//! Creating and changing administrator accounts. Each change and its audit entry are one
//! transaction; the last active administrator can be neither disabled nor demoted.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::json;

use super::{Actor, Admin, AdminError, Admins, Role, audit, password};
use crate::store::admins::{self as admin_store, AdminRecord, NewAdmin};
use crate::store::{StoreError, sessions as session_store, settings};

pub const USERNAME_MAX: usize = 64;

/// The settings key holding the hash of the one-time first-admin setup token.
pub(crate) const SETUP_TOKEN_KEY: &str = "admin.setup_token_sha256";

/// Usernames are 1–64 characters of letters, digits and `. _ - @`, so they are safe in URLs,
/// logs and audit entries as they are.
pub fn check_username(username: &str) -> Result<String, AdminError> {
    let name = username.trim();
    if name.is_empty() {
        return Err(AdminError::Invalid("the username is empty".into()));
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(AdminError::Invalid(format!(
            "the username must have at most {USERNAME_MAX} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(AdminError::Invalid(
            "the username may contain only letters, digits and . _ - @".into(),
        ));
    }
    Ok(name.to_string())
}

fn load(conn: &Connection, username: &str) -> Result<AdminRecord, StoreError> {
    admin_store::by_username(conn, username)?.ok_or(StoreError::NotFound)
}

/// Inserts an account and its audit entry on `conn` (a transaction). The setup token dies with
/// the first account, whoever creates it.
pub(crate) fn insert_with_audit(
    conn: &Connection,
    actor: &Actor,
    username: &str,
    role: Role,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let id = admin_store::insert(
        conn,
        &NewAdmin {
            username,
            password_hash,
            role: role.as_str(),
            at: now,
        },
    )?;
    settings::delete(conn, SETUP_TOKEN_KEY)?;
    audit::record(
        conn,
        actor,
        now,
        "admin.create",
        &format!("admin:{username}"),
        None,
        Some(json!({ "role": role.as_str(), "disabled": false })),
    )?;
    Ok(id)
}

/// True when `record` is the only enabled account with the admin role.
fn is_last_active_admin(conn: &Connection, record: &AdminRecord) -> Result<bool, StoreError> {
    Ok(record.role == Role::Admin.as_str()
        && !record.disabled
        && admin_store::count_active_with_role(conn, Role::Admin.as_str())? <= 1)
}

fn map_missing(username: &str) -> impl FnOnce(AdminError) -> AdminError + '_ {
    move |e| match e {
        AdminError::Store(StoreError::NotFound) => AdminError::UnknownAccount(username.to_string()),
        AdminError::Store(StoreError::Conflict(_)) => AdminError::UsernameTaken(username.to_string()),
        other => other,
    }
}

impl Admins {
    /// Every account, by username.
    pub async fn list(&self) -> Result<Vec<Admin>, AdminError> {
        let records = self.store.read(admin_store::list).await?;
        records.into_iter().map(Admin::try_from).collect()
    }

    pub async fn find(&self, username: &str) -> Result<Admin, AdminError> {
        let name = username.to_string();
        let record = self
            .store
            .read(move |c| load(c, &name))
            .await
            .map_err(AdminError::from)
            .map_err(map_missing(username))?;
        Admin::try_from(record)
    }

    pub async fn count(&self) -> Result<i64, AdminError> {
        Ok(self.store.read(admin_store::count).await?)
    }

    /// Creates an account. The password is checked against the policy and hashed off the runtime.
    pub async fn create(
        &self,
        actor: &Actor,
        username: &str,
        role: Role,
        password: String,
    ) -> Result<Admin, AdminError> {
        let username = check_username(username)?;
        password::check_policy(&username, &password)?;
        let hash = password::hash_async(password).await?;
        let now = self.now();
        let (actor, name) = (actor.clone(), username.clone());
        let record = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let id = insert_with_audit(&tx, &actor, &name, role, &hash, now)?;
                let record = admin_store::by_id(&tx, id)?.ok_or(StoreError::NotFound)?;
                tx.commit()?;
                Ok(record)
            })
            .await
            .map_err(AdminError::from)
            .map_err(map_missing(&username))?;
        Admin::try_from(record)
    }

    /// Gives an account another role.
    pub async fn change_role(&self, actor: &Actor, username: &str, role: Role) -> Result<Admin, AdminError> {
        let now = self.now();
        let (actor, name) = (actor.clone(), username.to_string());
        self.change(username, move |tx, record| {
            let before = record.role.clone();
            if before == role.as_str() {
                return Ok(());
            }
            if role != Role::Admin && is_last_active_admin(tx, record)? {
                return Err(AdminError::LastAdmin(name.clone()));
            }
            admin_store::set_role(tx, record.id, role.as_str(), now)?;
            audit::record(
                tx,
                &actor,
                now,
                "admin.role",
                &format!("admin:{}", record.username),
                Some(json!({ "role": before })),
                Some(json!({ "role": role.as_str() })),
            )?;
            Ok(())
        })
        .await
    }

    /// Disables (and signs out) or re-enables an account.
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        username: &str,
        disabled: bool,
    ) -> Result<Admin, AdminError> {
        let now = self.now();
        let (actor, name) = (actor.clone(), username.to_string());
        self.change(username, move |tx, record| {
            if record.disabled == disabled {
                return Ok(());
            }
            if disabled && is_last_active_admin(tx, record)? {
                return Err(AdminError::LastAdmin(name.clone()));
            }
            admin_store::set_disabled(tx, record.id, disabled, now)?;
            if disabled {
                session_store::delete_for_admin(tx, record.id)?;
            }
            audit::record(
                tx,
                &actor,
                now,
                if disabled { "admin.disable" } else { "admin.enable" },
                &format!("admin:{}", record.username),
                Some(json!({ "disabled": record.disabled })),
                Some(json!({ "disabled": disabled })),
            )?;
            Ok(())
        })
        .await
    }

    /// Sets a new password and ends the account's sessions.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        username: &str,
        password: String,
    ) -> Result<Admin, AdminError> {
        let current = self.find(username).await?;
        password::check_policy(&current.username, &password)?;
        let hash = password::hash_async(password).await?;
        let now = self.now();
        let actor = actor.clone();
        self.change(username, move |tx, record| {
            admin_store::set_password_hash(tx, record.id, &hash, now)?;
            session_store::delete_for_admin(tx, record.id)?;
            audit::record(
                tx,
                &actor,
                now,
                "admin.password",
                &format!("admin:{}", record.username),
                None,
                Some(json!({ "password": "changed", "sessions": "ended" })),
            )?;
            Ok(())
        })
        .await
    }

    /// Runs `apply` on the account in one transaction and returns the account as it is after.
    async fn change<F>(&self, username: &str, apply: F) -> Result<Admin, AdminError>
    where
        F: FnOnce(&Connection, &AdminRecord) -> Result<(), AdminError> + Send + 'static,
    {
        let name = username.to_string();
        let outcome = self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let record = load(&tx, &name)?;
                // Rule violations travel out through Ok(Err(..)); the transaction is dropped (rolled back).
                if let Err(rule) = apply(&tx, &record) {
                    return Ok(Err(rule));
                }
                let after = admin_store::by_id(&tx, record.id)?.ok_or(StoreError::NotFound)?;
                tx.commit()?;
                Ok(Ok(after))
            })
            .await
            .map_err(AdminError::from)
            .map_err(map_missing(username))?;
        Admin::try_from(outcome?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        assert_eq!(check_username("  alice ").unwrap(), "alice");
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username("<script>").is_err());
        assert!(check_username(&"a".repeat(65)).is_err());
        assert!(check_username("j.doe@school-1_x").is_ok());
    }
}
