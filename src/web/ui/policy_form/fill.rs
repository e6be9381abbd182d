//! A stored [`Policy`] shown in the form, for editing: the inverse of `parse`.

use chrono::NaiveTime;

use super::parse::window_key;
use super::{PolicyForm, ProgramRow};
use crate::policy::{BsiPolicy, Enforcement, NewestMajor, Policy};
use crate::protocol::ddm::settings::{RecommendedCadence, UserControl};

fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn days(d: Option<u32>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn control(c: Option<UserControl>) -> String {
    match c {
        None => "",
        Some(UserControl::Allowed) => "Allowed",
        Some(UserControl::AlwaysOn) => "AlwaysOn",
        Some(UserControl::AlwaysOff) => "AlwaysOff",
    }
    .into()
}

fn switch(b: Option<bool>) -> String {
    match b {
        None => "",
        Some(true) => "on",
        Some(false) => "off",
    }
    .into()
}

impl PolicyForm {
    /// The form showing `policy`, assigned to `groups` and `devices`.
    pub fn from_policy(policy: &Policy, groups: &[String], devices: &[String]) -> PolicyForm {
        let mut f = PolicyForm {
            name: policy.name.clone(),
            label: policy.label.clone(),
            priority: policy.priority.to_string(),
            platforms: policy
                .platforms
                .iter()
                .map(|p| p.display_name().to_string())
                .collect(),
            allow_major: policy.majors.allow_major,
            newest_major: match policy.majors.newest_major {
                NewestMajor::N => "N",
                NewestMajor::NMinusOne => "N-1",
            }
            .into(),
            groups: groups.to_vec(),
            devices: devices.join("\n"),
            ..PolicyForm::default()
        };
        f.fill_enforcement(&policy.enforcement);
        if let BsiPolicy::Within { days, at } = policy.bsi {
            f.bsi_mode = "within".into();
            f.bsi_days = days.to_string();
            f.bsi_at = hm(at);
        }
        let s = &policy.settings;
        f.notifications = match s.notifications {
            None => "",
            Some(true) => "all",
            Some(false) => "deadline-only",
        }
        .into();
        f.cadence = match s.recommended_cadence {
            None => "",
            Some(RecommendedCadence::All) => "All",
            Some(RecommendedCadence::Oldest) => "Oldest",
            Some(RecommendedCadence::Newest) => "Newest",
        }
        .into();
        if let Some(a) = &s.automatic_actions {
            f.download = control(a.download);
            f.install_os = control(a.install_os_updates);
            f.install_security = control(a.install_security_update);
        }
        if let Some(r) = &s.rapid_security_response {
            f.rsr_enable = switch(r.enable);
            f.rsr_rollback = switch(r.enable_rollback);
        }
        f.standard_users = switch(s.allow_standard_user_os_updates);
        if let Some(b) = &s.beta {
            f.beta_enrollment = control(b.program_enrollment);
            f.offer_programs = b
                .offer_programs
                .iter()
                .flatten()
                .map(|p| ProgramRow {
                    description: p.description.clone(),
                    token: p.token.clone(),
                })
                .collect();
            if let Some(p) = &b.require_program {
                f.require_description = p.description.clone();
                f.require_token = p.token.clone();
            }
        }
        f
    }

    fn fill_enforcement(&mut self, enforcement: &Enforcement) {
        match enforcement {
            Enforcement::DoNotManage => self.mode = "do-not-manage".into(),
            Enforcement::Rolling { within, at } => {
                self.mode = "rolling".into();
                self.rolling_within = window_key(*within).into();
                self.rolling_at = hm(*at);
            }
            Enforcement::Minimum { version, deadline } => {
                self.mode = "minimum".into();
                self.minimum_version = version.to_string();
                self.minimum_date = deadline.date().to_string();
                self.minimum_time = hm(deadline.time());
            }
            Enforcement::Specific {
                version,
                build,
                deadline,
            } => {
                self.mode = "specific".into();
                self.specific_version = version.to_string();
                self.specific_build = build.as_ref().map(|b| b.to_string()).unwrap_or_default();
                self.specific_date = deadline.date().to_string();
                self.specific_time = hm(deadline.time());
            }
            Enforcement::AutomaticLatest(a) => {
                self.mode = "automatic-latest".into();
                self.auto_combined = days(a.deferral.combined);
                self.auto_major = days(a.deferral.major);
                self.auto_minor = days(a.deferral.minor);
                self.auto_system = days(a.deferral.system);
                self.auto_grace = a.grace_days.to_string();
                self.auto_at = hm(a.at);
                self.auto_url = a.details_url.clone().unwrap_or_default();
            }
            Enforcement::SecuritySla(s) => {
                self.mode = "security-sla".into();
                self.sla_exploited = s.exploited_days.to_string();
                self.sla_cve = s.cve_days.to_string();
                self.sla_other = s.other_days.to_string();
                self.sla_at = hm(s.at);
            }
        }
    }
}
