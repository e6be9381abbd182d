//! Mirrors of the current catalog documents under `/feeds/`, at SOFA's own paths (so Nudge's
//! `customSOFAFeedURL` can be `https://<appliance>/feeds/v1/macos_data_feed.json`) and at a
//! gdmf-compatible path (`/feeds/gdmf/v2/pmv`). Conditional GET with ETag and Last-Modified.

use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;
use crate::catalog::DocumentKind;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/feeds/{path:.*}", web::get().to(feed));
}

async fn feed(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(kind) = DocumentKind::from_slot(&path) else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("no such feed\n");
    };
    let snapshot = state.catalog.snapshot();
    let Some(doc) = snapshot.documents.get(&kind) else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("this feed has not been fetched or imported yet\n");
    };
    let etag = format!("\"{}\"", doc.sha256);
    // HTTP dates have whole seconds: compare at that precision.
    let seconds = u64::try_from(doc.received_at.timestamp()).unwrap_or(0);
    let modified_at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    let modified = HttpDate::from(modified_at);
    let last_modified = modified.to_string();
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let not_modified = match if_none_match {
        Some(list) => list.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        }),
        None => req
            .headers()
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<HttpDate>().ok())
            .is_some_and(|since| std::time::SystemTime::from(since) >= modified_at),
    };
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, last_modified))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if not_modified {
        return response.finish();
    }
    response
        .content_type("application/json")
        .body(doc.mirror_body().to_vec())
}
