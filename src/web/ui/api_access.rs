//! `/settings/api` (admins): API tokens (create with a role, list, revoke) and API clients for
//! device trust (create, rotate, invalidate, delete). A new token or secret is shown once, on the
//! answer to the form: only its hash is kept.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Authorized, Layout, Section, UiError, can, page};
use crate::admin::{AdminError, ApiClient, ApiToken, Role};
use crate::app::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/api", web::get().to(show))
        .route("/settings/api/tokens", web::post().to(create_token))
        .route("/settings/api/tokens/{id}/revoke", web::post().to(revoke_token))
        .route("/settings/api/clients", web::post().to(create_client))
        .route(
            "/settings/api/clients/{client_id}/{action}",
            web::post().to(change_client),
        );
}

type TokenAdmin = Authorized<can::ManageApiTokens>;

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: &'static str,
    pub created: String,
    pub last_used: String,
    pub active: bool,
}

pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
    /// "expires soon (at ...)" for a rotated-out secret that still works.
    pub previous: Option<String>,
}

/// A secret shown once.
pub struct Revealed {
    pub what: String,
    pub id: Option<String>,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "api_access.html")]
struct ApiAccessPage {
    layout: Layout,
    notice: Option<String>,
    error: Option<String>,
    tokens: Vec<TokenRow>,
    clients: Vec<ClientRow>,
    revealed: Option<Revealed>,
    roles: [Role; 3],
}

fn at(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(super::utc_minute).unwrap_or_else(|| "never".into())
}

fn token_row(t: &ApiToken) -> TokenRow {
    TokenRow {
        id: t.id,
        name: t.name.clone(),
        role: t.role.as_str(),
        created: at(Some(t.created_at)),
        last_used: at(t.last_used_at),
        active: t.active(),
    }
}

fn client_row(c: &ApiClient) -> ClientRow {
    ClientRow {
        client_id: c.client_id.clone(),
        name: c.name.clone(),
        created: at(Some(c.created_at)),
        last_used: at(c.last_used_at),
        previous: c
            .secrets
            .iter()
            .find(|s| s.expires_soon())
            .map(|s| format!("previous secret expires soon ({})", at(s.expires_at))),
    }
}

struct Outcome {
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    revealed: Option<Revealed>,
}

impl Outcome {
    fn ok() -> Outcome {
        Outcome {
            status: StatusCode::OK,
            notice: None,
            error: None,
            revealed: None,
        }
    }

    fn refused(e: AdminError) -> Outcome {
        Outcome {
            status: super::error::status_of(&e),
            error: Some(super::error::message_of(&e)),
            ..Outcome::ok()
        }
    }
}

async fn render(auth: &TokenAdmin, state: &AppState, outcome: Outcome) -> Result<HttpResponse, UiError> {
    let layout = auth.layout("API access", Section::Settings);
    let access = state.api_access();
    let tokens = access
        .list_tokens()
        .await
        .map_err(|e| UiError::admin(e, Some(layout.clone())))?;
    let clients = access
        .list_clients()
        .await
        .map_err(|e| UiError::admin(e, Some(layout.clone())))?;
    Ok(page(
        outcome.status,
        &ApiAccessPage {
            notice: outcome.notice,
            error: outcome.error,
            tokens: tokens.iter().rev().map(token_row).collect(),
            clients: clients.iter().map(client_row).collect(),
            revealed: outcome.revealed,
            roles: Role::ALL,
            layout,
        },
    ))
}

async fn show(auth: TokenAdmin, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    render(&auth, &state, Outcome::ok()).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

async fn create_token(
    auth: TokenAdmin,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, UiError> {
    let role = match form.role.parse::<Role>() {
        Ok(role) => role,
        Err(e) => {
            return render(
                &auth,
                &state,
                Outcome::refused(AdminError::Invalid(e.to_string())),
            )
            .await;
        }
    };
    let outcome = match state
        .api_access()
        .create_token(&auth.actor(), &form.name, role)
        .await
    {
        Ok((token, secret)) => Outcome {
            status: StatusCode::CREATED,
            notice: Some(format!(
                "Created the API token “{}” ({}). Copy it now: it is not shown again.",
                token.name, token.role
            )),
            revealed: Some(Revealed {
                what: "Token".into(),
                id: None,
                secret,
            }),
            ..Outcome::ok()
        },
        Err(e) => Outcome::refused(e),
    };
    render(&auth, &state, outcome).await
}

async fn revoke_token(
    auth: TokenAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(UiError::not_found(Some(auth.layout("Not found", Section::None))));
    };
    let outcome = match state.api_access().revoke_token(&auth.actor(), id).await {
        Ok(token) => Outcome {
            notice: Some(format!(
                "Revoked the API token “{}”: it no longer works.",
                token.name
            )),
            ..Outcome::ok()
        },
        Err(e) => Outcome::refused(e),
    };
    render(&auth, &state, outcome).await
}

#[derive(Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    name: String,
}

fn revealed(client: &ApiClient, secret: String) -> Option<Revealed> {
    Some(Revealed {
        what: format!("Secret of {}", client.name),
        id: Some(client.client_id.clone()),
        secret,
    })
}

async fn create_client(
    auth: TokenAdmin,
    state: web::Data<AppState>,
    form: web::Form<ClientForm>,
) -> Result<HttpResponse, UiError> {
    let outcome = match state.api_access().create_client(&auth.actor(), &form.name).await {
        Ok((client, secret)) => Outcome {
            status: StatusCode::CREATED,
            notice: Some(format!(
                "Created the API client “{}”. Copy its secret now: it is not shown again.",
                client.name
            )),
            revealed: revealed(&client, secret),
            ..Outcome::ok()
        },
        Err(e) => Outcome::refused(e),
    };
    render(&auth, &state, outcome).await
}

async fn change_client(
    auth: TokenAdmin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (client_id, action) = path.into_inner();
    let (access, actor) = (state.api_access(), auth.actor());
    let outcome = match action.as_str() {
        "rotate" => match access.rotate_client_secret(&actor, &client_id).await {
            Ok((client, secret)) => Outcome {
                notice: Some(format!(
                    "New secret for “{}”: it works now; the previous one keeps working for 24 hours.",
                    client.name
                )),
                revealed: revealed(&client, secret),
                ..Outcome::ok()
            },
            Err(e) => Outcome::refused(e),
        },
        "invalidate" => match access.invalidate_client_secrets(&actor, &client_id).await {
            Ok((client, secret)) => Outcome {
                notice: Some(format!(
                    "Every previous secret of “{}” stopped working. Its new secret is below.",
                    client.name
                )),
                revealed: revealed(&client, secret),
                ..Outcome::ok()
            },
            Err(e) => Outcome::refused(e),
        },
        "delete" => match access.delete_client(&actor, &client_id).await {
            Ok(()) => Outcome {
                notice: Some("Deleted the API client.".into()),
                ..Outcome::ok()
            },
            Err(e) => Outcome::refused(e),
        },
        _ => return Err(UiError::not_found(Some(auth.layout("Not found", Section::None)))),
    };
    render(&auth, &state, outcome).await
}
