//! The Cache page's "Releases the policies need": the macOS releases the prefetch job found in
//! the policy engine's plans, whether each is cached, and when it is fetched ahead.

use crate::app::AppState;
use crate::cache::CacheError;
use crate::store::cache::PayloadRow;

pub struct PolicyTargetView {
    pub release: String,
    pub devices: i64,
    pub deadline: String,
    /// `cached`, or what happens next.
    pub status: String,
}

pub struct PolicyTargetsView {
    pub targets: Vec<PolicyTargetView>,
    /// The prefetch settings in words.
    pub prefetch: String,
}

/// `payloads`: the cache's payloads, as the page already read them.
pub(super) async fn view(state: &AppState, payloads: &[PayloadRow]) -> Result<PolicyTargetsView, CacheError> {
    let rows = state.cache.policy_targets().await?;
    let config = &state.config.cache;
    let targets = rows
        .into_iter()
        .map(|t| {
            let cached = payloads.iter().any(|p| {
                p.state == "ready" && p.platform == t.platform && p.version == t.version && p.build == t.build
            });
            PolicyTargetView {
                release: format!("{} {} ({})", t.platform, t.version, t.build),
                devices: t.devices,
                deadline: t
                    .earliest_deadline
                    .as_deref()
                    .map(super::cache::short_time)
                    .unwrap_or_else(|| "none".into()),
                status: if cached {
                    "cached, kept from eviction".into()
                } else {
                    "not cached yet".into()
                },
            }
        })
        .collect();
    let prefetch = if config.prefetch_days_ahead == 0 || config.prefetch_kinds.is_empty() {
        "Nothing is fetched ahead (cache.prefetch_days_ahead or cache.prefetch_kinds).".to_string()
    } else {
        format!(
            "Fetched ahead when the soonest deadline is at most {} days away: {}.",
            config.prefetch_days_ahead,
            config.prefetch_kinds.join(", ")
        )
    };
    Ok(PolicyTargetsView { targets, prefetch })
}
