//! From catalog entries to downloads: the requests for a (platform, version, build) target,
//! and [`CacheService::prefetch`], the entry point the policy engine calls with the targets of
//! active policies ahead of their deadlines.
//!
//! What the catalog offers to host: macOS full installers (SOFA's list of Apple's
//! `InstallAssistant.pkg`, with sizes; the chunklist URL is derived, see
//! [`super::integrity_url_for`]) and the macOS restore image (IPSW) SOFA names. iOS and iPadOS
//! IPSWs are not in the catalogs Orchard reads; they can be imported as files.

use super::download::DownloadRequest;
use super::{CacheError, CacheService, PayloadKind, Target, integrity_url_for};
use crate::catalog::gdmf::OsFamily;
use crate::catalog::index::CatalogIndex;
use crate::store::cache as sql;

/// An OS release to have locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefetchTarget {
    pub platform: String,
    pub version: String,
    pub build: String,
}

/// What [`CacheService::prefetch`] did for one target.
#[derive(Debug, Clone, PartialEq)]
pub enum PrefetchOutcome {
    /// Already cached: these payloads.
    Cached(Vec<String>),
    /// Downloads queued (or already pending): their ids.
    Queued(Vec<i64>),
    /// The catalog offers nothing to host for it.
    NotInCatalog,
}

/// The downloads the catalog offers for a build, of the given kinds.
pub fn requests_for(index: &CatalogIndex, build: &str, kinds: &[PayloadKind]) -> Vec<DownloadRequest> {
    let mac = OsFamily::MacOs.as_str().to_string();
    let mut out = Vec::new();
    if kinds.contains(&PayloadKind::Installer)
        && let Some(i) = index.installer_for(build)
    {
        out.push(DownloadRequest {
            target: Target {
                kind: PayloadKind::Installer,
                platform: mac.clone(),
                version: i.version.to_string(),
                build: i.build.clone(),
                filename: "InstallAssistant.pkg".into(),
            },
            integrity_url: Some(integrity_url_for(&i.url)),
            url: i.url.clone(),
            expected_size: i.size,
            expected_sha256: None,
        });
    }
    if kinds.contains(&PayloadKind::Ipsw) {
        for r in index.restore_images().iter().filter(|r| r.build == build) {
            let Some(name) = r
                .url
                .rsplit('/')
                .next()
                .filter(|n| super::files::is_plain_file_name(n))
            else {
                continue;
            };
            out.push(DownloadRequest {
                target: Target {
                    kind: PayloadKind::Ipsw,
                    platform: mac.clone(),
                    version: r.version.to_string(),
                    build: r.build.clone(),
                    filename: name.to_string(),
                },
                url: r.url.clone(),
                integrity_url: None,
                expected_size: None,
                expected_sha256: None,
            });
        }
    }
    out
}

impl CacheService {
    /// Makes sure each target is cached or on its way: queues the catalog's downloads (of
    /// `kinds`) for targets that have no ready payload. The worker runs them within the
    /// configured windows and bandwidth.
    pub async fn prefetch(
        &self,
        index: &CatalogIndex,
        targets: &[PrefetchTarget],
        kinds: &[PayloadKind],
    ) -> Result<Vec<(PrefetchTarget, PrefetchOutcome)>, CacheError> {
        let mut out = Vec::with_capacity(targets.len());
        for t in targets {
            let (p, v, b) = (t.platform.clone(), t.version.clone(), t.build.clone());
            let ready = self
                .store()
                .read(move |c| sql::ready_for_target(c, &p, &v, &b))
                .await?;
            let ready: Vec<String> = ready
                .into_iter()
                .filter(|r| PayloadKind::parse(&r.kind).is_some_and(|k| kinds.contains(&k)))
                .map(|r| r.digest)
                .collect();
            if !ready.is_empty() {
                out.push((t.clone(), PrefetchOutcome::Cached(ready)));
                continue;
            }
            let requests = requests_for(index, &t.build, kinds);
            if requests.is_empty() {
                out.push((t.clone(), PrefetchOutcome::NotInCatalog));
                continue;
            }
            let mut ids = Vec::new();
            for r in requests {
                ids.push(self.enqueue(r).await?);
            }
            out.push((t.clone(), PrefetchOutcome::Queued(ids)));
        }
        Ok(out)
    }

    /// Pins (or unpins) every ready payload of a target, so eviction never takes it.
    pub async fn pin_target(&self, target: &PrefetchTarget, pinned: bool) -> Result<usize, CacheError> {
        let t = target.clone();
        Ok(self
            .store()
            .write(move |c| {
                let tx = c.transaction()?;
                let rows = sql::ready_for_target(&tx, &t.platform, &t.version, &t.build)?;
                for r in &rows {
                    sql::set_pinned(&tx, &r.digest, pinned)?;
                }
                tx.commit()?;
                Ok(rows.len())
            })
            .await?)
    }
}
