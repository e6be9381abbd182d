//! Guards for UI handlers, as extractors: [`CurrentAdmin`] requires a signed-in account (else a
//! redirect to the login page), [`Authorized<can::X>`](Authorized) additionally requires the
//! role to allow permission X (else a 403 page that says what is missing).
//!
//! ```ignore
//! async fn users_page(auth: Authorized<can::ManageUsers>) -> Result<HttpResponse, UiError> { ... }
//! ```

use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::{Layout, Section, UiError, Viewer};
use crate::admin::{Actor, Admin, ClientInfo, Permission};
use crate::app::AppState;
use crate::web::csrf::SESSION_COOKIE;

/// A signed-in, enabled account with a live session.
#[derive(Debug, Clone)]
pub struct CurrentAdmin {
    pub admin: Admin,
    /// The CSRF token of this session, for forms.
    pub csrf_token: String,
    /// The raw session id (from the cookie), for logging out.
    pub session_id: String,
    pub client: ClientInfo,
    /// This request's id, shown on error pages so a report can be matched to the log.
    pub request_id: Option<String>,
}

impl CurrentAdmin {
    /// The layout of a page in `section`, showing this account.
    pub fn layout(&self, title: &str, section: Section) -> Layout {
        Layout {
            section,
            viewer: Some(Viewer {
                username: self.admin.username.clone(),
                role: self.admin.role,
                csrf_token: self.csrf_token.clone(),
            }),
            request_id: self.request_id.clone(),
            ..Layout::public(title)
        }
    }

    /// This account as the author of a change, for the audit log.
    pub fn actor(&self) -> Actor {
        Actor::admin(&self.admin, Some(self.client.remote_addr.clone()))
    }

    /// `Err(403 page)` unless the role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), UiError> {
        if self.admin.can(permission) {
            Ok(())
        } else {
            Err(UiError::Forbidden {
                layout: Box::new(self.layout("Not allowed", Section::None)),
                permission,
            })
        }
    }
}

/// The peer address (not a forwarded header: those can be forged) and the user agent.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        remote_addr: req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into()),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    }
}

fn login_required(req: &HttpRequest) -> UiError {
    // Only a page can be returned to; a refused form post starts over from the login page.
    let next = (req.method() == Method::GET)
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_string()))
        .flatten();
    UiError::LoginRequired { next }
}

impl FromRequest for CurrentAdmin {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<CurrentAdmin, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(found) = req.extensions().get::<CurrentAdmin>() {
                return Ok(found.clone());
            }
            let Some(session_id) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else {
                return Err(login_required(&req));
            };
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                return Err(UiError::Status {
                    status: actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                    message: "the application state is missing".into(),
                    layout: None,
                });
            };
            let authenticated = state
                .admins()
                .authenticate(&session_id)
                .await
                .map_err(UiError::from)?;
            let Some(auth) = authenticated else {
                return Err(login_required(&req));
            };
            let current = CurrentAdmin {
                admin: auth.admin,
                csrf_token: auth.csrf_token,
                session_id,
                client: client_info(&req),
                request_id: crate::web::middleware::RequestId::of(&req).map(|id| id.as_str().to_string()),
            };
            req.extensions_mut().insert(current.clone());
            Ok(current)
        })
    }
}

/// A permission named as a type, for [`Authorized`].
pub trait Requirement {
    const PERMISSION: Permission;
}

/// Marker types, one per [`Permission`]: `Authorized<can::ManageUsers>`.
pub mod can {
    use super::{Permission, Requirement};

    macro_rules! requirements {
        ($($name:ident),* $(,)?) => {$(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Requirement for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }

    requirements!(
        View,
        ManageDevices,
        ManageGroups,
        ManagePolicies,
        ManageCatalog,
        ManageCache,
        ManageEnrollment,
        ManageSettings,
        ManageUsers,
        ManageApiTokens,
    );
}

/// A signed-in account whose role allows `R::PERMISSION`. Derefs to [`CurrentAdmin`].
#[derive(Debug, Clone)]
pub struct Authorized<R: Requirement> {
    pub current: CurrentAdmin,
    _requirement: PhantomData<R>,
}

impl<R: Requirement> Deref for Authorized<R> {
    type Target = CurrentAdmin;
    fn deref(&self) -> &CurrentAdmin {
        &self.current
    }
}

impl<R: Requirement + 'static> FromRequest for Authorized<R> {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Authorized<R>, UiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentAdmin::from_request(req, payload);
        Box::pin(async move {
            let current = current.await?;
            current.require(R::PERMISSION)?;
            Ok(Authorized {
                current,
                _requirement: PhantomData,
            })
        })
    }
}
