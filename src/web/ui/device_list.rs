//! `/devices`: the fleet list with filters (compliance state, enrollment, platform, model, OS
//! version, overdue days, stale, group, ring), search by name, serial or UDID, sorting and paging that stay
//! fast at 100,000 devices; `/devices/export.csv` exports the filtered view.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{CurrentAdmin, Layout, Section, UiError, page};
use crate::app::AppState;
use crate::compliance::ComplianceState;
use crate::device_list::ListPage;
use crate::store::StoreError;
use crate::store::device_list::{DeviceRow, SortKey};
use crate::web::device_filter::{self, DeviceListParams};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::get().to(list))
        .route("/devices/export.csv", web::get().to(export));
}

/// A column header that sorts.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `▲` / `▼` on the current sort.
    pub mark: &'static str,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    layout: Layout,
    devices: Vec<DeviceRow>,
    params: DeviceListParams,
    problems: Vec<String>,
    total: usize,
    page: usize,
    pages: usize,
    first_shown: usize,
    last_shown: usize,
    states: Vec<(&'static str, &'static str)>,
    platforms: [&'static str; 5],
    /// (id, name) of every group, for the group filter.
    groups: Vec<(String, String)>,
    /// (id, name) of every ring, in ring order.
    rings: Vec<(String, String)>,
    sort_links: Vec<SortLink>,
    filtered: bool,
}

impl DevicesPage {
    fn page_link(&self, page: usize) -> String {
        format!("/devices?{}", self.params.with_page(page).query_string())
    }

    fn export_link(&self) -> String {
        let params = DeviceListParams {
            page: String::new(),
            per_page: String::new(),
            ..self.params.clone()
        };
        format!("/devices/export.csv?{}", params.query_string())
    }
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("—")
}

fn state_label(value: &Option<String>) -> &'static str {
    value
        .as_deref()
        .and_then(ComplianceState::parse)
        .map(ComplianceState::label)
        .unwrap_or("not assessed")
}

fn sort_links(params: &DeviceListParams, current: SortKey, descending: bool) -> Vec<SortLink> {
    [
        ("Name", SortKey::Name),
        ("Model", SortKey::Model),
        ("OS", SortKey::OsVersion),
        ("Serial", SortKey::Serial),
        ("Compliance", SortKey::Compliance),
        ("Last seen", SortKey::LastSeen),
    ]
    .into_iter()
    .map(|(label, key)| {
        let flip = key == current && !descending;
        let next = DeviceListParams {
            sort: key.as_str().to_string(),
            order: if flip { "desc".into() } else { "asc".into() },
            page: String::new(),
            ..params.clone()
        };
        SortLink {
            label,
            href: format!("/devices?{}", next.query_string()),
            mark: match (key == current, descending) {
                (false, _) => "",
                (true, false) => " ▲",
                (true, true) => " ▼",
            },
        }
    })
    .collect()
}

async fn list(
    admin: CurrentAdmin,
    state: web::Data<AppState>,
    params: web::Query<DeviceListParams>,
) -> Result<HttpResponse, UiError> {
    let layout = admin.layout("Devices", Section::Devices);
    let params = params.into_inner();
    let service = state.device_list();
    let checked = device_filter::checked_view(&service, &params, state.clock.now())
        .await
        .map_err(|e| UiError::internal(e, "devices list", &layout))?;
    let (view, problems) = match checked {
        Ok(view) => (view, Vec::new()),
        Err(problems) => (
            DeviceListParams::default()
                .view(state.clock.now())
                .map_err(|_| UiError::not_found(Some(layout.clone())))?,
            problems
                .into_iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect(),
        ),
    };
    let (offset, per_page, page_number) = (view.offset(), view.per_page, view.page);
    let (sort, descending) = (view.sort, view.descending);
    let filtered = view.filter != Default::default();
    let read = async { Ok::<_, StoreError>((service.page(&view).await?, service.group_choices().await?)) };
    let (ListPage { rows, total }, groups) = read
        .await
        .map_err(|e| UiError::internal(e, "devices list", &layout))?;
    let shown = rows.len();
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(page(
        status,
        &DevicesPage {
            sort_links: sort_links(&params, sort, descending),
            layout,
            devices: rows,
            params,
            problems,
            total,
            page: page_number,
            pages: total.div_ceil(per_page).max(1),
            first_shown: if shown == 0 { 0 } else { offset + 1 },
            last_shown: offset + shown,
            states: ComplianceState::ALL
                .iter()
                .map(|s| (s.as_str(), s.label()))
                .collect(),
            platforms: ["iOS", "iPadOS", "macOS", "tvOS", "visionOS"],
            rings: groups
                .iter()
                .filter(|g| g.ring_order.is_some())
                .map(|g| (g.id.to_string(), g.name.clone()))
                .collect(),
            groups: groups.into_iter().map(|g| (g.id.to_string(), g.name)).collect(),
            filtered,
        },
    ))
}

async fn export(
    admin: CurrentAdmin,
    state: web::Data<AppState>,
    params: web::Query<DeviceListParams>,
) -> Result<HttpResponse, UiError> {
    let layout = admin.layout("Devices", Section::Devices);
    crate::web::api::devices::csv_response(&state, &params)
        .await
        .map_err(|e| UiError::Status {
            status: actix_web::ResponseError::status_code(&e),
            message: e.to_string(),
            layout: Some(Box::new(layout)),
        })
}
