//! The local payload cache: what Apple lets a server host (macOS full installers, IPSW restore
//! images, the catalog feeds), stored content-addressed under the data directory and served
//! under `/cache/<sha256>/<file name>`.
//!
//! What a server cannot do: over-the-air updates are fetched by each device from Apple, and
//! every install is personalized by Apple's servers; no MDM can redirect either. See
//! `docs/cache.md`.
//!
//! - [`CacheService`] (this file and `service.rs`): payload metadata, pins, quota eviction.
//! - `download.rs`: resumable downloads with a bandwidth limit and allowed windows.
//! - `import.rs`: loose `.pkg` / `.ipsw` files; `bundle.rs`: signed offline bundles.

pub mod bundle;
pub mod chunklist;
pub mod content_caching;
pub mod delivery;
pub mod download;
pub mod files;
pub mod import;
pub mod limits;
pub mod policy_targets;
pub mod prefetch;
mod queue;
mod service;
pub mod throttle;
pub mod window;

use std::path::PathBuf;

pub use files::Digest;
pub use service::{CacheService, DownloadProgress, Space};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the disk is full (writing {path}); nothing was published")]
    DiskFull { path: PathBuf },
    #[error(
        "{needed} bytes do not fit in the cache quota of {quota} bytes (pinned payloads are never evicted)"
    )]
    QuotaFull { needed: u64, quota: u64 },
    #[error("{0}")]
    BadInput(String),
    #[error("not found")]
    NotFound,
    #[error("download failed: {0}")]
    Http(String),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("bundle refused: {0}")]
    Bundle(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// A macOS full installer (`InstallAssistant.pkg`).
    Installer,
    /// A restore image for Apple Configurator (`.ipsw`).
    Ipsw,
    /// A catalog feed document.
    Catalog,
}

impl PayloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadKind::Installer => "installer",
            PayloadKind::Ipsw => "ipsw",
            PayloadKind::Catalog => "catalog",
        }
    }

    pub fn parse(text: &str) -> Option<PayloadKind> {
        match text {
            "installer" => Some(PayloadKind::Installer),
            "ipsw" => Some(PayloadKind::Ipsw),
            "catalog" => Some(PayloadKind::Catalog),
            _ => None,
        }
    }
}

/// What to store a payload as: its kind, the OS it installs, and its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: PayloadKind,
    pub platform: String,
    pub version: String,
    pub build: String,
    pub filename: String,
}

/// Apple publishes an installer's chunklist beside the package, at `IntegrityDataURL`, which is
/// the package URL with `.integrityDataV1` appended. SOFA's installer list carries only the
/// package URL, so the chunklist URL is derived from it.
pub fn integrity_url_for(package_url: &str) -> String {
    format!("{package_url}.integrityDataV1")
}

/// Human size: `1.5 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
