//! `/enrollment`: the enrollment page's link and QR code, and enrollment tokens (list; create
//! and revoke for accounts that may manage enrollment). A new token's secret, link and QR code
//! are shown once, on the answer to the form: only the secret's hash is kept.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Duration;
use serde::Deserialize;

use super::{Authorized, CurrentAdmin, Layout, Section, UiError, can, page, see_other};
use crate::app::AppState;
use crate::enrollment::{EnrollmentError, NewTokenRequest, TokenInfo, TokenState};
use crate::web::enroll::public_url;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/enrollment", web::get().to(show))
        .route("/enrollment/tokens", web::post().to(create))
        .route("/enrollment/tokens/{id}/revoke", web::post().to(revoke));
}

type EnrollmentManager = Authorized<can::ManageEnrollment>;

/// Longest validity a token may be given.
const MAX_DAYS: i64 = 3650;

pub struct TokenRow {
    pub id: i64,
    pub label: String,
    pub uses: String,
    pub created: String,
    pub expires: String,
    pub state: String,
    pub active: bool,
}

fn token_row(t: &TokenInfo) -> TokenRow {
    TokenRow {
        id: t.id,
        label: t.label.clone(),
        uses: match t.max_uses {
            Some(max) => format!("{} of {max}", t.uses),
            None => format!("{} (no limit)", t.uses),
        },
        created: super::utc_minute(t.created_at),
        expires: t
            .expires_at
            .map(super::utc_minute)
            .unwrap_or_else(|| "never".into()),
        state: match t.state {
            TokenState::Active => "active".into(),
            TokenState::Refused(why) => match why {
                crate::enrollment::TokenRefusal::Expired => "expired".into(),
                crate::enrollment::TokenRefusal::Revoked => "revoked".into(),
                crate::enrollment::TokenRefusal::UsedUp => "used up".into(),
                crate::enrollment::TokenRefusal::Unknown => "unknown".into(),
            },
        },
        active: t.state == TokenState::Active,
    }
}

/// A token just created: shown once.
pub struct NewToken {
    pub label: String,
    pub secret: String,
    pub link: String,
    pub qr_svg: String,
}

/// What the create form held, to show it again after a refusal.
#[derive(Default)]
pub struct Draft {
    pub label: String,
    pub days: String,
    pub max_uses: String,
}

#[derive(Template)]
#[template(path = "enrollment.html")]
struct EnrollmentPage {
    layout: Layout,
    notice: Option<String>,
    error: Option<String>,
    enroll_url: String,
    profile_url: String,
    qr_svg: String,
    require_token: bool,
    push_missing: bool,
    tokens: Vec<TokenRow>,
    created: Option<NewToken>,
    can_manage: bool,
    draft: Draft,
}

#[derive(Deserialize)]
pub struct Done {
    revoked: Option<String>,
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    max_uses: String,
}

/// An SVG QR code of `text`.
pub fn qr_svg(text: &str) -> Result<String, String> {
    Ok(qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| e.to_string())?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

struct Outcome {
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    created: Option<NewToken>,
    draft: Draft,
}

impl Outcome {
    fn ok() -> Outcome {
        Outcome {
            status: StatusCode::OK,
            notice: None,
            error: None,
            created: None,
            draft: Draft::default(),
        }
    }
}

async fn render(
    current: &CurrentAdmin,
    state: &AppState,
    req: &HttpRequest,
    outcome: Outcome,
) -> Result<HttpResponse, UiError> {
    let layout = current.layout("Enrollment", Section::Enrollment);
    let enrollment = state.enrollment.clone();
    let tokens = web::block(move || enrollment.tokens().list_tokens())
        .await
        .map_err(|e| UiError::internal(e, "enrollment", &layout))?
        .map_err(|e| UiError::internal(e, "enrollment", &layout))?;
    let push_missing = crate::push::import::current(&state.store)
        .await
        .map_err(|e| UiError::internal(e, "enrollment", &layout))?
        .is_none();
    let base = public_url(state, req);
    let enroll_url = format!("{base}/enroll");
    let qr_svg = qr_svg(&enroll_url).map_err(|e| UiError::internal(e, "enrollment", &layout))?;
    Ok(page(
        outcome.status,
        &EnrollmentPage {
            notice: outcome.notice,
            error: outcome.error,
            profile_url: format!("{base}/enroll/profile"),
            enroll_url,
            qr_svg,
            require_token: state.config.enrollment.require_token,
            push_missing,
            tokens: tokens.iter().rev().map(token_row).collect(),
            created: outcome.created,
            can_manage: current.admin.can(crate::admin::Permission::ManageEnrollment),
            draft: outcome.draft,
            layout,
        },
    ))
}

async fn show(
    current: CurrentAdmin,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    let mut outcome = Outcome::ok();
    outcome.notice = query
        .revoked
        .as_ref()
        .map(|label| format!("Revoked the token “{label}”: it can no longer enroll devices."));
    render(&current, &state, &req, outcome).await
}

/// The validity field: empty for no expiry, else 1 to [`MAX_DAYS`] whole days. The API uses
/// the same rule, so both say the same thing.
pub fn parse_days(text: &str) -> Result<Option<Duration>, String> {
    match text.trim() {
        "" => Ok(None),
        text => {
            let days: i64 = text
                .parse()
                .map_err(|_| format!("the validity “{text}” is not a whole number of days"))?;
            if !(1..=MAX_DAYS).contains(&days) {
                return Err(format!(
                    "the validity must be between 1 and {MAX_DAYS} days (or empty for no expiry)"
                ));
            }
            Ok(Some(Duration::days(days)))
        }
    }
}

/// The maximum-uses field: empty for no limit, else a whole number of at least 1.
pub fn parse_max_uses(text: &str) -> Result<Option<u32>, String> {
    match text.trim() {
        "" => Ok(None),
        text => {
            let uses: i64 = text
                .parse()
                .map_err(|_| format!("the maximum number of uses “{text}” is not a whole number"))?;
            if uses < 1 || uses > u32::MAX as i64 {
                return Err("the maximum number of uses must be at least 1 (or empty for no limit)".into());
            }
            Ok(Some(uses as u32))
        }
    }
}

/// Reads the form: days and uses are optional whole numbers (empty: no expiry, no limit).
fn request(form: &CreateForm) -> Result<NewTokenRequest, String> {
    Ok(NewTokenRequest {
        label: form.label.clone(),
        valid_for: parse_days(&form.days)?,
        max_uses: parse_max_uses(&form.max_uses)?,
    })
}

fn message_of(e: &EnrollmentError) -> (StatusCode, String) {
    match e {
        EnrollmentError::Invalid(m) => (StatusCode::BAD_REQUEST, m.clone()),
        other => {
            tracing::error!(error = %other, "enrollment token change failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                super::error::INTERNAL_MESSAGE.into(),
            )
        }
    }
}

async fn create(
    auth: EnrollmentManager,
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, UiError> {
    let form = form.into_inner();
    let draft = Draft {
        label: form.label.clone(),
        days: form.days.clone(),
        max_uses: form.max_uses.clone(),
    };
    let refused = |status, message| Outcome {
        status,
        notice: None,
        error: Some(format!("The token was not created: {message}.")),
        created: None,
        draft,
    };
    let new = match request(&form) {
        Ok(new) => new,
        Err(message) => {
            return render(&auth, &state, &req, refused(StatusCode::BAD_REQUEST, message)).await;
        }
    };
    let enrollment = state.enrollment.clone();
    let actor = auth.actor();
    let layout = auth.layout("Enrollment", Section::Enrollment);
    let result = web::block(move || enrollment.tokens().create_token_as(&actor, new))
        .await
        .map_err(|e| UiError::internal(e, "enrollment", &layout))?;
    match result {
        Ok((info, secret)) => {
            let encoded = percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC);
            let link = format!("{}/enroll?token={encoded}", public_url(&state, &req));
            let qr_svg = qr_svg(&link).map_err(|e| UiError::internal(e, "enrollment", &layout))?;
            let outcome = Outcome {
                status: StatusCode::CREATED,
                notice: Some(format!(
                    "Created the token “{}”. Copy its link now: the secret is not shown again.",
                    info.label
                )),
                error: None,
                created: Some(NewToken {
                    label: info.label,
                    secret,
                    link,
                    qr_svg,
                }),
                draft: Draft::default(),
            };
            render(&auth, &state, &req, outcome).await
        }
        Err(e) => {
            let (status, message) = message_of(&e);
            render(&auth, &state, &req, refused(status, message)).await
        }
    }
}

async fn revoke(
    auth: EnrollmentManager,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(UiError::not_found(Some(auth.layout("Not found", Section::None))));
    };
    let enrollment = state.enrollment.clone();
    let actor = auth.actor();
    let layout = auth.layout("Enrollment", Section::Enrollment);
    let result = web::block(move || enrollment.tokens().revoke_token_as(&actor, id))
        .await
        .map_err(|e| UiError::internal(e, "enrollment", &layout))?;
    match result {
        Ok(info) => {
            let query = serde_urlencoded::to_string([("revoked", info.label.as_str())]).unwrap_or_default();
            Ok(see_other(&format!("/enrollment?{query}")))
        }
        Err(e) => {
            let (status, message) = message_of(&e);
            let status = if status == StatusCode::BAD_REQUEST {
                StatusCode::NOT_FOUND
            } else {
                status
            };
            let mut outcome = Outcome::ok();
            outcome.status = status;
            outcome.error = Some(message);
            render(&auth, &state, &req, outcome).await
        }
    }
}
