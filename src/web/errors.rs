//! The one mapping from service errors to HTTP responses for the enrollment and SCEP endpoints.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::enrollment::EnrollmentError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request is too large")]
    TooLarge,
    #[error("internal error")]
    Internal(String),
}

impl From<EnrollmentError> for WebError {
    fn from(e: EnrollmentError) -> Self {
        match e {
            EnrollmentError::BadScepRequest(_) | EnrollmentError::Invalid(_) => {
                WebError::BadRequest(e.to_string())
            }
            EnrollmentError::TokenRequired | EnrollmentError::TokenRefused(_) => {
                WebError::Forbidden(e.to_string())
            }
            EnrollmentError::PushCertificateMissing => WebError::Conflict(e.to_string()),
            EnrollmentError::Store(_) | EnrollmentError::Internal(_) => WebError::Internal(e.to_string()),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(format!("{self}\n"))
    }
}
