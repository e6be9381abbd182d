//! Per-request context: a request id, one `tracing` span, metrics, and error rendering.
//!
//! Wrap the app with `actix_web::middleware::from_fn(request_context)`. For each request it
//! - takes the id from a sane incoming `X-Request-Id` (set by a reverse proxy) or makes one,
//!   stores it as a [`RequestId`] in the request extensions and echoes it in the response;
//! - runs the request inside a span with method, path, route pattern, status and latency, and
//!   logs one line when the response is ready;
//! - counts the request in [`crate::ops::metrics::Metrics`] by route pattern and status;
//! - renders every error response through [`crate::web::error::render`], with the request id.

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use tracing::Instrument;
use tracing::field::Empty;

use crate::app::AppState;
use crate::ops::metrics::UNMATCHED_ROUTE;
use crate::web::error::{ErrorFormat, WebError, public_message, render};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest incoming request id accepted; longer ones are replaced by a generated id.
const MAX_INCOMING_ID: usize = 128;

/// The id of the current request, as logged and shown on error pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id the middleware gave this request, if it ran.
    pub fn of(req: &HttpRequest) -> Option<RequestId> {
        req.extensions().get::<RequestId>().cloned()
    }

    fn generate() -> RequestId {
        RequestId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// An incoming id is kept only if it is short and made of characters that are safe in
    /// logs, headers and HTML: letters, digits, `-`, `_`, `.`, `:`.
    fn incoming(headers: &HeaderMap) -> Option<RequestId> {
        let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
        let sane = !value.is_empty()
            && value.len() <= MAX_INCOMING_ID
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        sane.then(|| RequestId(value.to_string()))
    }
}

impl FromRequest for RequestId {
    type Error = WebError;
    type Future = Ready<Result<RequestId, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            RequestId::of(req)
                .ok_or_else(|| WebError::Internal("request_context middleware is not installed".into())),
        )
    }
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = RequestId::incoming(req.headers()).unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());
    let format = ErrorFormat::for_request(req.path(), req.headers());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let method = req.method().as_str().to_string();
    let span = tracing::info_span!(
        "request",
        id = %id.as_str(),
        method = %method,
        path = %req.path(),
        route = Empty,
        status = Empty,
        latency_ms = Empty,
    );

    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    let mut res = match result {
        Ok(res) => res.map_into_boxed_body(),
        Err(error) => {
            // An inner middleware failed before a response existed; actix renders it.
            span.record("status", 500u16);
            span.in_scope(|| tracing::error!(error = %error, "request failed"));
            if let Some(metrics) = &metrics {
                metrics.observe_request(&method, None, 500, elapsed);
            }
            return Err(error);
        }
    };
    let status = res.status();
    let route = res.request().match_pattern();
    span.record("route", route.as_deref().unwrap_or(UNMATCHED_ROUTE));
    span.record("status", status.as_u16());

    // A UI page that rendered its own error page (HTML) keeps it; other errors get the one
    // rendering below, with the request id.
    let rendered_page = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // An API error keeps its own code and fields, with the request id added.
    let api_body = res
        .response()
        .error()
        .and_then(|error| error.as_error::<crate::web::api::error::ApiError>())
        .map(|api| (api.json_body(Some(id.as_str())), api.to_string()));
    if let Some((body, detail)) = api_body {
        if status.is_server_error() {
            span.in_scope(|| tracing::error!(error = %detail, "request failed"));
        } else {
            span.in_scope(|| tracing::info!(error = %detail, "request refused"));
        }
        res = res.map_body(|_, _| BoxBody::new(body));
    }
    let failure = res
        .response()
        .error()
        .filter(|error| error.as_error::<crate::web::api::error::ApiError>().is_none())
        .map(|error| (public_message(error), error.to_string()));
    let failure = match failure {
        Some((_, detail)) if rendered_page => {
            span.in_scope(|| tracing::info!(error = %detail, "request refused with a page"));
            None
        }
        other => other,
    };
    match failure {
        Some((message, detail)) => {
            if status.is_server_error() {
                span.in_scope(|| tracing::error!(error = %detail, "request failed"));
            } else {
                span.in_scope(|| tracing::info!(error = %detail, "request refused"));
            }
            let (content_type, body) = render(status, &message, id.as_str(), format);
            res = res.map_body(|head, _| {
                head.headers_mut().insert(CONTENT_TYPE, content_type);
                BoxBody::new(body)
            });
        }
        None => span.in_scope(|| tracing::info!("request finished")),
    }
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    if let Some(metrics) = &metrics {
        metrics.observe_request(&method, route.as_deref(), status.as_u16(), elapsed);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static(REQUEST_ID_HEADER),
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn sane_incoming_ids_are_kept_and_others_replaced() {
        let kept = RequestId::incoming(&headers("lb-01:3f2a_9.x")).unwrap();
        assert_eq!(kept.as_str(), "lb-01:3f2a_9.x");
        assert!(RequestId::incoming(&headers("<script>")).is_none());
        assert!(RequestId::incoming(&headers("a b")).is_none());
        assert!(RequestId::incoming(&headers(&"a".repeat(129))).is_none());
        assert!(RequestId::incoming(&HeaderMap::new()).is_none());
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
