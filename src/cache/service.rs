//! The cache service: payload metadata, pins, space and quota eviction, and the shared state of
//! downloads (progress, concurrency, bandwidth, windows).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::files::{self, Digest, PayloadFiles, StagingOpener};
use super::limits::ActiveLimits;
use super::throttle::Throttle;
use super::{CacheError, Target};
use crate::clock::SharedClock;
use crate::config::{CacheConfig, Config};
use crate::store::cache::{self as sql, PayloadRow};
use crate::store::{Store, sql_time};

/// Live progress of a running download (in memory; `bytes_done` is also persisted).
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadProgress {
    pub bytes_done: u64,
    pub total: Option<u64>,
    /// Bytes per second over the last measurement interval.
    pub rate: f64,
}

/// Space used and available.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// Bytes of ready payloads (what the quota counts).
    pub used: u64,
    /// 0: no quota.
    pub quota: u64,
    /// Free bytes on the cache's filesystem.
    pub disk_free: Option<u64>,
}

pub(super) struct Inner {
    pub(super) store: Store,
    pub(super) clock: SharedClock,
    pub(super) config: CacheConfig,
    pub(super) files: PayloadFiles,
    /// The windows and bandwidth in force (the UI's saved ones, else the configuration's).
    pub(super) limits: RwLock<ActiveLimits>,
    pub(super) throttle: Throttle,
    pub(super) http: reqwest::Client,
    pub(super) progress: Mutex<HashMap<i64, DownloadProgress>>,
    pub(super) slots: Arc<Semaphore>,
    /// Jobs running in this process (so a scan does not start one twice).
    pub(super) running: Mutex<std::collections::HashSet<i64>>,
    pub(super) wake: Notify,
    pub(super) staging: StagingOpener,
    /// Serializes quota accounting and publication.
    pub(super) publish_lock: tokio::sync::Mutex<()>,
}

/// The payload cache. Cheap to clone.
#[derive(Clone)]
pub struct CacheService {
    pub(super) inner: Arc<Inner>,
}

fn http_client(config: &CacheConfig) -> Result<reqwest::Client, CacheError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CacheError::Config(e.to_string()))?
        .with_root_certificates(crate::catalog::fetch::web_pki_root_store())
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(!config.allow_plain_http)
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("orchard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CacheError::Config(e.to_string()))
}

impl CacheService {
    /// Opens the cache of `config` (creating its folders).
    pub fn open(config: &Config, store: Store, clock: SharedClock) -> Result<CacheService, CacheError> {
        Self::open_with(config, store, clock, files::file_opener())
    }

    /// [`open`](Self::open) with another staging writer (tests: a disk that fills up).
    pub fn open_with(
        config: &Config,
        store: Store,
        clock: SharedClock,
        staging: StagingOpener,
    ) -> Result<CacheService, CacheError> {
        let cache = config.cache.clone();
        let limits = ActiveLimits::from_config(&cache).map_err(|e| CacheError::Config(e.to_string()))?;
        let files = PayloadFiles::open(&config.cache_dir())?;
        let saved = store.read_blocking(crate::store::cache_limits::get)?;
        let service = CacheService {
            inner: Arc::new(Inner {
                http: http_client(&cache)?,
                throttle: Throttle::new(cache.bandwidth_bytes_per_second),
                slots: Arc::new(Semaphore::new(cache.max_concurrent_downloads.max(1))),
                config: cache,
                store,
                clock,
                files,
                limits: RwLock::new(limits),
                progress: Mutex::new(HashMap::new()),
                running: Mutex::new(Default::default()),
                wake: Notify::new(),
                staging,
                publish_lock: tokio::sync::Mutex::new(()),
            }),
        };
        service.apply_row(saved);
        Ok(service)
    }

    pub fn bandwidth_limit(&self) -> u64 {
        self.inner.throttle.rate()
    }

    pub fn files(&self) -> &PayloadFiles {
        &self.inner.files
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub async fn payloads(&self) -> Result<Vec<PayloadRow>, CacheError> {
        Ok(self.inner.store.read(sql::payloads).await?)
    }

    pub async fn payload(&self, digest: &Digest) -> Result<Option<PayloadRow>, CacheError> {
        let d = digest.as_str().to_string();
        Ok(self
            .inner
            .store
            .read(move |c| sql::payload_by_digest(c, &d))
            .await?)
    }

    /// The file to serve for `/cache/<digest>/<filename>`: only a ready payload under its own
    /// name, whose file is in place. Records the time it was served (for eviction order).
    pub async fn open_for_serving(
        &self,
        digest: &Digest,
        filename: &str,
    ) -> Result<(PathBuf, PayloadRow), CacheError> {
        let row = self.payload(digest).await?.ok_or(CacheError::NotFound)?;
        if row.state != "ready" || row.filename != filename {
            return Err(CacheError::NotFound);
        }
        let path = self.inner.files.object_path(digest);
        if !path.is_file() {
            return Err(CacheError::NotFound);
        }
        let (d, at) = (digest.as_str().to_string(), sql_time(self.inner.clock.now()));
        self.inner
            .store
            .write(move |c| sql::mark_served(c, &d, &at))
            .await?;
        Ok((path, row))
    }

    /// Quarantined payloads and failed downloads (for the dashboard's alerts).
    pub async fn problems(&self) -> Result<crate::store::dashboard::CacheProblems, CacheError> {
        Ok(self
            .inner
            .store
            .read(crate::store::dashboard::cache_problems)
            .await?)
    }

    pub async fn space(&self) -> Result<Space, CacheError> {
        let used = self.inner.store.read(sql::ready_bytes).await?;
        Ok(Space {
            used,
            quota: self.inner.config.quota_bytes,
            disk_free: self.inner.files.free_bytes(),
        })
    }

    pub async fn set_pinned(&self, digest: &Digest, pinned: bool) -> Result<(), CacheError> {
        let d = digest.as_str().to_string();
        self.inner
            .store
            .write(move |c| sql::set_pinned(c, &d, pinned))
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound => CacheError::NotFound,
                e => CacheError::Store(e),
            })
    }

    /// Deletes a payload (ready or quarantined): the row first, then the file.
    pub async fn delete(&self, digest: &Digest) -> Result<(), CacheError> {
        let _guard = self.inner.publish_lock.lock().await;
        let d = digest.as_str().to_string();
        if !self
            .inner
            .store
            .write(move |c| sql::delete_payload(c, &d))
            .await?
        {
            return Err(CacheError::NotFound);
        }
        let (files, digest) = (self.inner.files.clone(), digest.clone());
        blocking(move || files.remove(&digest)).await
    }

    /// Evicts least recently used unpinned payloads until `needed` more bytes fit in the quota.
    /// Call with the publish lock held.
    pub(super) async fn make_room(&self, needed: u64) -> Result<(), CacheError> {
        let quota = self.inner.config.quota_bytes;
        if quota == 0 {
            return Ok(());
        }
        if needed > quota {
            return Err(CacheError::QuotaFull { needed, quota });
        }
        let (used, candidates) = self
            .inner
            .store
            .read(|c| Ok((sql::ready_bytes(c)?, sql::eviction_candidates(c)?)))
            .await?;
        let mut free = quota.saturating_sub(used);
        let mut evict = Vec::new();
        for row in candidates {
            if free >= needed {
                break;
            }
            free += row.size;
            evict.push(row.digest);
        }
        if free < needed {
            return Err(CacheError::QuotaFull { needed, quota });
        }
        for digest in evict {
            tracing::info!(%digest, "evicting cached payload to make room (least recently used)");
            let d = digest.clone();
            self.inner
                .store
                .write(move |c| sql::delete_payload(c, &d))
                .await?;
            if let Some(digest) = Digest::parse(&digest) {
                let files = self.inner.files.clone();
                blocking(move || files.remove(&digest)).await?;
            }
        }
        Ok(())
    }

    /// Publishes a verified staged file as a ready payload: makes room in the quota, renames it
    /// into place and records it. With `download`, that job is marked done in the same
    /// transaction.
    pub(super) async fn publish(
        &self,
        staged: Staged,
        target: &Target,
        origin: Origin,
    ) -> Result<PayloadRow, CacheError> {
        let Staged {
            path: staged,
            digest,
            size,
        } = staged;
        let Origin {
            source_url,
            chunklist_sha256,
            download,
        } = origin;
        let _guard = self.inner.publish_lock.lock().await;
        let existing = self.payload(&digest).await?;
        let already =
            existing.as_ref().is_some_and(|r| r.state == "ready") && self.inner.files.exists(&digest);
        if already {
            let _ = std::fs::remove_file(&staged);
        } else {
            self.make_room(size).await?;
            let (files, d) = (self.inner.files.clone(), digest.clone());
            blocking(move || files.publish(&staged, &d).map(|_| ())).await?;
        }
        let now = sql_time(self.inner.clock.now());
        let row = PayloadRow {
            digest: digest.as_str().to_string(),
            kind: target.kind.as_str().to_string(),
            platform: target.platform.clone(),
            version: target.version.clone(),
            build: target.build.clone(),
            filename: target.filename.clone(),
            size,
            chunklist_sha256,
            source_url,
            fetched_at: existing
                .as_ref()
                .map(|r| r.fetched_at.clone())
                .unwrap_or(now.clone()),
            last_served_at: existing.as_ref().and_then(|r| r.last_served_at.clone()),
            pinned: existing.as_ref().is_some_and(|r| r.pinned),
            state: "ready".into(),
            problem: None,
        };
        let r = row.clone();
        self.inner
            .store
            .write(move |c| match download {
                Some(id) => sql::finish_download(c, id, &r, &now),
                None => sql::upsert_payload(c, &r),
            })
            .await?;
        Ok(row)
    }
}

/// A verified file waiting in `partial/` to be published.
pub(super) struct Staged {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
}

/// Where a payload came from.
#[derive(Default)]
pub(super) struct Origin {
    pub source_url: Option<String>,
    pub chunklist_sha256: Option<String>,
    /// The download job it finishes.
    pub download: Option<i64>,
}

/// Runs blocking file work off the async runtime.
pub(super) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, CacheError> + Send + 'static,
) -> Result<R, CacheError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| CacheError::Io {
        path: PathBuf::new(),
        source: std::io::Error::other(e.to_string()),
    })?
}
