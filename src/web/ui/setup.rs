//! `/setup?token=...`: the one-time form that creates the first administrator.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::guard::client_info;
use super::{Layout, public_form_page, see_other};
use crate::admin::{AdminError, password};
use crate::app::AppState;
use crate::web::ui::error::{message_of, status_of};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup", web::get().to(show))
        .route("/setup", web::post().to(submit));
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    /// Whether the form is shown (the link is valid and no account exists yet).
    open: bool,
    token: String,
    form_token: String,
    username: String,
    error: Option<String>,
    min_length: usize,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn render(req: &HttpRequest, status: StatusCode, body: SetupPage) -> HttpResponse {
    public_form_page(req, status, |form_token| SetupPage { form_token, ..body })
}

fn blank(token: &str) -> SetupPage {
    SetupPage {
        layout: Layout::public("Create the first administrator"),
        open: true,
        token: token.to_string(),
        form_token: String::new(),
        username: String::new(),
        error: None,
        min_length: password::MIN_LENGTH,
    }
}

fn closed(token: &str, e: &AdminError) -> (StatusCode, SetupPage) {
    let mut body = blank(token);
    body.open = false;
    body.error = Some(message_of(e));
    (status_of(e), body)
}

async fn show(req: HttpRequest, state: web::Data<AppState>, query: web::Query<TokenQuery>) -> HttpResponse {
    match state.admins().check_setup_token(&query.token).await {
        Ok(()) => render(&req, StatusCode::OK, blank(&query.token)),
        Err(e) => {
            let (status, body) = closed(&query.token, &e);
            render(&req, status, body)
        }
    }
}

async fn submit(req: HttpRequest, state: web::Data<AppState>, form: web::Form<SetupForm>) -> HttpResponse {
    let form = form.into_inner();
    let mut body = blank(&form.token);
    body.username = form.username.clone();
    if form.password != form.password_confirm {
        body.error = Some("The two passwords differ.".into());
        return render(&req, StatusCode::BAD_REQUEST, body);
    }
    let client = client_info(&req);
    let result = state
        .admins()
        .complete_setup(
            &form.token,
            &form.username,
            form.password,
            Some(client.remote_addr),
        )
        .await;
    match result {
        Ok(_) => see_other("/login?created=1"),
        Err(e @ (AdminError::Invalid(_) | AdminError::UsernameTaken(_))) => {
            body.error = Some(message_of(&e));
            render(&req, status_of(&e), body)
        }
        Err(e) => {
            let (status, body) = closed(&form.token, &e);
            render(&req, status, body)
        }
    }
}
