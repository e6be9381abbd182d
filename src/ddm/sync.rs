//! Declaration sets and the sync trigger.
//!
//! A device's set is the shared declarations (every DDM device gets them) plus its own; its own win
//! over a shared one with the same identifier. Both parts are stored as content-addressed groups,
//! so devices with the same own declarations share one group, and recomputing after a change of
//! the shared declarations is one token per distinct own group plus one set-based UPDATE.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::{DdmError, DdmService, SyncChange, parse_timestamp};
use crate::protocol::ddm::set::SyncTokens;
use crate::protocol::ddm::token::declarations_token;
use crate::protocol::ddm::{Declaration, DeclarationIdentifier, DeclarationSet, TokensResponse};
use crate::store::ddm::{self as store, GroupMember, Notification, StoredDeclaration};

/// What a change of declarations did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recomputation {
    /// Devices whose `DeclarationsToken` changed.
    pub devices_changed: usize,
    /// Distinct own groups for which a set was computed.
    pub sets_computed: usize,
    /// Devices handed to the notifier (to be pushed): the changed ones that are enrolled.
    pub devices_notified: usize,
}

/// The token of the set made of `shared` and `own` (own wins on an identifier).
pub(super) fn compose_token(shared: &[GroupMember], own: &[GroupMember]) -> String {
    let own_identifiers: HashSet<&str> = own.iter().map(|m| m.identifier.as_str()).collect();
    declarations_token(
        shared
            .iter()
            .filter(|m| !own_identifiers.contains(m.identifier.as_str()))
            .chain(own)
            .map(|m| (m.identifier.as_str(), m.server_token.as_str())),
    )
}

fn stored(declaration: &Declaration) -> StoredDeclaration {
    StoredDeclaration {
        identifier: declaration.identifier().to_string(),
        server_token: declaration.server_token().to_string(),
        declaration_type: declaration.declaration_type().to_string(),
        payload: Value::Object(declaration.payload().clone()).to_string(),
    }
}

/// Stores a list of declarations as a group; returns the group's key and members.
pub(super) fn intern_group(
    conn: &Connection,
    declarations: &[Declaration],
    ids: &mut HashMap<(String, String), i64>,
    now: &str,
) -> Result<(String, Vec<GroupMember>), DdmError> {
    let key = declarations_token(
        declarations
            .iter()
            .map(|d| (d.identifier().as_str(), d.server_token())),
    );
    let mut members = Vec::with_capacity(declarations.len());
    for declaration in declarations {
        let cache_key = (
            declaration.identifier().to_string(),
            declaration.server_token().to_string(),
        );
        let id = match ids.get(&cache_key) {
            Some(id) => *id,
            None => {
                let id = store::intern_declaration(conn, &stored(declaration), now)?;
                ids.insert(cache_key, id);
                id
            }
        };
        members.push(GroupMember {
            group_key: key.clone(),
            identifier: declaration.identifier().to_string(),
            server_token: declaration.server_token().to_string(),
            declaration_id: id,
        });
    }
    let member_ids: Vec<i64> = members.iter().map(|m| m.declaration_id).collect();
    store::intern_group(conn, &key, &member_ids, now)?;
    Ok((key, members))
}

/// The current shared group and its members (an empty group on a new database).
pub(super) fn shared(conn: &Connection, now: &str) -> Result<(String, Vec<GroupMember>), DdmError> {
    match store::shared_group(conn)? {
        Some(key) => {
            let members = store::group_members(conn, &key)?;
            Ok((key, members))
        }
        None => {
            let (key, members) = intern_group(conn, &[], &mut HashMap::new(), now)?;
            store::set_shared_group(conn, &key, now)?;
            Ok((key, members))
        }
    }
}

/// Makes sure the device has a row (with no own declarations if new); returns its sync state.
pub(super) fn ensure_device(conn: &Connection, udid: &str, now: &str) -> Result<store::DeviceSync, DdmError> {
    if let Some(device) = store::device(conn, udid)? {
        return Ok(device);
    }
    let (shared_key, shared_members) = shared(conn, now)?;
    let (own_key, own_members) = intern_group(conn, &[], &mut HashMap::new(), now)?;
    let token = compose_token(&shared_members, &own_members);
    store::intern_set(conn, &token, &shared_key, &own_key, now)?;
    store::put_device(conn, udid, &own_key, &token, now)?;
    store::device(conn, udid)?.ok_or_else(|| DdmError::Inconsistent(format!("device {udid} vanished")))
}

/// Rebuilds a stored declaration, checking its token still matches its content.
fn rebuild(stored: StoredDeclaration) -> Result<Declaration, DdmError> {
    let bad = |why: String| DdmError::Inconsistent(format!("declaration {}: {why}", stored.identifier));
    let identifier = DeclarationIdentifier::parse(&stored.identifier).map_err(|e| bad(e.to_string()))?;
    let payload: Map<String, Value> =
        serde_json::from_str(&stored.payload).map_err(|e| bad(e.to_string()))?;
    let declaration = Declaration::from_parts(&stored.declaration_type, identifier, payload)?;
    if declaration.server_token() != stored.server_token {
        return Err(bad("the stored token does not match the content".into()));
    }
    Ok(declaration)
}

/// The declarations of the set named `token`, checked against the token.
pub(super) fn load_set(conn: &Connection, token: &str) -> Result<DeclarationSet, DdmError> {
    let (shared_key, own_key) = store::set_groups(conn, token)?
        .ok_or_else(|| DdmError::Inconsistent(format!("declaration set {token} is missing")))?;
    let own = store::group_declarations(conn, &own_key)?
        .into_iter()
        .map(rebuild)
        .collect::<Result<Vec<_>, _>>()?;
    let own_identifiers: HashSet<String> = own.iter().map(|d| d.identifier().to_string()).collect();
    let mut declarations = own;
    for shared in store::group_declarations(conn, &shared_key)? {
        if !own_identifiers.contains(&shared.identifier) {
            declarations.push(rebuild(shared)?);
        }
    }
    let set = DeclarationSet::new(declarations)?;
    if set.declarations_token() != token {
        return Err(DdmError::Inconsistent(format!(
            "declaration set {token} no longer has its token"
        )));
    }
    Ok(set)
}

pub(super) fn tokens_json(token: &str, token_at: &str) -> Result<Vec<u8>, DdmError> {
    let response = TokensResponse {
        sync_tokens: SyncTokens {
            declarations_token: token.to_string(),
            timestamp: parse_timestamp(token_at)?,
        },
    };
    serde_json::to_vec(&response).map_err(|e| DdmError::Inconsistent(e.to_string()))
}

impl DdmService {
    /// Replaces the shared declarations (the status subscription, activations, ... every DDM
    /// device gets) and recomputes every device's set in one transaction; the enrolled devices
    /// whose token changed are handed to the notifier (pushed) once.
    pub async fn set_shared_declarations(
        &self,
        declarations: Vec<Declaration>,
    ) -> Result<Recomputation, DdmError> {
        DeclarationSet::new(declarations.clone())?;
        let now = self.now_text();
        let (mut outcome, due) = self
            .in_transaction(move |tx| {
                let (key, members) = intern_group(tx, &declarations, &mut HashMap::new(), &now)?;
                if store::shared_group(tx)?.as_deref() == Some(key.as_str()) {
                    return Ok((Recomputation::default(), Vec::new()));
                }
                store::set_shared_group(tx, &key, &now)?;
                let groups = store::own_groups_in_use(tx)?;
                let mut targets: Vec<(String, String)> = Vec::new();
                for own in groups.chunk_by(|a, b| a.group_key == b.group_key) {
                    let own_key = own[0].group_key.clone();
                    let own: Vec<GroupMember> =
                        own.iter().filter(|m| m.declaration_id != 0).cloned().collect();
                    let token = compose_token(&members, &own);
                    store::intern_set(tx, &token, &key, &own_key, &now)?;
                    targets.push((own_key, token));
                }
                let retargeted = store::retarget_by_own_group(tx, &targets, &now)?;
                let outcome = Recomputation {
                    devices_changed: retargeted.devices_changed,
                    sets_computed: targets.len(),
                    devices_notified: 0,
                };
                Ok((outcome, retargeted.due))
            })
            .await?;
        outcome.devices_notified = self.notify(due).await?;
        Ok(outcome)
    }

    /// Sets one device's own declarations (what the policy engine computed for it).
    pub async fn set_device_declarations(
        &self,
        udid: &str,
        declarations: Vec<Declaration>,
    ) -> Result<Recomputation, DdmError> {
        self.set_many_device_declarations(vec![(udid.to_string(), declarations)])
            .await
    }

    /// Sets the own declarations of many devices in one transaction. Devices given the same
    /// declarations are handled together (see [`DdmService::assign_device_sets`]); a device
    /// listed twice gets the last declarations listed for it.
    pub async fn set_many_device_declarations(
        &self,
        devices: Vec<(String, Vec<Declaration>)>,
    ) -> Result<Recomputation, DdmError> {
        let mut last: HashMap<String, usize> = HashMap::with_capacity(devices.len());
        for (index, (udid, _)) in devices.iter().enumerate() {
            last.insert(udid.clone(), index);
        }
        let mut by_content: HashMap<String, usize> = HashMap::new();
        let mut assignments: Vec<super::OwnSetAssignment> = Vec::new();
        for (index, (udid, declarations)) in devices.into_iter().enumerate() {
            if last.get(&udid) != Some(&index) {
                continue;
            }
            let key = declarations_token(
                declarations
                    .iter()
                    .map(|d| (d.identifier().as_str(), d.server_token())),
            );
            match by_content.get(&key) {
                Some(&at) => assignments[at].udids.push(udid),
                None => {
                    by_content.insert(key, assignments.len());
                    assignments.push(super::OwnSetAssignment {
                        declarations,
                        udids: vec![udid],
                    });
                }
            }
        }
        self.assign_device_sets(assignments).await
    }

    /// A device enrolled or re-enrolled (after its `TokenUpdate`): it becomes due a sync of its
    /// tokens whatever it was told before, since a re-enrolled device may have lost its
    /// declarations, and is pushed.
    pub async fn on_enrollment(&self, udid: &str) -> Result<(), DdmError> {
        self.on_enrollments(vec![udid.to_string()]).await
    }

    /// [`DdmService::on_enrollment`] for many devices (an import), in one transaction.
    pub async fn on_enrollments(&self, udids: Vec<String>) -> Result<(), DdmError> {
        for udid in &udids {
            super::check_udid(udid)?;
        }
        let now = self.now_text();
        let due = self
            .in_transaction(move |tx| {
                let mut due = Vec::with_capacity(udids.len());
                for udid in &udids {
                    ensure_device(tx, udid, &now)?;
                    due.extend(store::enroll(tx, udid, &now)?);
                }
                Ok(due)
            })
            .await?;
        self.notify(due).await?;
        Ok(())
    }

    /// Removes declaration sets, groups and declarations no device can be served any more (for
    /// the daily housekeeping): a set stays while a device's latest, offered or manifest points at it.
    pub async fn prune(&self) -> Result<store::Pruned, DdmError> {
        self.in_transaction(|tx| Ok(store::prune(tx)?)).await
    }

    /// Hands every device still due a sync to the notifier again (a push lost on the way, a
    /// notifier that failed). Nothing is claimed: a device stays due until it is sent its
    /// `DeclarativeManagement` command ([`DdmService::claim_sync`]) or fetches its tokens.
    pub async fn flush_notifications(&self) -> Result<usize, DdmError> {
        let due = self.reading(|conn| Ok(store::due_devices(conn)?)).await?;
        self.notify(due).await
    }

    /// Whether `udid` is due a sync (enrolled, and its latest set is not the one it was last
    /// told about): one point read on the caller's connection, for the MDM idle path.
    pub fn sync_due(&self, conn: &Connection, udid: &str) -> Result<bool, DdmError> {
        Ok(store::is_due(conn, udid)?)
    }

    /// Claims `udid`'s due sync in the caller's transaction (the MDM service's, which writes the
    /// `DeclarativeManagement` command it is sent in the same one) and returns the command's
    /// `Data`: the current sync tokens. `None` when the device is not due.
    pub fn claim_sync(&self, tx: &Connection, udid: &str) -> Result<Option<Vec<u8>>, DdmError> {
        match store::claim_due(tx, udid)? {
            Some(due) => Ok(Some(tokens_json(&due.declarations_token, &due.token_at)?)),
            None => Ok(None),
        }
    }

    /// Hands the devices due a sync to the notifier (which pushes them); nothing is claimed, so
    /// a device the notifier could not reach stays due.
    pub(super) async fn notify(&self, due: Vec<Notification>) -> Result<usize, DdmError> {
        if due.is_empty() {
            return Ok(0);
        }
        let changes: Vec<SyncChange> = due
            .into_iter()
            .map(|notification| SyncChange {
                udid: notification.udid,
                declarations_token: notification.declarations_token,
            })
            .collect();
        self.notifier
            .declarations_changed(&changes)
            .await
            .map_err(|error| DdmError::Notify(error.to_string()))?;
        Ok(changes.len())
    }
}
