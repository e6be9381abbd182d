//! The download queue: jobs in SQLite, started by a worker within the concurrency limit;
//! progress kept in memory for the UI and CLI. The fetching itself is in `download.rs`.

use tokio::task::JoinHandle;

use super::download::DownloadRequest;
use super::files::is_plain_file_name;
use super::{CacheError, CacheService, DownloadProgress};
use crate::store::cache::{self as sql, DownloadRow};
use crate::store::sql_time;

impl CacheService {
    /// Queues a download (or returns the pending one for the same URL) and wakes the worker.
    pub async fn enqueue(&self, req: DownloadRequest) -> Result<i64, CacheError> {
        let scheme_ok = |u: &str| {
            u.starts_with("https://") || (self.inner.config.allow_plain_http && u.starts_with("http://"))
        };
        if !scheme_ok(&req.url) || req.integrity_url.as_deref().is_some_and(|u| !scheme_ok(u)) {
            return Err(CacheError::BadInput(format!(
                "`{}` is not an HTTPS URL (cache.allow_plain_http is off)",
                req.url
            )));
        }
        if !is_plain_file_name(&req.target.filename) {
            return Err(CacheError::BadInput(format!(
                "`{}` is not a plain file name",
                req.target.filename
            )));
        }
        let now = sql_time(self.inner.clock.now());
        let row = DownloadRow {
            id: 0,
            kind: req.target.kind.as_str().into(),
            platform: req.target.platform,
            version: req.target.version,
            build: req.target.build,
            filename: req.target.filename,
            url: req.url,
            integrity_url: req.integrity_url,
            expected_size: req.expected_size,
            expected_sha256: req.expected_sha256.map(|s| s.to_ascii_lowercase()),
            state: "queued".into(),
            bytes_done: 0,
            attempts: 0,
            error: None,
            digest: None,
            created_at: now.clone(),
            updated_at: now,
        };
        let id = self
            .inner
            .store
            .write(move |c| sql::enqueue_download(c, &row))
            .await?;
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Puts a failed job back in the queue (it resumes from its partial file).
    pub async fn retry(&self, id: i64) -> Result<(), CacheError> {
        let job = self.download(id).await?.ok_or(CacheError::NotFound)?;
        let at = sql_time(self.inner.clock.now());
        self.inner
            .store
            .write(move |c| sql::update_download(c, id, "queued", job.bytes_done, None, &at))
            .await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    pub async fn download(&self, id: i64) -> Result<Option<DownloadRow>, CacheError> {
        Ok(self.inner.store.read(move |c| sql::download_by_id(c, id)).await?)
    }

    pub async fn downloads(&self, limit: u32) -> Result<Vec<DownloadRow>, CacheError> {
        Ok(self.inner.store.read(move |c| sql::downloads(c, limit)).await?)
    }

    /// Live progress of a job running in this process.
    pub fn progress(&self, id: i64) -> Option<DownloadProgress> {
        self.inner
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Starts every waiting job not already running here (each waits for a free slot), under
    /// the download limits in force (re-read first, so a change made elsewhere applies).
    pub async fn start_pending(&self) -> Result<Vec<JoinHandle<()>>, CacheError> {
        self.reload_limits().await?;
        let pending = self.inner.store.read(sql::pending_downloads).await?;
        let mut handles = Vec::new();
        for job in pending {
            let fresh = self
                .inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(job.id);
            if !fresh {
                continue;
            }
            let service = self.clone();
            handles.push(tokio::spawn(async move {
                let id = job.id;
                service.run_job(job).await;
                service
                    .inner
                    .running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                service
                    .inner
                    .progress
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            }));
        }
        Ok(handles)
    }

    /// Runs every waiting job to its end (done, deferred, interrupted or failed).
    pub async fn run_pending(&self) -> Result<(), CacheError> {
        for handle in self.start_pending().await? {
            let _ = handle.await;
        }
        Ok(())
    }

    /// The background worker: starts waiting jobs when woken, and every 30 seconds (so a
    /// deferred job starts when its window opens and an interrupted one resumes).
    pub fn spawn_worker(&self) -> JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(e) = service.requeue_interrupted().await {
                tracing::warn!(error = %e, "cannot requeue interrupted cache downloads");
            }
            loop {
                if let Err(e) = service.start_pending().await {
                    tracing::warn!(error = %e, "cannot start cache downloads");
                }
                tokio::select! {
                    _ = service.inner.wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                }
            }
        })
    }

    /// Jobs left `running` by a process that stopped go back to the queue; their partial files
    /// let them resume. The server's worker calls this once at start (an operator command
    /// running beside the server must not take the server's jobs).
    pub async fn requeue_interrupted(&self) -> Result<usize, CacheError> {
        let at = sql_time(self.inner.clock.now());
        Ok(self
            .inner
            .store
            .write(move |c| sql::requeue_running(c, &at))
            .await?)
    }
}
