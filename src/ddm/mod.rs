//! The DDM service: declarations as data, per-device declaration sets with deterministic tokens,
//! the four device endpoints, the sync trigger, and the status channel.
//!
//! Wiring (done by the caller, at the composition root):
//! - the MDM check-in calls [`DdmService::handle`] for `MessageType=DeclarativeManagement`, after it
//!   has checked the device's identity and enrollment (an unenrolled device never reaches here);
//! - [`SyncNotifier`] is implemented over push: the devices due a sync are pushed, and the MDM
//!   service makes their `DeclarativeManagement` command when they check in, through
//!   [`DdmService::sync_due`] and [`DdmService::claim_sync`] (in its own transaction);
//! - [`InventorySink`] writes OS version, build, model and device-id into the MDM devices table.
//!
//! Devices are keyed by their UDID string; the DDM tables have no foreign key to the MDM devices
//! table yet (it lives on another branch).

mod assign;
mod device_page;
pub mod device_set;
mod endpoints;
mod error;
mod status;
mod sync;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use rusqlite::Transaction;

use crate::clock::SharedClock;
use crate::store::Store;

pub use crate::store::ddm::Pruned;
pub use assign::OwnSetAssignment;
pub use device_page::{
    DeclarationCondition, DeclarationOnDevice, DeviceDdmView, DeviceDeclarationState, DeviceSyncView,
    StatusChange, StatusErrorView, StatusItemView,
};
pub use error::DdmError;
pub use status::{INSTALL_STATE_ITEMS, OS_VERSION_ITEMS, StatusInventory};
pub use sync::Recomputation;

/// Largest status report accepted by default: 1 MiB. A real full report is a few KiB (the macOS 13
/// sample is 2.5 KiB); the protocol layer also caps the number of items.
pub const DEFAULT_STATUS_MAX_BYTES: usize = 1024 * 1024;
/// Longest UDID accepted (real ones are 25 or 36 characters).
pub const UDID_MAX_OCTETS: usize = 128;

/// Limits on what devices may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DdmLimits {
    pub status_max_bytes: usize,
}

impl Default for DdmLimits {
    fn default() -> Self {
        DdmLimits {
            status_max_bytes: DEFAULT_STATUS_MAX_BYTES,
        }
    }
}

impl From<&crate::config::DdmConfig> for DdmLimits {
    fn from(config: &crate::config::DdmConfig) -> Self {
        DdmLimits {
            status_max_bytes: config.status_max_bytes,
        }
    }
}

/// The answer to a `DeclarativeManagement` check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdmResponse {
    /// 200 with `application/json` body.
    Json(Vec<u8>),
    /// 204, after a status report.
    NoContent,
}

impl DdmResponse {
    pub fn http_status(&self) -> u16 {
        match self {
            DdmResponse::Json(_) => 200,
            DdmResponse::NoContent => 204,
        }
    }

    pub fn body(&self) -> &[u8] {
        match self {
            DdmResponse::Json(body) => body,
            DdmResponse::NoContent => &[],
        }
    }
}

/// One device due a sync after a change of its declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncChange {
    pub udid: String,
    /// The `DeclarationsToken` the change moved it to (for logs and tests). The device is sent
    /// the tokens current when it checks in ([`DdmService::claim_sync`]), which a later change
    /// may have moved on.
    pub declarations_token: String,
}

/// The notifier could not reach some devices; they stay due, and the next
/// [`DdmService::flush_notifications`] hands them over again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({} devices not notified)", failed.len())]
pub struct NotifyError {
    pub message: String,
    /// The UDIDs not reached.
    pub failed: Vec<String>,
}

/// Wakes the devices due a sync (an APNs push each). Called once per change of their
/// `DeclarationsToken` (and on every enrollment), in batches. It must not queue commands: the
/// MDM service makes the `DeclarativeManagement` command when the device checks in.
pub trait SyncNotifier: Send + Sync + 'static {
    fn declarations_changed<'a>(
        &'a self,
        changes: &'a [SyncChange],
    ) -> BoxFuture<'a, Result<(), NotifyError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InventoryError(pub String);

/// Receives the inventory a status report changed (OS version, build, model, device-id); the MDM
/// layer writes it into its devices table.
pub trait InventorySink: Send + Sync + 'static {
    fn inventory_changed<'a>(
        &'a self,
        udid: &'a str,
        inventory: &'a StatusInventory,
    ) -> BoxFuture<'a, Result<(), InventoryError>>;
}

/// The DDM service. Cheap to clone.
#[derive(Clone)]
pub struct DdmService {
    store: Store,
    clock: SharedClock,
    notifier: Arc<dyn SyncNotifier>,
    inventory: Arc<dyn InventorySink>,
    limits: DdmLimits,
}

impl DdmService {
    pub fn new(
        store: Store,
        clock: SharedClock,
        notifier: Arc<dyn SyncNotifier>,
        inventory: Arc<dyn InventorySink>,
        limits: DdmLimits,
    ) -> Self {
        DdmService {
            store,
            clock,
            notifier,
            inventory,
            limits,
        }
    }

    fn now_text(&self) -> String {
        timestamp(self.clock.now())
    }

    /// Runs `f` in one write transaction on the blocking pool; commits only if it succeeds.
    async fn in_transaction<R, F>(&self, f: F) -> Result<R, DdmError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, DdmError> + Send + 'static,
    {
        // The outer error is the store's (no transaction, failed commit), the inner one ours (rolled back).
        self.store
            .write(move |conn| {
                let tx = conn.transaction()?;
                match f(&tx) {
                    Ok(value) => {
                        tx.commit()?;
                        Ok(Ok(value))
                    }
                    Err(error) => Ok(Err(error)),
                }
            })
            .await?
    }

    /// Runs `f` with a read-only connection on the blocking pool.
    async fn reading<R, F>(&self, f: F) -> Result<R, DdmError>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<R, DdmError> + Send + 'static,
    {
        self.store.read(move |conn| Ok(f(conn))).await?
    }
}

/// How times are stored: RFC 3339, UTC, milliseconds.
fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, DdmError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.to_utc())
        .map_err(|_| DdmError::Inconsistent(format!("stored time {text:?} is not RFC 3339")))
}

fn check_udid(udid: &str) -> Result<(), DdmError> {
    if udid.is_empty() || udid.len() > UDID_MAX_OCTETS {
        return Err(DdmError::BadUdid { max: UDID_MAX_OCTETS });
    }
    Ok(())
}
