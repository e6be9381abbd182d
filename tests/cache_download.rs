//! Downloads from a local stand-in for Apple's CDN: verified against the chunklist, resumed
//! after an interruption (across a restart), a corrupted byte quarantined and re-fetched, the
//! bandwidth limit, a closed window, a full disk.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use orchard::cache::Digest;
use orchard::cache::files::{self, StagingOpener};
use tokio::io::AsyncWrite;

use crate::cache_support::*;

const MB: usize = 1024 * 1024;

#[tokio::test]
async fn an_installer_downloads_verifies_against_its_chunklist_and_is_published() {
    let data = payload(3 * MB + 12345);
    let cdn = Cdn::start(data.clone()).await;
    let rig = rig(|_| {});
    let id = rig.cache.enqueue(cdn.installer_request()).await.unwrap();
    rig.cache.run_pending().await.unwrap();

    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "done", "{:?}", job.error);
    let digest = Digest::parse(job.digest.as_deref().unwrap()).unwrap();
    assert_eq!(digest.as_str(), sha256_hex(&data));
    let row = rig.cache.payload(&digest).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.size), ("ready", data.len() as u64));
    assert_eq!(
        row.chunklist_sha256.as_deref(),
        Some(sha256_hex(&cdn.state.chunklist).as_str())
    );
    assert_eq!(
        std::fs::read(rig.cache.files().object_path(&digest)).unwrap(),
        data
    );
    // Nothing is left in the partial folder.
    assert_eq!(
        std::fs::read_dir(rig.cache.files().root().join("partial"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn an_interrupted_download_resumes_with_range_after_a_restart() {
    let data = payload(3 * MB);
    let cdn = Cdn::start(data.clone()).await;
    *cdn.state.drop_after.lock().unwrap() = Some(MB + 777);
    let rig = rig(|_| {});
    let id = rig.cache.enqueue(cdn.installer_request()).await.unwrap();
    rig.cache.run_pending().await.unwrap();

    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "queued", "an interrupted job waits to resume");
    assert_eq!(job.bytes_done, (MB + 777) as u64);
    assert!(job.error.unwrap().contains("interrupted"));
    let partial = rig.cache.files().download_path(id);
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), (MB + 777) as u64);

    // The process dies mid-download (the row still says `running`); a new process on the same
    // data directory requeues the job and picks it up where it stopped.
    rig.store
        .write_blocking(move |c| orchard::store::cache::update_download(c, id, "running", 0, None, "x"))
        .unwrap();
    let restarted = rig.restart();
    restarted.run_pending().await.unwrap();
    assert_eq!(
        restarted.download(id).await.unwrap().unwrap().state,
        "running",
        "not started twice"
    );
    assert_eq!(restarted.requeue_interrupted().await.unwrap(), 1);
    restarted.run_pending().await.unwrap();
    let job = restarted.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "done", "{:?}", job.error);
    assert_eq!(job.digest.as_deref(), Some(sha256_hex(&data).as_str()));
    assert_eq!(cdn.requests(), vec![None, Some(format!("bytes={}-", MB + 777))]);
}

#[tokio::test]
async fn a_corrupted_byte_is_quarantined_never_served_and_fetched_again() {
    let data = payload(2 * MB + 5);
    let cdn = Cdn::start(data.clone()).await;
    cdn.state.corrupt_answers.store(1, Ordering::SeqCst);
    let rig = rig(|_| {});
    let id = rig.cache.enqueue(cdn.installer_request()).await.unwrap();
    rig.cache.run_pending().await.unwrap();

    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "done", "{:?}", job.error);
    assert_eq!(job.attempts, 1);
    assert_eq!(cdn.requests().len(), 2, "fetched again after the bad copy");
    let payloads = rig.cache.payloads().await.unwrap();
    let bad = payloads
        .iter()
        .find(|p| p.state == "quarantined")
        .expect("quarantined row");
    assert!(
        bad.problem.as_deref().unwrap().contains("chunk 1"),
        "{:?}",
        bad.problem
    );
    let bad_digest = Digest::parse(&bad.digest).unwrap();
    assert!(!rig.cache.files().object_path(&bad_digest).exists());
    assert!(
        rig.cache
            .open_for_serving(&bad_digest, "InstallAssistant.pkg")
            .await
            .is_err()
    );
    let good = Digest::parse(&sha256_hex(&data)).unwrap();
    assert!(
        rig.cache
            .open_for_serving(&good, "InstallAssistant.pkg")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_payload_that_never_verifies_fails_after_the_allowed_attempts() {
    let data = payload(MB + 3);
    let cdn = Cdn::start(data.clone()).await;
    cdn.state.corrupt_answers.store(100, Ordering::SeqCst);
    let rig = rig(|c| c.cache.max_attempts = 2);
    let id = rig.cache.enqueue(cdn.installer_request()).await.unwrap();
    rig.cache.run_pending().await.unwrap();
    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "failed");
    assert_eq!(cdn.requests().len(), 2);
    assert!(
        rig.cache
            .payloads()
            .await
            .unwrap()
            .iter()
            .all(|p| p.state == "quarantined")
    );
}

#[tokio::test]
async fn the_bandwidth_limit_holds_within_ten_percent() {
    let data = payload(2 * MB);
    let cdn = Cdn::start(data.clone()).await;
    let rig = rig(|c| c.cache.bandwidth_bytes_per_second = MB as u64);
    let mut request = cdn.installer_request();
    request.integrity_url = None;
    rig.cache.enqueue(request).await.unwrap();
    let started = Instant::now();
    rig.cache.run_pending().await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let rate = data.len() as f64 / elapsed;
    assert!(
        (0.9 * MB as f64..=1.1 * MB as f64).contains(&rate),
        "{rate:.0} B/s over {elapsed:.2} s for a 1 MiB/s limit"
    );
}

#[tokio::test]
async fn a_closed_window_defers_the_download_until_it_opens() {
    let data = payload(MB);
    let cdn = Cdn::start(data.clone()).await;
    // The rig's clock reads 12:00 UTC.
    let rig = rig(|c| c.cache.allowed_windows = vec!["18:00-06:00".into()]);
    let id = rig.cache.enqueue(cdn.installer_request()).await.unwrap();
    rig.cache.run_pending().await.unwrap();
    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "deferred");
    assert!(cdn.requests().is_empty(), "nothing is fetched outside the window");

    rig.clock.advance(chrono::Duration::hours(7));
    rig.cache.run_pending().await.unwrap();
    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "done", "{:?}", job.error);
}

#[tokio::test]
async fn a_window_that_closes_mid_download_pauses_it_and_it_resumes_when_open() {
    let data = payload(2 * MB);
    let cdn = Cdn::start(data.clone()).await;
    // 12:00 UTC now; the window ends at 12:30. The limit keeps the download running ~2 s.
    let rig = rig(|c| {
        c.cache.allowed_windows = vec!["11:00-12:30".into()];
        c.cache.bandwidth_bytes_per_second = MB as u64;
    });
    let id = rig.cache.enqueue(cdn.installer_request()).await.unwrap();
    let running = {
        let cache = rig.cache.clone();
        tokio::spawn(async move { cache.run_pending().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    rig.clock.advance(chrono::Duration::minutes(45));
    running.await.unwrap().unwrap();
    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "deferred");
    assert!(
        job.bytes_done > 0 && job.bytes_done < data.len() as u64,
        "{}",
        job.bytes_done
    );
    let kept = std::fs::metadata(rig.cache.files().download_path(id))
        .unwrap()
        .len();
    assert_eq!(kept, job.bytes_done, "the bytes fetched so far are kept");

    rig.clock.advance(chrono::Duration::hours(23));
    rig.cache.run_pending().await.unwrap();
    let job = rig.cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "done", "{:?}", job.error);
    assert_eq!(cdn.requests()[1], Some(format!("bytes={kept}-")));
}

/// A writer that takes `room` bytes and then fails as a full disk does (ENOSPC).
struct FullDisk {
    inner: Pin<Box<dyn AsyncWrite + Send>>,
    room: usize,
}

impl AsyncWrite for FullDisk {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.room == 0 {
            return Poll::Ready(Err(io::Error::from_raw_os_error(libc::ENOSPC)));
        }
        let n = buf.len().min(self.room);
        match self.inner.as_mut().poll_write(cx, &buf[..n]) {
            Poll::Ready(Ok(written)) => {
                self.room -= written;
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_full_disk_fails_clearly_and_publishes_nothing() {
    let data = payload(2 * MB);
    let cdn = Cdn::start(data.clone()).await;
    let base = rig(|_| {});
    let real = files::file_opener();
    let opener: StagingOpener = Arc::new(move |path: &Path, offset: u64| {
        let inner = real(path, offset)?;
        let w: Pin<Box<dyn AsyncWrite + Send>> = Box::pin(FullDisk { inner, room: MB / 2 });
        Ok(w)
    });
    let cache = orchard::cache::CacheService::open_with(
        &base.config,
        base.store.clone(),
        Arc::new(base.clock.clone()),
        opener,
    )
    .unwrap();
    let id = cache.enqueue(cdn.installer_request()).await.unwrap();
    cache.run_pending().await.unwrap();
    let job = cache.download(id).await.unwrap().unwrap();
    assert_eq!(job.state, "failed");
    let error = job.error.unwrap();
    assert!(
        error.contains("disk is full") && error.contains("nothing was published"),
        "{error}"
    );
    assert!(cache.payloads().await.unwrap().is_empty());
    let objects = cache.files().root().join("objects");
    assert_eq!(std::fs::read_dir(objects).unwrap().count(), 0);
}

#[tokio::test]
async fn plain_http_and_odd_file_names_are_refused_when_queued() {
    let rig = rig(|c| c.cache.allow_plain_http = false);
    let mut req = Cdn::start(payload(10)).await.installer_request();
    assert!(rig.cache.enqueue(req.clone()).await.is_err());
    req.url = "https://example.invalid/x.pkg".into();
    req.integrity_url = None;
    req.target.filename = "../x.pkg".into();
    assert!(rig.cache.enqueue(req).await.is_err());
    assert!(rig.cache.downloads(10).await.unwrap().is_empty());
}
