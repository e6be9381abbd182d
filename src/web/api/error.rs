//! The API's errors and their one mapping to HTTP: every error is
//! `{"error": {"code": "machine_code", "message": "...", "fields": [...]}}`.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::admin::{AdminError, Permission};
use crate::store::StoreError;

/// One problem of a request body, by field (the same words the UI's forms show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: &str, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not the JSON the endpoint takes; the message is serde's reason.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid bearer token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// The trust endpoint: HTTP Basic with a client id and secret.
    #[error("valid client credentials are required (HTTP Basic with the client id and secret)")]
    ClientUnauthorized,
    #[error("this token's role may not {0}")]
    Forbidden(Permission),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large (the limit is {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request has {} invalid field(s)", .0.len())]
    Validation(Vec<FieldProblem>),
    /// A bug or an unexpected failure; the detail is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized | ApiError::ClientUnauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(e.to_string())
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::NotFound(format!("no {what} here"))
    }

    /// A body-parsing failure of actix's JSON extractor.
    pub fn from_json(e: &JsonPayloadError) -> ApiError {
        match e {
            JsonPayloadError::OverflowKnownLength { limit, .. } | JsonPayloadError::Overflow { limit } => {
                ApiError::PayloadTooLarge { limit: *limit }
            }
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Deserialize(serde) => ApiError::InvalidJson(serde.to_string()),
            JsonPayloadError::Serialize(e) => ApiError::Internal(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> ApiError {
        match e {
            AdminError::Invalid(m) => ApiError::Validation(vec![FieldProblem::new("name", m)]),
            AdminError::NotFound(_) | AdminError::UnknownAccount(_) => ApiError::NotFound(e.to_string()),
            AdminError::NameTaken(_) | AdminError::UsernameTaken(_) | AdminError::LastAdmin(_) => {
                ApiError::Conflict(e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldProblem]>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::ClientUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::ClientUnauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"orchard-trust\""));
            }
            _ => {}
        }
        response
            .content_type("application/json")
            .body(self.json_body(None))
    }
}

impl ApiError {
    /// The JSON body of this error; the request middleware adds the request id.
    pub fn json_body(&self, request_id: Option<&str>) -> String {
        let message = match self {
            ApiError::Internal(_) => "internal error; the details are in the appliance's log".to_string(),
            other => other.to_string(),
        };
        let fields = match self {
            ApiError::Validation(problems) => Some(problems.as_slice()),
            _ => None,
        };
        let body = Body {
            error: Detail {
                code: self.code(),
                message,
                fields,
            },
            request_id,
        };
        serde_json::to_string(&body).unwrap_or_else(|_| String::from("{}"))
    }
}

pub fn json_error(e: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::from_json(&e).into()
}

pub fn query_error(e: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid query: {e}")).into()
}

pub fn path_error(e: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound(format!("invalid path: {e}")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_and_code() {
        let cases = [
            (ApiError::InvalidJson("x".into()), 400, "invalid_json"),
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::Forbidden(Permission::ManageUsers), 403, "forbidden"),
            (ApiError::PayloadTooLarge { limit: 1 }, 413, "payload_too_large"),
            (ApiError::Validation(vec![]), 422, "validation_failed"),
            (ApiError::Internal("disk".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status_code().as_u16(), status, "{e}");
            assert_eq!(e.code(), code);
        }
    }
}
