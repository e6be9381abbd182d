//! The catalog service: holds the current snapshot, refreshes it from the network, and reports
//! its health. A document is replaced only by one that fetched completely and validated, so a
//! failure leaves the last known good catalog in place and raises an alert instead.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::CatalogError;
use super::document::{DocumentKind, parse_document};
use super::fetch::{FeedFetcher, Fetched, Validators, apple_root_store, web_pki_root_store};
use super::snapshot::{Document, Snapshot};
use crate::clock::SharedClock;
use crate::config::CatalogConfig;
use crate::store::catalog::{self as sql, DocumentRow, RefreshRow};
use crate::store::{Store, StoreError};

/// One place a document is fetched from.
#[derive(Clone)]
pub struct Source {
    pub url: String,
    pub kind: DocumentKind,
    pub fetcher: FeedFetcher,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceFailure {
    pub source: String,
    pub error: String,
    pub at: String,
}

/// What the dashboard, `/metrics` and the log say about the catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogHealth {
    /// A gdmf catalog is loaded (devices can be answered).
    pub has_catalog: bool,
    pub gdmf_received_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<String>,
    /// Sources whose latest attempt failed; any entry is an alert.
    pub failures: Vec<SourceFailure>,
}

impl CatalogHealth {
    pub fn alert(&self) -> bool {
        !self.failures.is_empty()
    }

    /// Prometheus text lines for `/metrics`.
    pub fn prometheus(&self) -> String {
        let age = self.gdmf_received_at.map(|t| t.timestamp()).unwrap_or(0);
        format!(
            "# TYPE orchard_catalog_loaded gauge\norchard_catalog_loaded {}\n\
             # TYPE orchard_catalog_refresh_failing gauge\norchard_catalog_refresh_failing {}\n\
             # TYPE orchard_catalog_gdmf_received_timestamp_seconds gauge\n\
             orchard_catalog_gdmf_received_timestamp_seconds {age}\n",
            u8::from(self.has_catalog),
            self.failures.len(),
        )
    }
}

/// The outcome of one source in a refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOutcome {
    pub source: String,
    pub result: &'static str,
    pub error: Option<String>,
}

pub struct CatalogService {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) config: CatalogConfig,
    current: RwLock<Arc<Snapshot>>,
    health: RwLock<CatalogHealth>,
    refresh_lock: tokio::sync::Mutex<()>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl CatalogService {
    /// Loads the stored snapshot (blocking). A stored document that no longer validates is
    /// skipped with a warning rather than stopping the appliance.
    pub fn load(
        store: Store,
        clock: SharedClock,
        config: CatalogConfig,
    ) -> Result<CatalogService, CatalogError> {
        let service = CatalogService {
            store,
            clock,
            config,
            current: RwLock::new(Arc::new(Snapshot::default())),
            health: RwLock::new(CatalogHealth::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
        };
        service.reload()?;
        Ok(service)
    }

    /// Re-reads the documents from the database (another process, such as `orchard catalog
    /// import`, may have changed them).
    pub fn reload(&self) -> Result<(), CatalogError> {
        let rows = self.store.read_blocking(sql::documents)?;
        let mut documents = BTreeMap::new();
        for row in rows {
            match self.document_from_row(row) {
                Ok(doc) => {
                    documents.insert(doc.kind, doc);
                }
                Err(e) => tracing::warn!(error = %e, "stored catalog document skipped"),
            }
        }
        self.install(Snapshot::new(documents));
        let urls: Vec<String> = self.configured_urls();
        let latest = self.store.read_blocking(sql::latest_per_source)?;
        let outcomes: Vec<(RefreshRow, bool)> = latest
            .into_iter()
            .map(|r| (r.clone(), urls.contains(&r.source)))
            .collect();
        self.set_health(
            outcomes
                .into_iter()
                .filter(|(_, keep)| *keep)
                .map(|(r, _)| r)
                .collect(),
        );
        Ok(())
    }

    /// Reloads only when the stored documents differ from the ones in memory.
    pub fn reload_if_changed(&self) -> Result<bool, CatalogError> {
        let stored = self.store.read_blocking(sql::fingerprint)?;
        if stored == self.snapshot().fingerprint() {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    fn document_from_row(&self, row: DocumentRow) -> Result<Document, CatalogError> {
        let parsed = parse_document(&row.body, u64::MAX)?;
        let received_at = DateTime::parse_from_rfc3339(&row.received_at)
            .map(|t| t.to_utc())
            .unwrap_or_default();
        let mut doc = Document::new(row.body.into(), parsed, row.source, received_at);
        doc.upstream_etag = row.upstream_etag;
        doc.upstream_last_modified = row.upstream_last_modified;
        Ok(doc)
    }

    pub(crate) fn install(&self, snapshot: Snapshot) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
    }

    /// The current catalog. Cheap: an `Arc` clone.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The current health, for the dashboard and `/metrics`.
    pub fn health(&self) -> CatalogHealth {
        let mut h = self.health.read().unwrap_or_else(|p| p.into_inner()).clone();
        let snap = self.snapshot();
        h.has_catalog = snap.has_gdmf();
        h.gdmf_received_at = snap.documents.get(&DocumentKind::Gdmf).map(|d| d.received_at);
        h
    }

    fn set_health(&self, latest: Vec<RefreshRow>) {
        let health = CatalogHealth {
            last_attempt_at: latest.iter().map(|r| r.at.clone()).max(),
            failures: latest
                .into_iter()
                .filter(|r| r.result == "failed")
                .map(|r| SourceFailure {
                    source: r.source,
                    error: r.error.unwrap_or_default(),
                    at: r.at,
                })
                .collect(),
            ..CatalogHealth::default()
        };
        *self.health.write().unwrap_or_else(|p| p.into_inner()) = health;
    }

    fn configured_urls(&self) -> Vec<String> {
        let mut urls = vec![self.config.gdmf_url.clone()];
        if !self.config.sofa_base_url.is_empty() {
            for feed in &self.config.sofa_feeds {
                urls.push(sofa_url(&self.config.sofa_base_url, feed));
            }
        }
        urls
    }

    /// The production sources: gdmf trusting only Apple's root, SOFA on the web PKI.
    pub fn sources(&self) -> Result<Vec<Source>, CatalogError> {
        let timeout = Duration::from_secs(self.config.fetch_timeout_seconds);
        let max = self.config.max_document_bytes;
        let apple = FeedFetcher::new(apple_root_store()?, timeout, max)?;
        let mut sources = vec![Source {
            url: self.config.gdmf_url.clone(),
            kind: DocumentKind::Gdmf,
            fetcher: apple,
        }];
        if !self.config.sofa_base_url.is_empty() {
            let web = FeedFetcher::new(web_pki_root_store(), timeout, max)?;
            for feed in &self.config.sofa_feeds {
                let kind = DocumentKind::from_slot(feed).ok_or_else(|| {
                    CatalogError::WrongShape(format!(
                        "catalog.sofa_feeds: `{feed}` is not a known SOFA feed path"
                    ))
                })?;
                sources.push(Source {
                    url: sofa_url(&self.config.sofa_base_url, feed),
                    kind,
                    fetcher: web.clone(),
                });
            }
        }
        Ok(sources)
    }

    /// Refreshes from the configured sources (the daily job and the on-demand button/command).
    pub async fn refresh(&self) -> Result<Vec<SourceOutcome>, CatalogError> {
        let sources = self.sources()?;
        self.refresh_from(&sources).await
    }

    /// Refreshes from `sources`. Each source succeeds or fails on its own; failures keep the
    /// previous document, are logged at warn and recorded, and raise the health alert.
    pub async fn refresh_from(&self, sources: &[Source]) -> Result<Vec<SourceOutcome>, CatalogError> {
        let _running = self.refresh_lock.lock().await;
        let snapshot = self.snapshot();
        let mut documents = Vec::new();
        let mut history = Vec::new();
        for source in sources {
            let now = self.clock.now();
            let slot = source.kind.slot();
            let current = snapshot.documents.get(&source.kind);
            let validators = Validators {
                etag: current.and_then(|d| d.upstream_etag.clone()),
                last_modified: current.and_then(|d| d.upstream_last_modified.clone()),
            };
            let mut row = RefreshRow {
                at: rfc3339(now),
                source: source.url.clone(),
                slot: Some(slot.clone()),
                result: String::new(),
                error: None,
                bytes: None,
            };
            match source.fetcher.get(&source.url, &validators).await {
                Ok(Fetched::NotModified) => row.result = "not-modified".into(),
                Ok(Fetched::Body {
                    bytes,
                    etag,
                    last_modified,
                }) => {
                    row.bytes = Some(bytes.len() as i64);
                    match parse_document(&bytes, self.config.max_document_bytes) {
                        Ok(parsed) if parsed.kind() == source.kind => {
                            let mut doc = Document::new(bytes.into(), parsed, source.url.clone(), now);
                            doc.upstream_etag = etag;
                            doc.upstream_last_modified = last_modified;
                            let same = current.is_some_and(|c| c.sha256 == doc.sha256);
                            row.result = if same { "unchanged" } else { "updated" }.into();
                            documents.push(doc);
                        }
                        Ok(parsed) => {
                            row.result = "failed".into();
                            row.error = Some(format!(
                                "expected a {} but received a {}",
                                source.kind.describe(),
                                parsed.kind().describe()
                            ));
                        }
                        Err(e) => {
                            row.result = "failed".into();
                            row.error = Some(e.to_string());
                        }
                    }
                }
                Err(e) => {
                    row.result = "failed".into();
                    row.error = Some(e.to_string());
                }
            }
            if let Some(error) = &row.error {
                tracing::warn!(source = %source.url, %error, "catalog refresh failed; keeping the last good copy");
            } else {
                tracing::info!(source = %source.url, result = %row.result, "catalog refreshed");
            }
            history.push(row);
        }
        let rows: Vec<DocumentRow> = documents.iter().map(document_row).collect();
        let recorded = history.clone();
        self.store
            .write(move |c| sql::replace(c, &rows, &recorded))
            .await
            .map_err(CatalogError::from)?;
        if !documents.is_empty() {
            self.install(snapshot.with(documents));
        }
        let outcomes = history
            .iter()
            .map(|r| SourceOutcome {
                source: r.source.clone(),
                result: match r.result.as_str() {
                    "updated" => "updated",
                    "unchanged" => "unchanged",
                    "not-modified" => "not-modified",
                    _ => "failed",
                },
                error: r.error.clone(),
            })
            .collect();
        self.set_health(history);
        Ok(outcomes)
    }

    /// The most recent refreshes and imports, newest first (for the catalog page).
    pub async fn recent_refreshes(&self, limit: u32) -> Result<Vec<RefreshRow>, StoreError> {
        self.store.read(move |c| sql::recent(c, limit)).await
    }
}

pub(crate) fn document_row(d: &Document) -> DocumentRow {
    DocumentRow {
        slot: d.kind.slot(),
        body: d.body.to_vec(),
        sha256: d.sha256.clone(),
        upstream_etag: d.upstream_etag.clone(),
        upstream_last_modified: d.upstream_last_modified.clone(),
        source: d.source.clone(),
        received_at: rfc3339(d.received_at),
    }
}

pub(crate) fn now_text(clock: &SharedClock) -> String {
    rfc3339(clock.now())
}

fn sofa_url(base: &str, feed: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), feed.trim_start_matches('/'))
}
