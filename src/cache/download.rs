//! Downloads from Apple's CDN into the cache: resumable with HTTP `Range` (the partial file and
//! its length survive a restart), a shared bandwidth limit, a limit on concurrent jobs, and
//! allowed time windows (a closed window defers a job that has not started and pauses one that
//! has; it resumes when a window opens). Finished files are verified before publication:
//! installers against Apple's chunklist and size, others against size and any known digest. A
//! file that fails is quarantined (never served) and fetched again, up to `cache.max_attempts`.

use std::path::Path;
use std::time::Instant;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use tokio::io::AsyncWriteExt;

use super::chunklist::Chunklist;
use super::files::{Expectation, PayloadFiles, VerifyError, io_error};
use super::service::{Origin, Staged, blocking};
use super::{CacheError, CacheService, DownloadProgress, PayloadKind, Target};
use crate::store::cache::{self as sql, DownloadRow, PayloadRow};
use crate::store::sql_time;

/// Largest chunklist accepted (Apple's are tens of kilobytes).
const MAX_CHUNKLIST_BYTES: usize = 16 * 1024 * 1024;
/// How often progress is written to the database while a download runs.
const PERSIST_EVERY_BYTES: u64 = 8 * 1024 * 1024;

/// A download to queue.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    pub target: Target,
    pub url: String,
    /// Apple's chunklist for an installer (see [`super::integrity_url_for`]).
    pub integrity_url: Option<String>,
    pub expected_size: Option<u64>,
    pub expected_sha256: Option<String>,
}

/// How one pass over a job ended.
enum Pass {
    Complete(Option<Chunklist>, Option<String>),
    Paused(u64),
    Interrupted(u64, String),
}

fn target_of(job: &DownloadRow) -> Target {
    Target {
        kind: PayloadKind::parse(&job.kind).unwrap_or(PayloadKind::Ipsw),
        platform: job.platform.clone(),
        version: job.version.clone(),
        build: job.build.clone(),
        filename: job.filename.clone(),
    }
}

impl CacheService {
    async fn set_state(&self, id: i64, state: &'static str, bytes: u64, error: Option<String>) {
        let at = sql_time(self.inner.clock.now());
        let result = self
            .inner
            .store
            .write(move |c| sql::update_download(c, id, state, bytes, error.as_deref(), &at))
            .await;
        if let Err(e) = result {
            tracing::error!(id, error = %e, "cannot record the download state");
        }
    }

    pub(super) async fn run_job(&self, mut job: DownloadRow) {
        let Ok(_slot) = self.inner.slots.clone().acquire_owned().await else {
            return;
        };
        let path = self.inner.files.download_path(job.id);
        loop {
            if !self.window_open(self.inner.clock.now()) {
                self.set_state(job.id, "deferred", job.bytes_done, None).await;
                return;
            }
            self.set_state(job.id, "running", job.bytes_done, None).await;
            match self.fetch_pass(&job, &path).await {
                Ok(Pass::Paused(bytes)) => {
                    self.set_state(job.id, "deferred", bytes, None).await;
                    return;
                }
                Ok(Pass::Interrupted(bytes, why)) => {
                    tracing::warn!(id = job.id, bytes, %why, "download interrupted; it resumes");
                    let msg = format!("interrupted after {bytes} bytes ({why}); it resumes");
                    self.set_state(job.id, "queued", bytes, Some(msg)).await;
                    return;
                }
                Ok(Pass::Complete(chunklist, chunklist_sha256)) => {
                    match self
                        .verify_and_publish(&job, &path, chunklist, chunklist_sha256)
                        .await
                    {
                        Ok(()) => return,
                        Err(Retry::Again) => {
                            job.bytes_done = 0;
                            continue;
                        }
                        Err(Retry::Stop(e)) => {
                            self.set_state(job.id, "failed", job.bytes_done, Some(e.to_string()))
                                .await;
                            return;
                        }
                    }
                }
                Err(e) => {
                    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    self.set_state(job.id, "failed", bytes, Some(e.to_string())).await;
                    return;
                }
            }
        }
    }

    /// Fetches the chunklist (if any) and the rest of the payload into `path`.
    async fn fetch_pass(&self, job: &DownloadRow, path: &Path) -> Result<Pass, CacheError> {
        let (chunklist, chunklist_sha256) = match &job.integrity_url {
            Some(url) => {
                let bytes = self.fetch_small(url).await?;
                let list = Chunklist::parse(&bytes)
                    .map_err(|e| CacheError::Verify(format!("the chunklist at {url}: {e}")))?;
                (Some(list), Some(crate::catalog::snapshot::sha256_hex(&bytes)))
            }
            None => (None, None),
        };
        let expected = job.expected_size.or(chunklist.as_ref().map(|c| c.total_size()));
        let mut offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if expected.is_some_and(|size| offset > size) {
            offset = 0;
        }
        if offset > 0 && expected == Some(offset) {
            return Ok(Pass::Complete(chunklist, chunklist_sha256));
        }
        let mut request = self.inner.http.get(&job.url);
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = request
            .send()
            .await
            .map_err(|e| CacheError::Http(e.to_string()))?;
        let status = response.status();
        if status == StatusCode::OK {
            offset = 0;
        } else if status == StatusCode::PARTIAL_CONTENT {
            let start = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok());
            if start != Some(offset) {
                return Err(CacheError::Http(format!(
                    "asked for bytes from {offset}, the server answered {start:?}"
                )));
            }
        } else {
            return Err(CacheError::Http(format!("{} answered {status}", job.url)));
        }
        let total = expected.or(response.content_length().map(|n| n + offset));
        let mut writer = (self.inner.staging)(path, offset).map_err(|e| io_error(path, e))?;
        let mut stream = response.bytes_stream();
        let (mut done, mut persisted) = (offset, offset);
        let started = Instant::now();
        let update = |done: u64| {
            let rate = (done - offset) as f64 / started.elapsed().as_secs_f64().max(1e-3);
            self.inner
                .progress
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    job.id,
                    DownloadProgress {
                        bytes_done: done,
                        total,
                        rate,
                    },
                );
        };
        while let Some(piece) = stream.next().await {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    writer.flush().await.map_err(|e| io_error(path, e))?;
                    return Ok(Pass::Interrupted(done, e.to_string()));
                }
            };
            self.inner.throttle.take(piece.len() as u64).await;
            writer.write_all(&piece).await.map_err(|e| io_error(path, e))?;
            done += piece.len() as u64;
            update(done);
            if total.is_some_and(|t| done > t) {
                break;
            }
            if done - persisted >= PERSIST_EVERY_BYTES {
                persisted = done;
                self.set_state(job.id, "running", done, None).await;
            }
            if !self.window_open(self.inner.clock.now()) {
                writer.flush().await.map_err(|e| io_error(path, e))?;
                return Ok(Pass::Paused(done));
            }
        }
        writer.flush().await.map_err(|e| io_error(path, e))?;
        writer.shutdown().await.map_err(|e| io_error(path, e))?;
        // A short body must not pass for the whole file.
        if total.is_some_and(|t| done < t) {
            return Ok(Pass::Interrupted(done, "the connection closed early".into()));
        }
        Ok(Pass::Complete(chunklist, chunklist_sha256))
    }

    async fn fetch_small(&self, url: &str) -> Result<Vec<u8>, CacheError> {
        let response = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| CacheError::Http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(CacheError::Http(format!("{url} answered {}", response.status())));
        }
        let mut out = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| CacheError::Http(e.to_string()))?;
            if out.len() + piece.len() > MAX_CHUNKLIST_BYTES {
                return Err(CacheError::Verify(format!(
                    "{url} is larger than a chunklist can be"
                )));
            }
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }

    async fn verify_and_publish(
        &self,
        job: &DownloadRow,
        path: &Path,
        chunklist: Option<Chunklist>,
        chunklist_sha256: Option<String>,
    ) -> Result<(), Retry> {
        let (p, size, sha) = (path.to_path_buf(), job.expected_size, job.expected_sha256.clone());
        let checked = blocking(move || {
            let expect = Expectation {
                chunklist: chunklist.as_ref(),
                size,
                sha256: sha.as_deref(),
            };
            Ok(PayloadFiles::verify(&p, &expect))
        })
        .await
        .map_err(Retry::Stop)?;
        match checked {
            Ok((digest, size)) => {
                let target = target_of(job);
                let staged = Staged {
                    path: path.to_path_buf(),
                    digest,
                    size,
                };
                let origin = Origin {
                    source_url: Some(job.url.clone()),
                    chunklist_sha256,
                    download: Some(job.id),
                };
                let published = self.publish(staged, &target, origin).await;
                published.map(|_| ()).map_err(Retry::Stop)
            }
            Err(VerifyError::Io(e)) => Err(Retry::Stop(io_error(path, e))),
            Err(problem) => self.quarantine(job, path, problem.to_string()).await,
        }
    }

    /// Sets a file that failed verification aside (recorded, never served) and decides whether
    /// to fetch it again.
    async fn quarantine(&self, job: &DownloadRow, path: &Path, problem: String) -> Result<(), Retry> {
        tracing::warn!(id = job.id, url = %job.url, %problem, "download failed verification; quarantined");
        let (files, p) = (self.inner.files.clone(), path.to_path_buf());
        let moved = blocking(move || {
            let (digest, size) = PayloadFiles::verify(&p, &Expectation::default())
                .map_err(|e| CacheError::Verify(e.to_string()))?;
            files.quarantine(&p, digest.as_str())?;
            Ok((digest, size))
        })
        .await
        .map_err(Retry::Stop)?;
        let now = sql_time(self.inner.clock.now());
        let target = target_of(job);
        let row = PayloadRow {
            digest: moved.0.as_str().to_string(),
            kind: target.kind.as_str().into(),
            platform: target.platform,
            version: target.version,
            build: target.build,
            filename: target.filename,
            size: moved.1,
            chunklist_sha256: None,
            source_url: Some(job.url.clone()),
            fetched_at: now.clone(),
            last_served_at: None,
            pinned: false,
            state: "quarantined".into(),
            problem: Some(problem.clone()),
        };
        let (id, max) = (job.id, self.inner.config.max_attempts.max(1));
        let attempts = self
            .inner
            .store
            .write(move |c| {
                sql::upsert_payload(c, &row)?;
                sql::record_failed_attempt(c, id, "queued", &format!("quarantined: {problem}"), &now)
            })
            .await
            .map_err(|e| Retry::Stop(e.into()))?;
        if attempts >= max {
            Err(Retry::Stop(CacheError::Verify(format!(
                "{attempts} fetches failed verification; the last: quarantined"
            ))))
        } else {
            Err(Retry::Again)
        }
    }
}

enum Retry {
    Again,
    Stop(CacheError),
}
