//! Who did what. Every admin change writes one entry in the same transaction as the change.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::{Admin, AdminError, Admins};
use crate::store::StoreError;
use crate::store::audit::{self as audit_store, AuditRecord, NewAuditEntry};

/// The author of a change: an account (with its address), the CLI, or the first-admin setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `admin:<username>`, `cli`, `setup` or `system`.
    pub name: String,
    pub remote_addr: Option<String>,
}

impl Actor {
    pub fn admin(admin: &Admin, remote_addr: Option<String>) -> Actor {
        Actor {
            name: format!("admin:{}", admin.username),
            remote_addr,
        }
    }
    /// An operator at the machine (`orchard admin ...`).
    pub fn cli() -> Actor {
        Actor {
            name: "cli".into(),
            remote_addr: None,
        }
    }
    /// Whoever holds the one-time setup link.
    pub fn setup(remote_addr: Option<String>) -> Actor {
        Actor {
            name: "setup".into(),
            remote_addr,
        }
    }
    /// The appliance itself (scheduled jobs).
    pub fn system() -> Actor {
        Actor {
            name: "system".into(),
            remote_addr: None,
        }
    }
}

/// Writes one audit entry on `conn`, which should be the transaction making the change.
/// `before` / `after` are short JSON descriptions of the changed fields.
pub fn record(
    conn: &Connection,
    actor: &Actor,
    at: DateTime<Utc>,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<i64, StoreError> {
    let before = before.map(|v| v.to_string());
    let after = after.map(|v| v.to_string());
    audit_store::insert(
        conn,
        &NewAuditEntry {
            at,
            actor: &actor.name,
            action,
            target,
            before: before.as_deref(),
            after: after.as_deref(),
            remote_addr: actor.remote_addr.as_deref(),
        },
    )
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditRecord>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub older: Option<i64>,
    pub total: i64,
}

impl Admins {
    pub async fn audit_page(&self, before: Option<i64>, limit: u32) -> Result<AuditPage, AdminError> {
        let limit = limit.clamp(1, 500);
        Ok(self
            .store
            .read(move |c| {
                // One extra row tells whether an older page exists.
                let mut entries = audit_store::page(c, before, limit + 1)?;
                let more = entries.len() > limit as usize;
                entries.truncate(limit as usize);
                let older = if more { entries.last().map(|e| e.id) } else { None };
                let total = audit_store::count(c)?;
                Ok(AuditPage {
                    entries,
                    older,
                    total,
                })
            })
            .await?)
    }
}
