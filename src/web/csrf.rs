//! CSRF protection for every state-changing request a browser can make, as one middleware.
//!
//! A request with an unsafe method (POST, PUT, PATCH, DELETE) is checked when it carries one of
//! our cookies or has a content type a cross-site HTML form can send (urlencoded, multipart,
//! text/plain). It must then present a token in the `csrf_token` form field (urlencoded bodies),
//! the `X-CSRF-Token` header, or (multipart uploads only) the `csrf_token` query parameter:
//! - signed in: the token derived from the session id (see `admin::sessions::csrf_token_for`);
//! - not signed in (login, first-admin setup): the value of the `__Host-orchard_form` cookie
//!   (double submit; the `__Host-` prefix keeps other hosts from planting it).
//!
//! Anything else gets 403 before a handler runs, so nothing changes. Device endpoints (MDM
//! check-in, SCEP) and bearer-token API calls carry no cookies and their own content types,
//! so they pass untouched.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;

use crate::admin::sessions::{csrf_token_for, random_token, secrets_equal};

pub const SESSION_COOKIE: &str = "__Host-orchard_session";
pub const FORM_COOKIE: &str = "__Host-orchard_form";
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

/// Largest urlencoded body the guard reads to find the token.
pub const FORM_LIMIT: usize = 64 * 1024;

#[derive(Template)]
#[template(path = "csrf_refused.html")]
struct Refused {
    reason: &'static str,
}

/// A cookie with the attributes every Orchard cookie has.
pub fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// The token for a form shown to someone not signed in, and the cookie to set when the browser
/// has none yet.
pub fn form_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(FORM_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_string(), None),
        _ => {
            let token = random_token();
            (token.clone(), Some(cookie(FORM_COOKIE, token)))
        }
    }
}

fn content_type(req: &ServiceRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn token_in_query(req: &ServiceRequest) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

fn token_in_form(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

enum BodyRead {
    Complete(Bytes),
    TooLarge,
    Failed,
}

async fn read_body(req: &mut ServiceRequest) -> BodyRead {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(bytes) if body.len() + bytes.len() <= FORM_LIMIT => body.extend_from_slice(&bytes),
            Ok(_) => return BodyRead::TooLarge,
            Err(_) => return BodyRead::Failed,
        }
    }
    BodyRead::Complete(body.freeze())
}

fn refuse<B>(
    req: ServiceRequest,
    status: StatusCode,
    reason: &'static str,
) -> ServiceResponse<EitherBody<B>> {
    let html = Refused { reason }.render().unwrap_or_else(|_| reason.to_string());
    let response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html);
    req.into_response(response).map_into_right_body()
}

/// The middleware function, for `App::wrap(from_fn(guard))`.
pub async fn guard<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let session = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
    let form_cookie = req.cookie(FORM_COOKIE).map(|c| c.value().to_string());
    let kind = content_type(&req);
    let browser_form = matches!(
        kind.as_str(),
        "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
    );
    if session.is_none() && form_cookie.is_none() && !browser_form {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let mut presented = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if presented.is_none() && kind == "multipart/form-data" {
        presented = token_in_query(&req);
    }
    if presented.is_none() && kind == "application/x-www-form-urlencoded" {
        match read_body(&mut req).await {
            BodyRead::Complete(body) => {
                presented = token_in_form(&body);
                req.set_payload(Payload::from(body));
            }
            BodyRead::TooLarge => {
                return Ok(refuse(
                    req,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The form is too large.",
                ));
            }
            BodyRead::Failed => {
                return Ok(refuse(
                    req,
                    StatusCode::BAD_REQUEST,
                    "The form could not be read.",
                ));
            }
        }
    }
    let valid = presented.is_some_and(|token| {
        session
            .as_deref()
            .is_some_and(|s| secrets_equal(&token, &csrf_token_for(s)))
            || form_cookie.as_deref().is_some_and(|f| secrets_equal(&token, f))
    });
    if !valid {
        tracing::warn!(path = %req.path(), "request refused: missing or wrong CSRF token");
        return Ok(refuse(
            req,
            StatusCode::FORBIDDEN,
            "The form was not sent by this site's page, or it has expired.",
        ));
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}
