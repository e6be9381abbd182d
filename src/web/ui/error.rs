//! UI errors and the one place admin-service errors become HTTP statuses.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::{Layout, page};
use crate::admin::{AdminError, Permission};

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Not signed in: pages redirect to the login form, then back to `next`.
    #[error("sign in first")]
    LoginRequired { next: Option<String> },
    /// Signed in, but the role does not allow this.
    #[error("your role does not allow you to {permission}")]
    Forbidden {
        layout: Box<Layout>,
        permission: Permission,
    },
    #[error("{message}")]
    Status {
        status: StatusCode,
        message: String,
        layout: Option<Box<Layout>>,
    },
}

#[derive(Template)]
#[template(path = "forbidden.html")]
struct ForbiddenPage<'a> {
    layout: &'a Layout,
    permission: &'a Permission,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: &'a Layout,
    status: u16,
    message: &'a str,
}

/// The HTTP status for an admin-service error.
pub fn status_of(e: &AdminError) -> StatusCode {
    match e {
        AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
        AdminError::UsernameTaken(_) | AdminError::LastAdmin(_) | AdminError::SetupDone => {
            StatusCode::CONFLICT
        }
        AdminError::UnknownAccount(_) | AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::NameTaken(_) => StatusCode::CONFLICT,
        AdminError::BadCredentials => StatusCode::UNAUTHORIZED,
        AdminError::Disabled | AdminError::SetupTokenInvalid => StatusCode::FORBIDDEN,
        AdminError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AdminError::Hashing(_) | AdminError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a user sees for a failure inside the appliance; the details go to the log.
pub const INTERNAL_MESSAGE: &str = "Something went wrong on the appliance; the details are in its log.";

/// The message a user sees for an admin-service error (internal details stay in the log).
pub fn message_of(e: &AdminError) -> String {
    if status_of(e).is_server_error() {
        tracing::error!(error = %e, "admin service failed");
        INTERNAL_MESSAGE.into()
    } else {
        e.to_string()
    }
}

impl UiError {
    pub fn not_found(layout: Option<Layout>) -> UiError {
        UiError::Status {
            status: StatusCode::NOT_FOUND,
            message: "There is nothing at this address.".into(),
            layout: layout.map(Box::new),
        }
    }

    /// A failure inside the appliance while building the page `what`: logged with its details,
    /// shown as a 500 with [`INTERNAL_MESSAGE`] on a page with `layout`.
    pub fn internal(e: impl std::fmt::Display, what: &str, layout: &Layout) -> UiError {
        tracing::error!(error = %e, page = what, "page failed");
        UiError::Status {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: INTERNAL_MESSAGE.into(),
            layout: Some(Box::new(layout.clone())),
        }
    }

    /// An admin-service error shown on a page with `layout`.
    pub fn admin(e: AdminError, layout: Option<Layout>) -> UiError {
        UiError::Status {
            status: status_of(&e),
            message: message_of(&e),
            layout: layout.map(Box::new),
        }
    }
}

impl From<AdminError> for UiError {
    fn from(e: AdminError) -> UiError {
        UiError::admin(e, None)
    }
}

/// Only local paths are followed after login (no open redirect).
pub fn safe_next(next: &str) -> Option<&str> {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    local.then_some(next)
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            UiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            UiError::Status { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            UiError::LoginRequired { next } => {
                let location = match next.as_deref().and_then(safe_next) {
                    Some(next) if next != "/" => serde_urlencoded::to_string([("next", next)])
                        .map(|q| format!("/login?{q}"))
                        .unwrap_or_else(|_| "/login".into()),
                    _ => "/login".into(),
                };
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish()
            }
            UiError::Forbidden { layout, permission } => {
                page(StatusCode::FORBIDDEN, &ForbiddenPage { layout, permission })
            }
            UiError::Status {
                status,
                message,
                layout,
            } => {
                let public;
                let layout = match layout {
                    Some(l) => l.as_ref(),
                    None => {
                        public = Layout::public("Error");
                        &public
                    }
                };
                page(
                    *status,
                    &ErrorPage {
                        layout,
                        status: status.as_u16(),
                        message,
                    },
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next("/users?x=1"), Some("/users?x=1"));
        assert_eq!(safe_next("//evil.example/"), None);
        assert_eq!(safe_next("https://evil.example/"), None);
        assert_eq!(safe_next("/\\evil.example"), None);
    }
}
