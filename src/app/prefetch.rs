//! The cache prefetch job's work, between the policy engine's stored plans, the catalog and the
//! payload cache (see `crate::cache::policy_targets`).

use chrono::Duration;

use super::AppState;
use crate::cache::CacheError;
use crate::cache::policy_targets::{FollowReport, prefetch_kinds, targets_of};
use crate::policy::service::PolicyError;

#[derive(Debug, thiserror::Error)]
pub enum PrefetchError {
    #[error("reading the policy plans: {0}")]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Cache(#[from] CacheError),
}

/// Keeps the macOS releases active policies enforce from eviction, and queues the downloads of
/// those due within `cache.prefetch_days_ahead` days.
pub async fn prefetch_policy_targets(state: &AppState) -> Result<FollowReport, PrefetchError> {
    let plans = state.policies.planned_targets().await?;
    let snapshot = state.catalog.snapshot();
    let targets = targets_of(&plans, &snapshot.index);
    let kinds = prefetch_kinds(&state.config.cache)?;
    let horizon = Duration::days(i64::from(state.config.cache.prefetch_days_ahead));
    Ok(state
        .cache
        .follow_policies(&snapshot.index, targets, state.clock.now(), horizon, &kinds)
        .await?)
}
