//! Sections of the navigation that are not built yet. Each says so plainly and what it will do;
//! no made-up data. When a section is built, its piece registers its own routes and removes its
//! line from [`SECTIONS`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{CurrentAdmin, Layout, Section, UiError, page};

struct Placeholder {
    path: &'static str,
    section: Section,
    title: &'static str,
    purpose: &'static str,
}

const SECTIONS: &[Placeholder] = &[
    Placeholder {
        path: "/groups",
        section: Section::Groups,
        title: "Groups",
        purpose: "Groups and rings of devices that update policies are assigned to.",
    },
    Placeholder {
        path: "/policies",
        section: Section::Policies,
        title: "Policies",
        purpose: "Managed OS policies: target versions, deadlines, deferrals and update settings.",
    },
];

#[derive(Template)]
#[template(path = "not_built.html")]
struct NotBuiltPage {
    layout: Layout,
    heading: &'static str,
    purpose: &'static str,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for placeholder in SECTIONS {
        cfg.route(placeholder.path, web::get().to(show));
    }
}

async fn show(req: HttpRequest, current: CurrentAdmin) -> Result<HttpResponse, UiError> {
    let Some(placeholder) = SECTIONS.iter().find(|p| p.path == req.path()) else {
        return Err(UiError::not_found(Some(
            current.layout("Not found", Section::None),
        )));
    };
    let layout = current.layout(placeholder.title, placeholder.section);
    Ok(page(
        StatusCode::OK,
        &NotBuiltPage {
            heading: placeholder.title,
            purpose: placeholder.purpose,
            layout,
        },
    ))
}
