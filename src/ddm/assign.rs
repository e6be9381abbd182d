//! Own declaration sets given to many devices at once. The policy engine's batches are mostly
//! devices that share their set (same OS target, same plan): each distinct set is validated,
//! interned and tokenized once, and its devices are written, compared and listed as due with one
//! statement each for the whole list.

use std::collections::HashMap;

use super::sync::{compose_token, intern_group, shared};
use super::{DdmError, DdmService, Recomputation, check_udid};
use crate::protocol::ddm::{Declaration, DeclarationSet};
use crate::store::ddm::{self as store, assign};

/// Devices that are to have the same own declarations.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnSetAssignment {
    pub declarations: Vec<Declaration>,
    pub udids: Vec<String>,
}

impl DdmService {
    /// Gives each assignment's devices its declarations as their own, in one transaction; the
    /// enrolled devices whose `DeclarationsToken` changed are handed to the notifier (pushed)
    /// once. Their `DeclarativeManagement` command is made when they check in. A device should appear in one assignment only;
    /// were it in several, the last one wins.
    pub async fn assign_device_sets(
        &self,
        assignments: Vec<OwnSetAssignment>,
    ) -> Result<Recomputation, DdmError> {
        for assignment in &assignments {
            for udid in &assignment.udids {
                check_udid(udid)?;
            }
            DeclarationSet::new(assignment.declarations.iter().cloned())?;
        }
        let now = self.now_text();
        let (mut outcome, due) = self
            .in_transaction(move |tx| {
                let (shared_key, shared_members) = shared(tx, &now)?;
                let mut ids = HashMap::new();
                let mut tokens: HashMap<String, String> = HashMap::new();
                let mut outcome = Recomputation::default();
                let mut due = Vec::new();
                for assignment in assignments.iter().filter(|a| !a.udids.is_empty()) {
                    let (own_key, own_members) = intern_group(tx, &assignment.declarations, &mut ids, &now)?;
                    let token = match tokens.get(&own_key) {
                        Some(token) => token.clone(),
                        None => {
                            let token = compose_token(&shared_members, &own_members);
                            store::intern_set(tx, &token, &shared_key, &own_key, &now)?;
                            tokens.insert(own_key.clone(), token.clone());
                            outcome.sets_computed += 1;
                            token
                        }
                    };
                    let changed = assign::devices_off_set(tx, &assignment.udids, &token)?;
                    assign::put_devices(tx, &assignment.udids, &own_key, &token, &now)?;
                    outcome.devices_changed += changed.len();
                    due.extend(assign::due_among(tx, &changed)?);
                }
                Ok((outcome, due))
            })
            .await?;
        outcome.devices_notified = self.notify(due).await?;
        Ok(outcome)
    }
}
