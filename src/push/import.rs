//! Importing, storing and loading the push certificate.
//!
//! The certificate and key are files in `<data>/pki/` (key 0600); what the rest of the appliance
//! reads (the topic for the enrollment profile, the expiry for the dashboard) is in `settings`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PushError;
use super::certificate::{CertificateError, CertificateInfo, MAX_IMPORT_BYTES, PushCertificate};
use super::expiry::ExpiryStatus;
use crate::config::Secret;
use crate::store::{Store, StoreError, settings};

/// `settings` key read by the enrollment profile (`Topic` of the MDM payload).
pub const SETTING_TOPIC: &str = "apns.topic";
/// `settings` key holding [`CertificateInfo`] as JSON.
pub const SETTING_CERTIFICATE: &str = "apns.certificate";
pub const CERT_FILE: &str = "apns.crt.pem";
pub const KEY_FILE: &str = "apns.key.pem";

/// What the operator handed in.
pub enum ImportSource {
    /// A `.p12` file and its password (may be empty).
    Pkcs12 { data: Vec<u8>, password: Secret },
    /// A PEM certificate (optionally with intermediates) and its PEM private key.
    Pem { certificate: String, key: String },
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub installed: CertificateInfo,
    /// The certificate it replaced, if any.
    pub replaced: Option<CertificateInfo>,
    pub expiry: ExpiryStatus,
}

fn pki_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pki")
}

/// Parses and checks a push certificate without storing anything.
pub fn parse(source: &ImportSource, now: DateTime<Utc>) -> Result<PushCertificate, PushError> {
    let size = match source {
        ImportSource::Pkcs12 { data, .. } => data.len(),
        ImportSource::Pem { certificate, key } => certificate.len() + key.len(),
    };
    if size > MAX_IMPORT_BYTES {
        return Err(CertificateError::TooLarge(size).into());
    }
    let cert = match source {
        ImportSource::Pkcs12 { data, password } => PushCertificate::from_pkcs12(data, password.expose())?,
        ImportSource::Pem { certificate, key } => PushCertificate::from_pem(certificate, key)?,
    };
    cert.check_usable(now)?;
    Ok(cert)
}

/// Imports a push certificate: checks it, refuses a different topic unless `force`, writes the
/// files and records the topic and metadata. Nothing is changed when it is refused.
///
/// Blocking (file and database I/O); the CLI calls it directly, async callers use [`import`].
pub fn import_blocking(
    store: &Store,
    data_dir: &Path,
    source: &ImportSource,
    now: DateTime<Utc>,
    force: bool,
) -> Result<ImportReport, PushError> {
    let cert = parse(source, now)?;
    let replaced = current_blocking(store)?;
    if let Some(old) = &replaced
        && old.topic != cert.info.topic
        && !force
    {
        return Err(PushError::TopicChanged {
            current: old.topic.clone(),
            new: cert.info.topic.clone(),
        });
    }
    let dir = pki_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|source| PushError::Io {
        path: dir.clone(),
        source,
    })?;
    write_file(&dir.join(KEY_FILE), &cert.key_pem(), 0o600)?;
    write_file(&dir.join(CERT_FILE), &cert.chain_pem(), 0o644)?;
    let info = cert.info.clone();
    let json = serde_json::to_string(&info).map_err(|e| PushError::Stored(e.to_string()))?;
    let at = now.to_rfc3339();
    store.write_blocking(move |conn| {
        let tx = conn.transaction()?;
        settings::set(&tx, SETTING_TOPIC, &info.topic, &at)?;
        settings::set(&tx, SETTING_CERTIFICATE, &json, &at)?;
        tx.commit()?;
        Ok::<_, StoreError>(())
    })?;
    tracing::info!(
        topic = %cert.info.topic,
        not_after = %cert.info.not_after,
        fingerprint = %cert.info.fingerprint,
        "imported APNs push certificate"
    );
    Ok(ImportReport {
        expiry: ExpiryStatus::new(&cert.info, now),
        installed: cert.info,
        replaced,
    })
}

/// [`import_blocking`] on the blocking pool, for the web form.
pub async fn import(
    store: &Store,
    data_dir: &Path,
    source: ImportSource,
    now: DateTime<Utc>,
    force: bool,
) -> Result<ImportReport, PushError> {
    let (store, data_dir) = (store.clone(), data_dir.to_path_buf());
    tokio::task::spawn_blocking(move || import_blocking(&store, &data_dir, &source, now, force))
        .await
        .map_err(|e| PushError::Stored(e.to_string()))?
}

/// The recorded certificate, if one was imported.
pub fn current_blocking(store: &Store) -> Result<Option<CertificateInfo>, PushError> {
    let json = store.read_blocking(|c| settings::get(c, SETTING_CERTIFICATE))?;
    json.map(|j| serde_json::from_str(&j).map_err(|e| PushError::Stored(e.to_string())))
        .transpose()
}

/// The recorded certificate, if one was imported.
pub async fn current(store: &Store) -> Result<Option<CertificateInfo>, PushError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || current_blocking(&store))
        .await
        .map_err(|e| PushError::Stored(e.to_string()))?
}

/// Expiry status of the recorded certificate at `now`, for the dashboard and `/metrics`.
pub async fn expiry_status(store: &Store, now: DateTime<Utc>) -> Result<Option<ExpiryStatus>, PushError> {
    Ok(current(store).await?.map(|info| ExpiryStatus::new(&info, now)))
}

/// The daily check the scheduler runs: logs the status (warn at 30/14 days, error at 7 days and
/// once expired) and returns it.
pub async fn daily_expiry_check(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Option<ExpiryStatus>, PushError> {
    let status = expiry_status(store, now).await?;
    super::expiry::log_status(status.as_ref());
    Ok(status)
}

/// Loads the stored certificate and key for sending. `Ok(None)` when none was imported.
pub fn load(data_dir: &Path) -> Result<Option<PushCertificate>, PushError> {
    let dir = pki_dir(data_dir);
    let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    if !cert_path.exists() && !key_path.exists() {
        return Ok(None);
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| PushError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let cert = PushCertificate::from_pem(&read(&cert_path)?, &read(&key_path)?)?;
    Ok(Some(cert))
}

fn write_file(path: &Path, content: &str, mode: u32) -> Result<(), PushError> {
    let err = |source| PushError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(content.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
