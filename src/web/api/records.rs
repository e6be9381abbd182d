//! `/api/v1/audit` (the audit log, newest first, paged) and `/api/v1/enrollment/tokens`
//! (list, create and revoke, with the same rules as the enrollment page's form).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, FieldProblem};
use crate::app::AppState;
use crate::enrollment::{EnrollmentError, NewTokenRequest, TokenInfo, TokenRefusal, TokenState};
use crate::web::enroll::public_url;
use crate::web::ui::can;
use crate::web::ui::enrollment::{parse_days, parse_max_uses};

#[derive(Deserialize)]
pub struct AuditQuery {
    /// Entries older than this id (the previous page's `older`).
    before: Option<i64>,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct AuditEntry {
    id: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    remote_addr: Option<String>,
}

fn json_text(text: Option<String>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

pub async fn audit(
    _caller: Caller<can::View>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .admins()
        .audit_page(query.before, query.limit.unwrap_or(100))
        .await?;
    let entries: Vec<AuditEntry> = page
        .entries
        .into_iter()
        .map(|e| AuditEntry {
            id: e.id,
            at: e.at.to_rfc3339(),
            actor: e.actor,
            action: e.action,
            target: e.target,
            before: json_text(e.before),
            after: json_text(e.after),
            remote_addr: e.remote_addr,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "entries": entries, "older": page.older, "total": page.total
    })))
}

#[derive(Serialize)]
struct EnrollmentToken {
    id: i64,
    label: String,
    created_at: String,
    expires_at: Option<String>,
    max_uses: Option<i64>,
    uses: i64,
    /// `active`, `expired`, `revoked`, `used_up`.
    state: &'static str,
}

fn token_json(t: &TokenInfo) -> EnrollmentToken {
    EnrollmentToken {
        id: t.id,
        label: t.label.clone(),
        created_at: t.created_at.to_rfc3339(),
        expires_at: t.expires_at.map(|e| e.to_rfc3339()),
        max_uses: t.max_uses,
        uses: t.uses,
        state: match t.state {
            TokenState::Active => "active",
            TokenState::Refused(TokenRefusal::Expired) => "expired",
            TokenState::Refused(TokenRefusal::Revoked) => "revoked",
            TokenState::Refused(TokenRefusal::UsedUp) => "used_up",
            TokenState::Refused(TokenRefusal::Unknown) => "unknown",
        },
    }
}

fn enrollment_error(e: EnrollmentError) -> ApiError {
    match e {
        EnrollmentError::Invalid(m) if m.starts_with("no enrollment token") => ApiError::NotFound(m),
        EnrollmentError::Invalid(m) => ApiError::Validation(vec![FieldProblem::new("label", m)]),
        other => ApiError::internal(other),
    }
}

pub async fn enrollment_tokens(
    _caller: Caller<can::View>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let enrollment = state.enrollment.clone();
    let tokens = web::block(move || enrollment.tokens().list_tokens())
        .await
        .map_err(ApiError::internal)?
        .map_err(enrollment_error)?;
    let tokens: Vec<EnrollmentToken> = tokens.iter().map(token_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tokens": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollmentToken {
    pub label: String,
    /// Days of validity (1 to 3650); absent or null: no expiry.
    #[serde(default)]
    pub days: Option<serde_json::Value>,
    /// Devices that may enroll with it; absent or null: no limit.
    #[serde(default)]
    pub max_uses: Option<serde_json::Value>,
}

/// A number or a string as the form's text field would hold it.
fn as_form_text(value: &Option<serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub async fn create_enrollment_token(
    caller: Caller<can::ManageEnrollment>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<NewEnrollmentToken>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut problems = Vec::new();
    let valid_for = parse_days(&as_form_text(&body.days))
        .map_err(|m| problems.push(FieldProblem::new("days", m)))
        .ok()
        .flatten();
    let max_uses = parse_max_uses(&as_form_text(&body.max_uses))
        .map_err(|m| problems.push(FieldProblem::new("max_uses", m)))
        .ok()
        .flatten();
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let request = NewTokenRequest {
        label: body.label,
        valid_for,
        max_uses,
    };
    let (enrollment, actor) = (state.enrollment.clone(), caller.actor());
    let (info, secret) = web::block(move || enrollment.tokens().create_token_as(&actor, request))
        .await
        .map_err(ApiError::internal)?
        .map_err(enrollment_error)?;
    let encoded = percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC);
    let link = format!("{}/enroll?token={encoded}", public_url(&state, &req));
    Ok(HttpResponse::Created().json(serde_json::json!({
        "token": token_json(&info), "secret": secret, "link": link
    })))
}

pub async fn revoke_enrollment_token(
    caller: Caller<can::ManageEnrollment>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (enrollment, actor, id) = (state.enrollment.clone(), caller.actor(), id.into_inner());
    let info = web::block(move || enrollment.tokens().revoke_token_as(&actor, id))
        .await
        .map_err(ApiError::internal)?
        .map_err(enrollment_error)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "token": token_json(&info) })))
}
