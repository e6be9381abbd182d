//! Administrator accounts, sessions, login rate limiting, first-admin setup and the audit log.
//!
//! [`Admins`] is the service the web layer and the CLI call. Other parts of the appliance use
//! [`Role::can`] with a [`Permission`] to decide what an account may do, and
//! [`audit::record`] to log their own changes in the same transaction as the change.

pub mod accounts;
pub mod api_access;
pub mod api_clients;
pub mod audit;
pub mod password;
pub mod rate_limit;
pub mod role;
pub mod sessions;
pub mod setup;

use chrono::{DateTime, Utc};

use crate::clock::SharedClock;
use crate::config::SecurityConfig;
use crate::store::admins::AdminRecord;
use crate::store::{Store, StoreError};

pub use api_access::{ApiAccess, ApiClient, ApiToken};
pub use audit::Actor;
pub use role::{Permission, Role};
pub use sessions::{Authenticated, ClientInfo, NewSession};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Input that does not meet the rules (username shape, password length, ...).
    #[error("{0}")]
    Invalid(String),
    #[error("an account named {0:?} already exists")]
    UsernameTaken(String),
    #[error("there is no account named {0:?}")]
    UnknownAccount(String),
    /// An API token or client that does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The name of a new API token or client is in use.
    #[error("{0}")]
    NameTaken(String),
    #[error("{0:?} is the last active administrator; make another account an administrator first")]
    LastAdmin(String),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("this account is disabled; ask an administrator")]
    Disabled,
    #[error("too many failed logins; try again in {} minute(s)", retry_after_secs.div_ceil(60).max(1))]
    RateLimited { retry_after_secs: u64 },
    #[error("this setup link is not valid; use the link printed by the most recent `orchard serve`")]
    SetupTokenInvalid,
    #[error("the first administrator already exists; sign in instead")]
    SetupDone,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        AdminError::Store(e)
    }
}

/// An administrator account as the rest of the appliance sees it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl Admin {
    pub fn can(&self, permission: Permission) -> bool {
        !self.disabled && self.role.can(permission)
    }
}

impl TryFrom<AdminRecord> for Admin {
    type Error = AdminError;
    fn try_from(r: AdminRecord) -> Result<Admin, AdminError> {
        let role = r.role.parse().map_err(|e: role::UnknownRole| {
            AdminError::Store(StoreError::Conflict(format!("account {}: {e}", r.username)))
        })?;
        Ok(Admin {
            id: r.id,
            username: r.username,
            role,
            disabled: r.disabled,
            created_at: r.created_at,
            last_login_at: r.last_login_at,
        })
    }
}

/// Login limits, from `[security]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    pub max_failures: u32,
    pub window: chrono::Duration,
    pub session_idle: chrono::Duration,
}

impl From<&SecurityConfig> for LoginPolicy {
    fn from(c: &SecurityConfig) -> LoginPolicy {
        LoginPolicy {
            max_failures: c.login_max_failures.max(1),
            window: chrono::Duration::minutes(i64::from(c.login_window_minutes.max(1))),
            session_idle: chrono::Duration::hours(i64::from(c.session_idle_hours.max(1))),
        }
    }
}

/// The admin service: cheap to clone, built from the shared store and clock.
#[derive(Clone)]
pub struct Admins {
    store: Store,
    clock: SharedClock,
    policy: LoginPolicy,
}

impl Admins {
    pub fn new(store: Store, clock: SharedClock, security: &SecurityConfig) -> Admins {
        Admins {
            store,
            clock,
            policy: LoginPolicy::from(security),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn policy(&self) -> LoginPolicy {
        self.policy
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
