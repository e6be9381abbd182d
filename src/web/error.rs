//! The web layer's error type and the one place where errors become HTTP responses.
//!
//! Handlers return `Result<_, WebError>`. [`WebError::status`] is the single mapping to an HTTP
//! status. The request middleware (`middleware::request_context`) renders every error response
//! through [`render`], adding the request id, so a user can quote it and an operator can find
//! the request in the logs. Server errors never show their cause to the client; it is logged.

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Malformed input; the message says what is wrong with it.
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("request body too large (the limit is {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; try again later")]
    TooManyRequests,
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the detail is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WebError {
    /// The one mapping from errors to HTTP statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::NotFound | WebError::Store(StoreError::NotFound) => StatusCode::NOT_FOUND,
            WebError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Conflict(_) | WebError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            WebError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) | WebError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told. Server errors say nothing about their cause.
    pub fn public_message(&self) -> String {
        if self.status().is_server_error() && !matches!(self, WebError::Unavailable(_)) {
            return internal_message().to_string();
        }
        self.to_string()
    }
}

fn internal_message() -> &'static str {
    "internal error"
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    /// A plain-text body; the request middleware re-renders it with the request id.
    fn error_response(&self) -> HttpResponse<BoxBody> {
        HttpResponse::build(self.status())
            .content_type("text/plain; charset=utf-8")
            .body(format!("{}\n", self.public_message()))
    }
}

/// What the client is told about any error that reached the edge: [`WebError`]s say their
/// public message; other client errors (e.g. actix's own payload errors) their text; server
/// errors only that something went wrong.
pub fn public_message(error: &actix_web::Error) -> String {
    if let Some(web) = error.as_error::<WebError>() {
        return web.public_message();
    }
    let status = error.as_response_error().status_code();
    if status.is_server_error() {
        internal_message().to_string()
    } else {
        error.to_string()
    }
}

/// How an error is shown to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    Text,
    Json,
    /// Browsers. Rendered as text until the UI's error page template exists.
    Html,
}

impl ErrorFormat {
    /// Picks the format from the request: JSON for the API and clients that ask for JSON,
    /// HTML for browsers, text for everything else (devices, curl, monitoring).
    pub fn for_request(path: &str, headers: &HeaderMap) -> ErrorFormat {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if path.starts_with("/api/") || accept.contains("application/json") {
            ErrorFormat::Json
        } else if accept.contains("text/html") {
            ErrorFormat::Html
        } else {
            ErrorFormat::Text
        }
    }
}

#[derive(Serialize)]
struct JsonError<'a> {
    error: JsonErrorBody<'a>,
    request_id: &'a str,
}

#[derive(Serialize)]
struct JsonErrorBody<'a> {
    code: &'static str,
    message: &'a str,
}

/// The machine-readable code of an error with `status`, for JSON error bodies (the API's own
/// errors carry more precise codes, see `web::api::error`).
pub fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        429 => "rate_limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// The body and content type of an error response. The status and other headers stay as the
/// error set them.
pub fn render(
    status: StatusCode,
    message: &str,
    request_id: &str,
    format: ErrorFormat,
) -> (HeaderValue, String) {
    match format {
        ErrorFormat::Json => {
            let body = serde_json::to_string(&JsonError {
                error: JsonErrorBody {
                    code: code_of(status),
                    message,
                },
                request_id,
            })
            .unwrap_or_else(|_| String::from("{}"));
            (HeaderValue::from_static("application/json"), body)
        }
        ErrorFormat::Text | ErrorFormat::Html => (
            HeaderValue::from_static("text/plain; charset=utf-8"),
            format!("{message}\nrequest id: {request_id}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses_without_leaking_detail() {
        let missing = WebError::from(StoreError::NotFound);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let broken = WebError::from(StoreError::Task("disk on fire at /var/lib".into()));
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(broken.public_message(), "internal error");
        let bad = WebError::BadRequest("missing UDID".into());
        assert_eq!(bad.public_message(), "missing UDID");
    }

    #[test]
    fn json_is_chosen_for_the_api_and_for_json_clients() {
        let mut h = HeaderMap::new();
        assert_eq!(ErrorFormat::for_request("/api/v1/devices", &h), ErrorFormat::Json);
        assert_eq!(ErrorFormat::for_request("/mdm/connect", &h), ErrorFormat::Text);
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html,*/*"));
        assert_eq!(ErrorFormat::for_request("/devices", &h), ErrorFormat::Html);
        let (ct, body) = render(StatusCode::NOT_FOUND, "not found", "abc", ErrorFormat::Json);
        assert_eq!(ct, "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["request_id"], "abc");
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(v["error"]["message"], "not found");
    }
}
