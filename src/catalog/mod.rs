//! The update catalog: what Apple offers, for which device, with what security content.
//!
//! Pure parts: [`version`], [`gdmf`], [`sofa`], [`document`], [`index`], [`applicability`].
//! Services: [`service`] (snapshot, refresh, import, export, health) and [`fetch`] (HTTPS).

pub mod applicability;
pub mod document;
pub mod fetch;
pub mod fleet;
pub mod gdmf;
pub mod import;
pub mod index;
pub mod overview;
#[cfg(test)]
pub(crate) mod sample_tests;
pub mod service;
pub mod snapshot;
pub mod sofa;
pub mod version;

pub use applicability::{Answer, Applicability, DeviceQuery, UnknownReason, UpdateStatus};
pub use document::{DocumentKind, ParsedDocument};
pub use gdmf::{Audience, OsFamily};
pub use index::CatalogIndex;
pub use service::{CatalogHealth, CatalogService};
pub use version::{Build, OsVersion, UpdateKind};

use crate::store::StoreError;

/// Errors of the catalog layer. Messages name what is wrong, for the CLI, the UI and the log.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("wrong document shape: {0}")]
    WrongShape(String),
    #[error("empty catalog: {0}")]
    Empty(String),
    #[error("unsupported schema: {0}")]
    UnsupportedSchema(String),
    #[error("document too large: {size} bytes, the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("fetch failed: {0}")]
    Fetch(#[from] fetch::FetchError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{name}: {source}")]
    InFile { name: String, source: Box<CatalogError> },
}

impl CatalogError {
    /// True for errors about the input itself (the caller should get a 4xx / a refusal).
    pub fn is_bad_input(&self) -> bool {
        if let CatalogError::InFile { source, .. } = self {
            return source.is_bad_input();
        }
        matches!(
            self,
            CatalogError::InvalidJson(_)
                | CatalogError::WrongShape(_)
                | CatalogError::Empty(_)
                | CatalogError::UnsupportedSchema(_)
                | CatalogError::TooLarge { .. }
        )
    }
}
