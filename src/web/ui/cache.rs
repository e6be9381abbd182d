//! `/caches`: the payload cache. Every role reads: what is stored, space, downloads with
//! progress, windows and bandwidth. Managers of the cache (`ManageCache`) start a download for a
//! catalog entry, retry one, pin, unpin and delete payloads. The page says plainly what a server
//! can host and what devices always fetch from Apple.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Authorized, CurrentAdmin, Layout, Section, UiError, audit_event, can, page, see_other};
use crate::app::AppState;
use crate::cache::limits::LimitsOrigin;
use crate::cache::prefetch::requests_for;
use crate::cache::{CacheError, Digest, PayloadKind, human_bytes};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/caches", web::get().to(show))
        .route("/caches/downloads", web::post().to(start_download))
        .route("/caches/downloads/{id}/retry", web::post().to(retry))
        .route(
            "/caches/payloads/{digest}/{action}",
            web::post().to(change_payload),
        );
}

pub(super) type CacheManager = Authorized<can::ManageCache>;

pub struct PayloadView {
    pub digest: String,
    pub short: String,
    pub kind: String,
    pub platform: String,
    pub version: String,
    pub build: String,
    pub size: String,
    pub state: String,
    pub problem: Option<String>,
    pub pinned: bool,
    pub fetched: String,
    pub served: String,
    pub href: String,
}

pub struct DownloadView {
    pub id: i64,
    pub filename: String,
    pub build: String,
    pub state: String,
    pub progress: String,
    pub error: Option<String>,
    pub failed: bool,
}

pub struct EntryView {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "cache.html")]
struct CachePage {
    layout: Layout,
    notice: Option<String>,
    error: Option<String>,
    can_manage: bool,
    used: String,
    quota: String,
    disk_free: String,
    windows: String,
    window_open: bool,
    bandwidth: String,
    limits_origin: String,
    windows_input: String,
    zone_input: String,
    megabits_input: String,
    concurrency: usize,
    cc: super::content_caching::ContentCachingView,
    needed: super::cache_policy_targets::PolicyTargetsView,
    payloads: Vec<PayloadView>,
    downloads: Vec<DownloadView>,
    entries: Vec<EntryView>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// Bytes per second as megabits per second, without needless decimals.
fn megabits(bytes_per_second: u64) -> String {
    let text = format!("{:.3}", bytes_per_second as f64 / 125_000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(super) fn short_time(text: &str) -> String {
    text.get(..16)
        .map(|t| t.replace('T', " "))
        .unwrap_or_else(|| text.to_string())
}

pub(super) async fn render(
    current: &CurrentAdmin,
    state: &AppState,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, UiError> {
    let layout = current.layout("Cache", Section::Cache);
    let cache = &state.cache;
    let space = cache
        .space()
        .await
        .map_err(|e| UiError::internal(e, "cache", &layout))?;
    let payloads = cache
        .payloads()
        .await
        .map_err(|e| UiError::internal(e, "cache", &layout))?;
    let downloads = cache
        .downloads(30)
        .await
        .map_err(|e| UiError::internal(e, "cache", &layout))?;
    let cc = super::content_caching::view(state)
        .await
        .map_err(|e| UiError::internal(e, "cache", &layout))?;
    let needed = super::cache_policy_targets::view(state, &payloads)
        .await
        .map_err(|e| UiError::internal(e, "cache", &layout))?;
    let snapshot = state.catalog.snapshot();
    let mut entries: Vec<EntryView> = snapshot
        .index
        .installers()
        .iter()
        .take(12)
        .map(|i| EntryView {
            value: format!("installer:{}", i.build),
            label: format!(
                "macOS {} ({}) full installer{}",
                i.version,
                i.build,
                i.size
                    .map(|s| format!(", {}", human_bytes(s)))
                    .unwrap_or_default()
            ),
        })
        .collect();
    entries.extend(snapshot.index.restore_images().iter().map(|r| EntryView {
        value: format!("ipsw:{}", r.build),
        label: format!("macOS {} ({}) restore image (IPSW)", r.version, r.build),
    }));
    let limits = cache.download_limits();
    let bandwidth = match limits.bandwidth_bytes_per_second {
        0 => "unlimited".to_string(),
        n => format!("{} Mbit/s ({}/s)", megabits(n), human_bytes(n)),
    };
    let limits_origin = match &limits.origin {
        LimitsOrigin::Config => "the [cache] section of the configuration file".to_string(),
        LimitsOrigin::Saved { at, by } => format!("set on this page by {by}, {}", short_time(at)),
    };
    Ok(page(
        status,
        &CachePage {
            notice,
            error,
            can_manage: current.admin.can(crate::admin::Permission::ManageCache),
            used: human_bytes(space.used),
            quota: match space.quota {
                0 => "no quota (the disk is the limit)".into(),
                q => human_bytes(q),
            },
            disk_free: space
                .disk_free
                .map(human_bytes)
                .unwrap_or_else(|| "unknown".into()),
            windows: if limits.windows.is_empty() {
                "any time".into()
            } else {
                format!("{} ({})", limits.windows.join(", "), limits.time_zone)
            },
            window_open: cache.window_open(state.clock.now()),
            bandwidth,
            limits_origin,
            windows_input: limits.windows.join(", "),
            zone_input: limits.time_zone.clone(),
            megabits_input: megabits(limits.bandwidth_bytes_per_second),
            concurrency: state.config.cache.max_concurrent_downloads,
            cc,
            needed,
            payloads: payloads
                .into_iter()
                .map(|p| PayloadView {
                    short: p.digest.chars().take(12).collect(),
                    href: format!("/cache/{}/{}", p.digest, p.filename),
                    size: human_bytes(p.size),
                    fetched: short_time(&p.fetched_at),
                    served: p
                        .last_served_at
                        .as_deref()
                        .map(short_time)
                        .unwrap_or_else(|| "never".into()),
                    digest: p.digest,
                    kind: p.kind,
                    platform: p.platform,
                    version: p.version,
                    build: p.build,
                    state: p.state,
                    problem: p.problem,
                    pinned: p.pinned,
                })
                .collect(),
            downloads: downloads
                .into_iter()
                .map(|d| {
                    let live = cache.progress(d.id);
                    let done = live.as_ref().map(|p| p.bytes_done).unwrap_or(d.bytes_done);
                    let total = live.as_ref().and_then(|p| p.total).or(d.expected_size);
                    let mut progress = match total {
                        Some(t) if t > 0 => format!(
                            "{} of {} ({}%)",
                            human_bytes(done),
                            human_bytes(t),
                            done.saturating_mul(100) / t
                        ),
                        _ => human_bytes(done),
                    };
                    if let Some(p) = live {
                        progress.push_str(&format!(", {}/s", human_bytes(p.rate as u64)));
                    }
                    DownloadView {
                        id: d.id,
                        failed: d.state == "failed",
                        filename: d.filename,
                        build: d.build,
                        state: d.state,
                        progress,
                        error: d.error,
                    }
                })
                .collect(),
            entries,
            layout,
        },
    ))
}

async fn show(
    current: CurrentAdmin,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    let notice = match query.done.as_deref() {
        Some("queued") => Some("Download queued. It runs within the allowed windows and bandwidth.".into()),
        Some("retry") => Some("Download queued again; it resumes where it stopped.".into()),
        Some("pin") => Some("Pinned: this payload is never evicted.".into()),
        Some("unpin") => Some("Unpinned: this payload may be evicted when space is needed.".into()),
        Some("delete") => Some("Payload deleted.".into()),
        Some("limits") => Some("Download windows and bandwidth saved; downloads follow them now.".into()),
        Some("cc-settings") => {
            Some("Content-caching settings saved. Install the profile on the Macs to apply them.".into())
        }
        Some("cc-removed") => Some("The content-caching profile's removal is queued. The Mac keeps caching until it is turned off there (Apple: removing the profile does not deactivate the cache).".into()),
        Some("cc-status") => Some(
            "The Macs with the profile were asked for their cache's status; answers appear as they check in."
                .into(),
        ),
        Some("limits-reset") => Some("Saved limits cleared: the configuration file's apply again.".into()),
        _ => None,
    };
    render(&current, &state, StatusCode::OK, notice, None).await
}

async fn refused(
    auth: &CacheManager,
    state: &AppState,
    status: StatusCode,
    message: String,
) -> Result<HttpResponse, UiError> {
    render(auth, state, status, None, Some(message)).await
}

#[derive(Deserialize)]
pub struct DownloadForm {
    entry: String,
}

async fn start_download(
    auth: CacheManager,
    state: web::Data<AppState>,
    form: web::Form<DownloadForm>,
) -> Result<HttpResponse, UiError> {
    let parsed = form
        .entry
        .split_once(':')
        .and_then(|(k, b)| PayloadKind::parse(k).map(|k| (k, b.to_string())));
    let Some((kind, build)) = parsed.filter(|(k, _)| *k != PayloadKind::Catalog) else {
        return refused(
            &auth,
            &state,
            StatusCode::BAD_REQUEST,
            "Choose a catalog entry.".into(),
        )
        .await;
    };
    let requests = requests_for(&state.catalog.snapshot().index, &build, &[kind]);
    if requests.is_empty() {
        let msg = "The catalog offers nothing to download for that entry.".to_string();
        return refused(&auth, &state, StatusCode::BAD_REQUEST, msg).await;
    }
    for r in requests {
        match state.cache.enqueue(r).await {
            Ok(id) => {
                let after = serde_json::json!({ "download": id, "build": build, "kind": kind.as_str() });
                audit_event(&state, &auth.actor(), "cache.download", "cache", Some(after)).await;
            }
            Err(CacheError::BadInput(m)) => return refused(&auth, &state, StatusCode::BAD_REQUEST, m).await,
            Err(e) => {
                return Err(UiError::internal(
                    e,
                    "cache",
                    &auth.layout("Cache", Section::Cache),
                ));
            }
        }
    }
    Ok(see_other("/caches?done=queued"))
}

async fn retry(
    auth: CacheManager,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, UiError> {
    let id = path.into_inner();
    match state.cache.retry(id).await {
        Ok(()) => {
            audit_event(
                &state,
                &auth.actor(),
                "cache.retry",
                "cache",
                Some(serde_json::json!({ "download": id })),
            )
            .await;
            Ok(see_other("/caches?done=retry"))
        }
        Err(CacheError::NotFound) => Err(UiError::not_found(Some(auth.layout("Cache", Section::Cache)))),
        Err(e) => Err(UiError::internal(
            e,
            "cache",
            &auth.layout("Cache", Section::Cache),
        )),
    }
}

async fn change_payload(
    auth: CacheManager,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (digest, action) = path.into_inner();
    let layout = auth.layout("Cache", Section::Cache);
    let Some(digest) = Digest::parse(&digest) else {
        return refused(
            &auth,
            &state,
            StatusCode::BAD_REQUEST,
            "Not a payload address.".into(),
        )
        .await;
    };
    let result = match action.as_str() {
        "pin" => state.cache.set_pinned(&digest, true).await,
        "unpin" => state.cache.set_pinned(&digest, false).await,
        "delete" => state.cache.delete(&digest).await,
        _ => return Err(UiError::not_found(Some(layout))),
    };
    match result {
        Ok(()) => {
            let after = serde_json::json!({ "digest": digest.as_str() });
            let name = match action.as_str() {
                "pin" => "cache.pin",
                "unpin" => "cache.unpin",
                _ => "cache.delete",
            };
            audit_event(&state, &auth.actor(), name, "cache", Some(after)).await;
            Ok(see_other(&format!("/caches?done={action}")))
        }
        Err(CacheError::NotFound) => Err(UiError::not_found(Some(layout))),
        Err(e) => Err(UiError::internal(e, "cache", &layout)),
    }
}
