//! The devices list's query parameters, shared by the UI page, the API and the CSV export:
//! parsed once into a [`DeviceFilter`], a sort and a page.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::compliance::ComplianceState;
use crate::device_list::DeviceListService;
pub use crate::device_list::DeviceListView;
use crate::protocol::ddm::Platform;
use crate::store::device_list::{DeviceFilter, SortKey};
use crate::store::devices::EnrollmentState;
use crate::store::{StoreError, sql_time};
use crate::web::api::error::FieldProblem;

pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 500;
const SEARCH_MAX_CHARS: usize = 100;

/// As typed in the URL; every field optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DeviceListParams {
    #[serde(default)]
    pub q: String,
    /// Compliance state: `up_to_date`, `deferred`, `in_grace`, `installing`, `overdue`, `failed`,
    /// `unknown`, `not_managed`.
    #[serde(default)]
    pub state: String,
    /// `authenticated`, `enrolled`, `unenrolled`.
    #[serde(default)]
    pub enrollment: String,
    /// `iOS`, `iPadOS`, `macOS`, `tvOS`, `visionOS` (any case).
    #[serde(default)]
    pub platform: String,
    /// Model identifier, e.g. `iPhone15,2`.
    #[serde(default)]
    pub model: String,
    /// `17` or `17.5` or `17.5.1`.
    #[serde(default)]
    pub os_version: String,
    /// Overdue for at least this many days.
    #[serde(default)]
    pub overdue_days: String,
    /// `true`: only stale devices; `false`: only devices in contact.
    #[serde(default)]
    pub stale: String,
    /// Group id: only its members.
    #[serde(default)]
    pub group: String,
    /// Ring (group) id: only devices whose ring it is.
    #[serde(default)]
    pub ring: String,
    #[serde(default)]
    pub sort: String,
    /// `asc` or `desc`.
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub page: String,
    #[serde(default)]
    pub per_page: String,
}

fn platform(text: &str) -> Option<Platform> {
    [
        Platform::Ios,
        Platform::IpadOs,
        Platform::MacOs,
        Platform::TvOs,
        Platform::VisionOs,
    ]
    .into_iter()
    .find(|p| p.display_name().eq_ignore_ascii_case(text))
}

fn number(
    text: &str,
    field: &str,
    min: usize,
    max: usize,
    problems: &mut Vec<FieldProblem>,
) -> Option<usize> {
    match text.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            problems.push(FieldProblem::new(
                field,
                format!("must be a whole number from {min} to {max}"),
            ));
            None
        }
    }
}

/// A group or ring id as typed (`None` when empty or not a number, the latter a problem).
fn group_id(text: &str, field: &str, problems: &mut Vec<FieldProblem>) -> Option<i64> {
    match text.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                problems.push(FieldProblem::new(
                    field,
                    format!("{t:?} is not a {field} id (a whole number, as in the {field} list)"),
                ));
                None
            }
        },
    }
}

/// The view `params` asks for, with its group and ring checked by the devices-list service:
/// every problem at once, or the view.
pub async fn checked_view(
    service: &DeviceListService,
    params: &DeviceListParams,
    now: DateTime<Utc>,
) -> Result<Result<DeviceListView, Vec<FieldProblem>>, StoreError> {
    let view = match params.view(now) {
        Ok(view) => view,
        Err(problems) => return Ok(Err(problems)),
    };
    Ok(service.check(view).await?.map_err(|problems| {
        problems
            .into_iter()
            .map(|p| FieldProblem::new(p.field, p.message))
            .collect()
    }))
}

impl DeviceListParams {
    /// The view these parameters ask for, or every problem with them.
    pub fn view(&self, now: DateTime<Utc>) -> Result<DeviceListView, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut filter = DeviceFilter {
            search: self.q.trim().chars().take(SEARCH_MAX_CHARS).collect(),
            ..DeviceFilter::default()
        };
        match self.state.trim() {
            "" => {}
            text => match ComplianceState::parse(text) {
                Some(s) => filter.compliance = Some(s.as_str().to_string()),
                None => problems.push(FieldProblem::new(
                    "state",
                    format!(
                        "unknown state {text:?}: expected one of {}",
                        ComplianceState::ALL.map(|s| s.as_str()).join(", ")
                    ),
                )),
            },
        }
        match self.enrollment.trim() {
            "" => {}
            "authenticated" => filter.enrollment = Some(EnrollmentState::Authenticated),
            "enrolled" => filter.enrollment = Some(EnrollmentState::Enrolled),
            "unenrolled" => filter.enrollment = Some(EnrollmentState::Unenrolled),
            other => problems.push(FieldProblem::new(
                "enrollment",
                format!("unknown enrollment state {other:?}: expected authenticated, enrolled or unenrolled"),
            )),
        }
        match self.platform.trim() {
            "" => {}
            text => match platform(text) {
                Some(p) => filter.model_prefixes = p.model_prefixes().map(str::to_string).collect(),
                None => problems.push(FieldProblem::new(
                    "platform",
                    format!("unknown platform {text:?}: expected iOS, iPadOS, macOS, tvOS or visionOS"),
                )),
            },
        }
        let model = self.model.trim();
        if !model.is_empty() {
            filter.model = Some(model.chars().take(SEARCH_MAX_CHARS).collect());
        }
        match self.os_version.trim() {
            "" => {}
            v if v.len() <= 20
                && v.split('.')
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())) =>
            {
                filter.os_version = Some(v.to_string())
            }
            other => problems.push(FieldProblem::new(
                "os_version",
                format!("{other:?} is not a version such as 17 or 17.5 or 17.5.1"),
            )),
        }
        if !self.overdue_days.trim().is_empty()
            && let Some(days) = number(self.overdue_days.trim(), "overdue_days", 0, 3650, &mut problems)
        {
            filter.overdue_since_before = Some(sql_time(now - Duration::days(days as i64)));
        }
        match self.stale.trim() {
            "" => {}
            "true" | "1" | "yes" => filter.stale = Some(true),
            "false" | "0" | "no" => filter.stale = Some(false),
            other => problems.push(FieldProblem::new(
                "stale",
                format!("{other:?} is not true or false"),
            )),
        }
        filter.group = group_id(&self.group, "group", &mut problems);
        filter.ring = group_id(&self.ring, "ring", &mut problems);
        let sort = match self.sort.trim() {
            "" => SortKey::default(),
            text => SortKey::parse(text).unwrap_or_else(|| {
                problems.push(FieldProblem::new(
                    "sort",
                    format!(
                        "unknown sort {text:?}: expected one of {}",
                        SortKey::ALL.map(|(name, _)| name).join(", ")
                    ),
                ));
                SortKey::default()
            }),
        };
        let descending = match self.order.trim() {
            "" => sort == SortKey::LastSeen,
            "asc" => false,
            "desc" => true,
            other => {
                problems.push(FieldProblem::new(
                    "order",
                    format!("{other:?} is not asc or desc"),
                ));
                false
            }
        };
        let page = match self.page.trim() {
            "" => 1,
            text => number(text, "page", 1, 1_000_000, &mut problems).unwrap_or(1),
        };
        let per_page = match self.per_page.trim() {
            "" => DEFAULT_PER_PAGE,
            text => number(text, "per_page", 1, MAX_PER_PAGE, &mut problems).unwrap_or(DEFAULT_PER_PAGE),
        };
        if problems.is_empty() {
            Ok(DeviceListView {
                filter,
                sort,
                descending,
                page,
                per_page,
            })
        } else {
            Err(problems)
        }
    }

    /// The same parameters with another page (for links).
    pub fn with_page(&self, page: usize) -> DeviceListParams {
        DeviceListParams {
            page: page.to_string(),
            ..self.clone()
        }
    }

    /// As a URL query string.
    pub fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("q", &self.q),
            ("state", &self.state),
            ("enrollment", &self.enrollment),
            ("platform", &self.platform),
            ("model", &self.model),
            ("os_version", &self.os_version),
            ("overdue_days", &self.overdue_days),
            ("stale", &self.stale),
            ("group", &self.group),
            ("ring", &self.ring),
            ("sort", &self.sort),
            ("order", &self.order),
            ("page", &self.page),
            ("per_page", &self.per_page),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// One CSV field, quoted when needed; a leading `=`, `+`, `-` or `@` is neutralised so that a
/// spreadsheet does not run a device name as a formula.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The CSV export of `rows`, with a header line.
pub fn csv(rows: &[crate::store::device_list::DeviceRow]) -> String {
    let mut out = String::from(
        "udid,name,serial_number,model,model_name,os_version,build_version,supervised,enrollment,last_seen_at,compliance,compliance_reason,deadline,stale,ring,rings\r\n",
    );
    for r in rows {
        let opt = |v: &Option<String>| csv_field(v.as_deref().unwrap_or(""));
        let fields = [
            csv_field(&r.udid),
            opt(&r.name),
            opt(&r.serial_number),
            opt(&r.model),
            opt(&r.model_name),
            opt(&r.os_version),
            opt(&r.build_version),
            r.supervised.map(|s| s.to_string()).unwrap_or_default(),
            r.enrollment.to_string(),
            csv_field(&r.last_seen_at),
            opt(&r.compliance),
            opt(&r.compliance_reason),
            opt(&r.deadline),
            r.stale.to_string(),
            opt(&r.ring),
            r.rings.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn parameters_become_a_filter() {
        let params = DeviceListParams {
            q: " ab ".into(),
            state: "overdue".into(),
            platform: "ipados".into(),
            os_version: "17.5".into(),
            overdue_days: "7".into(),
            sort: "name".into(),
            page: "3".into(),
            per_page: "20".into(),
            ..DeviceListParams::default()
        };
        let view = params.view(now()).unwrap();
        assert_eq!(view.filter.search, "ab");
        assert_eq!(view.filter.compliance.as_deref(), Some("overdue"));
        assert_eq!(view.filter.model_prefixes, vec!["iPad".to_string()]);
        assert_eq!(
            view.filter.overdue_since_before.as_deref(),
            Some("2026-02-22T00:00:00.000000Z")
        );
        assert_eq!(
            (view.sort, view.descending, view.offset()),
            (SortKey::Name, false, 40)
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let params = DeviceListParams {
            state: "late".into(),
            platform: "android".into(),
            os_version: "17.x".into(),
            per_page: "100000".into(),
            sort: "color".into(),
            ..DeviceListParams::default()
        };
        let fields: Vec<String> = params
            .view(now())
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["state", "platform", "os_version", "sort", "per_page"]);
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
