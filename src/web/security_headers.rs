//! Security headers on every response: nothing loads from elsewhere, nothing frames us, the
//! browser does not guess content types, and no URL leaks through `Referer`.

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
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
}
