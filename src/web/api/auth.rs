//! Who calls the API: [`Caller<can::X>`](Caller) requires a bearer token whose role allows
//! permission X (401 without a valid token, 403 when the role does not allow it);
//! [`TrustClient`] requires an API client's id and secret (HTTP Basic).

use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use crate::admin::{Actor, ApiAccess, ApiClient, ApiToken};
use crate::app::AppState;
use crate::web::ui::guard::{Requirement, client_info};

fn authorization(req: &HttpRequest, scheme: &str) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim().to_string())
}

fn access(req: &HttpRequest) -> Result<ApiAccess, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|state| state.api_access())
        .ok_or_else(|| ApiError::Internal("the application state is missing".into()))
}

/// An authenticated API token (any role).
#[derive(Debug, Clone)]
pub struct TokenCaller {
    pub token: ApiToken,
    pub remote_addr: String,
}

impl TokenCaller {
    /// The author of changes made by this call: `token:<name>`.
    pub fn actor(&self) -> Actor {
        self.token.actor(Some(self.remote_addr.clone()))
    }
}

impl FromRequest for TokenCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<TokenCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(found) = req.extensions().get::<TokenCaller>() {
                return Ok(found.clone());
            }
            let presented = authorization(&req, "Bearer").ok_or(ApiError::Unauthorized)?;
            let token = access(&req)?
                .authenticate_token(&presented)
                .await
                .map_err(ApiError::internal)?
                .ok_or(ApiError::Unauthorized)?;
            let caller = TokenCaller {
                token,
                remote_addr: client_info(&req).remote_addr,
            };
            req.extensions_mut().insert(caller.clone());
            Ok(caller)
        })
    }
}

/// A token whose role allows `R::PERMISSION`. Derefs to [`TokenCaller`].
#[derive(Debug, Clone)]
pub struct Caller<R: Requirement> {
    pub caller: TokenCaller,
    _requirement: PhantomData<R>,
}

impl<R: Requirement> Deref for Caller<R> {
    type Target = TokenCaller;
    fn deref(&self) -> &TokenCaller {
        &self.caller
    }
}

impl<R: Requirement + 'static> FromRequest for Caller<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller<R>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = TokenCaller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if !caller.token.role.can(R::PERMISSION) {
                return Err(ApiError::Forbidden(R::PERMISSION));
            }
            Ok(Caller {
                caller,
                _requirement: PhantomData,
            })
        })
    }
}

/// An API client authenticated with HTTP Basic `client_id:secret`.
#[derive(Debug, Clone)]
pub struct TrustClient(pub ApiClient);

impl FromRequest for TrustClient {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<TrustClient, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let encoded = authorization(&req, "Basic").ok_or(ApiError::ClientUnauthorized)?;
            let decoded = STANDARD
                .decode(encoded.as_bytes())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or(ApiError::ClientUnauthorized)?;
            let (id, secret) = decoded.split_once(':').ok_or(ApiError::ClientUnauthorized)?;
            let client = access(&req)?
                .authenticate_client(id, secret)
                .await
                .map_err(ApiError::internal)?
                .ok_or(ApiError::ClientUnauthorized)?;
            Ok(TrustClient(client))
        })
    }
}
