//! The Cache page's Mac content-caching section: the `com.apple.AssetCache.managed` settings
//! form, installing the profile on chosen Macs, asking them for their cache's status, and the
//! latest status per Mac. Changes need `ManageCache` and the CSRF token; every role reads.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::cache::{CacheManager, render, short_time};
use super::content_caching_form::{GIGABYTE, settings_from_form};
use super::{Section, UiError, see_other};
use crate::app::AppState;
use crate::cache::content_caching::{ContentCachingError, InstallOutcome};
use crate::cache::human_bytes;
use crate::protocol::Udid;
use crate::protocol::content_caching::{
    CacheNeighbour, ContentCachingSettings, IpRange, ParentSelectionPolicy,
};
use crate::protocol::ddm::Platform;

/// Longest form accepted, in fields (the Mac list may be long).
const MAX_FIELDS: usize = 1_000;
/// Longest single field.
const MAX_FIELD: usize = 4_000;

pub type FormPairs = web::Form<Vec<(String, String)>>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/caches/content-caching/settings", web::post().to(save_settings))
        .route("/caches/content-caching/install", web::post().to(install))
        .route("/caches/content-caching/status", web::post().to(request_status))
        .route("/caches/content-caching/remove", web::post().to(remove));
}

pub struct PolicyOption {
    pub value: &'static str,
    pub selected: bool,
}

pub struct MacView {
    pub udid: String,
    pub name: String,
    pub install: String,
    pub active: String,
    pub usage: String,
    pub parents: String,
    pub peers: String,
    pub reported: String,
}

pub struct CandidateView {
    pub udid: String,
    pub label: String,
}

/// What the partial `content_caching.html` shows.
pub struct ContentCachingView {
    pub s: ContentCachingSettings,
    pub cache_limit_gb: String,
    pub data_path: String,
    pub listen_ranges: String,
    pub peer_listen_ranges: String,
    pub peer_filter_ranges: String,
    pub parents: String,
    pub policies: Vec<PolicyOption>,
    pub saved: String,
    pub macs: Vec<MacView>,
    pub candidates: Vec<CandidateView>,
}

fn join_ranges(list: &[IpRange]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn neighbours(json: &str) -> String {
    let list: Vec<CacheNeighbour> = serde_json::from_str(json).unwrap_or_default();
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|n| {
            let health = if n.healthy { "healthy" } else { "not healthy" };
            match &n.alert {
                Some(a) => format!("{} ({health}, {a})", n.address),
                None => format!("{} ({health})", n.address),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn bytes(n: Option<i64>) -> String {
    n.map(|v| human_bytes(u64::try_from(v).unwrap_or(0)))
        .unwrap_or_else(|| "?".into())
}

pub async fn view(state: &AppState) -> Result<ContentCachingView, ContentCachingError> {
    let service = state.content_caching();
    let saved = service.settings().await?;
    let macs = service.macs().await?;
    let prefixes: Vec<&'static str> = Platform::MacOs.model_prefixes().collect();
    let candidates = state
        .store
        .read(move |c| crate::store::content_caching::enrolled_with_model_prefix(c, &prefixes, 500))
        .await?;
    let s = saved.settings;
    Ok(ContentCachingView {
        cache_limit_gb: format!("{}", s.cache_limit_bytes as f64 / GIGABYTE),
        data_path: s.data_path.clone().unwrap_or_default(),
        listen_ranges: join_ranges(&s.listen_ranges),
        peer_listen_ranges: join_ranges(&s.peer_listen_ranges),
        peer_filter_ranges: join_ranges(&s.peer_filter_ranges),
        parents: s
            .parents
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        policies: ParentSelectionPolicy::ALL
            .iter()
            .map(|p| PolicyOption {
                value: p.as_str(),
                selected: *p == s.parent_selection_policy,
            })
            .collect(),
        saved: match saved.saved {
            None => "Not saved yet: Apple's defaults, with the cache turned on automatically.".into(),
            Some((at, by)) => format!("Saved by {by}, {}.", short_time(&at)),
        },
        macs: macs
            .into_iter()
            .map(|m| {
                let status = m.status.as_ref();
                MacView {
                    name: m.device_name.clone().unwrap_or_else(|| m.udid.clone()),
                    install: match (m.enrolled, m.install_state.as_deref()) {
                        (false, _) => "no longer enrolled".into(),
                        (true, Some("acknowledged")) => "installed".into(),
                        (true, Some(state)) => format!("profile {state}"),
                        (true, None) => "queued".into(),
                    },
                    active: match status {
                        None => "no report yet".into(),
                        Some(s) if s.active => "active".into(),
                        Some(s) if s.activated => "activated, not serving yet".into(),
                        Some(_) => "off".into(),
                    },
                    usage: match status {
                        None => "—".into(),
                        Some(s) => {
                            let limit = match s.cache_limit {
                                Some(0) => "no limit".to_string(),
                                other => bytes(other),
                            };
                            let level = s.cache_status.as_deref().unwrap_or("?");
                            format!("{} of {limit} ({level})", bytes(s.cache_used))
                        }
                    },
                    parents: status.map(|s| neighbours(&s.parents)).unwrap_or_default(),
                    peers: status.map(|s| neighbours(&s.peers)).unwrap_or_default(),
                    reported: status
                        .map(|s| short_time(&s.reported_at))
                        .unwrap_or_else(|| "never".into()),
                    udid: m.udid,
                }
            })
            .collect(),
        candidates: candidates
            .into_iter()
            .map(|(udid, name, model)| CandidateView {
                label: format!(
                    "{} ({})",
                    name.unwrap_or_else(|| udid.clone()),
                    model.unwrap_or_default()
                ),
                udid,
            })
            .collect(),
        s,
    })
}

fn oversized(pairs: &[(String, String)]) -> bool {
    pairs.len() > MAX_FIELDS || pairs.iter().any(|(k, v)| k.len() > 100 || v.len() > MAX_FIELD)
}

async fn refuse(auth: &CacheManager, state: &AppState, message: String) -> Result<HttpResponse, UiError> {
    render(auth, state, StatusCode::BAD_REQUEST, None, Some(message)).await
}

fn internal(auth: &CacheManager, e: impl std::fmt::Display) -> UiError {
    UiError::internal(e, "cache", &auth.layout("Cache", Section::Cache))
}

async fn save_settings(
    auth: CacheManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    if oversized(&form) {
        return refuse(
            &auth,
            &state,
            "The form is far larger than these settings can be.".into(),
        )
        .await;
    }
    let settings = match settings_from_form(&form) {
        Ok(s) => s,
        Err(e) => return refuse(&auth, &state, format!("Content-caching settings not saved: {e}")).await,
    };
    match state
        .content_caching()
        .save_settings(settings, &auth.actor())
        .await
    {
        Ok(()) => Ok(see_other("/caches?done=cc-settings#content-caching")),
        Err(ContentCachingError::Invalid(e)) => {
            refuse(&auth, &state, format!("Content-caching settings not saved: {e}")).await
        }
        Err(e) => Err(internal(&auth, e)),
    }
}

async fn install(
    auth: CacheManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    if oversized(&form) {
        return refuse(&auth, &state, "Too many Macs were chosen at once.".into()).await;
    }
    let mut udids = Vec::new();
    for value in form.iter().filter(|(k, _)| k == "udid").map(|(_, v)| v) {
        match Udid::parse(value) {
            Ok(u) => udids.push(u),
            Err(_) => {
                let shown: String = value.chars().take(40).collect();
                return refuse(&auth, &state, format!("“{shown}” is not a device identifier.")).await;
            }
        }
    }
    if udids.is_empty() {
        return refuse(
            &auth,
            &state,
            "Choose at least one Mac to install the profile on.".into(),
        )
        .await;
    }
    let outcomes = match state.content_caching().install(&udids, &auth.actor()).await {
        Ok(o) => o,
        Err(ContentCachingError::Invalid(e)) => {
            return refuse(&auth, &state, format!("The saved settings are not valid: {e}")).await;
        }
        Err(ContentCachingError::BadInput(m)) => return refuse(&auth, &state, m).await,
        Err(e) => return Err(internal(&auth, e)),
    };
    let queued = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, InstallOutcome::Queued(_)))
        .count();
    let refused: Vec<String> = outcomes
        .iter()
        .filter_map(|(u, o)| match o {
            InstallOutcome::Refused(why) => Some(format!("{u}: {why}")),
            InstallOutcome::Queued(_) => None,
        })
        .collect();
    if queued == 0 {
        let message = format!("The profile was not sent. {}.", refused.join("; "));
        return refuse(&auth, &state, message).await;
    }
    let mut notice = format!("The content-caching profile is queued for {queued} Mac(s).");
    if !refused.is_empty() {
        notice.push_str(&format!(" Not sent to: {}.", refused.join("; ")));
    }
    render(&auth, &state, StatusCode::OK, Some(notice), None).await
}

async fn remove(
    auth: CacheManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    let value = form
        .iter()
        .find(|(k, _)| k == "udid")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let Ok(udid) = Udid::parse(value) else {
        return refuse(&auth, &state, "Choose a Mac to remove the profile from.".into()).await;
    };
    match state.content_caching().remove(&udid, &auth.actor()).await {
        Ok(_) => Ok(see_other("/caches?done=cc-removed#content-caching")),
        Err(ContentCachingError::BadInput(m)) => refuse(&auth, &state, m).await,
        Err(e) => Err(internal(&auth, e)),
    }
}

async fn request_status(auth: CacheManager, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    let asked = state
        .content_caching()
        .request_status()
        .await
        .map_err(|e| internal(&auth, e))?;
    super::audit_event(
        &state,
        &auth.actor(),
        "content_caching.status_requested",
        "cache",
        Some(serde_json::json!({ "macs": asked })),
    )
    .await;
    Ok(see_other("/caches?done=cc-status#content-caching"))
}
