//! `GET` / `HEAD /cache/<sha256>/<file name>`: cached payloads, streamed from disk.
//!
//! Ranges (single, open-ended, suffix; unsatisfiable → 416; parsed by `actix-files`'
//! `HttpRange`) and conditional requests are answered here; the bytes stream from disk in large
//! chunks ([`FileRange`]). The entity tag is the payload's SHA-256 (content never changes under
//! an address), so `If-None-Match` → 304, `If-Match` → 412, and a stale `If-Range` gets the
//! whole file (200), as RFC 9110 §13.1.5 asks. Only ready payloads under their own name are
//! served: never partial downloads, never quarantined files.

use actix_files::HttpRange;
use actix_web::http::header::{self, EntityTag, HttpDate};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, guard, web};

use crate::app::AppState;
use crate::cache::CacheError;
use crate::cache::delivery::DeliveryError;
use crate::cache::files::{Digest, is_plain_file_name};
use crate::web::cache_body::FileRange;
use crate::web::error::WebError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Before `/cache/{digest}/{filename}`, which would take `manifests` for a digest.
    cfg.route(
        "/cache/manifests/{name}",
        web::route()
            .guard(guard::Any(guard::Get()).or(guard::Head()))
            .to(manifest),
    );
    cfg.route(
        "/cache/{digest}/{filename}",
        web::route()
            .guard(guard::Any(guard::Get()).or(guard::Head()))
            .to(serve),
    );
}

/// The one mapping of cache errors to web errors.
pub fn web_error(e: CacheError) -> WebError {
    match e {
        CacheError::NotFound => WebError::NotFound,
        CacheError::BadInput(m) => WebError::BadRequest(m),
        CacheError::QuotaFull { .. } | CacheError::DiskFull { .. } => WebError::Conflict(e.to_string()),
        CacheError::Store(s) => WebError::Store(s),
        other => WebError::Internal(other.to_string()),
    }
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether a conditional header's list of entity tags holds `etag` (or `*`).
fn lists(value: &str, etag: &EntityTag, weak: bool) -> bool {
    value.split(',').map(str::trim).any(|item| {
        item == "*"
            || item
                .parse::<EntityTag>()
                .is_ok_and(|t| if weak { t.weak_eq(etag) } else { t.strong_eq(etag) })
    })
}

/// `GET /cache/manifests/<sha256>.plist`: the app manifest a Mac reads for
/// `InstallEnterpriseApplication` (see `cache::delivery`). Only for installers that may be
/// delivered; anything else is 404, as for payloads.
async fn manifest(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let digest = name
        .strip_suffix(".plist")
        .and_then(Digest::parse)
        .ok_or_else(|| WebError::BadRequest("the manifest address is <sha256>.plist".into()))?;
    let base = crate::web::enroll::public_url(&state, &req);
    let xml = state
        .installer_delivery()
        .manifest(&digest, &base)
        .await
        .map_err(|e| match e {
            DeliveryError::NotCached | DeliveryError::NotDeliverable(_) => WebError::NotFound,
            DeliveryError::Store(s) => WebError::Store(s),
            other => WebError::Internal(other.to_string()),
        })?;
    Ok(HttpResponse::Ok()
        .content_type("application/xml")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(xml))
}

async fn serve(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (digest, filename) = path.into_inner();
    let digest = Digest::parse(&digest).ok_or_else(|| {
        WebError::BadRequest("the address is not a SHA-256 digest (64 lower-case hex digits)".into())
    })?;
    if !is_plain_file_name(&filename) {
        return Err(WebError::BadRequest("not a plain file name".into()));
    }
    let (file_path, _row) = state
        .cache
        .open_for_serving(&digest, &filename)
        .await
        .map_err(web_error)?;
    let internal = |e: std::io::Error| WebError::Internal(format!("{}: {e}", file_path.display()));
    let opened = file_path.clone();
    let file = web::block(move || std::fs::File::open(&opened))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(internal)?;
    let metadata = file.metadata().map_err(internal)?;
    let size = metadata.len();
    let modified = metadata.modified().ok().and_then(whole_seconds);
    let etag = EntityTag::new_strong(digest.to_string());

    let mut response = match precondition(&req, &etag, modified) {
        Some(status) => HttpResponse::build(status).finish(),
        None => {
            let mut builder = HttpResponse::Ok();
            builder
                .content_type(actix_web::mime::APPLICATION_OCTET_STREAM)
                .insert_header((header::ACCEPT_RANGES, "bytes"))
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ));
            let (offset, length) = match wanted_range(&req, &etag, modified, size) {
                Wanted::Whole => (0, size),
                Wanted::Part { offset, length } => {
                    builder.status(StatusCode::PARTIAL_CONTENT).insert_header((
                        header::CONTENT_RANGE,
                        format!("bytes {offset}-{}/{size}", offset + length - 1),
                    ));
                    (offset, length)
                }
                Wanted::Unsatisfiable => {
                    builder
                        .status(StatusCode::RANGE_NOT_SATISFIABLE)
                        .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
                    return Ok(with_cache_headers(builder.finish(), &etag, modified));
                }
                Wanted::Malformed => return Err(WebError::BadRequest("unreadable Range header".into())),
            };
            let body = if req.method() == Method::HEAD {
                FileRange::head(length)
            } else {
                FileRange::new(file, offset, length, state.config.cache.serve_chunk_bytes)
                    .map_err(internal)?
            };
            builder.body(body)
        }
    };
    response = with_cache_headers(response, &etag, modified);
    Ok(response)
}

/// The answer the conditional headers call for instead of the content, in RFC 9110 §13.2.2's
/// order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since.
fn precondition(req: &HttpRequest, etag: &EntityTag, modified: Option<HttpDate>) -> Option<StatusCode> {
    let since = |name| header_str(req, name).and_then(|v| v.parse::<HttpDate>().ok());
    if let Some(v) = header_str(req, header::IF_MATCH) {
        if !lists(v, etag, false) {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
    } else if let (Some(limit), Some(modified)) = (since(header::IF_UNMODIFIED_SINCE), modified)
        && modified > limit
    {
        return Some(StatusCode::PRECONDITION_FAILED);
    }
    if let Some(v) = header_str(req, header::IF_NONE_MATCH) {
        if lists(v, etag, true) {
            return Some(StatusCode::NOT_MODIFIED);
        }
    } else if let (Some(limit), Some(modified)) = (since(header::IF_MODIFIED_SINCE), modified)
        && modified <= limit
    {
        return Some(StatusCode::NOT_MODIFIED);
    }
    None
}

enum Wanted {
    Whole,
    Part { offset: u64, length: u64 },
    Unsatisfiable,
    Malformed,
}

/// What `Range` asks for (the first range of a list, as `NamedFile` did), unless a stale
/// `If-Range` asks for the whole file (RFC 9110 §13.1.5).
fn wanted_range(req: &HttpRequest, etag: &EntityTag, modified: Option<HttpDate>, size: u64) -> Wanted {
    let Some(range) = req.headers().get(header::RANGE) else {
        return Wanted::Whole;
    };
    let range_applies = match header_str(req, header::IF_RANGE) {
        None => true,
        Some(v) if v.trim_start().starts_with('"') || v.trim_start().starts_with("W/") => {
            v.trim().parse::<EntityTag>().is_ok_and(|t| t.strong_eq(etag))
        }
        Some(v) => match (v.parse::<HttpDate>(), modified) {
            (Ok(date), Some(modified)) => date >= modified,
            _ => false,
        },
    };
    if !range_applies {
        return Wanted::Whole;
    }
    let Ok(text) = range.to_str() else {
        return Wanted::Malformed;
    };
    match HttpRange::parse(text, size).ok().and_then(|r| r.first().copied()) {
        Some(r) if r.start == 0 && r.length == size => Wanted::Whole,
        Some(r) => Wanted::Part {
            offset: r.start,
            length: r.length,
        },
        None => Wanted::Unsatisfiable,
    }
}

/// A file time as HTTP sees it: whole seconds (else a file would look newer than its own
/// `Last-Modified` echoed back in `If-Modified-Since`).
fn whole_seconds(t: std::time::SystemTime) -> Option<HttpDate> {
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(HttpDate::from(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
    ))
}

/// The headers every answer about a payload carries: its entity tag (the digest), when the file
/// was published, and that it never changes under this address.
fn with_cache_headers(
    mut response: HttpResponse,
    etag: &EntityTag,
    modified: Option<HttpDate>,
) -> HttpResponse {
    let headers = response.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&etag.to_string()) {
        headers.insert(header::ETAG, v);
    }
    if let Some(m) = modified
        && let Ok(v) = header::HeaderValue::from_str(&m.to_string())
    {
        headers.insert(header::LAST_MODIFIED, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
