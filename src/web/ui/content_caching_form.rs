//! The content-caching settings form (Cache page) to `ContentCachingSettings`: checkboxes,
//! the cache size in gigabytes, the port, address ranges and parents. Apple's own rules are
//! checked by `ContentCachingSettings::validate` in the service.

use std::net::IpAddr;

use crate::protocol::content_caching::{
    ContentCachingSettings, IpRange, ParentSelectionPolicy, SettingsError, settings::MAX_LIST,
};

/// Bytes in the form's gigabyte (Apple's `CacheLimit` is in bytes; disks are sold in GB).
pub const GIGABYTE: f64 = 1_000_000_000.0;

fn entries(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .collect()
}

fn ranges(text: &str) -> Result<Vec<IpRange>, SettingsError> {
    let list = entries(text);
    if list.len() > MAX_LIST {
        return Err(SettingsError::TooMany);
    }
    // `a - b` typed with spaces is one range.
    let joined = text.replace(" - ", "-");
    entries(&joined).into_iter().map(IpRange::parse).collect()
}

/// The settings form to settings.
pub fn settings_from_form(pairs: &[(String, String)]) -> Result<ContentCachingSettings, SettingsError> {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    };
    let on = |name: &str| pairs.iter().any(|(k, v)| k == name && v == "on");
    let limit_text = field("cache_limit_gb");
    let gigabytes: f64 = if limit_text.is_empty() {
        0.0
    } else {
        limit_text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v <= 1.0e9)
            .ok_or_else(|| SettingsError::CacheLimit(limit_text.chars().take(40).collect()))?
    };
    let port_text = field("port");
    let port = if port_text.is_empty() {
        0
    } else {
        port_text
            .parse::<u16>()
            .map_err(|_| SettingsError::Port(port_text.chars().take(40).collect()))?
    };
    let policy_text = field("parent_selection_policy");
    let parent_selection_policy = if policy_text.is_empty() {
        ParentSelectionPolicy::RoundRobin
    } else {
        ParentSelectionPolicy::parse(policy_text)
            .ok_or_else(|| SettingsError::Policy(policy_text.chars().take(40).collect()))?
    };
    let parent_list = entries(field("parents"));
    if parent_list.len() > MAX_LIST {
        return Err(SettingsError::TooMany);
    }
    let parents = parent_list
        .into_iter()
        .map(|p| {
            p.parse::<IpAddr>()
                .map_err(|_| SettingsError::Parent(p.chars().take(40).collect()))
        })
        .collect::<Result<_, _>>()?;
    let data_path = match field("data_path") {
        "" => None,
        p => Some(p.to_string()),
    };
    Ok(ContentCachingSettings {
        allow_shared_caching: on("allow_shared_caching"),
        allow_personal_caching: on("allow_personal_caching"),
        auto_activation: on("auto_activation"),
        cache_limit_bytes: (gigabytes * GIGABYTE).round() as u64,
        allow_cache_delete: on("allow_cache_delete"),
        keep_awake: on("keep_awake"),
        display_alerts: on("display_alerts"),
        data_path,
        port,
        local_subnets_only: on("local_subnets_only"),
        listen_ranges: ranges(field("listen_ranges"))?,
        listen_ranges_only: on("listen_ranges_only"),
        peer_local_subnets_only: on("peer_local_subnets_only"),
        peer_listen_ranges: ranges(field("peer_listen_ranges"))?,
        peer_filter_ranges: ranges(field("peer_filter_ranges"))?,
        parents,
        parent_selection_policy,
    })
}
