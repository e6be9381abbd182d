//! Compliance: where each device stands with its OS updates, and why.
//!
//! [`assess`] is the pure rule (plan + latest status + last contact + now → state and reason).
//! [`ComplianceService`] reads what it needs, stores the result per device (so the devices list
//! can filter on it) and answers summaries. A minute job re-assesses the devices whose inputs
//! changed ([`ComplianceService::refresh_changed`]) and an hourly one every device (deadlines
//! pass without any event); plans come from a [`PlanSource`] ([`PolicyPlans`] in the appliance).

pub mod figures;
pub mod group_figures;
pub mod plans;
pub mod state;
#[cfg(test)]
mod state_tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use plans::{NoPlans, PlanSource, Plans, PolicyPlans};
pub use state::{Compliance, ComplianceState, Inputs, assess};

use crate::clock::SharedClock;
use crate::ddm::StatusInventory;
use crate::store::compliance::{self as rows, ComplianceRow};
use crate::store::dashboard as dashboard_rows;
use crate::store::ddm::status as status_rows;
use crate::store::{Store, StoreError, sql_time};

/// Devices assessed per transaction by [`ComplianceService::refresh_all`].
pub const REFRESH_BATCH: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot read the plan of {udid}: {message}")]
    Plan { udid: String, message: String },
}

/// Device counts by state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub total: usize,
    pub by_state: BTreeMap<&'static str, usize>,
    /// Devices not assessed yet.
    pub not_assessed: usize,
    pub stale: usize,
}

#[derive(Clone)]
pub struct ComplianceService {
    store: Store,
    clock: SharedClock,
    stale_after_days: u32,
    plans: Arc<dyn PlanSource>,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
}

impl ComplianceService {
    pub fn new(
        store: Store,
        clock: SharedClock,
        stale_after_days: u32,
        plans: Arc<dyn PlanSource>,
    ) -> ComplianceService {
        ComplianceService {
            store,
            clock,
            stale_after_days,
            plans,
        }
    }

    /// Assesses `udids` now and stores their states, in one transaction. Unknown UDIDs are
    /// skipped.
    pub async fn refresh(&self, udids: Vec<String>) -> Result<usize, ComplianceError> {
        Ok(self.assess_and_store(udids).await?.len())
    }

    /// Assesses `udids` and stores their states in one transaction; returns the states of the
    /// known devices, in order.
    async fn assess_and_store(&self, udids: Vec<String>) -> Result<Vec<Compliance>, ComplianceError> {
        let plans = self
            .plans
            .plans(&udids)
            .await
            .map_err(|message| ComplianceError::Plan {
                udid: udids.first().cloned().unwrap_or_default(),
                message,
            })?;
        let service = self.clone();
        let now = self.clock.now();
        Ok(self
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                let mut assessed = Vec::new();
                for udid in &udids {
                    let plan = plans.get(udid).and_then(Option::as_ref);
                    if let Some(compliance) = service.assess_on(&tx, udid, plan, now)? {
                        rows::upsert(&tx, &row_of(udid, &compliance, now))?;
                        assessed.push(compliance);
                    }
                }
                tx.commit()?;
                Ok(assessed)
            })
            .await?)
    }

    /// Assesses every device, in batches of [`REFRESH_BATCH`] (one transaction each, so the
    /// writer is never held long). Returns how many were assessed.
    pub async fn refresh_all(&self) -> Result<usize, ComplianceError> {
        let udids = self.store.read(rows::all_udids).await?;
        let mut done = 0;
        for batch in udids.chunks(REFRESH_BATCH) {
            done += self.refresh(batch.to_vec()).await?;
        }
        Ok(done)
    }

    /// Assesses the devices whose inputs changed since their last assessment (a policy
    /// evaluation, a status report, an inventory or enrollment change; see
    /// [`rows::needing_assessment`]), in batches. Run every minute, so states follow the engine
    /// and the devices within a minute without the engine knowing about compliance.
    pub async fn refresh_changed(&self) -> Result<usize, ComplianceError> {
        let udids = self.store.read(rows::needing_assessment).await?;
        let mut done = 0;
        for batch in udids.chunks(REFRESH_BATCH) {
            done += self.refresh(batch.to_vec()).await?;
        }
        Ok(done)
    }

    /// The device's state now (assessed, and stored); `None` for an unknown device.
    pub async fn device(&self, udid: &str) -> Result<Option<Compliance>, ComplianceError> {
        Ok(self.assess_and_store(vec![udid.to_string()]).await?.pop())
    }

    /// The stored state of a device (with since when), as last refreshed.
    pub async fn stored(&self, udid: &str) -> Result<Option<ComplianceRow>, ComplianceError> {
        let udid = udid.to_string();
        Ok(self.store.read(move |c| rows::get(c, &udid)).await?)
    }

    /// Counts by stored state.
    pub async fn summary(&self) -> Result<Summary, ComplianceError> {
        let (counts, stale) = self
            .store
            .read(|c| Ok((rows::counts(c)?, rows::stale_count(c)?)))
            .await?;
        let mut by_state: BTreeMap<&'static str, usize> =
            ComplianceState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        let mut not_assessed = 0;
        for (state, n) in &counts {
            match state.as_deref().and_then(ComplianceState::parse) {
                Some(s) => *by_state.entry(s.as_str()).or_default() += n,
                None => not_assessed += n,
            }
        }
        Ok(Summary {
            total: counts.values().sum(),
            by_state,
            not_assessed,
            stale,
        })
    }

    /// Counts by state and every breakdown (platform, model, OS version from one aggregate
    /// query; ring and group from two more), read in one snapshot.
    pub async fn figures(&self) -> Result<figures::FleetFigures, ComplianceError> {
        let (cells, choices, rings, groups) = self
            .store
            .read(|c| {
                let snapshot = c.unchecked_transaction()?;
                Ok((
                    dashboard_rows::fleet_cells(&snapshot)?,
                    crate::store::membership::choices(&snapshot)?,
                    dashboard_rows::ring_cells(&snapshot)?,
                    dashboard_rows::group_cells(&snapshot)?,
                ))
            })
            .await?;
        let mut figures = figures::FleetFigures::from_cells(&cells);
        figures.membership = group_figures::GroupFigures::new(&choices, &rings, &groups, &figures.fleet);
        Ok(figures)
    }

    /// Devices due on each of the next `days` UTC days from today (today first), zero-filled.
    pub async fn upcoming_deadlines(
        &self,
        days: u32,
    ) -> Result<Vec<(chrono::NaiveDate, usize)>, ComplianceError> {
        let now = self.clock.now();
        let today = now.date_naive();
        let from = sql_time(now);
        let end = today + chrono::Days::new(u64::from(days));
        let until = sql_time(end.and_time(chrono::NaiveTime::MIN).and_utc());
        let found = self
            .store
            .read(move |c| dashboard_rows::deadlines_per_day(c, &from, &until))
            .await?;
        Ok((0..days)
            .map(|i| {
                let day = today + chrono::Days::new(u64::from(i));
                let key = day.format("%Y-%m-%d").to_string();
                let due = found
                    .iter()
                    .find(|(d, _)| *d == key)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                (day, due)
            })
            .collect())
    }

    /// Writes today's (UTC) snapshot of the counts by state, once: a second call the same day
    /// writes nothing. Returns whether it wrote. Run daily and at start (which catches up a day
    /// the appliance was down at the scheduled time, with that morning's counts).
    pub async fn snapshot_today(&self) -> Result<bool, ComplianceError> {
        let summary = self.summary().await?;
        let now = self.clock.now();
        let day = now.format("%Y-%m-%d").to_string();
        let at = sql_time(now);
        let counts: Vec<(String, usize)> = summary
            .by_state
            .iter()
            .map(|(state, n)| (state.to_string(), *n))
            .chain([("not_assessed".to_string(), summary.not_assessed)])
            .collect();
        Ok(self
            .store
            .write(move |c| dashboard_rows::write_snapshot(c, &day, &counts, &at))
            .await?)
    }

    /// Snapshots of the last `days` UTC days (today included): per day, devices per state.
    pub async fn history(&self, days: u32) -> Result<Vec<figures::DaySnapshot>, ComplianceError> {
        let since = self.clock.now().date_naive() - chrono::Days::new(u64::from(days.saturating_sub(1)));
        let since = since.format("%Y-%m-%d").to_string();
        let rows = self
            .store
            .read(move |c| dashboard_rows::snapshots_since(c, &since))
            .await?;
        Ok(figures::DaySnapshot::from_rows(rows))
    }

    fn assess_on(
        &self,
        conn: &rusqlite::Connection,
        udid: &str,
        plan: Option<&crate::policy::Plan>,
        now: DateTime<Utc>,
    ) -> Result<Option<Compliance>, StoreError> {
        let Some(facts) = rows::device_facts(conn, udid)? else {
            return Ok(None);
        };
        let status = StatusInventory::from_values(&status_rows::item_values(conn, udid)?);
        Ok(Some(assess(&Inputs {
            enrolled: facts.enrolled,
            plan,
            status: &status,
            inventory_os_version: facts.os_version.as_deref(),
            last_contact: parse_time(&facts.last_seen_at),
            now,
            stale_after_days: self.stale_after_days,
        })))
    }
}

fn row_of(udid: &str, c: &Compliance, now: DateTime<Utc>) -> ComplianceRow {
    ComplianceRow {
        udid: udid.to_string(),
        state: c.state.as_str().to_string(),
        reason: c.reason.clone(),
        deadline: c.deadline.map(sql_time),
        overdue_since: c.overdue_since.map(sql_time),
        stale: c.stale,
        since: sql_time(now),
        evaluated_at: sql_time(now),
    }
}
