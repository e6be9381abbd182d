//! The DDM client of a simulated device: the sync of facts §1.4 (tokens → declaration-items →
//! only new or changed declarations, removal of the ones no longer listed), activation
//! evaluation, the software-update model, and status reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::declarations::{self, Evaluation, HeldDeclaration, ServedDeclaration};
use super::predicate::PredicateContext;
use super::report::{StatusReporter, StatusSnapshot};
use super::software_update::SoftwareUpdateModel;
use super::{DdmTransport, SimDdmError};
use crate::clock::SharedClock;
use crate::protocol::ddm::set::DeclarationItem;
use crate::protocol::ddm::{DeclarationClass, DeclarationItemsResponse, supports};

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// The `DeclarationsToken` the device holds after the sync.
    pub declarations_token: String,
    /// The token differed from the one held, so the manifest was fetched.
    pub changed: bool,
    /// The declaration endpoints fetched (`declaration/<class>/<identifier>`), in order.
    pub fetched: Vec<String>,
    /// Identifiers of the declarations removed.
    pub removed: Vec<String>,
    /// The status report sent after the sync, if one was due.
    pub report: Option<ReportSent>,
}

/// A status report the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSent {
    pub full: bool,
    /// Dotted names of the items in it (`management.declarations.<array>` for the arrays).
    pub item_names: Vec<String>,
}

#[derive(Deserialize)]
struct TokensBody {
    #[serde(rename = "SyncTokens")]
    sync_tokens: SyncTokensBody,
}

#[derive(Deserialize)]
struct SyncTokensBody {
    #[serde(rename = "DeclarationsToken")]
    declarations_token: String,
}

/// One device's DDM client. Not shared between tasks: each simulated device owns one.
pub struct DdmClient {
    transport: Arc<dyn DdmTransport>,
    clock: SharedClock,
    model: SoftwareUpdateModel,
    held: BTreeMap<String, HeldDeclaration>,
    declarations_token: Option<String>,
    evaluation: Evaluation,
    reporter: StatusReporter,
}

impl DdmClient {
    pub fn new(transport: Arc<dyn DdmTransport>, clock: SharedClock, model: SoftwareUpdateModel) -> Self {
        DdmClient {
            transport,
            clock,
            model,
            held: BTreeMap::new(),
            declarations_token: None,
            evaluation: Evaluation::default(),
            reporter: StatusReporter::default(),
        }
    }

    pub fn model(&self) -> &SoftwareUpdateModel {
        &self.model
    }

    /// The update model, to inject failures or change the device; call [`DdmClient::advance`]
    /// afterwards to report what changed.
    pub fn model_mut(&mut self) -> &mut SoftwareUpdateModel {
        &mut self.model
    }

    pub fn declarations_token(&self) -> Option<&str> {
        self.declarations_token.as_deref()
    }

    /// The declarations held, by identifier.
    pub fn held(&self) -> &BTreeMap<String, HeldDeclaration> {
        &self.held
    }

    /// The state of each declaration as the next full report would give it
    /// (`management.declarations` elements, by array then identifier).
    pub fn declaration_states(&self) -> &BTreeMap<&'static str, BTreeMap<String, Value>> {
        &self.evaluation.states
    }

    /// The status items the active subscriptions name.
    pub fn subscriptions(&self) -> &BTreeSet<String> {
        &self.evaluation.subscriptions
    }

    /// The `DeclarativeManagement` MDM command arrived. Its `Data` (`{"SyncTokens": {...}}`) gives
    /// the token to compare; without it the device asks the `tokens` endpoint.
    pub async fn on_declarative_management(
        &mut self,
        data: Option<&[u8]>,
    ) -> Result<SyncOutcome, SimDdmError> {
        let token = match data.filter(|d| !d.is_empty()) {
            Some(data) => parse_tokens("DeclarativeManagement Data", data)?,
            None => self.fetch_tokens().await?,
        };
        self.sync_to(token).await
    }

    /// A sync started by the device (asks the `tokens` endpoint first).
    pub async fn sync(&mut self) -> Result<SyncOutcome, SimDdmError> {
        let token = self.fetch_tokens().await?;
        self.sync_to(token).await
    }

    /// Moves the update model to the clock's now, re-evaluates, and sends the status report due
    /// (changed items, or the daily full report).
    pub async fn advance(&mut self) -> Result<Option<ReportSent>, SimDdmError> {
        self.model.advance();
        self.apply();
        self.report().await
    }

    async fn fetch_tokens(&self) -> Result<String, SimDdmError> {
        let body = self.call("tokens", None).await?;
        parse_tokens("tokens", &body)
    }

    async fn sync_to(&mut self, token: String) -> Result<SyncOutcome, SimDdmError> {
        self.model.advance();
        let mut outcome = SyncOutcome {
            declarations_token: token.clone(),
            ..SyncOutcome::default()
        };
        if self.declarations_token.as_deref() != Some(token.as_str()) {
            outcome.changed = true;
            let body = self.call("declaration-items", None).await?;
            let manifest: DeclarationItemsResponse =
                serde_json::from_slice(&body).map_err(|e| malformed("declaration-items", e.to_string()))?;
            let listed = manifest_items(&manifest);
            for (class, item) in &listed {
                let known = self
                    .held
                    .get(&item.identifier)
                    .is_some_and(|held| held.class == *class && held.server_token() == item.server_token);
                if known {
                    continue;
                }
                let endpoint = format!("declaration/{}/{}", class.as_str(), item.identifier);
                let body = self.call(&endpoint, None).await?;
                let served: ServedDeclaration =
                    serde_json::from_slice(&body).map_err(|e| malformed(&endpoint, e.to_string()))?;
                if served.identifier != item.identifier {
                    return Err(malformed(&endpoint, format!("served {}", served.identifier)));
                }
                let model = &self.model;
                let held = HeldDeclaration::receive(*class, served, &|e| model.check_enforcement(e));
                self.held.insert(item.identifier.clone(), held);
                outcome.fetched.push(endpoint);
            }
            let listed_ids: BTreeSet<&str> =
                listed.iter().map(|(_, item)| item.identifier.as_str()).collect();
            outcome.removed = self
                .held
                .keys()
                .filter(|id| !listed_ids.contains(id.as_str()))
                .cloned()
                .collect();
            for id in &outcome.removed {
                self.held.remove(id);
            }
            self.declarations_token = Some(manifest.declarations_token.clone());
            outcome.declarations_token = manifest.declarations_token;
        }
        self.apply();
        outcome.report = self.report().await?;
        Ok(outcome)
    }

    /// Evaluates activations and hands the active update configurations to the model.
    fn apply(&mut self) {
        let context = Context {
            items: self.snapshot().items,
            properties: declarations::properties(&self.held),
        };
        self.evaluation = declarations::evaluate(&self.held, &context);
        self.model.configure(
            self.evaluation.settings.clone(),
            self.evaluation.enforcements.clone(),
        );
    }

    /// Every status item value the device has now, and the declaration states.
    fn snapshot(&self) -> StatusSnapshot {
        let device = self.model.device();
        let mut items: BTreeMap<String, Value> = [
            ("device.identifier.udid", json!(device.udid)),
            ("device.identifier.serial-number", json!(device.serial_number)),
            ("device.model.family", json!(device.model_family())),
            ("device.model.identifier", json!(device.model_identifier)),
            ("device.operating-system.family", json!(device.os_family())),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        let update_items = device
            .installed_version()
            .is_some_and(|version| supports(device.platform, version).update_status);
        for (name, value) in self.model.status_items() {
            if update_items || !name.starts_with("softwareupdate.") {
                items.insert(name.to_string(), value);
            }
        }
        StatusSnapshot {
            items,
            states: self.evaluation.states.clone(),
        }
    }

    async fn report(&mut self) -> Result<Option<ReportSent>, SimDdmError> {
        let snapshot = self.snapshot();
        let Some(prepared) =
            self.reporter
                .prepare(self.clock.now(), &self.evaluation.subscriptions, &snapshot)
        else {
            return Ok(None);
        };
        self.call("status", Some(prepared.body.clone())).await?;
        let sent = ReportSent {
            full: prepared.full,
            item_names: prepared.item_names.clone(),
        };
        self.reporter.sent(prepared);
        Ok(Some(sent))
    }

    async fn call(&self, endpoint: &str, data: Option<Vec<u8>>) -> Result<Vec<u8>, SimDdmError> {
        let (status, body) = self
            .transport
            .declarative(endpoint, data)
            .await
            .map_err(|message| SimDdmError::Transport {
                endpoint: endpoint.to_string(),
                message,
            })?;
        if !(200..300).contains(&status) {
            return Err(SimDdmError::Status {
                endpoint: endpoint.to_string(),
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(body)
    }
}

fn malformed(endpoint: &str, why: String) -> SimDdmError {
    SimDdmError::Malformed {
        endpoint: endpoint.to_string(),
        why,
    }
}

fn parse_tokens(what: &str, body: &[u8]) -> Result<String, SimDdmError> {
    let tokens: TokensBody = serde_json::from_slice(body).map_err(|e| malformed(what, e.to_string()))?;
    Ok(tokens.sync_tokens.declarations_token)
}

fn manifest_items(manifest: &DeclarationItemsResponse) -> Vec<(DeclarationClass, DeclarationItem)> {
    let lists = &manifest.declarations;
    [
        (DeclarationClass::Activation, &lists.activations),
        (DeclarationClass::Configuration, &lists.configurations),
        (DeclarationClass::Asset, &lists.assets),
        (DeclarationClass::Management, &lists.management),
    ]
    .into_iter()
    .flat_map(|(class, items)| items.iter().map(move |item| (class, item.clone())))
    .collect()
}

/// What predicates read: the device's status items (strings as they are, others as JSON text)
/// and its management properties.
struct Context {
    items: BTreeMap<String, Value>,
    properties: BTreeMap<String, String>,
}

impl PredicateContext for Context {
    fn status(&self, item: &str) -> Option<String> {
        self.items.get(item).map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }

    fn property(&self, key: &str) -> Option<String> {
        self.properties.get(key).cloned()
    }
}
