//! What the MDM service needs from other parts, as traits: the DDM service answers
//! declarative-management check-ins; the push service wakes devices up.

use std::sync::Mutex;

use rusqlite::Connection;

use crate::protocol::Udid;
use crate::protocol::checkin::DeclarativeManagementRequest;

/// The answer to a declarative-management check-in.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclarativeResponse {
    /// 200 with a JSON body (`tokens`, `declaration-items`, a declaration).
    Json(Vec<u8>),
    /// 200 with no body.
    Empty,
    /// 204: a status report was taken.
    NoContent,
    /// 404: the declaration is not on the server, so the device removes its copy.
    NotFound,
}

/// Why a declarative-management check-in was not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarativeError {
    /// What the device sent is wrong (a bad path, a malformed or oversized status report):
    /// answered with `status` (a 4xx) and the reason; nothing was stored.
    #[error("{reason}")]
    Refused { status: u16, reason: String },
    /// Orchard could not answer (storage): a 5xx.
    #[error("{0}")]
    Failed(String),
}

/// Answers the `DeclarativeManagement` check-in, and says which devices are due a declarative
/// sync. Implemented by the DDM service.
///
/// `handle` and `enrolled` are called from a blocking thread, outside any database transaction
/// of the MDM service, so an implementation may use the store freely there. `sync_due` and
/// `claim_sync` run on the MDM service's own connection (inside its transaction for
/// `claim_sync`): they must use only the connection given.
pub trait DeclarativeHandler: Send + Sync {
    fn handle(&self, request: &DeclarativeManagementRequest)
    -> Result<DeclarativeResponse, DeclarativeError>;

    /// The device finished an enrollment (its first `TokenUpdate`, also after a re-enrollment):
    /// tell it to sync its declarations. Called from a blocking thread after the enrollment is
    /// committed. Returns `false` when the implementation does not do this, so that the MDM
    /// service queues a plain `DeclarativeManagement` command itself.
    fn enrolled(&self, _udid: &Udid) -> bool {
        false
    }

    /// Whether the device is due a declarative sync (its declarations changed since it was last
    /// told, or it enrolled again): one indexed point read on `conn`. Used by the idle fast path.
    fn sync_due(&self, _conn: &Connection, _udid: &Udid) -> Result<bool, DeclarativeError> {
        Ok(false)
    }

    /// Claims the device's due sync in the MDM service's open transaction `tx` and returns the
    /// `Data` of the `DeclarativeManagement` command to send (the current sync tokens JSON), or
    /// `None` when nothing is due. The MDM service writes the command, as sent, in the same
    /// transaction: a claim never goes without its command, nor a command without its claim.
    fn claim_sync(&self, _tx: &Connection, _udid: &Udid) -> Result<Option<Vec<u8>>, DeclarativeError> {
        Ok(None)
    }
}

/// Asks for an APNs push to a device. Implemented by the push service, which coalesces
/// requests per device and calls `MdmService::mark_pushed` once the push is sent.
///
/// Called after the command is committed; it must not block on the network.
pub trait PushRequester: Send + Sync {
    fn request_push(&self, udid: &Udid);

    /// Many devices at once (a declaration change reaching a whole group).
    fn request_pushes(&self, udids: &[Udid]) {
        for udid in udids {
            self.request_push(udid);
        }
    }
}

/// A `PushRequester` that only records what was asked, for tests and for an appliance without
/// a push certificate yet (devices then pick commands up on their own next poll).
#[derive(Debug, Default)]
pub struct RecordingPushRequester {
    calls: Mutex<Vec<Udid>>,
}

impl RecordingPushRequester {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every UDID a push was requested for, in order.
    pub fn calls(&self) -> Vec<Udid> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn count_for(&self, udid: &Udid) -> usize {
        self.calls().iter().filter(|u| *u == udid).count()
    }
}

impl PushRequester for RecordingPushRequester {
    fn request_push(&self, udid: &Udid) {
        tracing::debug!(%udid, "push requested (recorded only)");
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(udid.clone());
    }
}
