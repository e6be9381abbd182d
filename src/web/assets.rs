//! Static files (CSS, icons) embedded in the binary and served under `/static/`.
//!
//! Caching: pages link `/static/<file>?v=<content hash>`; a request whose `v` matches the
//! current content is cached for a year as immutable, any other gets `no-cache`. Every answer
//! carries a strong `ETag` (the content hash) and `If-None-Match` is answered with 304.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct StaticFiles;

fn version_of(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

/// The URL a page uses for a static file, with its content version.
pub fn url(name: &str) -> String {
    match StaticFiles::get(name) {
        Some(file) => format!("/static/{name}?v={}", version_of(&file.metadata.sha256_hash())),
        None => format!("/static/{name}"),
    }
}

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{name:.+}", web::get().to(serve));
}

async fn serve(req: HttpRequest, name: web::Path<String>, query: web::Query<Version>) -> HttpResponse {
    let Some(file) = StaticFiles::get(&name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file\n");
    };
    let version = version_of(&file.metadata.sha256_hash());
    let etag = format!("\"{version}\"");
    let cache = if query.v.as_deref() == Some(version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    if not_modified {
        return response.finish();
    }
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime.ends_with("+xml") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    response.content_type(content_type).body(file.data.into_owned())
}
