//! The policy form: what an administrator typed, kept as text so that a refused form comes back
//! exactly as it was typed, and its mapping to and from [`Policy`].
//!
//! Every input is named by a form key (`name`, `rolling.within`, `auto.grace_days`,
//! `settings.AutomaticActions.InstallOSUpdates`, ...). [`PolicyForm::parse`] turns the text into
//! a [`Policy`] or reports what could not be read; [`FieldProblems`] places those reports, and the
//! ones `policy::validate` makes (whose fields are model paths), next to the input they are about.

mod fill;
mod page;
mod parse;
mod problems;
mod reader;

pub use page::{FormPage, GroupChoice, PreviewView, path_segment};
pub use problems::FieldProblems;

use crate::policy::Policy;

/// The enforcement modes as the form names them (the serde tags of `Enforcement`).
pub const MODES: [(&str, &str); 6] = [
    ("do-not-manage", "Do not manage"),
    ("rolling", "Rolling enforcement"),
    ("minimum", "Minimum version"),
    ("specific", "Specific version"),
    ("automatic-latest", "Automatic latest with deferral and grace"),
    ("security-sla", "Security SLA"),
];

/// One offered beta programme row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramRow {
    pub description: String,
    pub token: String,
}

/// The form's fields, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyForm {
    pub name: String,
    pub label: String,
    pub priority: String,
    pub platforms: Vec<String>,
    pub mode: String,
    pub rolling_within: String,
    pub rolling_at: String,
    pub minimum_version: String,
    pub minimum_date: String,
    pub minimum_time: String,
    pub specific_version: String,
    pub specific_build: String,
    pub specific_date: String,
    pub specific_time: String,
    pub auto_combined: String,
    pub auto_major: String,
    pub auto_minor: String,
    pub auto_system: String,
    pub auto_grace: String,
    pub auto_at: String,
    pub auto_url: String,
    pub sla_exploited: String,
    pub sla_cve: String,
    pub sla_other: String,
    pub sla_at: String,
    pub allow_major: bool,
    pub newest_major: String,
    pub bsi_mode: String,
    pub bsi_days: String,
    pub bsi_at: String,
    pub notifications: String,
    pub cadence: String,
    pub download: String,
    pub install_os: String,
    pub install_security: String,
    pub rsr_enable: String,
    pub rsr_rollback: String,
    pub beta_enrollment: String,
    pub offer_programs: Vec<ProgramRow>,
    pub require_description: String,
    pub require_token: String,
    pub standard_users: String,
    /// Names of the groups the policy is assigned to.
    pub groups: Vec<String>,
    /// Devices assigned directly: UDIDs or serial numbers, one per line.
    pub devices: String,
}

impl Default for PolicyForm {
    /// A new policy: rolling enforcement within a week at 18:00 on iOS and iPadOS, the defaults
    /// of the model everywhere else.
    fn default() -> Self {
        PolicyForm {
            name: String::new(),
            label: String::new(),
            priority: "0".into(),
            platforms: vec!["iOS".into(), "iPadOS".into()],
            mode: "rolling".into(),
            rolling_within: "1w".into(),
            rolling_at: "18:00".into(),
            minimum_version: String::new(),
            minimum_date: String::new(),
            minimum_time: "18:00".into(),
            specific_version: String::new(),
            specific_build: String::new(),
            specific_date: String::new(),
            specific_time: "18:00".into(),
            auto_combined: String::new(),
            auto_major: String::new(),
            auto_minor: String::new(),
            auto_system: String::new(),
            auto_grace: crate::policy::DEFAULT_GRACE_DAYS.to_string(),
            auto_at: "18:00".into(),
            auto_url: String::new(),
            sla_exploited: "14".into(),
            sla_cve: "21".into(),
            sla_other: "28".into(),
            sla_at: "18:00".into(),
            allow_major: false,
            newest_major: "N".into(),
            bsi_mode: "none".into(),
            bsi_days: "3".into(),
            bsi_at: "18:00".into(),
            notifications: String::new(),
            cadence: String::new(),
            download: String::new(),
            install_os: String::new(),
            install_security: String::new(),
            rsr_enable: String::new(),
            rsr_rollback: String::new(),
            beta_enrollment: String::new(),
            offer_programs: Vec::new(),
            require_description: String::new(),
            require_token: String::new(),
            standard_users: String::new(),
            groups: Vec::new(),
            devices: String::new(),
        }
    }
}

/// A form that reads as a policy, with its assignments.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPolicy {
    pub policy: Policy,
    pub groups: Vec<String>,
    pub devices: Vec<String>,
}

impl PolicyForm {
    pub fn mode_is(&self, mode: &str) -> bool {
        self.mode == mode
    }

    pub fn has_platform(&self, platform: &str) -> bool {
        self.platforms.iter().any(|p| p == platform)
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The offered-programme rows to show: those typed, plus two empty ones to add more.
    pub fn program_rows(&self) -> Vec<ProgramRow> {
        let mut rows = self.offer_programs.clone();
        rows.extend([ProgramRow::default(), ProgramRow::default()]);
        rows
    }

    /// The device lines, trimmed, without blanks or repeats.
    pub fn device_list(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self
            .devices
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(d)) {
                out.push(d.to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
