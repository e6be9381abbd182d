//! The cache following the policies: the macOS releases that active policies move Macs to are
//! kept from eviction, and the ones due within `cache.prefetch_days_ahead` days are downloaded
//! ahead of their deadlines (within the download windows and bandwidth limit). The scheduler's
//! "cache prefetch" job runs [`CacheService::follow_policies`] hourly.
//!
//! Only macOS releases have something to host (a full installer, a restore image); iOS, iPadOS,
//! tvOS and visionOS devices update over the air from Apple, so their targets are skipped.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::prefetch::{PrefetchOutcome, PrefetchTarget};
use super::{CacheError, CacheService, PayloadKind};
use crate::catalog::gdmf::OsFamily;
use crate::catalog::index::CatalogIndex;
use crate::config::CacheConfig;
use crate::policy::service::PlannedTarget;
use crate::store::cache::{self as sql, PolicyTargetRow};
use crate::store::sql_time;

/// A macOS release that planned devices are enforced to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTarget {
    pub target: PrefetchTarget,
    pub devices: usize,
    /// The soonest deadline among those devices (`None`: no device has one).
    pub earliest_deadline: Option<DateTime<Utc>>,
}

/// What one run of [`CacheService::follow_policies`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowReport {
    /// macOS releases active policies enforce (kept from eviction).
    pub targets: usize,
    /// Of those, due within the prefetch horizon.
    pub due: usize,
    /// Due ones already cached.
    pub cached: usize,
    /// Downloads queued (or already pending) for due ones.
    pub queued: usize,
    /// Due ones the catalog offers nothing to host for.
    pub not_in_catalog: usize,
}

/// The payload kinds `cache.prefetch_kinds` names (`installer`, `ipsw`).
pub fn prefetch_kinds(config: &CacheConfig) -> Result<Vec<PayloadKind>, CacheError> {
    config
        .prefetch_kinds
        .iter()
        .map(|k| match PayloadKind::parse(k) {
            Some(kind @ (PayloadKind::Installer | PayloadKind::Ipsw)) => Ok(kind),
            _ => Err(CacheError::Config(format!(
                "cache.prefetch_kinds: `{k}` is not one of installer, ipsw"
            ))),
        })
        .collect()
}

/// The macOS releases the engine's stored plans enforce, by build, with how many devices and
/// the soonest deadline. A build is a macOS release when the catalog has an installer or a
/// restore image for it.
pub fn targets_of(plans: &[PlannedTarget], index: &CatalogIndex) -> Vec<PolicyTarget> {
    let mut by_build: BTreeMap<String, PolicyTarget> = BTreeMap::new();
    for stored in plans.iter().filter_map(|p| p.summary.as_ref()) {
        let plan = &stored.plan;
        let (Some(build), "enforce") = (plan.target_build.as_ref(), plan.decision.as_str()) else {
            continue;
        };
        let version = match index.installer_for(build) {
            Some(installer) => installer.version.to_string(),
            None => match index.restore_images().iter().find(|r| &r.build == build) {
                Some(image) => image.version.to_string(),
                None => continue,
            },
        };
        let entry = by_build.entry(build.clone()).or_insert_with(|| PolicyTarget {
            target: PrefetchTarget {
                platform: OsFamily::MacOs.as_str().to_string(),
                version,
                build: build.clone(),
            },
            devices: 0,
            earliest_deadline: None,
        });
        entry.devices += 1;
        if let Some(deadline) = plan.deadline_utc {
            entry.earliest_deadline = Some(entry.earliest_deadline.map_or(deadline, |d| d.min(deadline)));
        }
    }
    by_build.into_values().collect()
}

impl CacheService {
    /// Records `targets` as the releases active policies need (their payloads are not evicted
    /// while listed; the previous list is replaced), then makes sure those due within
    /// `horizon` of `now` (or already past their deadline, or without one) are cached or
    /// queued, as payloads of `kinds`.
    pub async fn follow_policies(
        &self,
        index: &CatalogIndex,
        targets: Vec<PolicyTarget>,
        now: DateTime<Utc>,
        horizon: Duration,
        kinds: &[PayloadKind],
    ) -> Result<FollowReport, CacheError> {
        let rows: Vec<PolicyTargetRow> = targets
            .iter()
            .map(|t| PolicyTargetRow {
                platform: t.target.platform.clone(),
                version: t.target.version.clone(),
                build: t.target.build.clone(),
                devices: t.devices as i64,
                earliest_deadline: t.earliest_deadline.map(sql_time),
            })
            .collect();
        self.store()
            .write(move |c| {
                let tx = c.transaction()?;
                sql::replace_policy_targets(&tx, &rows)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        let due: Vec<PrefetchTarget> = targets
            .iter()
            .filter(|t| t.earliest_deadline.is_none_or(|d| d <= now + horizon))
            .map(|t| t.target.clone())
            .collect();
        let mut report = FollowReport {
            targets: targets.len(),
            due: due.len(),
            ..FollowReport::default()
        };
        if kinds.is_empty() || horizon <= Duration::zero() {
            return Ok(report);
        }
        for (_, outcome) in self.prefetch(index, &due, kinds).await? {
            match outcome {
                PrefetchOutcome::Cached(_) => report.cached += 1,
                PrefetchOutcome::Queued(ids) => report.queued += ids.len(),
                PrefetchOutcome::NotInCatalog => report.not_in_catalog += 1,
            }
        }
        Ok(report)
    }

    /// The releases active policies need, as the last run of the prefetch job found them.
    pub async fn policy_targets(&self) -> Result<Vec<PolicyTargetRow>, CacheError> {
        Ok(self.store().read(sql::policy_targets).await?)
    }
}
