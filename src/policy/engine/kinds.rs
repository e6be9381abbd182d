//! A change that reaches every device alike (a new catalog, the ring calendar) decided once per
//! kind of device instead of once per device.
//!
//! Each plan row stores the kind its device was decided as ([`decide::kind_of`]: its groups, the
//! policies reaching it, and its model, OS, build, supervision and declarative enrollment).
//! Devices of one kind decide alike, so a run reads one device per kind (a few hundred point
//! reads, not the fleet), decides it, and writes the decision to every device of the kind whose
//! stored decision differs, with one statement per kind. What differs is delivered as usual.
//!
//! A stored kind is only as good as the queueing that keeps it: every change to a device's facts
//! or groups queues the device (triggers, group and policy changes), and a queued device is
//! decided on its own, never by kind. Each kind is checked through its representative: decided
//! again from its current facts and today's book, it must still be of the stored kind (a group
//! or an assignment it depends on may have changed). A kind that no longer holds has its devices
//! queued, one by one. The hourly sweep evaluates every device on its own, whatever the kinds say.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::decide::{self, Decision, DecisionMemo};
use super::wants::Want;
use super::{Delivery, EngineError, EngineReport, PolicyEngine};
use crate::policy::service::loading::{build_book, device_record, read_book_rows_for};
use crate::store::policies::kinds::{self as kind_store, StoredKind};
use crate::store::policies::plans::{self, PlanRow};
use crate::store::policies::{self as policy_store};
use crate::store::sql_time;

impl PolicyEngine {
    /// Decides every stored kind once and writes the decisions, in transactions of about
    /// `evaluation_batch` devices, each followed by its deliveries. Returns what was done;
    /// `evaluated` counts the devices the kinds cover.
    pub(super) async fn run_kinds(&self) -> Result<EngineReport, EngineError> {
        let mut report = EngineReport::default();
        let started = Instant::now();
        let (kinds, rows, devices) = self
            .policies
            .store()
            .read(|c| {
                let snapshot = c.unchecked_transaction()?;
                let kinds = kind_store::kinds(&snapshot)?;
                let representatives: Vec<String> =
                    kinds.iter().filter_map(|k| k.representative.clone()).collect();
                let rows = read_book_rows_for(&snapshot, &representatives)?;
                let devices = policy_store::managed_devices_among(&snapshot, &representatives)?;
                Ok((kinds, rows, devices))
            })
            .await?;
        let book = build_book(rows)?;
        let mut devices: HashMap<String, _> = devices.into_iter().map(|d| (d.udid.clone(), d)).collect();
        report.phases.read += started.elapsed();

        let started = Instant::now();
        let now = self.policies.clock_now();
        let snapshot = self.policies.catalog_snapshot();
        let ctx = decide::Context {
            book: &book,
            catalog: &snapshot.index,
            utc_offset: self.policies.utc_offset(),
            now,
        };
        let mut memo = DecisionMemo::default();
        let mut decided: Vec<(StoredKind, Arc<Decision>)> = Vec::with_capacity(kinds.len());
        let mut stale: Vec<String> = Vec::new();
        for kind in kinds {
            // Every device of the kind is queued: each is decided on its own.
            let Some(representative) = &kind.representative else {
                continue;
            };
            let Some(row) = devices.remove(representative) else {
                stale.push(kind.kind);
                continue;
            };
            let device = device_record(row);
            let groups = book.groups_of(&device);
            let reaches = book.reaching(&device, &groups);
            let decision = memo.decide(&ctx, &device, &groups, &reaches, &mut report.phases);
            if decision.kind == kind.kind {
                decided.push((kind, decision));
            } else {
                stale.push(kind.kind);
            }
        }
        report.phases.evaluate += started.elapsed();

        let mut chunk: Vec<(StoredKind, Arc<Decision>)> = Vec::new();
        let mut chunk_devices = 0;
        let mut rest = decided.into_iter().peekable();
        while let Some(next) = rest.next() {
            chunk_devices += next.0.devices;
            chunk.push(next);
            if chunk_devices >= self.batch || rest.peek().is_none() {
                let written = std::mem::take(&mut chunk);
                chunk_devices = 0;
                self.write_kinds(written, now, &mut report).await?;
            }
        }
        if !stale.is_empty() {
            let queued = self
                .policies
                .store()
                .write(move |c| {
                    let tx = c.transaction()?;
                    let mut udids = Vec::new();
                    for kind in &stale {
                        udids.extend(kind_store::devices_of_kind(&tx, kind)?);
                    }
                    plans::enqueue(&tx, &udids, "kind of device changed", now)?;
                    tx.commit()?;
                    Ok(udids.len())
                })
                .await?;
            tracing::info!(
                devices = queued,
                "kinds of device no longer hold: their devices are evaluated one by one"
            );
        }
        Ok(report)
    }

    /// Writes each kind's decision to its devices, and delivers to those whose new decision is
    /// not what they were last given. Declarative sets are assigned first, then the decisions are
    /// written with their delivery records in one transaction, one statement per kind (a crash
    /// in between assigns the same sets again on the next run, which changes nothing). The
    /// legacy path delivers after the write, as for devices decided one by one.
    async fn write_kinds(
        &self,
        kinds: Vec<(StoredKind, Arc<Decision>)>,
        now: DateTime<Utc>,
        report: &mut EngineReport,
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        // Evaluated and (declaratively) delivered at the moment the kinds were decided for.
        let at = sql_time(now);
        let rows: Vec<(PlanRow, Arc<Decision>)> =
            kinds.iter().map(|(_, d)| (d.row("", &at), d.clone())).collect();
        let declarative = |d: &Decision| matches!(d.want, Want::Declarative { .. });
        let wanted: Vec<PlanRow> = rows
            .iter()
            .filter(|(_, d)| declarative(d))
            .map(|(r, _)| r.clone())
            .collect();
        let differing = self
            .policies
            .store()
            .read(move |c| {
                let snapshot = c.unchecked_transaction()?;
                let mut out = Vec::new();
                for row in &wanted {
                    out.push(kind_store::differing(&snapshot, row)?);
                }
                Ok(out)
            })
            .await?;
        let mut assign = Vec::new();
        // The declarative kinds none of whose devices differs: nothing to write for them.
        let mut settled: HashSet<String> = HashSet::new();
        for ((_, decision), devices) in rows.iter().filter(|(_, d)| declarative(d)).zip(differing) {
            if devices.is_empty() {
                settled.insert(decision.kind.clone());
            }
            for (udid, delivered) in devices {
                if delivered.as_deref() != Some(decision.fingerprint.as_str()) {
                    assign.push(Delivery {
                        udid,
                        decision: decision.clone(),
                    });
                }
            }
        }
        report.phases.store_plans += started.elapsed();
        report.changed += assign.len();
        let assigned = self
            .assign_declarative(assign, now, &mut report.phases)
            .await?
            .len();
        report.declarative_deliveries += assigned;

        let started = Instant::now();
        let (covered, written) = self
            .policies
            .store()
            .write(move |c| {
                let tx = c.transaction()?;
                plans::save_summaries(
                    &tx,
                    rows.iter()
                        .map(|(_, d)| (d.summary_digest.as_str(), d.summary.as_str())),
                )?;
                let mut written = Vec::new();
                for (row, decision) in &rows {
                    if settled.contains(&decision.kind) {
                        // (Only this run writes decisions, so none of them differs now either.)
                        continue;
                    }
                    if declarative(decision) {
                        kind_store::decide_kind(&tx, row, Some(at.as_str()))?;
                    } else {
                        let changed = kind_store::differing(&tx, row)?;
                        if !changed.is_empty() {
                            kind_store::decide_kind(&tx, row, None)?;
                        }
                        written.extend(changed.into_iter().map(|(u, d)| (u, d, decision.clone())));
                    }
                }
                tx.commit()?;
                let covered: usize = kinds.iter().map(|(k, _)| k.devices).sum();
                Ok((covered, written))
            })
            .await?;
        report.evaluated += covered;
        report.phases.store_plans += started.elapsed();
        let pending: Vec<Delivery> = written
            .into_iter()
            .filter(|(_, delivered, decision)| delivered.as_deref() != Some(decision.fingerprint.as_str()))
            .map(|(udid, _, decision)| Delivery { udid, decision })
            .collect();
        self.deliver(pending, now, report).await
    }
}
