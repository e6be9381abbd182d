//! `/api/v1/api-tokens` and `/api/v1/clients` (admins): API tokens, and API clients for device
//! trust with rotation and invalidation of their secrets.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, FieldProblem};
use crate::admin::{ApiClient, Role};
use crate::app::AppState;
use crate::web::ui::can;

type TokenAdmin = Caller<can::ManageApiTokens>;

pub async fn tokens(_caller: TokenAdmin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tokens = state.api_access().list_tokens().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tokens": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub role: String,
}

pub async fn create_token(
    caller: TokenAdmin,
    state: web::Data<AppState>,
    body: ApiJson<NewToken>,
) -> Result<HttpResponse, ApiError> {
    let role: Role = body
        .0
        .role
        .parse()
        .map_err(|e: crate::admin::role::UnknownRole| {
            ApiError::Validation(vec![FieldProblem::new("role", e.to_string())])
        })?;
    let (token, secret) = state
        .api_access()
        .create_token(&caller.actor(), &body.0.name, role)
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "token": token, "secret": secret })))
}

pub async fn revoke_token(
    caller: TokenAdmin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let token = state
        .api_access()
        .revoke_token(&caller.actor(), id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "token": token })))
}

#[derive(Serialize)]
struct ClientView<'a> {
    #[serde(flatten)]
    client: &'a ApiClient,
    /// A rotated-out secret still works (until its `expires_at`).
    previous_secret_expires_soon: bool,
}

fn client_view(client: &ApiClient) -> ClientView<'_> {
    ClientView {
        client,
        previous_secret_expires_soon: client.secrets.iter().any(|s| s.expires_soon()),
    }
}

pub async fn list(_caller: TokenAdmin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let clients = state.api_access().list_clients().await?;
    let views: Vec<ClientView<'_>> = clients.iter().map(client_view).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "clients": views })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
}

fn with_secret(status: actix_web::http::StatusCode, client: &ApiClient, secret: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "client": client_view(client), "secret": secret }))
}

pub async fn create(
    caller: TokenAdmin,
    state: web::Data<AppState>,
    body: ApiJson<NewClient>,
) -> Result<HttpResponse, ApiError> {
    let (client, secret) = state
        .api_access()
        .create_client(&caller.actor(), &body.0.name)
        .await?;
    Ok(with_secret(
        actix_web::http::StatusCode::CREATED,
        &client,
        &secret,
    ))
}

pub async fn rotate(
    caller: TokenAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (client, secret) = state
        .api_access()
        .rotate_client_secret(&caller.actor(), &id)
        .await?;
    Ok(with_secret(actix_web::http::StatusCode::OK, &client, &secret))
}

pub async fn invalidate(
    caller: TokenAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (client, secret) = state
        .api_access()
        .invalidate_client_secrets(&caller.actor(), &id)
        .await?;
    Ok(with_secret(actix_web::http::StatusCode::OK, &client, &secret))
}

pub async fn delete(
    caller: TokenAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.api_access().delete_client(&caller.actor(), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
