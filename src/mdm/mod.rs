//! The MDM service: check-ins, the command queue and the device-identity rule ("a certificate
//! speaks only for the UDID it was bound to").
//!
//! Methods are synchronous and touch SQLite: call them from a blocking context
//! (`web::block`, `spawn_blocking`). Multi-row changes happen in one transaction; bad input
//! returns an error and leaves the store untouched.

mod admin_command;
mod batch;
mod checkin;
pub mod collaborators;
mod declarative_sync;
pub mod identity;
mod queue;

use std::sync::Arc;

use rusqlite::{Transaction, TransactionBehavior};

use crate::clock::SharedClock;
use crate::config::MdmConfig;
use crate::protocol::ProtocolError;
use crate::store::{Store, StoreError};

pub use batch::BatchCommand;
pub use collaborators::{
    DeclarativeError, DeclarativeHandler, DeclarativeResponse, PushRequester, RecordingPushRequester,
};
pub use identity::CertFingerprint;

/// Priority of the commands queued automatically at enrollment: ahead of anything else. A due
/// declarative sync takes this place too (ahead of a queued command of the same priority).
pub const ENROLLMENT_PRIORITY: i64 = 10;
/// Priority of the `DeviceInformation` queued at enrollment: just ahead of the declarative sync,
/// so the inventory it fills is there when the device's declarations are computed.
pub const ENROLLMENT_INVENTORY_PRIORITY: i64 = ENROLLMENT_PRIORITY + 1;

/// What went wrong with an MDM request. The web edge maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum MdmError {
    /// 413.
    #[error("the message is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    /// 400.
    #[error("bad message: {0}")]
    BadMessage(#[from] ProtocolError),
    /// 403: the identity certificate may not speak for this device.
    #[error("{0}")]
    Forbidden(String),
    /// 403 (Apple: the device should unenroll): a device Orchard has no enrollment for.
    #[error("device {0} is not enrolled here")]
    UnknownDevice(String),
    /// 400: a result for a command this device was never sent.
    #[error("device {udid} has no command {uuid}")]
    UnknownCommand { udid: String, uuid: String },
    /// 400 (admin side): only the query commands may be sent by an administrator.
    #[error(
        "`{0}` cannot be sent from here: only the information and update-scan commands ({allowed})",
        allowed = crate::protocol::commands::CommandRequest::QUERY_REQUEST_TYPES.join(", ")
    )]
    NotAQueryCommand(String),
    /// 400 (admin side): not a UDID at all.
    #[error("that is not a UDID (1 to 64 letters, digits or dashes)")]
    InvalidUdid,
    /// 404 (admin side): no device with this UDID has ever checked in.
    #[error("no device with UDID {0}")]
    NoSuchDevice(String),
    /// 409 (admin side): commands can only be queued for enrolled devices.
    #[error("device {0} is not enrolled; commands cannot be queued")]
    NotEnrolled(String),
    /// 409: the new certificate is already bound to another device.
    #[error("that identity certificate is already bound to another device")]
    IdentityInUse,
    /// The DDM service refused what the device sent: its own 4xx status and reason.
    #[error("declarative management: {reason}")]
    DeclarativeRefused { status: u16, reason: String },
    /// 500.
    #[error("declarative management failed: {0}")]
    Declarative(String),
    /// 500.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DeclarativeError> for MdmError {
    fn from(e: DeclarativeError) -> Self {
        match e {
            DeclarativeError::Refused { status, reason } => MdmError::DeclarativeRefused { status, reason },
            DeclarativeError::Failed(reason) => MdmError::Declarative(reason),
        }
    }
}

impl From<rusqlite::Error> for MdmError {
    fn from(e: rusqlite::Error) -> Self {
        MdmError::Store(StoreError::Sqlite(e))
    }
}

/// The answer to a check-in, as the device should receive it.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckinResponse {
    /// 200, empty body.
    Empty,
    /// 204 (a declarative status report was taken).
    NoContent,
    /// 200, an XML property list (`application/xml`).
    Plist(Vec<u8>),
    /// 200, JSON (declarative management).
    Json(Vec<u8>),
    /// 404: no such thing here (a declaration, declarative management before the DDM
    /// service exists, a `GetToken` service Orchard does not offer).
    NotFound,
    /// 410: Orchard declines the user channel (`UserAuthenticate`).
    Gone,
}

impl CheckinResponse {
    pub fn http_status(&self) -> u16 {
        match self {
            CheckinResponse::Empty | CheckinResponse::Plist(_) | CheckinResponse::Json(_) => 200,
            CheckinResponse::NoContent => 204,
            CheckinResponse::NotFound => 404,
            CheckinResponse::Gone => 410,
        }
    }
}

/// The MDM service. Cheap to clone.
#[derive(Clone)]
pub struct MdmService {
    store: Store,
    clock: SharedClock,
    config: MdmConfig,
    push: Arc<dyn PushRequester>,
    declarative: Option<Arc<dyn DeclarativeHandler>>,
}

impl MdmService {
    pub fn new(store: Store, clock: SharedClock, config: MdmConfig, push: Arc<dyn PushRequester>) -> Self {
        MdmService {
            store,
            clock,
            config,
            push,
            declarative: None,
        }
    }

    /// Routes declarative-management check-ins to `handler` (the DDM service).
    pub fn with_declarative_handler(mut self, handler: Arc<dyn DeclarativeHandler>) -> Self {
        self.declarative = Some(handler);
        self
    }

    pub fn config(&self) -> &MdmConfig {
        &self.config
    }

    fn check_size(&self, body: &[u8]) -> Result<(), MdmError> {
        if body.len() > self.config.max_message_bytes {
            return Err(MdmError::TooLarge {
                size: body.len(),
                limit: self.config.max_message_bytes,
            });
        }
        Ok(())
    }

    /// Runs `f` in one write transaction, committed only when `f` succeeds.
    fn in_transaction<R>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<R, MdmError>,
    ) -> Result<R, MdmError> {
        self.store.write_blocking(|conn| {
            // IMMEDIATE: take the write lock up front, so a read-then-write never fails to
            // upgrade when another process writes the same file.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match f(&tx) {
                Ok(value) => {
                    tx.commit()?;
                    Ok(Ok(value))
                }
                // Dropping the transaction rolls it back.
                Err(e) => Ok(Err(e)),
            }
        })?
    }
}
