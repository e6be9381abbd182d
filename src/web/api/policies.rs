//! `/api/v1/groups` and `/api/v1/policies`: CRUD and preview over the policy service, with the
//! form's validation (its `PolicyError::Invalid` problems are the API's per-field errors).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, FieldProblem};
use crate::app::AppState;
use crate::policy::groups::Group;
use crate::policy::service::Assignments;
use crate::policy::{Policy, PolicyError, Severity};
use crate::web::ui::can;

type Reader = Caller<can::View>;

fn policy_error(e: PolicyError) -> ApiError {
    match e {
        PolicyError::Invalid(problems) => ApiError::Validation(
            problems
                .into_iter()
                .filter(|p| p.severity == Severity::Error)
                .map(|p| FieldProblem {
                    field: p.field,
                    message: p.message,
                })
                .collect(),
        ),
        PolicyError::NotFound { .. } => ApiError::NotFound(e.to_string()),
        other => ApiError::internal(other),
    }
}

pub async fn list_groups(_caller: Reader, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let groups = state.policies.list_groups().await.map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "groups": groups })))
}

pub async fn get_group(
    _caller: Reader,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let group = state
        .policies
        .get_group(&name)
        .await
        .map_err(policy_error)?
        .ok_or_else(|| ApiError::not_found("group with this name"))?;
    Ok(HttpResponse::Ok().json(group))
}

pub async fn create_group(
    caller: Caller<can::ManageGroups>,
    state: web::Data<AppState>,
    body: ApiJson<Group>,
) -> Result<HttpResponse, ApiError> {
    let name = body.0.name.trim().to_string();
    state
        .policies
        .save_group(None, body.0, &caller.actor())
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "name": name })))
}

pub async fn update_group(
    caller: Caller<can::ManageGroups>,
    state: web::Data<AppState>,
    original: web::Path<String>,
    body: ApiJson<Group>,
) -> Result<HttpResponse, ApiError> {
    let name = body.0.name.trim().to_string();
    state
        .policies
        .save_group(Some(&original), body.0, &caller.actor())
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "name": name })))
}

pub async fn delete_group(
    caller: Caller<can::ManageGroups>,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .policies
        .delete_group(&name, &caller.actor())
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

pub async fn change_members(
    caller: Caller<can::ManageGroups>,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: ApiJson<MemberChange>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let added = state
        .policies
        .add_members(&name, &body.0.add, &actor)
        .await
        .map_err(policy_error)?;
    let removed = state
        .policies
        .remove_members(&name, &body.0.remove, &actor)
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "added": added, "removed": removed })))
}

pub async fn list_policies(_caller: Reader, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let policies = state.policies.list_policies().await.map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "policies": policies })))
}

pub async fn get_policy(
    _caller: Reader,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let policy = state
        .policies
        .get_policy(&name)
        .await
        .map_err(policy_error)?
        .ok_or_else(|| ApiError::not_found("policy with this name"))?;
    Ok(HttpResponse::Ok().json(policy))
}

/// A policy with where it applies.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    pub policy: Policy,
    #[serde(default)]
    pub assignments: Assignments,
}

pub async fn create_policy(
    caller: Caller<can::ManagePolicies>,
    state: web::Data<AppState>,
    body: ApiJson<PolicyBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let saved = state
        .policies
        .save_policy(None, body.policy, body.assignments, &caller.actor())
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Created().json(saved))
}

pub async fn update_policy(
    caller: Caller<can::ManagePolicies>,
    state: web::Data<AppState>,
    original: web::Path<String>,
    body: ApiJson<PolicyBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let saved = state
        .policies
        .save_policy(Some(&original), body.policy, body.assignments, &caller.actor())
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(saved))
}

pub async fn delete_policy(
    caller: Caller<can::ManagePolicies>,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .policies
        .delete_policy(&name, &caller.actor())
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// What each assigned device would get; nothing is saved. Readers may preview.
pub async fn preview_policy(
    _caller: Reader,
    state: web::Data<AppState>,
    body: ApiJson<PolicyBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let preview = state
        .policies
        .preview(&body.policy, &body.assignments)
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(preview))
}
