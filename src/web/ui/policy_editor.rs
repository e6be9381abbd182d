//! The policy form's handlers: new, show (read-only for viewers), save (create or edit),
//! preview (nothing saved) and delete. They parse the form, call the policy service and render.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::policies::{Done, FormPairs, PolicyManager, policy_error};
use super::policy_form::{FieldProblems, FormPage, GroupChoice, PolicyForm, PreviewView, path_segment};
use super::policy_preview::{PreviewRow, Timeline};
use super::{CurrentAdmin, Layout, Section, UiError, see_other};
use crate::admin::Permission;
use crate::app::AppState;
use crate::policy::Problem;
use crate::policy::service::{self, Assignments, PolicyError};

/// Most versions offered as suggestions in the form.
const MAX_VERSION_SUGGESTIONS: usize = 300;

/// The form page with its groups and version suggestions filled in.
async fn form_page(
    state: &AppState,
    layout: Layout,
    form: PolicyForm,
    original_name: Option<String>,
    editable: bool,
) -> Result<FormPage, UiError> {
    let groups = state
        .policies
        .list_groups()
        .await
        .map_err(|e| policy_error(e, &layout))?;
    let mut page = FormPage::new(layout, form, original_name, editable);
    page.group_choices = groups
        .into_iter()
        .map(|g| GroupChoice {
            ring: g.ring_order.is_some(),
            members: g.devices,
            name: g.name,
        })
        .collect();
    let snapshot = state.catalog.snapshot();
    let mut versions: Vec<String> = Vec::new();
    for release in snapshot.index.releases() {
        let v = release.version.base().to_string();
        if !versions.contains(&v) {
            versions.push(v);
        }
        if versions.len() >= MAX_VERSION_SUGGESTIONS {
            break;
        }
    }
    page.catalog_versions = versions;
    Ok(page)
}

fn title(original_name: &Option<String>) -> String {
    match original_name {
        Some(name) => format!("Policy {name}"),
        None => "New policy".into(),
    }
}

/// The form shown again as typed, with its problems, answered 400: nothing was saved.
async fn refused(
    auth: &PolicyManager,
    state: &AppState,
    form: PolicyForm,
    original_name: Option<String>,
    problems: &[Problem],
) -> Result<HttpResponse, UiError> {
    let layout = auth.layout(&title(&original_name), Section::Policies);
    let mut page = form_page(state, layout, form, original_name, true).await?;
    page.problems = FieldProblems::new(problems, &page.form.mode);
    Ok(super::page(StatusCode::BAD_REQUEST, &page))
}

pub async fn new_form(auth: PolicyManager, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    let layout = auth.layout("New policy", Section::Policies);
    let page = form_page(&state, layout, PolicyForm::default(), None, true).await?;
    Ok(super::page(StatusCode::OK, &page))
}

pub async fn show(
    admin: CurrentAdmin,
    state: web::Data<AppState>,
    name: web::Path<String>,
    done: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    let name = name.into_inner();
    let layout = admin.layout(&format!("Policy {name}"), Section::Policies);
    let Some(detail) = state
        .policies
        .get_policy(&name)
        .await
        .map_err(|e| policy_error(e, &layout))?
    else {
        return Err(UiError::not_found(Some(layout)));
    };
    let form = PolicyForm::from_policy(
        &detail.policy,
        &detail.assignments.groups,
        &detail.assignments.devices,
    );
    let editable = admin.admin.can(Permission::ManagePolicies);
    let mut page = form_page(&state, layout, form, Some(name), editable).await?;
    page.problems = FieldProblems::new(&detail.notes, &page.form.mode);
    if done.done.as_deref() == Some("saved") {
        page.notice = Some(format!(
            "Saved. Devices it reaches are re-evaluated; last change {}.",
            detail.updated_at
        ));
    }
    Ok(super::page(StatusCode::OK, &page))
}

async fn save(
    auth: PolicyManager,
    state: web::Data<AppState>,
    original_name: Option<String>,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let form = PolicyForm::from_pairs(&pairs);
    let parsed = match form.parse() {
        Ok(parsed) => parsed,
        Err(problems) => return refused(&auth, &state, form, original_name, &problems).await,
    };
    let assignments = Assignments {
        groups: parsed.groups,
        devices: parsed.devices,
    };
    let saved = state
        .policies
        .save_policy(
            original_name.as_deref(),
            parsed.policy,
            assignments,
            &auth.actor(),
        )
        .await;
    match saved {
        Ok(saved) => Ok(see_other(&format!(
            "/policies/{}?done=saved",
            path_segment(&saved.name)
        ))),
        Err(PolicyError::Invalid(problems)) => refused(&auth, &state, form, original_name, &problems).await,
        Err(e) => Err(policy_error(
            e,
            &auth.layout(&title(&original_name), Section::Policies),
        )),
    }
}

pub async fn create(
    auth: PolicyManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    save(auth, state, None, form.into_inner()).await
}

pub async fn update(
    auth: PolicyManager,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    save(auth, state, Some(name.into_inner()), form.into_inner()).await
}

/// A preview row as the page shows it.
fn preview_row(row: service::PreviewRow) -> PreviewRow {
    let plan = row.plan;
    let target = match (plan.decision.as_str(), &plan.target_version) {
        ("enforce", Some(v)) => match &plan.target_build {
            Some(b) => format!("{v} ({b})"),
            None => v.clone(),
        },
        ("no-action", _) => "nothing to install".into(),
        ("unknown", _) => "unknown".into(),
        ("conflict", _) => "conflict".into(),
        _ => "no policy".into(),
    };
    let mut explanation = plan.explanation;
    if let Some(note) = row.note.filter(|n| *n != explanation) {
        explanation = if explanation.is_empty() {
            note
        } else {
            format!("{explanation} ({note})")
        };
    }
    PreviewRow {
        device: row.name.unwrap_or_else(|| row.udid.clone()),
        udid: row.udid,
        platform: row
            .platform
            .map(|p| p.display_name().to_string())
            .unwrap_or_default(),
        target,
        deadline: plan.deadline_local,
        visible_from: plan.visible_from.map(|d| d.and_time(chrono::NaiveTime::MIN)),
        explanation,
    }
}

async fn preview(
    auth: PolicyManager,
    state: web::Data<AppState>,
    original_name: Option<String>,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let form = PolicyForm::from_pairs(&pairs);
    let parsed = match form.parse() {
        Ok(parsed) => parsed,
        Err(problems) => return refused(&auth, &state, form, original_name, &problems).await,
    };
    let assignments = Assignments {
        groups: parsed.groups,
        devices: parsed.devices,
    };
    let layout = auth.layout(&title(&original_name), Section::Policies);
    let preview = match state.policies.preview(&parsed.policy, &assignments).await {
        Ok(p) if !crate::policy::acceptable(&p.problems) => {
            return refused(&auth, &state, form, original_name, &p.problems).await;
        }
        Err(PolicyError::Invalid(problems)) => {
            return refused(&auth, &state, form, original_name, &problems).await;
        }
        Ok(p) => p,
        Err(e) => return Err(policy_error(e, &layout)),
    };
    let now = state.policies.now_local();
    let rows: Vec<PreviewRow> = preview.rows.into_iter().map(preview_row).collect();
    let mut page = form_page(&state, layout, form, original_name, true).await?;
    page.problems = FieldProblems::new(&preview.problems, &page.form.mode);
    page.preview = Some(PreviewView {
        timeline: Timeline::draw(&rows, now),
        empty_reason:
            "The policy reaches no enrolled device of its platforms: assign it to a group or to devices."
                .into(),
        rows,
    });
    Ok(super::page(StatusCode::OK, &page))
}

pub async fn preview_new(
    auth: PolicyManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    preview(auth, state, None, form.into_inner()).await
}

pub async fn preview_existing(
    auth: PolicyManager,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    preview(auth, state, Some(name.into_inner()), form.into_inner()).await
}

pub async fn delete(
    auth: PolicyManager,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let name = name.into_inner();
    state
        .policies
        .delete_policy(&name, &auth.actor())
        .await
        .map_err(|e| policy_error(e, &auth.layout("Policies", Section::Policies)))?;
    Ok(see_other(&format!(
        "/policies?done=deleted&name={}",
        path_segment(&name)
    )))
}
