//! Loose files carried in (`orchard cache import FILE...`): an `InstallAssistant.pkg` or an
//! `.ipsw` copied from elsewhere, matched to a catalog entry and published like a download.
//!
//! Matching, in order: a target given explicitly; a payload or download that already knows this
//! SHA-256; for a `.pkg`, the one installer in the catalog with this exact size (SOFA lists
//! installer sizes, not hashes); for an `.ipsw`, the restore image whose URL ends in this file
//! name (the catalog lists no IPSW sizes or hashes). An installer is checked against its
//! chunklist when `<file>.integrityDataV1` lies beside it.

use std::path::{Path, PathBuf};

use super::chunklist::Chunklist;
use super::files::{Digest, Expectation, PayloadFiles};
use super::service::{Origin, Staged, blocking};
use super::{CacheError, CacheService, PayloadKind, Target};
use crate::catalog::gdmf::OsFamily;
use crate::catalog::index::CatalogIndex;
use crate::store::cache::{self as sql, PayloadRow};

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub path: PathBuf,
    pub payload: PayloadRow,
    /// It was in the cache already.
    pub already: bool,
}

fn kind_of(path: &Path) -> Option<PayloadKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "pkg" => Some(PayloadKind::Installer),
        "ipsw" => Some(PayloadKind::Ipsw),
        _ => None,
    }
}

/// The catalog entry a file of `kind`, `name` and `size` is.
pub fn match_catalog(index: &CatalogIndex, kind: PayloadKind, name: &str, size: u64) -> Option<Target> {
    let mac = OsFamily::MacOs.as_str().to_string();
    match kind {
        PayloadKind::Installer => {
            let mut hits = index.installers().iter().filter(|i| i.size == Some(size));
            let hit = hits.next()?;
            if hits.next().is_some() {
                return None;
            }
            Some(Target {
                kind,
                platform: mac,
                version: hit.version.to_string(),
                build: hit.build.clone(),
                filename: "InstallAssistant.pkg".into(),
            })
        }
        PayloadKind::Ipsw => index
            .restore_images()
            .iter()
            .find(|r| r.url.rsplit('/').next() == Some(name))
            .map(|r| Target {
                kind,
                platform: mac,
                version: r.version.to_string(),
                build: r.build.clone(),
                filename: name.to_string(),
            }),
        PayloadKind::Catalog => None,
    }
}

impl CacheService {
    /// Imports one file: copies it into staging, verifies, matches and publishes it.
    pub async fn import_file(
        &self,
        path: &Path,
        index: &CatalogIndex,
        explicit: Option<Target>,
    ) -> Result<Imported, CacheError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| CacheError::BadInput(format!("{} has no usable file name", path.display())))?
            .to_string();
        let kind = match &explicit {
            Some(t) => t.kind,
            None => kind_of(path).ok_or_else(|| {
                CacheError::BadInput(format!(
                    "{name}: only .pkg installers and .ipsw images are imported"
                ))
            })?,
        };
        let chunklist_path = path.with_file_name(format!("{name}.integrityDataV1"));
        let (chunklist, chunklist_sha256) = match std::fs::read(&chunklist_path) {
            Ok(bytes) => (
                Some(
                    Chunklist::parse(&bytes)
                        .map_err(|e| CacheError::Verify(format!("{}: {e}", chunklist_path.display())))?,
                ),
                // Recorded: the installer was checked against Apple's chunklist.
                Some(crate::catalog::snapshot::sha256_hex(&bytes)),
            ),
            Err(_) => (None, None),
        };
        let staged = self.files().staging_path(&format!(
            "import-{}",
            crate::catalog::snapshot::sha256_hex(name.as_bytes())
        ));
        let (files, source, st) = (self.files().clone(), path.to_path_buf(), staged.clone());
        let (digest, size) = blocking(move || {
            files.stage_copy(&source, &st)?;
            let expect = Expectation {
                chunklist: chunklist.as_ref(),
                ..Default::default()
            };
            PayloadFiles::verify(&st, &expect).map_err(|e| {
                let _ = std::fs::remove_file(&st);
                CacheError::Verify(format!("{}: {e}", source.display()))
            })
        })
        .await?;
        let target = match explicit {
            Some(t) => Some(t),
            None => self.known_target(&digest).await?,
        }
        .or_else(|| match_catalog(index, kind, &name, size));
        let Some(target) = target else {
            let _ = std::fs::remove_file(&staged);
            return Err(CacheError::BadInput(format!(
                "{name} ({size} bytes, SHA-256 {digest}) matches no catalog entry; \
                 name its platform, version and build"
            )));
        };
        let already = self.payload(&digest).await?.is_some_and(|p| p.state == "ready");
        let source = format!("import:{name}");
        let ready = Staged {
            path: staged.clone(),
            digest,
            size,
        };
        let origin = Origin {
            source_url: Some(source),
            chunklist_sha256,
            ..Default::default()
        };
        let payload = match self.publish(ready, &target, origin).await {
            Ok(p) => p,
            Err(e) => {
                // Refused (the quota): the staged copy goes too.
                let _ = std::fs::remove_file(&staged);
                return Err(e);
            }
        };
        Ok(Imported {
            path: path.to_path_buf(),
            payload,
            already,
        })
    }

    /// A target already associated with this content (a payload, or a download expecting it).
    async fn known_target(&self, digest: &Digest) -> Result<Option<Target>, CacheError> {
        if let Some(p) = self.payload(digest).await? {
            return Ok(Some(Target {
                kind: PayloadKind::parse(&p.kind).unwrap_or(PayloadKind::Ipsw),
                platform: p.platform,
                version: p.version,
                build: p.build,
                filename: p.filename,
            }));
        }
        let d = digest.as_str().to_string();
        let jobs = self.store().read(|c| sql::downloads(c, 10_000)).await?;
        Ok(jobs
            .into_iter()
            .find(|j| j.expected_sha256.as_deref() == Some(d.as_str()))
            .map(|j| Target {
                kind: PayloadKind::parse(&j.kind).unwrap_or(PayloadKind::Ipsw),
                platform: j.platform,
                version: j.version,
                build: j.build,
                filename: j.filename,
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::document::{DEFAULT_MAX_DOCUMENT_BYTES, ParsedDocument, parse_document};

    fn index() -> CatalogIndex {
        let parse = |b: &[u8]| parse_document(b, DEFAULT_MAX_DOCUMENT_BYTES).unwrap();
        let ParsedDocument::Gdmf(gdmf) = parse(include_bytes!(
            "../../tests/data/catalog-samples/gdmf-pmv-raw-2026-04-12.json"
        )) else {
            panic!("gdmf sample")
        };
        let ParsedDocument::Sofa(feed) = parse(include_bytes!(
            "../../tests/data/catalog-samples/sofa-v2-macos_data_feed.json"
        )) else {
            panic!("sofa sample")
        };
        let ParsedDocument::UmaCatalog(installers) = parse(include_bytes!(
            "../../tests/data/catalog-samples/sofa-uma_catalog.json"
        )) else {
            panic!("uma sample")
        };
        CatalogIndex::build(gdmf, &[feed], &installers)
    }

    #[test]
    fn installers_match_by_exact_size_and_images_by_file_name() {
        let index = index();
        let hit = match_catalog(&index, PayloadKind::Installer, "whatever.pkg", 18_391_902_710).unwrap();
        assert_eq!((hit.version.as_str(), hit.build.as_str()), ("26.6.2", "25G83"));
        assert_eq!(hit.filename, "InstallAssistant.pkg");
        assert!(match_catalog(&index, PayloadKind::Installer, "x.pkg", 18_391_902_711).is_none());

        let image = "UniversalMac_26.6.2_25G83_Restore.ipsw";
        let hit = match_catalog(&index, PayloadKind::Ipsw, image, 1).unwrap();
        assert_eq!(hit.build, "25G83");
        assert!(match_catalog(&index, PayloadKind::Ipsw, "Other.ipsw", 1).is_none());
    }
}
