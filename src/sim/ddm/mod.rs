//! The simulated device's Declarative Device Management side: a DDM client that syncs
//! declarations the way a device does (facts §1.4), evaluates activations, applies the software
//! update configurations to a clock-driven [`SoftwareUpdateModel`], and reports status.
//!
//! It speaks to the server through a [`DdmTransport`]: the MDM simulator implements it over signed
//! `DeclarativeManagement` check-ins; [`InProcessTransport`] calls [`DdmService::handle`] directly
//! (tests and benchmarks of the service).

mod client;
mod declarations;
mod device;
mod predicate;
mod report;
mod software_update;
#[cfg(test)]
mod software_update_tests;
mod update_choice;

use futures_util::future::BoxFuture;

use crate::ddm::DdmService;

pub use client::{DdmClient, ReportSent, SyncOutcome};
pub use declarations::{Evaluation, HeldDeclaration, Problem, ServedDeclaration};
pub use device::{DeviceProfile, ModelTiming, OfferedUpdate};
pub use predicate::{PredicateContext, PredicateError};
pub use report::{PreparedReport, StatusReporter, StatusSnapshot};
pub use software_update::SoftwareUpdateModel;

/// How the DDM client reaches the server: one `DeclarativeManagement` check-in with this
/// `Endpoint` and `Data`, answered with an HTTP status and body. `Err` is a transport failure
/// (connection, TLS, signature), not an HTTP error status.
pub trait DdmTransport: Send + Sync {
    fn declarative(
        &self,
        endpoint: &str,
        data: Option<Vec<u8>>,
    ) -> BoxFuture<'_, Result<(u16, Vec<u8>), String>>;
}

/// A [`DdmTransport`] that calls the service in-process for one device (already enrolled: the
/// MDM layer's identity check is not part of it). Service errors become their HTTP status with
/// the message as body, as the edge would answer.
#[derive(Clone)]
pub struct InProcessTransport {
    service: DdmService,
    udid: String,
}

impl InProcessTransport {
    pub fn new(service: DdmService, udid: &str) -> Self {
        InProcessTransport {
            service,
            udid: udid.to_string(),
        }
    }
}

impl DdmTransport for InProcessTransport {
    fn declarative(
        &self,
        endpoint: &str,
        data: Option<Vec<u8>>,
    ) -> BoxFuture<'_, Result<(u16, Vec<u8>), String>> {
        let endpoint = endpoint.to_string();
        Box::pin(async move {
            match self.service.handle(&self.udid, &endpoint, data.as_deref()).await {
                Ok(response) => Ok((response.http_status(), response.body().to_vec())),
                Err(error) => Ok((error.http_status(), error.to_string().into_bytes())),
            }
        })
    }
}

/// What went wrong in a sync or a report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimDdmError {
    #[error("{endpoint}: transport failed: {message}")]
    Transport { endpoint: String, message: String },
    #[error("{endpoint}: the server answered {status}: {body}")]
    Status {
        endpoint: String,
        status: u16,
        body: String,
    },
    #[error("{endpoint}: unexpected answer: {why}")]
    Malformed { endpoint: String, why: String },
}
