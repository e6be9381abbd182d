//! Reading the submitted form: the urlencoded pairs into a [`PolicyForm`], then its text into a
//! [`Policy`]. What cannot be read (a word where a number goes, a malformed date, an unknown
//! choice) becomes a problem on its own form key; range checks and catalog checks are left to
//! `policy::validate`, so each rule lives in one place.

use super::reader::Reader;
use super::{ParsedPolicy, PolicyForm, ProgramRow};
use crate::catalog::Build;
use crate::policy::validate::Problem;
use crate::policy::{
    AutomaticLatest, BsiPolicy, DeferralPeriods, Enforcement, MajorPolicy, NewestMajor, Policy,
    RollingWindow, SecuritySla,
};
use crate::protocol::ddm::Platform;
use crate::protocol::ddm::settings::{
    AutomaticActions, Beta, BetaProgram, RapidSecurityResponse, RecommendedCadence, SoftwareUpdateSettings,
    UserControl,
};

impl PolicyForm {
    /// The form from its urlencoded pairs, in order (repeated keys: platforms, groups, programmes).
    /// Keys the form does not have (the CSRF token, the button pressed) are ignored.
    pub fn from_pairs(pairs: &[(String, String)]) -> PolicyForm {
        let mut f = PolicyForm {
            platforms: Vec::new(),
            allow_major: false,
            ..PolicyForm::default()
        };
        let mut descriptions = Vec::new();
        let mut tokens = Vec::new();
        for (key, value) in pairs {
            let v = value.clone();
            let slot = match key.as_str() {
                "platforms" => {
                    f.platforms.push(v);
                    continue;
                }
                "groups" => {
                    f.groups.push(v);
                    continue;
                }
                "settings.Beta.OfferPrograms.Description" => {
                    descriptions.push(v);
                    continue;
                }
                "settings.Beta.OfferPrograms.Token" => {
                    tokens.push(v);
                    continue;
                }
                "majors.allow_major" => {
                    f.allow_major = v == "yes";
                    continue;
                }
                "name" => &mut f.name,
                "label" => &mut f.label,
                "priority" => &mut f.priority,
                "enforcement.mode" => &mut f.mode,
                "rolling.within" => &mut f.rolling_within,
                "rolling.at" => &mut f.rolling_at,
                "minimum.version" => &mut f.minimum_version,
                "minimum.date" => &mut f.minimum_date,
                "minimum.time" => &mut f.minimum_time,
                "specific.version" => &mut f.specific_version,
                "specific.build" => &mut f.specific_build,
                "specific.date" => &mut f.specific_date,
                "specific.time" => &mut f.specific_time,
                "auto.combined" => &mut f.auto_combined,
                "auto.major" => &mut f.auto_major,
                "auto.minor" => &mut f.auto_minor,
                "auto.system" => &mut f.auto_system,
                "auto.grace_days" => &mut f.auto_grace,
                "auto.at" => &mut f.auto_at,
                "auto.details_url" => &mut f.auto_url,
                "sla.exploited_days" => &mut f.sla_exploited,
                "sla.cve_days" => &mut f.sla_cve,
                "sla.other_days" => &mut f.sla_other,
                "sla.at" => &mut f.sla_at,
                "majors.newest_major" => &mut f.newest_major,
                "bsi.mode" => &mut f.bsi_mode,
                "bsi.days" => &mut f.bsi_days,
                "bsi.at" => &mut f.bsi_at,
                "settings.Notifications" => &mut f.notifications,
                "settings.RecommendedCadence" => &mut f.cadence,
                "settings.AutomaticActions.Download" => &mut f.download,
                "settings.AutomaticActions.InstallOSUpdates" => &mut f.install_os,
                "settings.AutomaticActions.InstallSecurityUpdate" => &mut f.install_security,
                "settings.RapidSecurityResponse.Enable" => &mut f.rsr_enable,
                "settings.RapidSecurityResponse.EnableRollback" => &mut f.rsr_rollback,
                "settings.Beta.ProgramEnrollment" => &mut f.beta_enrollment,
                "settings.Beta.RequireProgram.Description" => &mut f.require_description,
                "settings.Beta.RequireProgram.Token" => &mut f.require_token,
                "settings.AllowStandardUserOSUpdates" => &mut f.standard_users,
                "devices" => &mut f.devices,
                _ => continue,
            };
            *slot = v;
        }
        let rows = descriptions.len().max(tokens.len());
        f.offer_programs = (0..rows)
            .map(|i| ProgramRow {
                description: descriptions.get(i).cloned().unwrap_or_default(),
                token: tokens.get(i).cloned().unwrap_or_default(),
            })
            .filter(|r| !r.description.trim().is_empty() || !r.token.trim().is_empty())
            .collect();
        f
    }

    /// The policy the form describes, or every field that could not be read (form keys).
    pub fn parse(&self) -> Result<ParsedPolicy, Vec<Problem>> {
        let mut r = Reader(Vec::new());
        let platforms = self
            .platforms
            .iter()
            .filter_map(|p| match Platform::ALL.iter().find(|x| x.display_name() == p) {
                Some(x) => Some(*x),
                None => {
                    r.error("platforms", format!("{p:?} is not a platform Orchard manages"));
                    None
                }
            })
            .collect();
        let priority = match self.priority.trim() {
            "" => 0,
            t => t.parse::<i32>().unwrap_or_else(|_| {
                r.error(
                    "priority",
                    format!("the priority must be a whole number, not {t:?}"),
                );
                0
            }),
        };
        let enforcement = self.enforcement(&mut r);
        let bsi = match self.bsi_mode.as_str() {
            "" | "none" => BsiPolicy::None,
            "within" => BsiPolicy::Within {
                days: r.days("bsi.days", &self.bsi_days).unwrap_or(0),
                at: r.time("bsi.at", &self.bsi_at),
            },
            other => {
                r.choice("bsi.mode", other);
                BsiPolicy::None
            }
        };
        let newest_major = match self.newest_major.as_str() {
            "" | "N" => NewestMajor::N,
            "N-1" => NewestMajor::NMinusOne,
            other => {
                r.choice("majors.newest_major", other);
                NewestMajor::N
            }
        };
        let settings = self.settings(&mut r);
        if !r.0.is_empty() {
            return Err(r.0);
        }
        Ok(ParsedPolicy {
            policy: Policy {
                name: self.name.trim().to_string(),
                label: self.label.trim().to_string(),
                platforms,
                priority,
                enforcement,
                bsi,
                settings,
                majors: MajorPolicy {
                    allow_major: self.allow_major,
                    newest_major,
                },
            },
            groups: self
                .groups
                .iter()
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
            devices: self.device_list(),
        })
    }

    fn enforcement(&self, r: &mut Reader) -> Enforcement {
        match self.mode.as_str() {
            "do-not-manage" => Enforcement::DoNotManage,
            "rolling" => Enforcement::Rolling {
                within: match RollingWindow::ALL
                    .iter()
                    .find(|w| window_key(**w) == self.rolling_within)
                {
                    Some(w) => *w,
                    None => {
                        r.choice("rolling.within", &self.rolling_within);
                        RollingWindow::OneWeek
                    }
                },
                at: r.time("rolling.at", &self.rolling_at),
            },
            "minimum" => Enforcement::Minimum {
                version: r.version("minimum.version", &self.minimum_version),
                deadline: r
                    .date("minimum.deadline", &self.minimum_date)
                    .and_time(r.time("minimum.deadline", &self.minimum_time)),
            },
            "specific" => Enforcement::Specific {
                version: r.version("specific.version", &self.specific_version),
                build: match self.specific_build.trim() {
                    "" => None,
                    t => t
                        .parse::<Build>()
                        .map_err(|e| r.error("specific.build", e.to_string()))
                        .ok(),
                },
                deadline: r
                    .date("specific.deadline", &self.specific_date)
                    .and_time(r.time("specific.deadline", &self.specific_time)),
            },
            "automatic-latest" => Enforcement::AutomaticLatest(AutomaticLatest {
                deferral: DeferralPeriods {
                    combined: r.optional_days("auto.combined", &self.auto_combined),
                    major: r.optional_days("auto.major", &self.auto_major),
                    minor: r.optional_days("auto.minor", &self.auto_minor),
                    system: r.optional_days("auto.system", &self.auto_system),
                },
                grace_days: r
                    .optional_days("auto.grace_days", &self.auto_grace)
                    .unwrap_or(crate::policy::DEFAULT_GRACE_DAYS),
                at: r.time("auto.at", &self.auto_at),
                details_url: Some(self.auto_url.trim().to_string()).filter(|u| !u.is_empty()),
            }),
            "security-sla" => {
                let at = r.time("sla.at", &self.sla_at);
                let defaults = SecuritySla::with_defaults(at);
                Enforcement::SecuritySla(SecuritySla {
                    exploited_days: r
                        .optional_days("sla.exploited_days", &self.sla_exploited)
                        .unwrap_or(defaults.exploited_days),
                    cve_days: r
                        .optional_days("sla.cve_days", &self.sla_cve)
                        .unwrap_or(defaults.cve_days),
                    other_days: r
                        .optional_days("sla.other_days", &self.sla_other)
                        .unwrap_or(defaults.other_days),
                    at,
                })
            }
            other => {
                r.choice("enforcement.mode", other);
                Enforcement::DoNotManage
            }
        }
    }

    fn settings(&self, r: &mut Reader) -> SoftwareUpdateSettings {
        let control = |r: &mut Reader, key: &str, text: &str| match text {
            "" => None,
            "Allowed" => Some(UserControl::Allowed),
            "AlwaysOn" => Some(UserControl::AlwaysOn),
            "AlwaysOff" => Some(UserControl::AlwaysOff),
            other => {
                r.choice(key, other);
                None
            }
        };
        let switch = |r: &mut Reader, key: &str, text: &str| match text {
            "" => None,
            "on" => Some(true),
            "off" => Some(false),
            other => {
                r.choice(key, other);
                None
            }
        };
        let notifications = match self.notifications.as_str() {
            "" => None,
            "all" => Some(true),
            "deadline-only" => Some(false),
            other => {
                r.choice("settings.Notifications", other);
                None
            }
        };
        let recommended_cadence = match self.cadence.as_str() {
            "" => None,
            "All" => Some(RecommendedCadence::All),
            "Oldest" => Some(RecommendedCadence::Oldest),
            "Newest" => Some(RecommendedCadence::Newest),
            other => {
                r.choice("settings.RecommendedCadence", other);
                None
            }
        };
        let actions = AutomaticActions {
            download: control(r, "settings.AutomaticActions.Download", &self.download),
            install_os_updates: control(r, "settings.AutomaticActions.InstallOSUpdates", &self.install_os),
            install_security_update: control(
                r,
                "settings.AutomaticActions.InstallSecurityUpdate",
                &self.install_security,
            ),
        };
        let rsr = RapidSecurityResponse {
            enable: switch(r, "settings.RapidSecurityResponse.Enable", &self.rsr_enable),
            enable_rollback: switch(
                r,
                "settings.RapidSecurityResponse.EnableRollback",
                &self.rsr_rollback,
            ),
        };
        let program = |row: &ProgramRow| BetaProgram {
            description: row.description.trim().to_string(),
            token: row.token.trim().to_string(),
        };
        let required = ProgramRow {
            description: self.require_description.clone(),
            token: self.require_token.clone(),
        };
        let beta = Beta {
            program_enrollment: control(r, "settings.Beta.ProgramEnrollment", &self.beta_enrollment),
            offer_programs: Some(self.offer_programs.iter().map(program).collect::<Vec<_>>())
                .filter(|p| !p.is_empty()),
            require_program: (required != ProgramRow::default()).then(|| program(&required)),
        };
        SoftwareUpdateSettings {
            notifications,
            deferrals: None,
            recommended_cadence,
            automatic_actions: (!actions.is_empty()).then_some(actions),
            rapid_security_response: (!rsr.is_empty()).then_some(rsr),
            allow_standard_user_os_updates: switch(
                r,
                "settings.AllowStandardUserOSUpdates",
                &self.standard_users,
            ),
            beta: (!beta.is_empty()).then_some(beta),
        }
    }
}

/// The form value of a rolling window (its serde name).
pub fn window_key(w: RollingWindow) -> &'static str {
    match w {
        RollingWindow::OneDay => "1d",
        RollingWindow::TwoDays => "2d",
        RollingWindow::OneWeek => "1w",
        RollingWindow::TwoWeeks => "2w",
        RollingWindow::ThreeWeeks => "3w",
        RollingWindow::OneMonth => "1mo",
        RollingWindow::TwoMonths => "2mo",
        RollingWindow::ThreeMonths => "3mo",
    }
}
