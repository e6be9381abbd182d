//! What the pusher is given (a [`PushTarget`]) and what it hands back (a [`PushReport`] through
//! a [`PushOutcomeSink`]): the whole contract with the MDM service.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What it takes to push one device: from its `TokenUpdate` and `Authenticate` check-ins.
#[derive(Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The device's id in Orchard (its UDID).
    pub device_id: String,
    /// The APNs token (`Token` of `TokenUpdate`), raw bytes.
    pub token: Vec<u8>,
    /// `PushMagic` of `TokenUpdate`; the device ignores pushes without it.
    pub push_magic: String,
    /// `Topic` the device enrolled with.
    pub topic: String,
}

impl std::fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushTarget")
            .field("device_id", &self.device_id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// How a push (after any retries) ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PushOutcome {
    Delivered {
        apns_id: Option<String>,
    },
    /// The token is dead (410 Unregistered, BadDeviceToken, ...): mark the device; it needs a
    /// new `TokenUpdate` (or re-enrollment) before pushes can reach it again.
    TokenInvalid {
        reason: String,
    },
    /// APNs refused the push certificate: the whole fleet is unreachable. Alert the operator.
    CertificateRejected {
        reason: String,
    },
    /// APNs refused this request for a reason a retry cannot fix.
    Rejected {
        reason: String,
    },
    /// Still failing after the last allowed attempt (429, 5xx, network).
    GaveUp {
        reason: String,
    },
    /// No push certificate is imported.
    NoCertificate,
}

/// One finished push, handed to the [`PushOutcomeSink`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub device_id: String,
    pub outcome: PushOutcome,
    /// Requests sent to APNs for this push.
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

pub type BoxFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where outcomes go: the MDM service records them on the device.
pub trait PushOutcomeSink: Send + Sync + 'static {
    fn record<'a>(&'a self, report: &'a PushReport) -> BoxFuture<'a>;
}
