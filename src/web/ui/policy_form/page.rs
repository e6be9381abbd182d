//! The policy form page (`templates/policies/form.html`): the form, its problems, the groups it
//! may be assigned to, the catalog's versions as suggestions, and the preview when one was asked.

use askama::Template;

use super::{FieldProblems, MODES, PolicyForm};
use crate::protocol::ddm::Platform;
use crate::web::ui::Layout;
use crate::web::ui::policy_preview::{PreviewRow, Timeline};

/// A group the policy may be assigned to.
#[derive(Debug, Clone)]
pub struct GroupChoice {
    pub name: String,
    pub members: usize,
    pub ring: bool,
}

/// The preview section.
#[derive(Debug, Clone)]
pub struct PreviewView {
    pub rows: Vec<PreviewRow>,
    pub timeline: Option<Timeline>,
    /// Shown when no device is reached.
    pub empty_reason: String,
}

#[derive(Template)]
#[template(path = "policies/form.html")]
pub struct FormPage {
    pub layout: Layout,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub form: PolicyForm,
    pub problems: FieldProblems,
    /// The stored name, when editing.
    pub original_name: Option<String>,
    pub action: String,
    pub preview_action: String,
    /// False for viewers: the form is shown disabled, without buttons.
    pub editable: bool,
    pub platform_names: Vec<&'static str>,
    pub group_choices: Vec<GroupChoice>,
    pub catalog_versions: Vec<String>,
    pub preview: Option<PreviewView>,
}

impl FormPage {
    /// A page for `form`; the caller fills in groups, versions, problems and preview.
    pub fn new(layout: Layout, form: PolicyForm, original_name: Option<String>, editable: bool) -> FormPage {
        let (action, preview_action) = match &original_name {
            Some(name) => {
                let path = format!("/policies/{}", path_segment(name));
                (format!("{path}/edit"), format!("{path}/preview"))
            }
            None => ("/policies/new".to_string(), "/policies/preview".to_string()),
        };
        FormPage {
            layout,
            notice: None,
            error: None,
            form,
            problems: FieldProblems::default(),
            original_name,
            action,
            preview_action,
            editable,
            platform_names: Platform::ALL.iter().map(|p| p.display_name()).collect(),
            group_choices: Vec::new(),
            catalog_versions: Vec::new(),
            preview: None,
        }
    }
}

/// Percent-encodes a path segment (or a query value).
pub fn path_segment(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An option of a select.
pub struct Opt {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

const WINDOWS: &[(&str, &str)] = &[
    ("1d", "1 day"),
    ("2d", "2 days"),
    ("1w", "1 week"),
    ("2w", "2 weeks"),
    ("3w", "3 weeks"),
    ("1mo", "1 month"),
    ("2mo", "2 months"),
    ("3mo", "3 months"),
];
const CONTROL: &[(&str, &str)] = &[
    ("", "Device default"),
    ("Allowed", "User decides"),
    ("AlwaysOn", "Always on"),
    ("AlwaysOff", "Always off"),
];
const SWITCH: &[(&str, &str)] = &[("", "Device default"), ("on", "Yes"), ("off", "No")];
const NOTIFICATIONS: &[(&str, &str)] = &[
    ("", "Device default"),
    ("all", "All notifications"),
    ("deadline-only", "Only one hour before the deadline"),
];
const CADENCE: &[(&str, &str)] = &[
    ("", "Device default"),
    ("All", "All versions"),
    ("Oldest", "The oldest (minor updates first)"),
    ("Newest", "The newest"),
];
const NEWEST: &[(&str, &str)] = &[("N", "N: the newest major"), ("N-1", "N-1: the major before it")];

/// The options of the select `kind` with `current` selected. A value the form does not offer
/// (typed by hand) is kept as an extra option so that it is shown back, then refused.
pub fn options(current: &str, kind: &str) -> Vec<Opt> {
    let table = match kind {
        "window" => WINDOWS,
        "control" => CONTROL,
        "switch" => SWITCH,
        "notifications" => NOTIFICATIONS,
        "cadence" => CADENCE,
        "newest" => NEWEST,
        _ => &[],
    };
    table
        .iter()
        .map(|(value, label)| Opt {
            value,
            label,
            selected: *value == current,
        })
        .collect()
}

pub fn mode_label(value: &str) -> &'static str {
    MODES
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// A person's name for a form key, for the list of problems at the top.
pub fn field_label(key: &str) -> &str {
    match key {
        "name" => "Name",
        "label" => "Label",
        "priority" => "Priority",
        "platforms" => "Platforms",
        "enforcement.mode" => "Version enforcement",
        "rolling.within" | "rolling.at" => "Rolling enforcement",
        "minimum.version" | "minimum.deadline" => "Minimum version",
        "specific.version" | "specific.build" | "specific.deadline" => "Specific version",
        "auto.combined" | "auto.major" | "auto.minor" | "auto.system" => "Deferral",
        "auto.grace_days" => "Grace period",
        "auto.at" => "Enforcement time",
        "auto.details_url" => "Details URL",
        "sla.exploited_days" | "sla.cve_days" | "sla.other_days" | "sla.at" => "Security SLA",
        "majors.newest_major" => "Newest major",
        "bsi" | "bsi.mode" | "bsi.days" | "bsi.at" => "Background Security Improvements",
        "groups" | "devices" => "Assignments",
        k if k.starts_with("settings.AutomaticActions") => "Automatic actions",
        k if k.starts_with("settings.Beta") => "Beta program",
        k if k.starts_with("settings.") => "Update settings",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Severity;
    use crate::policy::validate::Problem;

    /// Every key the parser reads is an input of the rendered form, and problems show beside it.
    #[test]
    fn the_form_has_an_input_for_every_key_and_shows_problems_beside_them() {
        let mut page = FormPage::new(
            Layout::public("t"),
            PolicyForm::default(),
            Some("a b".into()),
            true,
        );
        page.problems = FieldProblems::new(
            &[Problem {
                field: "enforcement.details_url".into(),
                severity: Severity::Error,
                message: "the details URL must start with http".into(),
            }],
            "automatic-latest",
        );
        let html = page.render().unwrap();
        for key in [
            "name",
            "label",
            "priority",
            "platforms",
            "enforcement.mode",
            "rolling.within",
            "rolling.at",
            "minimum.version",
            "minimum.date",
            "minimum.time",
            "specific.version",
            "specific.build",
            "specific.date",
            "specific.time",
            "auto.combined",
            "auto.major",
            "auto.minor",
            "auto.system",
            "auto.grace_days",
            "auto.at",
            "auto.details_url",
            "sla.exploited_days",
            "sla.cve_days",
            "sla.other_days",
            "sla.at",
            "majors.allow_major",
            "majors.newest_major",
            "bsi.mode",
            "bsi.days",
            "bsi.at",
            "settings.Notifications",
            "settings.RecommendedCadence",
            "settings.AutomaticActions.Download",
            "settings.AutomaticActions.InstallOSUpdates",
            "settings.AutomaticActions.InstallSecurityUpdate",
            "settings.RapidSecurityResponse.Enable",
            "settings.RapidSecurityResponse.EnableRollback",
            "settings.Beta.ProgramEnrollment",
            "settings.Beta.OfferPrograms.Description",
            "settings.Beta.OfferPrograms.Token",
            "settings.Beta.RequireProgram.Description",
            "settings.Beta.RequireProgram.Token",
            "settings.AllowStandardUserOSUpdates",
            "devices",
        ] {
            assert!(html.contains(&format!("name=\"{key}\"")), "no input {key}");
        }
        assert!(html.contains("action=\"/policies/a%20b/edit\""));
        let url_input = html.find("name=\"auto.details_url\"").unwrap();
        let after = &html[url_input..];
        let error = after.find("the details URL must start with http").unwrap();
        let next_input = after.find("<input").unwrap();
        assert!(error < next_input, "the error follows its input");
        assert!(html.contains("<a href=\"#auto.details_url\">Details URL</a>"));
    }
}
