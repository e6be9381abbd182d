//! `GET` / `HEAD /cache/<sha256>/<file name>`: cached payloads, streamed from disk.
//!
//! Ranges (single, open-ended, suffix; unsatisfiable → 416) and streaming come from
//! `actix-files`' `NamedFile`. The entity tag is the payload's SHA-256 (content never changes
//! under an address), so `If-None-Match` → 304 and `If-Range` are answered here: a stale
//! `If-Range` gets the whole file (200), as RFC 9110 §13.1.5 asks. Only ready payloads under
//! their own name are served: never partial downloads, never quarantined files.

use actix_files::NamedFile;
use actix_web::body::SizedStream;
use actix_web::http::header::{self, EntityTag, HttpDate};
use actix_web::{HttpRequest, HttpResponse, guard, web};

use crate::app::AppState;
use crate::cache::CacheError;
use crate::cache::files::{Digest, is_plain_file_name};
use crate::web::error::WebError;

pub fn configure(cfg: &mut web::ServiceConfig) {
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
    let etag = EntityTag::new_strong(digest.to_string());
    if let Some(v) = header_str(&req, header::IF_NONE_MATCH)
        && lists(v, &etag, true)
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag.to_string()))
            .finish());
    }
    if let Some(v) = header_str(&req, header::IF_MATCH)
        && !lists(v, &etag, false)
    {
        return Ok(HttpResponse::PreconditionFailed().finish());
    }
    let file = NamedFile::open_async(&file_path)
        .await
        .map_err(|e| WebError::Internal(format!("{}: {e}", file_path.display())))?
        .use_etag(false)
        .use_last_modified(true)
        .set_content_type(mime_octet_stream());
    let last_modified = file.metadata().modified().ok();
    let range_applies = match header_str(&req, header::IF_RANGE) {
        None => true,
        Some(v) if v.trim_start().starts_with('"') || v.trim_start().starts_with("W/") => {
            v.trim().parse::<EntityTag>().is_ok_and(|t| t.strong_eq(&etag))
        }
        Some(v) => match (v.parse::<HttpDate>(), last_modified) {
            (Ok(date), Some(modified)) => {
                let modified = HttpDate::from(modified);
                std::time::SystemTime::from(date) >= std::time::SystemTime::from(modified)
            }
            _ => false,
        },
    };
    let mut response = if range_applies || !req.headers().contains_key(header::RANGE) {
        // NamedFile would honour If-Match against its own tag: ours was checked above.
        file.into_response(&req)
    } else {
        whole_file(file).await?
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        header::HeaderValue::from_str(&etag.to_string()).map_err(|e| WebError::Internal(e.to_string()))?,
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

fn mime_octet_stream() -> actix_web::mime::Mime {
    actix_web::mime::APPLICATION_OCTET_STREAM
}

/// The whole file as a 200, ignoring `Range` (for a stale `If-Range`).
async fn whole_file(file: NamedFile) -> Result<HttpResponse, WebError> {
    use futures_util::stream;
    use tokio::io::AsyncReadExt;
    let length = file.metadata().len();
    let std_file = file
        .file()
        .try_clone()
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let reader = tokio::fs::File::from_std(std_file);
    let body = stream::unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(actix_web::web::Bytes::from(buf)), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(mime_octet_stream().to_string())
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .body(SizedStream::new(length, Box::pin(body))))
}
