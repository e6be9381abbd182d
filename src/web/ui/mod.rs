//! The admin UI: server-rendered askama pages in one layout.
//!
//! A page handler takes a guard ([`CurrentAdmin`] for any signed-in account, or
//! [`Authorized<can::X>`](Authorized) for a permission), builds its template with
//! `admin.layout(title, Section::X)` as the `layout` field, and returns [`page`]. Its template
//! extends `base.html` and fills `{% block content %}`. Forms carry
//! `<input type="hidden" name="csrf_token" value="{{ layout.csrf_token() }}">`.

pub mod api_access;
pub mod audit;
pub mod cache;
pub mod cache_limits;
pub mod cache_policy_targets;
pub mod catalog;
pub mod catalog_import;
pub mod content_caching;
pub mod content_caching_form;
pub mod dashboard;
pub mod dashboard_figures;
pub mod device_list;
pub mod device_plan;
pub mod devices;
pub mod enrollment;
pub mod error;
pub mod group_editor;
pub mod group_form;
pub mod groups;
pub mod guard;
pub mod login;
pub mod policies;
pub mod policy_editor;
pub mod policy_form;
pub mod policy_preview;
pub mod schedule_form;
pub mod settings;
pub mod setup;
pub mod upload;
pub mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::admin::{Actor, Permission, Role};
use crate::app::AppState;

pub use error::UiError;
pub use guard::{Authorized, CurrentAdmin, can};

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Devices,
    Groups,
    Policies,
    Catalog,
    Cache,
    Enrollment,
    Settings,
    Audit,
    /// Pages outside the navigation (sign in, setup, errors).
    None,
}

pub struct NavItem {
    pub section: Section,
    pub label: &'static str,
    pub href: &'static str,
}

/// The navigation of the product, in order.
pub const NAV: &[NavItem] = &[
    NavItem {
        section: Section::Dashboard,
        label: "Dashboard",
        href: "/",
    },
    NavItem {
        section: Section::Devices,
        label: "Devices",
        href: "/devices",
    },
    NavItem {
        section: Section::Groups,
        label: "Groups",
        href: "/groups",
    },
    NavItem {
        section: Section::Policies,
        label: "Policies",
        href: "/policies",
    },
    NavItem {
        section: Section::Catalog,
        label: "Catalog",
        href: "/catalog",
    },
    NavItem {
        section: Section::Cache,
        label: "Cache",
        href: "/caches",
    },
    NavItem {
        section: Section::Enrollment,
        label: "Enrollment",
        href: "/enrollment",
    },
    NavItem {
        section: Section::Settings,
        label: "Settings",
        href: "/settings",
    },
    NavItem {
        section: Section::Audit,
        label: "Audit",
        href: "/audit",
    },
];

/// The signed-in account as the layout shows it.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub username: String,
    pub role: Role,
    pub csrf_token: String,
}

/// What every page passes to `base.html`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub section: Section,
    pub viewer: Option<Viewer>,
    pub css_url: String,
    pub icon_url: String,
    /// Set on pages rendered for a signed-in request; error pages show it.
    pub request_id: Option<String>,
}

impl Layout {
    /// A page for someone not signed in (no navigation).
    pub fn public(title: &str) -> Layout {
        Layout {
            title: title.to_string(),
            section: Section::None,
            viewer: None,
            css_url: super::assets::url("app.css"),
            icon_url: super::assets::url("favicon.svg"),
            request_id: None,
        }
    }

    pub fn nav(&self) -> &'static [NavItem] {
        NAV
    }

    pub fn is_current(&self, item: &NavItem) -> bool {
        item.section == self.section
    }

    /// The CSRF token for forms on this page ("" when not signed in: such pages bring their own).
    pub fn csrf_token(&self) -> &str {
        self.viewer.as_ref().map(|v| v.csrf_token.as_str()).unwrap_or("")
    }

    /// Whether the signed-in account may do `permission` (templates hide what it may not do).
    pub fn can(&self, permission: &Permission) -> bool {
        self.viewer.as_ref().is_some_and(|v| v.role.can(*permission))
    }
}

/// Renders a form page for someone not signed in (login, first-admin setup): `body` receives the
/// double-submit CSRF token for its hidden field, and the matching cookie is set when new.
pub fn public_form_page<T: Template>(
    req: &actix_web::HttpRequest,
    status: StatusCode,
    body: impl FnOnce(String) -> T,
) -> HttpResponse {
    let (token, cookie) = crate::web::csrf::form_token(req);
    let mut response = page(status, &body(token));
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// Renders a page with `status`. Pages are never cached: they show live, per-account data.
/// How the UI shows an instant: to the minute, in UTC.
pub fn utc_minute(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("the page could not be rendered\n")
        }
    }
}

/// A 303 to `location` (after a form: the browser then GETs the result page).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Records an audit entry for an action whose own change was stored by a service that keeps
/// no audit (catalog refresh and import, push certificate import). A failure is logged: the
/// action itself has already happened.
pub async fn audit_event(
    state: &AppState,
    actor: &Actor,
    action: &'static str,
    target: &'static str,
    after: Option<serde_json::Value>,
) {
    let (actor, now) = (actor.clone(), state.clock.now());
    let written = state
        .store
        .write(move |c| crate::admin::audit::record(c, &actor, now, action, target, None, after))
        .await;
    if let Err(e) = written {
        tracing::error!(error = %e, action, "cannot write the audit entry");
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    setup::configure(cfg);
    login::configure(cfg);
    dashboard::configure(cfg);
    users::configure(cfg);
    devices::configure(cfg);
    audit::configure(cfg);
    catalog::configure(cfg);
    cache::configure(cfg);
    cache_limits::configure(cfg);
    content_caching::configure(cfg);
    enrollment::configure(cfg);
    settings::configure(cfg);
    policies::configure(cfg);
    groups::configure(cfg);
    api_access::configure(cfg);
}
