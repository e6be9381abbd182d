//! What the DDM service refuses or fails at, and the HTTP status each maps to at the edge.

use crate::protocol::ddm::{DeclarationError, EndpointError, StatusReportError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DdmError {
    #[error("the device identifier is empty or longer than {max} octets")]
    BadUdid { max: usize },
    #[error("{0}")]
    Endpoint(#[from] EndpointError),
    #[error("this device has no such declaration")]
    NotFound,
    #[error("a status report needs a body")]
    MissingStatus,
    #[error("the status report is {size} bytes, over the limit of {limit}")]
    StatusTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    Status(#[from] StatusReportError),
    #[error("{0}")]
    Declaration(#[from] DeclarationError),
    #[error("stored DDM data is inconsistent: {0}")]
    Inconsistent(String),
    #[error("could not notify devices of new declarations: {0}")]
    Notify(String),
    #[error("could not update the device inventory: {0}")]
    Inventory(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl DdmError {
    /// The HTTP status to answer with: 4xx for what the device (or caller) sent, 5xx for ours.
    pub fn http_status(&self) -> u16 {
        match self {
            DdmError::BadUdid { .. }
            | DdmError::Endpoint(_)
            | DdmError::MissingStatus
            | DdmError::Status(_)
            | DdmError::Declaration(_) => 400,
            DdmError::NotFound => 404,
            DdmError::StatusTooLarge { .. } => 413,
            DdmError::Notify(_) | DdmError::Inventory(_) => 503,
            DdmError::Inconsistent(_) | DdmError::Store(_) => 500,
        }
    }
}
