//! `/login` and `/logout`. A new session id on every login; logout is a POST with the CSRF token.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::error::{message_of, safe_next, status_of};
use super::guard::client_info;
use super::{CurrentAdmin, Layout, public_form_page, see_other};
use crate::admin::AdminError;
use crate::app::AppState;
use crate::web::csrf::{SESSION_COOKIE, cookie};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(show))
        .route("/login", web::post().to(submit))
        .route("/logout", web::post().to(logout));
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    form_token: String,
    username: String,
    next: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    created: Option<String>,
    signed_out: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

fn render(req: &HttpRequest, status: StatusCode, body: LoginPage) -> HttpResponse {
    public_form_page(req, status, |form_token| LoginPage { form_token, ..body })
}

fn blank(next: &str) -> LoginPage {
    LoginPage {
        layout: Layout::public("Sign in"),
        form_token: String::new(),
        username: String::new(),
        next: safe_next(next).unwrap_or("/").to_string(),
        notice: None,
        error: None,
    }
}

async fn show(req: HttpRequest, query: web::Query<LoginQuery>) -> HttpResponse {
    let mut body = blank(query.next.as_deref().unwrap_or("/"));
    if query.created.is_some() {
        body.notice = Some("The administrator account was created. Sign in with it.");
    } else if query.signed_out.is_some() {
        body.notice = Some("You are signed out.");
    }
    render(&req, StatusCode::OK, body)
}

async fn submit(req: HttpRequest, state: web::Data<AppState>, form: web::Form<LoginForm>) -> HttpResponse {
    let form = form.into_inner();
    let client = client_info(&req);
    match state
        .admins()
        .login(&form.username, &form.password, &client)
        .await
    {
        Ok(session) => {
            let target = safe_next(&form.next).unwrap_or("/");
            let mut response = see_other(target);
            let _ = response.add_cookie(&cookie(SESSION_COOKIE, session.id));
            response
        }
        Err(e) => {
            let mut body = blank(&form.next);
            body.username = form.username;
            body.error = Some(match e {
                AdminError::BadCredentials => "Wrong username or password.".to_string(),
                ref other => message_of(other),
            });
            let mut response = render(&req, status_of(&e), body);
            if let AdminError::RateLimited { retry_after_secs } = e
                && let Ok(value) = retry_after_secs.to_string().parse()
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

async fn logout(current: Option<CurrentAdmin>, state: web::Data<AppState>) -> HttpResponse {
    if let Some(current) = current
        && let Err(e) = state.admins().logout(&current.session_id, &current.actor()).await
    {
        tracing::error!(error = %e, "logout failed");
    }
    let mut gone = cookie(SESSION_COOKIE, String::new());
    gone.set_max_age(CookieDuration::ZERO);
    let mut response = see_other("/login?signed_out=1");
    let _ = response.add_cookie(&gone);
    response
}
