//! `/policies`: the list (everyone signed in) and "Load default policies and groups" (policy
//! managers); the routes of the policy form, whose handlers are in [`super::policy_editor`].
//! Handlers parse, call [`PolicyService`](crate::policy::service::PolicyService) and render; the
//! rules live there.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::policy_editor;
use super::{Authorized, CurrentAdmin, Layout, Section, UiError, can, page};
use crate::admin::Permission;
use crate::app::AppState;
use crate::policy::service::{PolicyError, PolicySummary};
use crate::web::csrf::FORM_LIMIT;

pub type PolicyManager = Authorized<can::ManagePolicies>;
pub type FormPairs = web::Form<Vec<(String, String)>>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let form = || web::FormConfig::default().limit(FORM_LIMIT);
    cfg.route("/policies", web::get().to(list))
        .service(
            web::resource("/policies/defaults")
                .app_data(form())
                .route(web::post().to(load_defaults)),
        )
        .service(
            web::resource("/policies/new")
                .app_data(form())
                .route(web::get().to(policy_editor::new_form))
                .route(web::post().to(policy_editor::create)),
        )
        .service(
            web::resource("/policies/preview")
                .app_data(form())
                .route(web::post().to(policy_editor::preview_new)),
        )
        .route("/policies/{name}", web::get().to(policy_editor::show))
        .service(
            web::resource("/policies/{name}/edit")
                .app_data(form())
                .route(web::post().to(policy_editor::update)),
        )
        .service(
            web::resource("/policies/{name}/preview")
                .app_data(form())
                .route(web::post().to(policy_editor::preview_existing)),
        )
        .service(
            web::resource("/policies/{name}/delete")
                .app_data(form())
                .route(web::post().to(policy_editor::delete)),
        );
}

/// A service error as a page: unknown names are 404, bad input 400, the rest 500 (logged).
pub fn policy_error(e: PolicyError, layout: &Layout) -> UiError {
    let (status, message) = match &e {
        PolicyError::NotFound { .. } => (StatusCode::NOT_FOUND, e.to_string()),
        PolicyError::Invalid(_) => (StatusCode::BAD_REQUEST, e.to_string()),
        _ => {
            tracing::error!(error = %e, "policy service failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                super::error::INTERNAL_MESSAGE.into(),
            )
        }
    };
    UiError::Status {
        status,
        message,
        layout: Some(Box::new(layout.clone())),
    }
}

pub struct ListRow {
    pub name: String,
    pub label: String,
    pub mode: &'static str,
    pub platforms: String,
    pub priority: i32,
    pub groups: Vec<(String, usize)>,
    pub direct_devices: usize,
    pub device_count: usize,
    /// Devices where it is the policy that decides (a higher priority may win elsewhere).
    pub effective: usize,
    pub conflicts: Vec<String>,
    pub no_device: bool,
}

impl From<PolicySummary> for ListRow {
    fn from(p: PolicySummary) -> ListRow {
        ListRow {
            label: if p.label.is_empty() {
                p.name.clone()
            } else {
                p.label
            },
            name: p.name,
            mode: p.mode,
            platforms: platforms_text(&p.platforms),
            priority: p.priority,
            groups: p
                .groups
                .into_iter()
                .map(|g| (g.name, g.covered_devices))
                .collect(),
            direct_devices: p.devices.len(),
            device_count: p.covered_devices,
            effective: p.effective_devices,
            conflicts: p.conflicts,
            no_device: p.takes_effect_on_no_device,
        }
    }
}

fn platforms_text(platforms: &[crate::protocol::ddm::Platform]) -> String {
    platforms
        .iter()
        .map(|p| p.display_name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Template)]
#[template(path = "policies/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ListRow>,
    can_edit: bool,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    pub done: Option<String>,
    pub name: Option<String>,
}

async fn render_list(
    admin: &CurrentAdmin,
    state: &AppState,
    notice: Option<String>,
) -> Result<HttpResponse, UiError> {
    let layout = admin.layout("Policies", Section::Policies);
    let rows = state
        .policies
        .list_policies()
        .await
        .map_err(|e| policy_error(e, &layout))?;
    Ok(page(
        StatusCode::OK,
        &ListPage {
            rows: rows.into_iter().map(ListRow::from).collect(),
            can_edit: admin.admin.can(Permission::ManagePolicies),
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
        (Some("deleted"), Some(name)) => Some(format!("Deleted policy {name}.")),
        _ => None,
    };
    render_list(&admin, &state, notice).await
}

async fn load_defaults(auth: PolicyManager, state: web::Data<AppState>) -> Result<HttpResponse, UiError> {
    let layout = auth.layout("Policies", Section::Policies);
    let outcome = state
        .policies
        .load_default_rings(&auth.actor())
        .await
        .map_err(|e| policy_error(e, &layout))?;
    let notice = if outcome.created.is_empty() {
        "The default policies and groups already existed: nothing was created.".to_string()
    } else if outcome.already_present.is_empty() {
        format!("Created {}.", outcome.created.join(", "))
    } else {
        format!(
            "Created {}; {} already existed.",
            outcome.created.join(", "),
            outcome.already_present.join(", ")
        )
    };
    render_list(&auth, &state, Some(notice)).await
}
