//! The one way a policy, group or ring change is written: the change itself, its audit record and
//! the re-evaluation queue entries for the devices it affects, in one transaction; then the engine
//! is woken.

use chrono::{DateTime, Utc};
use rusqlite::Transaction;
use serde_json::Value;

use super::{PolicyError, PolicyService};
use crate::admin::{Actor, audit};
use crate::store::StoreError;
use crate::store::policies::plans;

/// What a change records in the audit log and which devices it queues.
pub(super) struct Change {
    /// Audit target, such as `group:Pilot`.
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub affected: Vec<String>,
    /// Why the devices were queued, such as `group Pilot deleted`.
    pub reason: String,
}

impl PolicyService {
    /// Runs `apply` (which returns the audit action) with the audit record and the queueing of
    /// `change.affected`, all in one transaction, then wakes the engine.
    pub(super) async fn commit_change<F>(
        &self,
        actor: &Actor,
        change: Change,
        apply: F,
    ) -> Result<(), PolicyError>
    where
        F: FnOnce(&Transaction, DateTime<Utc>) -> Result<&'static str, StoreError> + Send + 'static,
    {
        let now = self.clock.now();
        let actor = actor.clone();
        self.store
            .write(move |conn| {
                let tx = conn.transaction()?;
                let action = apply(&tx, now)?;
                audit::record(
                    &tx,
                    &actor,
                    now,
                    action,
                    &change.target,
                    change.before,
                    change.after,
                )?;
                plans::enqueue(&tx, &change.affected, &change.reason, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.notify_queued();
        Ok(())
    }
}
