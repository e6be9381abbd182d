//! Security headers on every response: nothing loads from elsewhere, nothing frames us, the
//! browser does not guess content types, no URL leaks through `Referer`, and a browser that has
//! reached the appliance over HTTPS keeps using HTTPS (HSTS; ignored on plain HTTP, as the standard
//! says, so the optional listener behind a proxy is unaffected).

use actix_web::middleware::DefaultHeaders;

/// Scripts, styles and images from this origin only (plus `data:` images, e.g. QR codes);
/// forms post only here; no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The middleware, for `App::wrap`. Handlers may still set their own value of a header.
pub fn middleware() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Strict-Transport-Security", "max-age=31536000"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
}
