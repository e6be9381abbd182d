//! Policy validation: every problem at once, each with the field it is about and a message a
//! person can act on. Errors refuse the policy; "not applicable" notes say which settings a
//! platform will not receive (shown next to the field, never silently sent).

use chrono::NaiveDateTime;
use serde::Serialize;

mod platform_fit;

use platform_fit::{bsi, deferrals, settings};

use super::model::{Enforcement, Policy, SecuritySla};
use super::plan::family_of;
use super::rings::RingSchedule;
use crate::catalog::{Build, CatalogIndex, OsVersion};

pub const MAX_GRACE_DAYS: u32 = 365;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_URL_CHARS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The policy cannot be saved.
    Error,
    /// Accepted, but some platforms will not receive this setting.
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The form field, as a dotted path (`enforcement.deadline`, `settings.AutomaticActions.InstallOSUpdates`).
    pub field: String,
    pub severity: Severity,
    pub message: String,
}

/// What validation checks against: the catalog (versions must exist) and the current local time
/// (deadlines must be in the future).
pub struct ValidationContext<'a> {
    pub catalog: &'a CatalogIndex,
    pub now_local: NaiveDateTime,
}

/// True when none of `problems` is an error.
pub fn acceptable(problems: &[Problem]) -> bool {
    problems.iter().all(|p| p.severity != Severity::Error)
}

pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub(super) fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            severity: Severity::Error,
            message: message.into(),
        });
    }

    pub(super) fn not_applicable(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            severity: Severity::NotApplicable,
            message: message.into(),
        });
    }

    pub(super) fn range(&mut self, field: &str, value: u32, min: u32, max: u32, what: &str) {
        if !(min..=max).contains(&value) {
            self.error(
                field,
                format!("{what} must be between {min} and {max} days, not {value}"),
            );
        }
    }
}

pub fn validate(policy: &Policy, ctx: &ValidationContext<'_>) -> Vec<Problem> {
    let mut out = Problems(Vec::new());
    let name = policy.name.trim();
    if name.is_empty() {
        out.error("name", "a name is required");
    } else if name.chars().count() > MAX_NAME_CHARS {
        out.error(
            "name",
            format!("the name must be at most {MAX_NAME_CHARS} characters"),
        );
    }
    if policy.label.chars().count() > MAX_NAME_CHARS {
        out.error(
            "label",
            format!("the label must be at most {MAX_NAME_CHARS} characters"),
        );
    }
    if policy.platforms.is_empty() {
        out.error("platforms", "choose at least one platform");
    }
    enforcement(policy, ctx, &mut out);
    bsi(policy, &mut out);
    settings(policy, &mut out);
    out.0
}

fn enforcement(policy: &Policy, ctx: &ValidationContext<'_>, out: &mut Problems) {
    match &policy.enforcement {
        Enforcement::DoNotManage | Enforcement::Rolling { .. } => {}
        Enforcement::Minimum { version, deadline } => {
            version_exists(policy, ctx.catalog, *version, None, out);
            future(*deadline, ctx.now_local, out);
        }
        Enforcement::Specific {
            version,
            build,
            deadline,
        } => {
            version_exists(policy, ctx.catalog, *version, build.as_ref(), out);
            future(*deadline, ctx.now_local, out);
        }
        Enforcement::AutomaticLatest(auto) => {
            deferrals(&auto.deferral, &policy.platforms, out);
            if auto.grace_days > MAX_GRACE_DAYS {
                out.error(
                    "enforcement.grace_days",
                    format!(
                        "the grace period must be between 0 and {MAX_GRACE_DAYS} days, not {}",
                        auto.grace_days
                    ),
                );
            }
            if let Some(url) = &auto.details_url {
                details_url(url, out);
            }
        }
        Enforcement::SecuritySla(sla) => sla_days(sla, out),
    }
}

fn future(deadline: NaiveDateTime, now: NaiveDateTime, out: &mut Problems) {
    if deadline <= now {
        out.error(
            "enforcement.deadline",
            format!(
                "the deadline {} is in the past (it is now {}): choose a later date",
                deadline.format("%Y-%m-%d %H:%M"),
                now.format("%Y-%m-%d %H:%M")
            ),
        );
    }
}

fn version_exists(
    policy: &Policy,
    catalog: &CatalogIndex,
    version: OsVersion,
    build: Option<&Build>,
    out: &mut Problems,
) {
    if catalog.releases().is_empty() {
        out.error(
            "enforcement.version",
            "no update catalog is loaded, so the version cannot be checked: refresh or import the catalog first",
        );
        return;
    }
    let mut seen = Vec::new();
    for &platform in &policy.platforms {
        let family = family_of(platform);
        if seen.contains(&family) {
            continue;
        }
        seen.push(family);
        let of_family = || catalog.releases().iter().filter(|r| r.family == family);
        let same_version: Vec<&Build> = of_family()
            .filter(|r| r.version.base() == version.base())
            .map(|r| &r.build)
            .collect();
        if same_version.is_empty() {
            let newest = of_family().next().map(|r| r.version.to_string());
            out.error(
                "enforcement.version",
                format!(
                    "{version} does not exist in the catalog for {platform}{}",
                    newest
                        .map(|n| format!(" (the newest is {n})"))
                        .unwrap_or_default()
                ),
            );
        } else if let Some(b) = build.filter(|b| !same_version.contains(b)) {
            let mut builds: Vec<String> = same_version.iter().map(|b| b.to_string()).collect();
            builds.sort();
            builds.dedup();
            out.error(
                "enforcement.build",
                format!(
                    "{b} is not a build of {platform} {version} (its builds are {})",
                    builds.join(", ")
                ),
            );
        }
    }
}

/// `DetailsURL`: http or https, a host, no spaces, at most 2048 characters.
fn details_url(url: &str, out: &mut Problems) {
    let field = "enforcement.details_url";
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        None => out.error(
            field,
            format!("the details URL must start with http:// or https:// (got {url:?})"),
        ),
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            out.error(field, "the details URL needs a host name after http(s)://")
        }
        Some(_) if url.chars().any(char::is_whitespace) => {
            out.error(field, "the details URL must not contain spaces")
        }
        Some(_) if url.len() > MAX_URL_CHARS => out.error(
            field,
            format!("the details URL must be at most {MAX_URL_CHARS} characters"),
        ),
        Some(_) => {}
    }
}

fn sla_days(sla: &SecuritySla, out: &mut Problems) {
    let (min, max) = (SecuritySla::MIN_DAYS, SecuritySla::MAX_DAYS);
    out.range(
        "enforcement.exploited_days",
        sla.exploited_days,
        min,
        max,
        "the deadline for actively exploited CVEs",
    );
    out.range(
        "enforcement.cve_days",
        sla.cve_days,
        min,
        max,
        "the deadline for other CVEs",
    );
    out.range(
        "enforcement.other_days",
        sla.other_days,
        min,
        max,
        "the deadline for releases without CVEs",
    );
}

/// Checks a ring schedule: some weekday must stay open, the window must be a range within a day.
pub fn validate_schedule(schedule: &RingSchedule) -> Vec<Problem> {
    let mut out = Problems(Vec::new());
    if !schedule.has_allowed_weekday() {
        out.error(
            "blocked_weekdays",
            "every weekday is blocked: no deadline could ever fall; unblock at least one day",
        );
    }
    if let Some(w) = schedule.window
        && w.start >= w.end
    {
        out.error(
            "window",
            format!(
                "the maintenance window must start before it ends ({} – {})",
                w.start.format("%H:%M"),
                w.end.format("%H:%M")
            ),
        );
    }
    for (ring, days) in &schedule.offset_days {
        if *days > MAX_GRACE_DAYS {
            out.error(
                format!("offset_days.{ring}"),
                format!("the offset of ring {ring} must be at most {MAX_GRACE_DAYS} days, not {days}"),
            );
        }
    }
    out.0
}
