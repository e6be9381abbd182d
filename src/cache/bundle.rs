//! Offline bundles, carried into air-gapped sites:
//!
//! ```text
//! DIR/manifest.json        what the bundle holds: every file with its SHA-256 and size
//! DIR/manifest.json.p7s    CMS SignedData (DER), detached, over manifest.json, by the CA key
//! DIR/signer.pem           the signing CA's certificate (to pass to `--trust` elsewhere)
//! DIR/catalog/...          the catalog documents as received (`orchard catalog export`)
//! DIR/payloads/<sha256>/<file name>
//! ```
//!
//! Import checks the signature against this appliance's CA, or a CA certificate the operator
//! trusts explicitly, then every hash, before anything is published. Payloads are staged under
//! the cache's `partial/` folder (an interrupted import resumes its copies), published only
//! when all verified; payloads already present are skipped, so a second import changes nothing.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::files::{Digest, Expectation, PayloadFiles, io_error, is_plain_file_name};
use super::service::{Origin, Staged, blocking};
use super::{CacheError, CacheService, PayloadKind, Target};
use crate::catalog::CatalogService;
use crate::pki::authority::Authority;
use crate::pki::signed::{self, OID_DATA, SignRequest};

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.json.p7s";
pub const SIGNER_CERT: &str = "signer.pem";
const FORMAT: u32 = 1;
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub created_at: String,
    pub catalog: Vec<FileEntry>,
    pub payloads: Vec<PayloadEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub kind: String,
    pub platform: String,
    pub version: String,
    pub build: String,
    pub filename: String,
    pub source_url: Option<String>,
}

/// Which payloads to export: a platform and versions (or builds).
#[derive(Debug, Clone)]
pub struct Selection {
    pub platform: String,
    pub versions: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleImport {
    pub published: Vec<String>,
    pub already_present: Vec<String>,
    pub catalog_documents: usize,
}

fn bundle_err(m: impl Into<String>) -> CacheError {
    CacheError::Bundle(m.into())
}

/// A manifest path: relative, plain components, under `catalog/` or `payloads/`.
fn safe_path(root: &Path, rel: &str) -> Result<PathBuf, CacheError> {
    let p = Path::new(rel);
    let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
    let under = rel.starts_with("catalog/") || rel.starts_with("payloads/");
    if !plain || !under || rel.contains('\\') {
        return Err(bundle_err(format!(
            "the manifest names a path outside the bundle: {rel}"
        )));
    }
    Ok(root.join(p))
}

fn sha_of_file(path: &Path) -> Result<(String, u64), CacheError> {
    let (d, size) = PayloadFiles::verify(path, &Expectation::default())
        .map_err(|e| bundle_err(format!("{}: {e}", path.display())))?;
    Ok((d.as_str().to_string(), size))
}

impl CacheService {
    /// Writes a bundle of the selected payloads and the current catalog into `dir`, signed
    /// with the appliance CA of `pki`. The manifest is written last, so an interrupted
    /// export has none and cannot be imported. Blocking.
    pub fn export_bundle(
        &self,
        dir: &Path,
        selection: &Selection,
        catalog: &CatalogService,
        pki: &crate::pki::Pki,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Manifest, CacheError> {
        let signer = ca_signer(pki)?;
        let io = |p: &Path, e| io_error(p, e);
        let rows = self.store().read_blocking(crate::store::cache::payloads)?;
        let chosen: Vec<_> = rows
            .into_iter()
            .filter(|r| r.state == "ready" && r.platform.eq_ignore_ascii_case(&selection.platform))
            .filter(|r| {
                selection
                    .versions
                    .iter()
                    .any(|v| *v == r.version || *v == r.build)
            })
            .collect();
        if chosen.is_empty() {
            return Err(CacheError::BadInput(format!(
                "no cached payload for {} {}",
                selection.platform,
                selection.versions.join(", ")
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let _ = std::fs::remove_file(dir.join(MANIFEST));
        let mut payloads = Vec::new();
        for row in chosen {
            let digest = Digest::parse(&row.digest).ok_or_else(|| bundle_err("bad digest in store"))?;
            let rel = format!("payloads/{}/{}", row.digest, row.filename);
            let target = dir.join(&rel);
            let parent = target.parent().unwrap_or(dir);
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            let source = self.files().object_path(&digest);
            if !target.exists() && std::fs::hard_link(&source, &target).is_err() {
                std::fs::copy(&source, &target).map_err(|e| io(&target, e))?;
            }
            payloads.push(PayloadEntry {
                path: rel,
                sha256: row.digest,
                size: row.size,
                kind: row.kind,
                platform: row.platform,
                version: row.version,
                build: row.build,
                filename: row.filename,
                source_url: row.source_url,
            });
        }
        let catalog_dir = dir.join("catalog");
        let mut catalog_files = Vec::new();
        for path in catalog
            .export(&catalog_dir)
            .map_err(|e| bundle_err(format!("catalog: {e}")))?
        {
            let (sha256, size) = sha_of_file(&path)?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            catalog_files.push(FileEntry {
                path: format!("catalog/{name}"),
                sha256,
                size,
            });
        }
        let manifest = Manifest {
            format: FORMAT,
            created_at: now.to_rfc3339(),
            catalog: catalog_files,
            payloads,
        };
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| bundle_err(e.to_string()))?;
        let signature = signed::sign(SignRequest {
            content_type: OID_DATA,
            content: &body,
            attached: false,
            signer_cert: &signer.cert,
            key: &signer.key,
            extra_attributes: Vec::new(),
            chain: Vec::new(),
            signing_time: Some(now),
        })
        .map_err(|e| bundle_err(format!("cannot sign: {e}")))?;
        std::fs::write(dir.join(SIGNER_CERT), &pki.ca_cert_pem).map_err(|e| io(dir, e))?;
        std::fs::write(dir.join(SIGNATURE), signature).map_err(|e| io(dir, e))?;
        let tmp = dir.join(".manifest.json.tmp");
        std::fs::write(&tmp, &body).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(|e| io(dir, e))?;
        Ok(manifest)
    }

    /// Verifies and imports a bundle. `trusted` are DER certificates whose signatures are
    /// accepted (this appliance's CA, and any given with `--trust`).
    pub async fn import_bundle(
        &self,
        dir: &Path,
        trusted: &[Vec<u8>],
        catalog: &Arc<CatalogService>,
    ) -> Result<BundleImport, CacheError> {
        let (root, trusted_list) = (dir.to_path_buf(), trusted.to_vec());
        let manifest = blocking(move || read_verified_manifest(&root, &trusted_list)).await?;
        let mut report = BundleImport::default();

        // Every hash first: catalog documents, then payloads (staged, resumable).
        let mut catalog_paths = Vec::new();
        for entry in &manifest.catalog {
            let path = safe_path(dir, &entry.path)?;
            let p = path.clone();
            let (sha, size) = blocking(move || sha_of_file(&p)).await?;
            if sha != entry.sha256.to_ascii_lowercase() || size != entry.size {
                return Err(bundle_err(format!("{} does not match the manifest", entry.path)));
            }
            if entry.path.ends_with(".json") {
                catalog_paths.push(path);
            }
        }
        let mut staged = Vec::new();
        for entry in &manifest.payloads {
            let source = safe_path(dir, &entry.path)?;
            let digest = Digest::parse(&entry.sha256.to_ascii_lowercase())
                .ok_or_else(|| bundle_err(format!("{}: not a SHA-256", entry.path)))?;
            let kind = PayloadKind::parse(&entry.kind)
                .ok_or_else(|| bundle_err(format!("{}: unknown kind {}", entry.path, entry.kind)))?;
            if !is_plain_file_name(&entry.filename) {
                return Err(bundle_err(format!("{}: not a plain file name", entry.filename)));
            }
            let present = self.payload(&digest).await?.is_some_and(|p| p.state == "ready")
                && self.files().exists(&digest);
            if present {
                report.already_present.push(digest.to_string());
                continue;
            }
            let files = self.files().clone();
            let stage = files.staging_path(&format!("bundle-{digest}"));
            let (st, d, size) = (stage.clone(), digest.clone(), entry.size);
            let path_name = entry.path.clone();
            blocking(move || {
                files.stage_copy(&source, &st)?;
                let expect = Expectation {
                    size: Some(size),
                    sha256: Some(d.as_str()),
                    ..Default::default()
                };
                PayloadFiles::verify(&st, &expect).map(|_| ()).map_err(|e| {
                    let _ = std::fs::remove_file(&st);
                    bundle_err(format!("{path_name}: {e}"))
                })
            })
            .await?;
            let target = Target {
                kind,
                platform: entry.platform.clone(),
                version: entry.version.clone(),
                build: entry.build.clone(),
                filename: entry.filename.clone(),
            };
            staged.push((stage, digest, entry.size, target, entry.source_url.clone()));
        }

        // All verified: the catalog (all or nothing), then the payloads.
        if !catalog_paths.is_empty() {
            let (catalog, paths) = (catalog.clone(), catalog_paths.clone());
            let imported = tokio::task::spawn_blocking(move || catalog.import_files(&paths, &mut |_| {}))
                .await
                .map_err(|e| bundle_err(e.to_string()))?
                .map_err(|e| bundle_err(format!("catalog: {e}")))?;
            report.catalog_documents = imported.len();
        }
        let total: u64 = staged.iter().map(|s| s.2).sum();
        {
            let _guard = self.inner.publish_lock.lock().await;
            self.make_room(total).await?;
        }
        for (stage, digest, size, target, source) in staged {
            let staged = Staged {
                path: stage,
                digest,
                size,
            };
            let origin = Origin {
                source_url: source,
                ..Default::default()
            };
            let row = self.publish(staged, &target, origin).await?;
            report.published.push(row.digest);
        }
        Ok(report)
    }
}

/// The appliance CA as a bundle signer.
pub fn ca_signer(pki: &crate::pki::Pki) -> Result<Authority, CacheError> {
    Authority::new(&pki.ca_cert_der, &pki.ca_key.serialize_der())
        .map_err(|e| bundle_err(format!("the CA cannot sign: {e}")))
}

fn read_limited(path: &Path) -> Result<Vec<u8>, CacheError> {
    let meta = std::fs::metadata(path).map_err(|e| bundle_err(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(bundle_err(format!("{} is too large", path.display())));
    }
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// Reads the manifest, checks its signature and signer, and parses it. Blocking.
fn read_verified_manifest(dir: &Path, trusted: &[Vec<u8>]) -> Result<Manifest, CacheError> {
    let body = read_limited(&dir.join(MANIFEST))?;
    let signature = read_limited(&dir.join(SIGNATURE))?;
    let verified = signed::verify(&signature, Some(&body))
        .map_err(|e| bundle_err(format!("the manifest's signature does not verify: {e}")))?;
    if !trusted.contains(&verified.signer_der) {
        return Err(bundle_err(format!(
            "the manifest is signed by a certificate this appliance does not trust \
             (SHA-256 fingerprint {}); pass that appliance's CA certificate with --trust",
            crate::pki::ca::fingerprint(&verified.signer_der)
        )));
    }
    let manifest: Manifest =
        serde_json::from_slice(&body).map_err(|e| bundle_err(format!("manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bundle_err(format!("unknown bundle format {}", manifest.format)));
    }
    Ok(manifest)
}
