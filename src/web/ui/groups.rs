//! `/groups`: groups and rings (everyone signed in reads), create and edit static and rule
//! groups, add and remove static members, delete, and the ring schedule (group managers).
//! Handlers parse the form, call the policy service and render.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::group_form::{GroupForm, list_of};
use super::policies::policy_error;
use super::policy_form::{FieldProblems, path_segment};
use super::schedule_form::ScheduleForm;
use super::{Authorized, CurrentAdmin, Layout, Section, UiError, can, page, see_other};
use crate::admin::Permission;
use crate::app::AppState;
use crate::policy::Problem;
use crate::policy::service::{GroupSummary, MemberView, PolicyError};
use crate::protocol::ddm::Platform;
use crate::web::csrf::FORM_LIMIT;

type GroupManager = Authorized<can::ManageGroups>;
type FormPairs = web::Form<Vec<(String, String)>>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let form = || web::FormConfig::default().limit(FORM_LIMIT);
    let post = |path: &'static str, handler| web::resource(path).app_data(form()).route(handler);
    cfg.route("/groups", web::get().to(list))
        .service(post("/groups/schedule", web::post().to(save_schedule)))
        .service(post("/groups/count", web::post().to(count_matches)))
        .service(
            web::resource("/groups/new")
                .app_data(form())
                .route(web::get().to(new_form))
                .route(web::post().to(create)),
        )
        .route("/groups/{name}", web::get().to(show))
        .service(post("/groups/{name}/edit", web::post().to(update)))
        .service(post("/groups/{name}/members/add", web::post().to(add_members)))
        .service(post(
            "/groups/{name}/members/remove",
            web::post().to(remove_member),
        ))
        .service(post("/groups/{name}/delete", web::post().to(delete)));
}

pub struct GroupRow {
    pub name: String,
    pub kind: &'static str,
    pub ring: Option<u32>,
    pub members: usize,
    pub description: String,
    pub policies: String,
}

impl From<GroupSummary> for GroupRow {
    fn from(g: GroupSummary) -> GroupRow {
        GroupRow {
            kind: match g.kind.as_str() {
                "rules" => "rule-based",
                _ => "static",
            },
            ring: g.ring_order,
            members: g.devices,
            policies: if g.policies.is_empty() {
                "—".into()
            } else {
                g.policies.join(", ")
            },
            name: g.name,
            description: g.description,
        }
    }
}

#[derive(Template)]
#[template(path = "groups/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<GroupRow>,
    can_edit: bool,
    schedule: ScheduleForm,
    schedule_problems: FieldProblems,
    notice: Option<String>,
    error: Option<String>,
}

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

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
    name: Option<String>,
    kind: Option<String>,
}

/// The ring groups' names, in ring order.
fn ring_names(groups: &[GroupSummary]) -> Vec<String> {
    let mut rings: Vec<&GroupSummary> = groups.iter().filter(|g| g.ring_order.is_some()).collect();
    rings.sort_by_key(|g| g.ring_order);
    rings.into_iter().map(|g| g.name.clone()).collect()
}

/// The list page; `schedule` replaces the stored calendar when a refused form is shown again.
async fn render_list(
    admin: &CurrentAdmin,
    state: &AppState,
    status: StatusCode,
    notice: Option<String>,
    schedule: Option<(ScheduleForm, Vec<Problem>)>,
) -> Result<HttpResponse, UiError> {
    let layout = admin.layout("Groups", Section::Groups);
    let fail = |e| policy_error(e, &layout);
    let groups = state.policies.list_groups().await.map_err(fail)?;
    let (schedule, problems) = match schedule {
        Some((form, problems)) => (form, problems),
        None => {
            let stored = state.policies.ring_schedule().await.map_err(fail)?;
            (
                ScheduleForm::from_schedule(&stored, &ring_names(&groups)),
                Vec::new(),
            )
        }
    };
    Ok(page(
        status,
        &ListPage {
            can_edit: admin.admin.can(Permission::ManageGroups),
            rows: groups.into_iter().map(GroupRow::from).collect(),
            schedule,
            schedule_problems: FieldProblems::new(&problems, ""),
            notice,
            error: None,
            layout,
        },
    ))
}

async fn list(
    admin: CurrentAdmin,
    state: web::Data<AppState>,
    done: web::Query<Done>,
) -> Result<HttpResponse, UiError> {
    let notice = match (done.done.as_deref(), done.name.as_deref()) {
        (Some("deleted"), Some(name)) => Some(format!("Deleted group {name}.")),
        (Some("schedule"), _) => Some("Saved the ring schedule: deadlines are recomputed.".into()),
        _ => None,
    };
    render_list(&admin, &state, StatusCode::OK, notice, None).await
}

async fn save_schedule(
    auth: GroupManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    let layout = auth.layout("Groups", Section::Groups);
    let groups = state
        .policies
        .list_groups()
        .await
        .map_err(|e| policy_error(e, &layout))?;
    let form = ScheduleForm::from_pairs(&form, &ring_names(&groups));
    let schedule = match form.parse() {
        Ok(schedule) => schedule,
        Err(problems) => {
            return render_list(
                &auth,
                &state,
                StatusCode::BAD_REQUEST,
                None,
                Some((form, problems)),
            )
            .await;
        }
    };
    match state.policies.save_ring_schedule(schedule, &auth.actor()).await {
        Ok(()) => Ok(see_other("/groups?done=schedule#schedule")),
        Err(PolicyError::Invalid(problems)) => {
            render_list(
                &auth,
                &state,
                StatusCode::BAD_REQUEST,
                None,
                Some((form, problems)),
            )
            .await
        }
        Err(e) => Err(policy_error(e, &layout)),
    }
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

async fn new_form(auth: GroupManager, done: web::Query<Done>) -> HttpResponse {
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

async fn show(
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
async fn count_matches(
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

async fn create(
    auth: GroupManager,
    state: web::Data<AppState>,
    form: FormPairs,
) -> Result<HttpResponse, UiError> {
    save(auth, state, None, form.into_inner()).await
}

async fn update(
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

async fn add_members(
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

async fn remove_member(
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

async fn delete(
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
