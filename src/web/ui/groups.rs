//! `/groups`: the list of groups and rings (everyone signed in reads) and the ring schedule
//! (group managers); the routes of the group form, whose handlers are in
//! [`super::group_editor`]. Handlers parse the form, call the policy service and render.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::group_editor;
use super::policies::policy_error;
use super::policy_form::FieldProblems;
use super::schedule_form::ScheduleForm;
use super::{Authorized, CurrentAdmin, Layout, Section, UiError, can, page, see_other};
use crate::admin::Permission;
use crate::app::AppState;
use crate::policy::Problem;
use crate::policy::service::{GroupSummary, PolicyError};
use crate::web::csrf::FORM_LIMIT;

pub type GroupManager = Authorized<can::ManageGroups>;
pub type FormPairs = web::Form<Vec<(String, String)>>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let form = || web::FormConfig::default().limit(FORM_LIMIT);
    let post = |path: &'static str, handler| web::resource(path).app_data(form()).route(handler);
    cfg.route("/groups", web::get().to(list))
        .service(post("/groups/schedule", web::post().to(save_schedule)))
        .service(post("/groups/count", web::post().to(group_editor::count_matches)))
        .service(
            web::resource("/groups/new")
                .app_data(form())
                .route(web::get().to(group_editor::new_form))
                .route(web::post().to(group_editor::create)),
        )
        .route("/groups/{name}", web::get().to(group_editor::show))
        .service(post("/groups/{name}/edit", web::post().to(group_editor::update)))
        .service(post(
            "/groups/{name}/members/add",
            web::post().to(group_editor::add_members),
        ))
        .service(post(
            "/groups/{name}/members/remove",
            web::post().to(group_editor::remove_member),
        ))
        .service(post(
            "/groups/{name}/delete",
            web::post().to(group_editor::delete),
        ));
}

pub struct GroupRow {
    pub id: i64,
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
            id: g.id,
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

#[derive(Deserialize)]
pub struct Done {
    pub done: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
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
