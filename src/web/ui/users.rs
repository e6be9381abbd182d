//! `/users` (admins only): list, create, change role, disable/enable, reset password.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::error::{message_of, status_of};
use super::{Authorized, Layout, Section, UiError, can, page, see_other};
use crate::admin::{Admin, AdminError, Role, password};
use crate::app::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(show))
        .route("/users", web::post().to(create))
        .route("/users/{username}/role", web::post().to(change_role))
        .route("/users/{username}/disable", web::post().to(disable))
        .route("/users/{username}/enable", web::post().to(enable))
        .route("/users/{username}/password", web::post().to(reset_password));
}

/// Every handler here needs the permission to manage accounts.
type UserManager = Authorized<can::ManageUsers>;

pub struct AccountRow {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created: String,
    pub last_login: String,
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    accounts: Vec<AccountRow>,
    roles: &'static [Role],
    notice: Option<String>,
    error: Option<String>,
    new_username: String,
    new_role: Role,
    min_length: usize,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
    user: Option<String>,
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn notice_for(done: &Done) -> Option<String> {
    let user = done.user.as_deref().unwrap_or("the account");
    let text = match done.done.as_deref()? {
        "created" => format!("Created {user}."),
        "role" => format!("Changed the role of {user}."),
        "disabled" => format!("Disabled {user} and ended its sessions."),
        "enabled" => format!("Enabled {user}."),
        "password" => format!("Set a new password for {user} and ended its sessions."),
        _ => return None,
    };
    Some(text)
}

fn row(a: Admin, me: &str) -> AccountRow {
    AccountRow {
        is_self: a.username.eq_ignore_ascii_case(me),
        created: a.created_at.format("%Y-%m-%d").to_string(),
        last_login: a
            .last_login_at
            .map(super::utc_minute)
            .unwrap_or_else(|| "never".into()),
        username: a.username,
        role: a.role,
        disabled: a.disabled,
    }
}

/// The users page with an optional notice or error, answered with `status`.
async fn render(
    auth: &UserManager,
    state: &AppState,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    draft: Option<(String, Role)>,
) -> Result<HttpResponse, UiError> {
    let layout = auth.layout("Users", Section::Settings);
    let accounts = state
        .admins()
        .list()
        .await
        .map_err(|e| UiError::admin(e, Some(layout.clone())))?;
    let (new_username, new_role) = draft.unwrap_or((String::new(), Role::Viewer));
    Ok(page(
        status,
        &UsersPage {
            accounts: accounts
                .into_iter()
                .map(|a| row(a, &auth.admin.username))
                .collect(),
            roles: &Role::ALL,
            notice,
            error,
            new_username,
            new_role,
            min_length: password::MIN_LENGTH,
            layout,
        },
    ))
}

fn done(what: &str, username: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("done", what), ("user", username)]).unwrap_or_default();
    see_other(&format!("/users?{query}"))
}

async fn failed(
    auth: &UserManager,
    state: &AppState,
    e: AdminError,
    draft: Option<(String, Role)>,
) -> Result<HttpResponse, UiError> {
    render(auth, state, status_of(&e), None, Some(message_of(&e)), draft).await
}

async fn show(
    auth: UserManager,
    state: web::Data<AppState>,
    query: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    render(&auth, &state, StatusCode::OK, notice_for(&query), None, None).await
}

async fn create(
    auth: UserManager,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, UiError> {
    let form = form.into_inner();
    let role = form.role.parse::<Role>();
    let draft = Some((form.username.clone(), *role.as_ref().unwrap_or(&Role::Viewer)));
    let role = match role {
        Ok(role) => role,
        Err(e) => return failed(&auth, &state, AdminError::Invalid(e.to_string()), draft).await,
    };
    if form.password != form.password_confirm {
        let e = AdminError::Invalid("the two passwords differ".into());
        return failed(&auth, &state, e, draft).await;
    }
    match state
        .admins()
        .create(&auth.actor(), &form.username, role, form.password)
        .await
    {
        Ok(admin) => Ok(done("created", &admin.username)),
        Err(e) => failed(&auth, &state, e, draft).await,
    }
}

async fn change_role(
    auth: UserManager,
    state: web::Data<AppState>,
    username: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, UiError> {
    let role = match form.role.parse::<Role>() {
        Ok(role) => role,
        Err(e) => return failed(&auth, &state, AdminError::Invalid(e.to_string()), None).await,
    };
    match state.admins().change_role(&auth.actor(), &username, role).await {
        Ok(admin) => Ok(done("role", &admin.username)),
        Err(e) => failed(&auth, &state, e, None).await,
    }
}

async fn set_disabled(
    auth: UserManager,
    state: &AppState,
    username: &str,
    disabled: bool,
) -> Result<HttpResponse, UiError> {
    match state
        .admins()
        .set_disabled(&auth.actor(), username, disabled)
        .await
    {
        Ok(admin) => Ok(done(
            if disabled { "disabled" } else { "enabled" },
            &admin.username,
        )),
        Err(e) => failed(&auth, state, e, None).await,
    }
}

async fn disable(
    auth: UserManager,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    set_disabled(auth, &state, &username, true).await
}

async fn enable(
    auth: UserManager,
    state: web::Data<AppState>,
    username: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    set_disabled(auth, &state, &username, false).await
}

async fn reset_password(
    auth: UserManager,
    state: web::Data<AppState>,
    username: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, UiError> {
    let form = form.into_inner();
    if form.password != form.password_confirm {
        let e = AdminError::Invalid("the two passwords differ".into());
        return failed(&auth, &state, e, None).await;
    }
    match state
        .admins()
        .reset_password(&auth.actor(), &username, form.password)
        .await
    {
        Ok(admin) => Ok(done("password", &admin.username)),
        Err(e) => failed(&auth, &state, e, None).await,
    }
}
