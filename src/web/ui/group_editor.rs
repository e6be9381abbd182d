//! The group form's handlers: new, show (members, or how many devices the rules match), save,
//! count the devices typed rules match, add and remove static members, delete.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::group_form::{GroupForm, list_of};
use super::groups::{Done, FormPairs, GroupManager};
use super::policies::policy_error;
use super::policy_form::{FieldProblems, path_segment};
use super::{CurrentAdmin, Layout, Section, UiError, page, see_other};
use crate::admin::Permission;
use crate::app::AppState;
use crate::policy::Problem;
use crate::policy::service::{MemberView, PolicyError};
use crate::protocol::ddm::Platform;

#[derive(Template)]
#[template(path = "groups/form.html")]
struct FormPage {
    layout: Layout,
    form: GroupForm,
    problems: FieldProblems,
    original_name: Option<String>,
    action: String,
    editable: bool,
    platform_names: Vec<&'static str>,
    members: Vec<MemberView>,
    member_count: usize,
    /// Set after "Count matching devices".
    rule_count: Option<usize>,
    add_devices: String,
    notice: Option<String>,
    error: Option<String>,
}

fn form_page(layout: Layout, form: GroupForm, original_name: Option<String>, editable: bool) -> FormPage {
    let action = match &original_name {
        Some(name) => format!("/groups/{}/edit", path_segment(name)),
        None => "/groups/new".into(),
    };
    FormPage {
        layout,
        form,
        problems: FieldProblems::default(),
        original_name,
        action,
        editable,
        platform_names: Platform::ALL.iter().map(|p| p.display_name()).collect(),
        members: Vec::new(),
        member_count: 0,
        rule_count: None,
        add_devices: String::new(),
        notice: None,
        error: None,
    }
}

pub async fn new_form(auth: GroupManager, done: web::Query<Done>) -> HttpResponse {
    let form = GroupForm {
        kind: match done.kind.as_deref() {
            Some("rules") => "rules".into(),
            _ => "static".into(),
        },
        ..GroupForm::default()
    };
    let layout = auth.layout("New group", Section::Groups);
    page(StatusCode::OK, &form_page(layout, form, None, true))
}

/// The group page: its form, and its members (or how many devices its rules match).
async fn group_page(
    admin: &CurrentAdmin,
    state: &AppState,
    name: String,
    form: Option<GroupForm>,
    problems: &[Problem],
    add_devices: String,
) -> Result<FormPage, UiError> {
    let layout = admin.layout(&format!("Group {name}"), Section::Groups);
    let Some(detail) = state
        .policies
        .get_group(&name)
        .await
        .map_err(|e| policy_error(e, &layout))?
    else {
        return Err(UiError::not_found(Some(layout)));
    };
    let form = form.unwrap_or_else(|| GroupForm::from_group(&detail.group));
    let mut page = form_page(
        layout,
        form,
        Some(name),
        admin.admin.can(Permission::ManageGroups),
    );
    page.problems = FieldProblems::new(problems, "");
    page.members = detail.static_members;
    page.member_count = detail.devices;
    page.add_devices = add_devices;
    Ok(page)
}

pub async fn show(
    admin: CurrentAdmin,
    state: web::Data<AppState>,
    name: web::Path<String>,
    done: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    let mut p = group_page(&admin, &state, name.into_inner(), None, &[], String::new()).await?;
    p.notice = match done.done.as_deref() {
        Some("saved") => Some("Saved the group: its devices are re-evaluated.".into()),
        Some("members") => Some("Changed the members: those devices are re-evaluated.".into()),
        _ => None,
    };
    Ok(page(StatusCode::OK, &p))
}

/// The form shown again as typed with its problems, answered 400: nothing was saved.
async fn refused(
    auth: &GroupManager,
    state: &AppState,
    original_name: Option<String>,
    form: GroupForm,
    problems: Vec<Problem>,
) -> Result<HttpResponse, UiError> {
    let mut p = match original_name {
        Some(name) => group_page(auth, state, name, Some(form), &problems, String::new()).await?,
        None => {
            let mut p = form_page(auth.layout("New group", Section::Groups), form, None, true);
            p.problems = FieldProblems::new(&problems, "");
            p
        }
    };
    p.error = Some("Nothing was saved: correct what is marked below.".into());
    Ok(page(StatusCode::BAD_REQUEST, &p))
}

async fn save(
    auth: GroupManager,
    state: web::Data<AppState>,
    original_name: Option<String>,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let form = GroupForm::from_pairs(&pairs);
    let group = match form.parse() {
        Ok(group) => group,
        Err(problems) => return refused(&auth, &state, original_name, form, problems).await,
    };
    let name = group.name.clone();
    match state
        .policies
        .save_group(original_name.as_deref(), group, &auth.actor())
        .await
    {
        Ok(()) => Ok(see_other(&format!("/groups/{}?done=saved", path_segment(&name)))),
        Err(PolicyError::Invalid(problems)) => refused(&auth, &state, original_name, form, problems).await,
        Err(e) => Err(policy_error(e, &auth.layout("Groups", Section::Groups))),
    }
}

/// How many enrolled devices the typed rules match now; the form comes back as typed.
pub async fn count_matches(
    auth: GroupManager,
    state: web::Data<AppState>,
    pairs: FormPairs,
) -> Result<HttpResponse, UiError> {
    let original_name = Some(field(&pairs, "original_name")).filter(|n| !n.is_empty());
    let form = GroupForm::from_pairs(&pairs);
    let group = match form.parse() {
        Ok(group) => group,
        Err(problems) => return refused(&auth, &state, original_name, form, problems).await,
    };
    let layout = auth.layout("Groups", Section::Groups);
    let count = state
        .policies
        .rule_match_count(&group.rules)
        .await
        .map_err(|e| policy_error(e, &layout))?;
    let mut p = match original_name {
        Some(name) => group_page(&auth, &state, name, Some(form), &[], String::new()).await?,
        None => form_page(auth.layout("New group", Section::Groups), form, None, true),
    };
    p.rule_count = Some(count);
    Ok(page(StatusCode::OK, &p))
}

pub async fn create(
    auth: GroupManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    save(auth, state, None, form.into_inner()).await
}

pub async fn update(
    auth: GroupManager,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    save(auth, state, Some(name.into_inner()), form.into_inner()).await
}

fn field(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

pub async fn add_members(
    auth: GroupManager,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    let name = name.into_inner();
    let typed = field(&form, "devices");
    let udids = list_of(&typed.replace(char::is_whitespace, "\n"));
    let problems = if udids.is_empty() {
        vec![Problem {
            field: "members".into(),
            severity: crate::policy::Severity::Error,
            message: "enter at least one UDID".into(),
        }]
    } else {
        match state.policies.add_members(&name, &udids, &auth.actor()).await {
            Ok(_) => {
                return Ok(see_other(&format!(
                    "/groups/{}?done=members",
                    path_segment(&name)
                )));
            }
            Err(PolicyError::Invalid(problems)) => problems,
            Err(e) => return Err(policy_error(e, &auth.layout("Groups", Section::Groups))),
        }
    };
    let mut p = group_page(&auth, &state, name, None, &problems, typed).await?;
    p.error = Some("No device was added: correct what is marked below.".into());
    Ok(page(StatusCode::BAD_REQUEST, &p))
}

pub async fn remove_member(
    auth: GroupManager,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    let name = name.into_inner();
    let udid = field(&form, "device");
    state
        .policies
        .remove_members(&name, &[udid], &auth.actor())
        .await
        .map_err(|e| policy_error(e, &auth.layout("Groups", Section::Groups)))?;
    Ok(see_other(&format!(
        "/groups/{}?done=members",
        path_segment(&name)
    )))
}

pub async fn delete(
    auth: GroupManager,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let name = name.into_inner();
    state
        .policies
        .delete_group(&name, &auth.actor())
        .await
        .map_err(|e| policy_error(e, &auth.layout("Groups", Section::Groups)))?;
    Ok(see_other(&format!(
        "/groups?done=deleted&name={}",
        path_segment(&name)
    )))
}
