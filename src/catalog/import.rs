//! Offline import and export, for sites without internet: the same documents the refresh fetches,
//! validated the same way. All files of one import are validated before anything is stored; one
//! bad file refuses the whole import and leaves the catalog unchanged.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::CatalogError;
use super::document::{DocumentKind, parse_document};
use super::service::{CatalogService, document_row, now_text};
use super::snapshot::Document;
use crate::store::catalog::{self as sql, RefreshRow};

/// Progress of an import, for the terminal and the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportProgress {
    Reading { name: String, done: u64, total: u64 },
    Validated { name: String, kind: DocumentKind },
    Saved { count: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub name: String,
    pub kind: DocumentKind,
    pub changed: bool,
}

const CHUNK: usize = 256 * 1024;

fn in_file(name: &str, e: CatalogError) -> CatalogError {
    CatalogError::InFile {
        name: name.to_string(),
        source: Box::new(e),
    }
}

/// Reads a file without ever holding more than `max + 1` bytes: the size is checked first, and
/// the read stops past the limit in case the file grows.
pub fn read_limited(
    path: &Path,
    max: u64,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<Vec<u8>, CatalogError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| CatalogError::Read {
        path: name.clone(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let total = file.metadata().map_err(io)?.len();
    if total > max {
        return Err(CatalogError::TooLarge {
            size: total,
            limit: max,
        });
    }
    let mut reader = file.take(max + 1);
    let mut bytes = Vec::with_capacity(total as usize);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        if bytes.len() as u64 > max {
            return Err(CatalogError::TooLarge {
                size: bytes.len() as u64,
                limit: max,
            });
        }
        progress(ImportProgress::Reading {
            name: name.clone(),
            done: bytes.len() as u64,
            total,
        });
    }
    Ok(bytes)
}

impl CatalogService {
    /// Imports files (the CLI). Blocking.
    pub fn import_files(
        &self,
        paths: &[PathBuf],
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Vec<Imported>, CatalogError> {
        let max = self.config.max_document_bytes;
        let mut items = Vec::with_capacity(paths.len());
        for path in paths {
            let name = path.display().to_string();
            let bytes = read_limited(path, max, progress).map_err(|e| in_file(&name, e))?;
            items.push((name, bytes));
        }
        self.import_documents(items, progress)
    }

    /// Imports documents already in memory (the UI upload form calls this with each uploaded
    /// file's name and bytes; the web layer enforces the size limit while receiving). Blocking.
    pub fn import_documents(
        &self,
        items: Vec<(String, Vec<u8>)>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Vec<Imported>, CatalogError> {
        let max = self.config.max_document_bytes;
        let now = self.clock.now();
        let snapshot = self.snapshot();
        let mut documents: Vec<Document> = Vec::with_capacity(items.len());
        let mut validated = Vec::with_capacity(items.len());
        let result = (|| {
            if items.is_empty() {
                return Err(CatalogError::Empty("no file to import".into()));
            }
            for (name, bytes) in items {
                let parsed = parse_document(&bytes, max).map_err(|e| in_file(&name, e))?;
                let kind = parsed.kind();
                if let Some(other) = validated.iter().find(|(_, k)| *k == kind) {
                    let (other_name, _): &(String, DocumentKind) = other;
                    return Err(in_file(
                        &name,
                        CatalogError::WrongShape(format!(
                            "{} is given twice (also in {other_name})",
                            kind.describe()
                        )),
                    ));
                }
                progress(ImportProgress::Validated {
                    name: name.clone(),
                    kind,
                });
                let file_name = Path::new(&name)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.clone());
                documents.push(Document::new(
                    bytes.into(),
                    parsed,
                    format!("import:{file_name}"),
                    now,
                ));
                validated.push((name, kind));
            }
            Ok(())
        })();
        if let Err(e) = result {
            let row = RefreshRow {
                at: now_text(&self.clock),
                source: "import".into(),
                slot: None,
                result: "refused".into(),
                error: Some(e.to_string()),
                bytes: None,
            };
            if let Err(store_error) = self.store.write_blocking(|c| sql::record(c, &row)) {
                tracing::warn!(error = %store_error, "cannot record the refused import");
            }
            return Err(e);
        }
        let imported: Vec<Imported> = documents
            .iter()
            .zip(&validated)
            .map(|(d, (name, kind))| Imported {
                name: name.clone(),
                kind: *kind,
                changed: snapshot.documents.get(kind).is_none_or(|c| c.sha256 != d.sha256),
            })
            .collect();
        let rows: Vec<_> = documents.iter().map(document_row).collect();
        let history: Vec<RefreshRow> = documents
            .iter()
            .zip(&imported)
            .map(|(d, i)| RefreshRow {
                at: now_text(&self.clock),
                source: d.source.clone(),
                slot: Some(d.kind.slot()),
                result: if i.changed { "updated" } else { "unchanged" }.into(),
                error: None,
                bytes: Some(d.body.len() as i64),
            })
            .collect();
        self.store.write_blocking(|c| sql::replace(c, &rows, &history))?;
        self.install(snapshot.with(documents));
        progress(ImportProgress::Saved {
            count: imported.len(),
        });
        Ok(imported)
    }

    /// Writes every current document, as received, into `dir` (one file per kind, named after
    /// its slot), plus `SHA256SUMS`. Returns the files written. Blocking.
    pub fn export(&self, dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
        let io = |path: &Path, e: std::io::Error| CatalogError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let snapshot = self.snapshot();
        let mut written = Vec::new();
        let mut sums = String::new();
        for doc in snapshot.documents.values() {
            let mut name = doc.kind.slot().replace('/', "_");
            if !name.ends_with(".json") {
                name.push_str(".json");
            }
            let path = dir.join(&name);
            std::fs::write(&path, &doc.body).map_err(|e| io(&path, e))?;
            sums.push_str(&format!("{}  {name}\n", doc.sha256));
            written.push(path);
        }
        let sums_path = dir.join("SHA256SUMS");
        std::fs::write(&sums_path, sums).map_err(|e| io(&sums_path, e))?;
        Ok(written)
    }
}
