//! `/enroll` (the page a person follows), `/enroll/profile` (the signed profile) and `/ca.pem`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::errors::WebError;
use crate::app::AppState;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/enroll", web::get().to(enroll_page))
        .route("/enroll/profile", web::get().to(profile))
        .route("/ca.pem", web::get().to(ca_pem));
}

/// The base URL devices use: the configured public URL, else the host this request came to.
pub fn public_url(state: &AppState, req: &HttpRequest) -> String {
    if let Some(url) = &state.config.server.public_url {
        return url.trim_end_matches('/').to_string();
    }
    format!("https://{}", req.connection_info().host())
}

#[derive(Template, WebTemplate)]
#[template(path = "enroll.html")]
pub struct EnrollPage {
    pub organization: String,
    pub profile_url: String,
    pub qr_svg: String,
    pub ca_fingerprint: String,
}

async fn enroll_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<TokenQuery>,
) -> Result<EnrollPage, WebError> {
    let mut profile_url = format!("{}/enroll/profile", public_url(&state, &req));
    if let Some(token) = query.token.as_deref().filter(|t| !t.is_empty()) {
        let encoded = percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC);
        profile_url.push_str(&format!("?token={encoded}"));
    }
    let qr_svg = qrcode::QrCode::new(profile_url.as_bytes())
        .map_err(|e| WebError::Internal(e.to_string()))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    Ok(EnrollPage {
        organization: state.config.enrollment.organization.clone(),
        profile_url,
        qr_svg,
        ca_fingerprint: state.pki.ca_fingerprint(),
    })
}

async fn profile(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, WebError> {
    let url = public_url(&state, &req);
    let enrollment = state.enrollment.clone();
    let token = query.into_inner().token;
    let signed = web::block(move || enrollment.profile(&url, token.as_deref()))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok()
        .content_type("application/x-apple-aspen-config")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"enroll.mobileconfig\"",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(signed))
}

async fn ca_pem(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(state.pki.ca_cert_pem.clone())
}
