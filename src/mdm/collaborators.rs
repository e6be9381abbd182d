//! What the MDM service needs from other parts, as traits: the DDM service answers
//! declarative-management check-ins; the push service wakes devices up.

use std::sync::Mutex;

use crate::protocol::Udid;
use crate::protocol::checkin::DeclarativeManagementRequest;

/// The answer to a declarative-management check-in.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclarativeResponse {
    /// 200 with a JSON body (`tokens`, `declaration-items`, a declaration).
    Json(Vec<u8>),
    /// 200 with no body (Apple documents an empty 200 for `status`; 204 is also accepted).
    Empty,
    /// 404: the declaration is not on the server, so the device removes its copy.
    NotFound,
}

/// Answers the `DeclarativeManagement` check-in. Implemented by the DDM service.
///
/// Called from a blocking thread, outside any database transaction of the MDM service, so an
/// implementation may use the store freely.
pub trait DeclarativeHandler: Send + Sync {
    fn handle(&self, request: &DeclarativeManagementRequest) -> Result<DeclarativeResponse, String>;
}

/// Asks for an APNs push to a device. Implemented by the push service, which coalesces
/// requests per device and calls `MdmService::mark_pushed` once the push is sent.
///
/// Called after the command is committed; it must not block on the network.
pub trait PushRequester: Send + Sync {
    fn request_push(&self, udid: &Udid);
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
