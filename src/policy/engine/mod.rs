//! The policy engine: drains the durable re-evaluation queue (and the fleet-wide request, one
//! row, that a catalog change or the safety sweep makes), stores each device's plan, and
//! delivers what changed — on the declarative path the device's whole own declaration set
//! (through the DDM service), on the legacy path a restrictions profile and `ScheduleOSUpdate`
//! once at the deadline (through the MDM queue). Never both paths on one device: moving to DDM
//! removes the legacy profile. Everything needed to resume is in SQLite: the queue and the fleet
//! request, the plans with what was delivered (fingerprints), the profile and ScheduleOSUpdate
//! records.

mod decide;
mod deliver;
mod kinds;
pub mod legacy;
mod phases;
pub mod wants;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

pub use phases::PhaseTimes;

use crate::ddm::{DdmError, DdmService};
use crate::mdm::{MdmError, MdmService};
use crate::policy::book::PolicyBook;
use crate::policy::service::loading::{build_book, device_record};
use crate::policy::service::{PlanSummary, PolicyError, PolicyService};
use crate::store::membership::{self as membership_store, DeviceMembership};
use crate::store::policies::kinds as kind_store;
use crate::store::policies::plans::{self, FleetScope, PlanRow};
use crate::store::policies::{self as policy_store, ManagedDeviceRow};
use crate::store::{StoreError, settings, sql_time};

/// From this many queued devices on, the fleet and the stored plans are read in one scan each
/// (joined in memory) rather than one point read per device.
const FLEET_SCAN_FROM: usize = 2_000;

/// The catalog the plans were last computed against (a hash of the snapshot's documents).
const CATALOG_SEEN_KEY: &str = "policy.catalog_fingerprint";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("declarations: {0}")]
    Ddm(#[from] DdmError),
    #[error("commands: {0}")]
    Mdm(#[from] MdmError),
    #[error("background task failed: {0}")]
    Task(String),
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineReport {
    pub evaluated: usize,
    /// Devices whose plan differs from what they were last given.
    pub changed: usize,
    pub declarative_deliveries: usize,
    pub legacy_commands: usize,
    /// Where the time went.
    pub phases: PhaseTimes,
}

impl EngineReport {
    fn add(&mut self, other: EngineReport) {
        self.evaluated += other.evaluated;
        self.changed += other.changed;
        self.declarative_deliveries += other.declarative_deliveries;
        self.legacy_commands += other.legacy_commands;
        self.phases.add(other.phases);
    }
}

/// Runs evaluations and deliveries. Cheap to clone.
#[derive(Clone)]
pub struct PolicyEngine {
    policies: PolicyService,
    ddm: DdmService,
    mdm: MdmService,
    batch: usize,
    wake: Arc<tokio::sync::Notify>,
    /// One run at a time (the worker, the jobs and tests may all ask).
    running: Arc<tokio::sync::Mutex<()>>,
}

/// The JSON kept per device for the device page and the API.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredPlan {
    pub policy: Option<String>,
    pub ring: Option<String>,
    pub conflicts: Vec<String>,
    pub plan: PlanSummary,
}

/// A device to evaluate this round, with its queue stamp when it was queued on its own (a device
/// reached only by the fleet-wide request has none).
type WorkItem = (String, Option<String>);

/// The round's devices' facts and stored plans, read in the round's snapshot.
struct Fleet {
    devices: HashMap<String, ManagedDeviceRow>,
    plans: HashMap<String, PlanRow>,
    /// Their stored group membership (devices in no group are absent).
    memberships: HashMap<String, DeviceMembership>,
}

impl Fleet {
    /// Reads the queued devices, or with `whole` every enrolled device too. Returns the round's
    /// work: the queued devices first (oldest first), then the rest of the fleet by UDID.
    fn read(
        c: &rusqlite::Connection,
        queued: Vec<(String, String)>,
        whole: bool,
    ) -> Result<(Fleet, Vec<WorkItem>), StoreError> {
        let asked: HashSet<String> = queued.iter().map(|(u, _)| u.clone()).collect();
        let fleet = if whole {
            Fleet::scan(c, |_| true)?
        } else if asked.len() >= FLEET_SCAN_FROM {
            Fleet::scan(c, |udid| asked.contains(udid))?
        } else {
            let asked: Vec<String> = queued.iter().map(|(u, _)| u.clone()).collect();
            Fleet {
                devices: keyed(policy_store::managed_devices_among(c, &asked)?, |d| &d.udid),
                plans: keyed(plans::plans_among(c, &asked)?, |p| &p.udid),
                memberships: membership_store::among(c, &asked)?,
            }
        };
        let mut work: Vec<WorkItem> = queued.into_iter().map(|(u, s)| (u, Some(s))).collect();
        if whole {
            let mut rest: Vec<WorkItem> = fleet
                .devices
                .keys()
                .filter(|udid| !asked.contains(*udid))
                .map(|udid| (udid.clone(), None))
                .collect();
            rest.sort();
            work.extend(rest);
        }
        Ok((fleet, work))
    }

    /// One scan each of the enrolled devices, the stored plans and the memberships, keeping the
    /// devices `keep` accepts.
    fn scan(c: &rusqlite::Connection, keep: impl Fn(&str) -> bool) -> Result<Fleet, StoreError> {
        let devices = policy_store::managed_devices(c)?
            .into_iter()
            .filter(|d| keep(&d.udid));
        let plans = plans::all_plans(c)?.into_iter().filter(|p| keep(&p.udid));
        let mut memberships = membership_store::all(c)?;
        memberships.retain(|udid, _| keep(udid));
        Ok(Fleet {
            devices: keyed(devices, |d| &d.udid),
            plans: keyed(plans, |p| &p.udid),
            memberships,
        })
    }
}

/// What one round of [`PolicyEngine::run_queue`] does.
enum Round {
    /// Devices one by one.
    Devices(Box<DeviceRound>),
    /// Nothing queued: the request by kind with this stamp (see `kinds.rs`).
    Kinds(String),
}

/// The queued devices, or with `whole` the whole fleet, one by one. A pending request by kind
/// (`kinds`) waits for the next round, unless the whole fleet answers it.
struct DeviceRound {
    rows: crate::policy::service::loading::BookRows,
    whole: Option<String>,
    kinds: Option<String>,
    fleet: Fleet,
    work: Vec<WorkItem>,
}

/// Rows by their UDID.
fn keyed<T>(rows: impl IntoIterator<Item = T>, udid: impl Fn(&T) -> &String) -> HashMap<String, T> {
    rows.into_iter().map(|r| (udid(&r).clone(), r)).collect()
}

/// One evaluated device and what it is to be told.
struct Decided {
    row: PlanRow,
    /// What it is to be told, and its summary (shared by every device deciding alike).
    decision: Arc<decide::Decision>,
    /// The stored row already holds this decision (only `evaluated_at` is written).
    unchanged: bool,
    delivered: Option<String>,
}

/// A device to be given its decision (it differs from what the device was last given).
struct Delivery {
    udid: String,
    decision: Arc<decide::Decision>,
}

/// The stored plan row holds the same decision as `row`, decided for the same kind of device
/// (everything but the stamps).
fn same_decision(stored: &PlanRow, row: &PlanRow) -> bool {
    stored.kind == row.kind
        && stored.fingerprint == row.fingerprint
        && stored.path == row.path
        && stored.target_version == row.target_version
        && stored.deadline_utc == row.deadline_utc
        && stored.next_change_at == row.next_change_at
        && stored.summary_digest == row.summary_digest
}

impl PolicyEngine {
    pub fn new(policies: PolicyService, ddm: DdmService, mdm: MdmService, batch: usize) -> PolicyEngine {
        PolicyEngine {
            wake: policies.queued_signal(),
            policies,
            ddm,
            mdm,
            batch: batch.max(1),
            running: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Wakes the worker (something was queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The minute job: queues devices whose plan changes with time (a deferral ended, a deadline
    /// passed), and asks for a decision per kind of device when the catalog changed. Devices
    /// whose facts change (inventory, enrollment) are queued by
    /// the write that changes them. Returns how many devices were queued one by one (a
    /// fleet-wide request is one row, not counted).
    pub async fn enqueue_changes(&self) -> Result<usize, EngineError> {
        let now = self.policies.clock_now();
        let snapshot = self.policies.catalog_snapshot();
        let seen = hex::encode(Sha256::digest(format!("{:?}", snapshot.fingerprint()).as_bytes()));
        let (queued, fleet) = self
            .policies
            .store()
            .write(move |conn| {
                let tx = conn.transaction()?;
                let fleet = settings::get(&tx, CATALOG_SEEN_KEY)?.as_deref() != Some(seen.as_str());
                if fleet {
                    // Every device alike: decided once per kind of device.
                    plans::request(&tx, FleetScope::Kinds, now)?;
                    settings::set(&tx, CATALOG_SEEN_KEY, &seen, &sql_time(now))?;
                }
                // Devices whose facts changed are queued as the change is written (migration
                // 0021's triggers); here only those whose plan changes with time.
                let queued = plans::enqueue_due(&tx, now)?;
                tx.commit()?;
                Ok((queued, fleet))
            })
            .await?;
        if fleet {
            tracing::info!("the catalog changed: every device's plan is evaluated again");
        }
        if queued > 0 || fleet {
            self.wake();
        }
        Ok(queued)
    }

    /// The hourly safety sweep: every enrolled device is re-evaluated (deliveries only happen
    /// where something changed), and plan summaries no plan refers to any more are deleted (a
    /// few hundred rows at most).
    pub async fn sweep(&self) -> Result<(), EngineError> {
        let now = self.policies.clock_now();
        self.policies
            .store()
            .write(move |conn| {
                let tx = conn.transaction()?;
                plans::prune_summaries(&tx)?;
                plans::request(&tx, FleetScope::Devices, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.wake();
        Ok(())
    }

    /// Evaluates and delivers until the queue is empty and no fleet-wide request is left. Each
    /// round reads the policy book, the queue and the fleet request in one snapshot, so every
    /// device is evaluated with the change that queued it; a device queued again meanwhile keeps
    /// its entry (new stamp), and a fleet asked for again keeps its request, for the next round.
    pub async fn run_queue(&self) -> Result<EngineReport, EngineError> {
        let _one_at_a_time = self.running.lock().await;
        let mut total = EngineReport::default();
        loop {
            let started = Instant::now();
            // Nothing to do (every run ends so) costs three small reads, not the book.
            let read = self
                .policies
                .store()
                .read(|c| {
                    let snapshot = c.unchecked_transaction()?;
                    let queued = plans::queued(&snapshot, usize::MAX)?;
                    let whole = plans::pending_request(&snapshot, FleetScope::Devices)?;
                    let kinds = plans::pending_request(&snapshot, FleetScope::Kinds)?;
                    if queued.is_empty() && whole.is_none() {
                        return Ok(kinds.map(Round::Kinds));
                    }
                    let rows = crate::policy::service::loading::read_book_rows(&snapshot)?;
                    let (fleet, work) = Fleet::read(&snapshot, queued, whole.is_some())?;
                    Ok(Some(Round::Devices(Box::new(DeviceRound {
                        rows,
                        whole,
                        kinds,
                        fleet,
                        work,
                    }))))
                })
                .await?;
            let mut round = match read {
                None => return Ok(total),
                Some(Round::Kinds(stamp)) => {
                    total.phases.read += started.elapsed();
                    total.add(self.run_kinds().await?);
                    self.clear_request(FleetScope::Kinds, stamp).await?;
                    continue;
                }
                Some(Round::Devices(round)) => *round,
            };
            let book = build_book(round.rows)?;
            total.phases.read += started.elapsed();
            let mut memo = decide::DecisionMemo::default();
            for batch in round.work.chunks(self.batch) {
                total.add(
                    self.run_batch(&book, &mut round.fleet, &mut memo, batch.to_vec())
                        .await?,
                );
            }
            if let Some(stamp) = round.whole {
                self.clear_request(FleetScope::Devices, stamp).await?;
                // Every device was decided on its own: that answers a request by kind too.
                if let Some(stamp) = round.kinds {
                    self.clear_request(FleetScope::Kinds, stamp).await?;
                }
            }
        }
    }

    /// Clears the fleet-wide request of `scope` a round read (unless asked for again since).
    async fn clear_request(&self, scope: FleetScope, stamp: String) -> Result<(), EngineError> {
        self.policies
            .store()
            .write(move |c| plans::clear_request(c, scope, &stamp))
            .await?;
        Ok(())
    }

    /// The worker: runs the queue whenever woken (a change queued devices, the minute job found
    /// work), and at least every minute. It waits first, so that a starting appliance settles
    /// (its minute job wakes it).
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(60), engine.wake.notified()).await;
                match engine.run_queue().await {
                    Ok(r) if r.changed > 0 => tracing::info!(
                        evaluated = r.evaluated,
                        changed = r.changed,
                        declarative = r.declarative_deliveries,
                        legacy_commands = r.legacy_commands,
                        "policy plans delivered"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "policy evaluation failed; retried on the next run"),
                }
            }
        })
    }

    async fn run_batch(
        &self,
        book: &PolicyBook,
        fleet: &mut Fleet,
        memo: &mut decide::DecisionMemo,
        entries: Vec<WorkItem>,
    ) -> Result<EngineReport, EngineError> {
        let mut phases = PhaseTimes::default();
        let started = Instant::now();
        // Unknown or unenrolled UDIDs are left out (dequeued, nothing stored but the removal of
        // any group membership they still had, and of their kind).
        let absent: Vec<String> = entries
            .iter()
            .filter(|(u, _)| !fleet.devices.contains_key(u))
            .map(|(u, _)| u.clone())
            .collect();
        let gone: Vec<String> = entries
            .iter()
            .filter(|(u, _)| !fleet.devices.contains_key(u) && fleet.memberships.contains_key(u))
            .map(|(u, _)| u.clone())
            .collect();
        let devices: Vec<ManagedDeviceRow> = entries
            .iter()
            .filter_map(|(u, _)| fleet.devices.remove(u))
            .collect();
        let mut moved: Vec<DeviceMembership> = Vec::new();
        let stored = &fleet.plans;
        let snapshot = self.policies.catalog_snapshot();
        let now = self.policies.clock_now();
        let ctx = decide::Context {
            book,
            catalog: &snapshot.index,
            utc_offset: self.policies.utc_offset(),
            now,
        };
        let mut decided = Vec::with_capacity(devices.len());
        let evaluated_at = sql_time(now);
        for row in devices {
            let device = device_record(row);
            // The device's groups, found once: for its plan and for the stored membership.
            let groups = book.groups_of(&device);
            let membership = book.membership(&device.udid, &groups);
            let stored_membership = fleet.memberships.get(&device.udid);
            if stored_membership.map_or(!membership.groups.is_empty(), |m| *m != membership) {
                moved.push(membership);
            }
            let reaches = book.reaching(&device, &groups);
            let decision = memo.decide(&ctx, &device, &groups, &reaches, &mut phases);
            let row = decision.row(&device.udid, &evaluated_at);
            let before = stored.get(&device.udid);
            let delivered = before.and_then(|p| p.delivered_fingerprint.clone());
            decided.push(Decided {
                unchanged: before.is_some_and(|b| same_decision(b, &row)),
                row,
                decision,
                delivered,
            });
        }
        let rows: Vec<PlanRow> = decided
            .iter()
            .filter(|d| !d.unchanged)
            .map(|d| d.row.clone())
            .collect();
        // The summaries the written rows refer to, each once.
        let mut summaries: HashMap<String, Arc<decide::Decision>> = HashMap::new();
        for d in decided.iter().filter(|d| !d.unchanged) {
            if !summaries.contains_key(&d.decision.summary_digest) {
                summaries.insert(d.decision.summary_digest.clone(), d.decision.clone());
            }
        }
        // The queue entries this batch answers. An unchanged decision is stamped only for a
        // device queued on its own (what queued it is answered); one reached by the fleet-wide
        // request keeps its row as it is (no write per device for a fleet that did not change).
        let dequeued: Vec<(String, String)> = entries
            .into_iter()
            .filter_map(|(udid, stamp)| stamp.map(|s| (udid, s)))
            .collect();
        let queued: HashSet<&str> = dequeued.iter().map(|(u, _)| u.as_str()).collect();
        let unchanged: Vec<String> = decided
            .iter()
            .filter(|d| d.unchanged && queued.contains(d.row.udid.as_str()))
            .map(|d| d.row.udid.clone())
            .collect();
        phases.evaluate = started.elapsed();
        let started = Instant::now();
        self.policies
            .store()
            .write(move |conn| {
                let tx = conn.transaction()?;
                plans::save_summaries(
                    &tx,
                    summaries
                        .values()
                        .map(|d| (d.summary_digest.as_str(), d.summary.as_str())),
                )?;
                for row in &rows {
                    plans::save_evaluation(&tx, row)?;
                }
                plans::touch_evaluations(&tx, &unchanged, now)?;
                plans::dequeue(&tx, &dequeued)?;
                // A device queued again since this round read the book (a group changed, and
                // stored its membership with the change) keeps that; the next round resolves it.
                let touched: Vec<String> = moved
                    .iter()
                    .map(|m| m.udid.clone())
                    .chain(gone.iter().cloned())
                    .collect();
                let requeued = plans::still_queued(&tx, &touched)?;
                moved.retain(|m| !requeued.contains(&m.udid));
                let gone: Vec<String> = gone.into_iter().filter(|u| !requeued.contains(u)).collect();
                membership_store::replace_devices(&tx, &moved)?;
                membership_store::remove_devices(&tx, &gone)?;
                kind_store::forget(&tx, &absent)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        phases.store_plans = started.elapsed();
        let mut report = EngineReport {
            evaluated: decided.len(),
            ..EngineReport::default()
        };
        let pending: Vec<Delivery> = decided
            .into_iter()
            .filter(|d| d.delivered.as_deref() != Some(d.row.fingerprint.as_str()))
            .map(|d| Delivery {
                udid: d.row.udid,
                decision: d.decision,
            })
            .collect();
        self.deliver(pending, now, &mut report).await?;
        report.phases.add(phases);
        Ok(report)
    }

    /// Gives each device its decision, declaratively or by the legacy path (a decision to tell
    /// nothing sends nothing), and counts what was done in `report`.
    async fn deliver(
        &self,
        pending: Vec<Delivery>,
        now: chrono::DateTime<chrono::Utc>,
        report: &mut EngineReport,
    ) -> Result<(), EngineError> {
        let pending: Vec<Delivery> = pending
            .into_iter()
            .filter(|d| !matches!(d.decision.want, wants::Want::Nothing))
            .collect();
        report.changed += pending.len();
        let (declarative, legacy): (Vec<Delivery>, Vec<Delivery>) = pending
            .into_iter()
            .partition(|d| matches!(d.decision.want, wants::Want::Declarative { .. }));
        report.declarative_deliveries += self
            .deliver_declarative(declarative, now, &mut report.phases)
            .await?;
        let started = Instant::now();
        report.legacy_commands += self.deliver_legacy(legacy, now).await?;
        report.phases.legacy += started.elapsed();
        Ok(())
    }
}
