//! Middleware wrapped around every route.

mod request_context;

pub use request_context::{REQUEST_ID_HEADER, RequestId, request_context};
