//! `orchard backup` and `orchard restore`.
//!
//! A backup is one file (see [`super::archive`]): a consistent copy of the database, taken while
//! the server runs, and every file under `<data>/pki/` — without the CA key a restored appliance
//! is useless, since enrolled devices trust only that CA. It is written to a temporary file
//! next to the destination and renamed into place, so a reader never sees half a backup.
//!
//! A restore takes the data directory lock (so it refuses while a server runs there), extracts
//! the backup into a staging directory inside the data directory and checks it completely —
//! manifest, checksums, `PRAGMA integrity_check`, schema version, CA key against certificate
//! and database — before anything is replaced. Then the current database and keys are moved
//! aside into `pre-restore-<time>/` and the staged ones renamed into place.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use sha2::{Digest, Sha256};

use super::archive::{self, ArchiveError, DATABASE_MEMBER, Manifest, Member};
use super::lock::{DataDirLock, LockError};
use crate::pki::ca;
use crate::store::{StoreError, settings, snapshot};

const DATABASE_FILE: &str = "orchard.db";
const PKI_DIR: &str = "pki";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no Orchard database in {0}")]
    NoDatabase(PathBuf),
    #[error("the data directory has no CA ({0} is missing); nothing to back up")]
    NoCa(PathBuf),
    #[error("cannot write the backup to {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not an Orchard backup: {reason}; nothing was changed")]
    NotABackup { path: PathBuf, reason: String },
    #[error("{path} cannot be restored: {reason}; nothing was changed")]
    Refused { path: PathBuf, reason: String },
    #[error("{0}; nothing was changed")]
    Locked(#[from] LockError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "restoring into {dir} failed while replacing files: {source}; the previous database \
         and keys are in {previous}"
    )]
    Replace {
        dir: PathBuf,
        previous: PathBuf,
        source: std::io::Error,
    },
}

/// What `create` wrote.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    pub ca_fingerprint: String,
    pub files: usize,
}

/// What `restore` put in place.
#[derive(Debug, Clone)]
pub struct RestoreSummary {
    pub schema_version: i64,
    pub created_at: String,
    pub ca_fingerprint: String,
    /// Where the replaced database and keys were moved, if there were any.
    pub previous: Option<PathBuf>,
}

/// Removes a temporary path when dropped, unless kept.
struct Temporary(Option<PathBuf>);

impl Temporary {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

fn ca_fingerprint(cert_path: &Path) -> Result<String, BackupError> {
    let read = |source| BackupError::Read {
        path: cert_path.to_path_buf(),
        source,
    };
    let pem = fs::read(cert_path).map_err(read)?;
    let der = CertificateDer::from_pem_slice(&pem).map_err(|e| read(std::io::Error::other(e.to_string())))?;
    Ok(ca::fingerprint(&der))
}

/// Regular files under `dir`, as member names prefixed with `prefix/`, sorted.
fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(&entry.path(), &name, out)?;
        } else if kind.is_file() && archive::is_allowed_member(&name) && !name.ends_with(".tmp") {
            out.push((name, entry.path()));
        }
    }
    Ok(())
}

/// Writes a backup of `data_dir` to `dest`. Safe while a server is running on `data_dir`.
pub fn create(data_dir: &Path, dest: &Path, now: DateTime<Utc>) -> Result<BackupSummary, BackupError> {
    let db = data_dir.join(DATABASE_FILE);
    if !db.is_file() {
        return Err(BackupError::NoDatabase(data_dir.to_path_buf()));
    }
    let pki = data_dir.join(PKI_DIR);
    let ca_cert = pki.join("ca.crt.pem");
    if !pki.join("ca.key.pem").is_file() || !ca_cert.is_file() {
        return Err(BackupError::NoCa(pki.join("ca.key.pem")));
    }
    let write_err = |source| BackupError::Write {
        path: dest.to_path_buf(),
        source,
    };
    if dest.is_dir() {
        return Err(write_err(std::io::Error::other("it is a directory")));
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let tmp_archive = parent.join(format!(".{file_name}.{unique}.tmp"));
    let tmp_db = parent.join(format!(".{file_name}.{unique}.db"));

    // Create the archive file first: an unwritable destination fails before any work.
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp_archive)
        .map_err(write_err)?;
    let archive_guard = Temporary(Some(tmp_archive.clone()));
    let db_guard = Temporary(Some(tmp_db.clone()));

    let info = snapshot::copy_to(&db, &tmp_db)?;
    let mut sources = vec![(DATABASE_MEMBER.to_string(), tmp_db.clone())];
    collect_files(&pki, PKI_DIR, &mut sources).map_err(|source| BackupError::Read {
        path: pki.clone(),
        source,
    })?;
    let mut files = Vec::with_capacity(sources.len());
    for (name, path) in &sources {
        let (size, sha256) = archive::digest_file(path).map_err(|source| BackupError::Read {
            path: path.clone(),
            source,
        })?;
        files.push(Member {
            path: name.clone(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        format: archive::FORMAT.into(),
        format_version: archive::FORMAT_VERSION,
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        orchard_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: info.schema_version,
        ca_fingerprint: ca_fingerprint(&ca_cert)?,
        files,
    };
    let mtime = now.timestamp().max(0) as u64;
    let mut writer = archive::write(BufWriter::new(out), &manifest, &sources, mtime).map_err(write_err)?;
    writer.flush().map_err(write_err)?;
    let out = writer.into_inner().map_err(|e| write_err(e.into_error()))?;
    out.sync_all().map_err(write_err)?;
    let bytes = out.metadata().map_err(write_err)?.len();
    drop(out);
    fs::rename(&tmp_archive, dest).map_err(write_err)?;
    archive_guard.keep();
    drop(db_guard);
    if let Ok(dir) = File::open(&parent) {
        let _ = dir.sync_all();
    }
    Ok(BackupSummary {
        path: dest.to_path_buf(),
        bytes,
        schema_version: manifest.schema_version,
        ca_fingerprint: manifest.ca_fingerprint,
        files: sources.len(),
    })
}

/// Checks the staged CA: key and certificate belong together, and the key is the one the
/// staged database was created with.
fn check_staged_ca(staging: &Path) -> Result<(), String> {
    let pki = staging.join(PKI_DIR);
    let key_pem = fs::read_to_string(pki.join("ca.key.pem")).map_err(|_| "it has no CA key".to_string())?;
    let cert_pem = fs::read(pki.join("ca.crt.pem")).map_err(|_| "it has no CA certificate".to_string())?;
    let key = rcgen::KeyPair::from_pem(&key_pem).map_err(|e| format!("its CA key is not valid ({e})"))?;
    let der = CertificateDer::from_pem_slice(&cert_pem)
        .map_err(|e| format!("its CA certificate is not valid ({e})"))?;
    if !ca::key_matches_cert(&key, &der) {
        return Err("its CA key does not belong to its CA certificate".into());
    }
    let key_id = hex::encode(Sha256::digest(key.public_key_raw()));
    match snapshot::setting(&staging.join(DATABASE_FILE), settings::CA_KEY_ID) {
        Ok(Some(recorded)) if recorded != key_id => {
            Err("its CA key is not the one its database was created with".into())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces the database and keys in `data_dir` with those of the backup `file`.
/// Refuses while a server runs on `data_dir`; checks everything before replacing anything.
pub fn restore(file: &Path, data_dir: &Path, now: DateTime<Utc>) -> Result<RestoreSummary, BackupError> {
    let input = File::open(file).map_err(|source| BackupError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    if input.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(BackupError::NotABackup {
            path: file.to_path_buf(),
            reason: "it is a directory".into(),
        });
    }
    let existed = data_dir.exists();
    let lock = DataDirLock::for_maintenance(data_dir)?;
    let created_dir = Temporary((!existed).then(|| data_dir.to_path_buf()));

    let unique = uuid::Uuid::new_v4().simple().to_string();
    let staging = data_dir.join(format!(".restore-{unique}"));
    let write_err = |source| BackupError::Write {
        path: staging.clone(),
        source,
    };
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(write_err)?;
    let staging_guard = Temporary(Some(staging.clone()));

    let manifest = archive::extract(BufReader::new(input), &staging).map_err(|e| match e {
        ArchiveError::NotABackup(reason) => BackupError::NotABackup {
            path: file.to_path_buf(),
            reason,
        },
        ArchiveError::Io(source) => write_err(source),
        other => BackupError::Refused {
            path: file.to_path_buf(),
            reason: other.to_string(),
        },
    })?;
    let refused = |reason: String| BackupError::Refused {
        path: file.to_path_buf(),
        reason,
    };
    let info = snapshot::check(&staging.join(DATABASE_FILE)).map_err(|e| refused(e.to_string()))?;
    if info.schema_version != manifest.schema_version {
        return Err(refused("its database does not match its manifest".into()));
    }
    check_staged_ca(&staging).map_err(refused)?;
    match_owner(&staging, data_dir).map_err(write_err)?;

    let previous = replace(data_dir, &staging, now)?;
    drop(staging_guard);
    created_dir.keep();
    drop(lock);
    Ok(RestoreSummary {
        schema_version: info.schema_version,
        created_at: manifest.created_at,
        ca_fingerprint: manifest.ca_fingerprint,
        previous,
    })
}

/// Gives the staged files the owner of the data directory (a restore run as root into
/// `/var/lib/orchard` must leave files the `orchard` user can read).
fn match_owner(staging: &Path, data_dir: &Path) -> std::io::Result<()> {
    let meta = fs::metadata(data_dir)?;
    let mine = fs::metadata(staging)?;
    if meta.uid() == mine.uid() && meta.gid() == mine.gid() {
        return Ok(());
    }
    fn walk(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        if path.is_dir() {
            for entry in fs::read_dir(path)? {
                walk(&entry?.path(), uid, gid)?;
            }
        }
        Ok(())
    }
    walk(staging, meta.uid(), meta.gid())
}

/// Moves the current database (with its WAL files) and `pki/` aside, then the staged ones in.
fn replace(data_dir: &Path, staging: &Path, now: DateTime<Utc>) -> Result<Option<PathBuf>, BackupError> {
    let current: Vec<&str> = [DATABASE_FILE, "orchard.db-wal", "orchard.db-shm", PKI_DIR]
        .into_iter()
        .filter(|name| data_dir.join(name).exists())
        .collect();
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let mut previous = data_dir.join(format!("pre-restore-{stamp}"));
    let mut n = 1;
    while previous.exists() {
        n += 1;
        previous = data_dir.join(format!("pre-restore-{stamp}-{n}"));
    }
    let failed = |source| BackupError::Replace {
        dir: data_dir.to_path_buf(),
        previous: previous.clone(),
        source,
    };
    if !current.is_empty() {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&previous)
            .map_err(failed)?;
        for name in &current {
            fs::rename(data_dir.join(name), previous.join(name)).map_err(failed)?;
        }
    }
    for name in [DATABASE_FILE, PKI_DIR] {
        fs::rename(staging.join(name), data_dir.join(name)).map_err(failed)?;
    }
    File::open(data_dir).and_then(|d| d.sync_all()).map_err(failed)?;
    Ok((!current.is_empty()).then_some(previous))
}
