use chrono::{NaiveDate, NaiveTime};

use super::*;
use crate::policy::validate::Problem;
use crate::policy::{
    AutomaticLatest, BsiPolicy, DeferralPeriods, Enforcement, MajorPolicy, NewestMajor, Severity,
};
use crate::protocol::ddm::Platform;
use crate::protocol::ddm::settings::{
    AutomaticActions, Beta, BetaProgram, RapidSecurityResponse, RecommendedCadence, SoftwareUpdateSettings,
    UserControl,
};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn full_policy() -> Policy {
    Policy {
        name: "mac-auto".into(),
        label: "Macs, automatic".into(),
        platforms: vec![Platform::MacOs, Platform::Ios],
        priority: 7,
        enforcement: Enforcement::AutomaticLatest(AutomaticLatest {
            deferral: DeferralPeriods {
                combined: Some(5),
                major: Some(30),
                minor: Some(7),
                system: Some(3),
            },
            grace_days: 0,
            at: t(19, 30),
            details_url: Some("https://it.example.org/updates".into()),
        }),
        bsi: BsiPolicy::Within {
            days: 2,
            at: t(20, 0),
        },
        settings: SoftwareUpdateSettings {
            notifications: Some(false),
            deferrals: None,
            recommended_cadence: Some(RecommendedCadence::Newest),
            automatic_actions: Some(AutomaticActions {
                download: Some(UserControl::AlwaysOn),
                install_os_updates: Some(UserControl::AlwaysOn),
                install_security_update: Some(UserControl::AlwaysOff),
            }),
            rapid_security_response: Some(RapidSecurityResponse {
                enable: Some(true),
                enable_rollback: Some(false),
            }),
            allow_standard_user_os_updates: Some(true),
            beta: Some(Beta {
                program_enrollment: Some(UserControl::Allowed),
                offer_programs: Some(vec![
                    BetaProgram {
                        description: "Public beta".into(),
                        token: "tok-1".into(),
                    },
                    BetaProgram {
                        description: "Developer beta".into(),
                        token: "tok-2".into(),
                    },
                ]),
                require_program: None,
            }),
        },
        majors: MajorPolicy {
            allow_major: true,
            newest_major: NewestMajor::NMinusOne,
        },
    }
}

/// The pairs a browser sends for `form` (what the template's inputs hold).
fn submitted(form: &PolicyForm) -> Vec<(String, String)> {
    let mut out = pairs(&[
        ("csrf_token", "x"),
        ("name", &form.name),
        ("label", &form.label),
        ("priority", &form.priority),
        ("enforcement.mode", &form.mode),
        ("rolling.within", &form.rolling_within),
        ("rolling.at", &form.rolling_at),
        ("auto.combined", &form.auto_combined),
        ("auto.major", &form.auto_major),
        ("auto.minor", &form.auto_minor),
        ("auto.system", &form.auto_system),
        ("auto.grace_days", &form.auto_grace),
        ("auto.at", &form.auto_at),
        ("auto.details_url", &form.auto_url),
        ("majors.newest_major", &form.newest_major),
        ("bsi.mode", &form.bsi_mode),
        ("bsi.days", &form.bsi_days),
        ("bsi.at", &form.bsi_at),
        ("settings.Notifications", &form.notifications),
        ("settings.RecommendedCadence", &form.cadence),
        ("settings.AutomaticActions.Download", &form.download),
        ("settings.AutomaticActions.InstallOSUpdates", &form.install_os),
        (
            "settings.AutomaticActions.InstallSecurityUpdate",
            &form.install_security,
        ),
        ("settings.RapidSecurityResponse.Enable", &form.rsr_enable),
        (
            "settings.RapidSecurityResponse.EnableRollback",
            &form.rsr_rollback,
        ),
        ("settings.Beta.ProgramEnrollment", &form.beta_enrollment),
        ("settings.AllowStandardUserOSUpdates", &form.standard_users),
        ("devices", &form.devices),
    ]);
    if form.allow_major {
        out.push(("majors.allow_major".into(), "yes".into()));
    }
    for p in &form.platforms {
        out.push(("platforms".into(), p.clone()));
    }
    for g in &form.groups {
        out.push(("groups".into(), g.clone()));
    }
    for row in form.program_rows() {
        out.push(("settings.Beta.OfferPrograms.Description".into(), row.description));
        out.push(("settings.Beta.OfferPrograms.Token".into(), row.token));
    }
    out
}

#[test]
fn a_policy_shown_in_the_form_and_sent_back_unchanged_is_the_same_policy() {
    let policy = full_policy();
    let groups = vec!["Vanguard".to_string()];
    let devices = vec!["C02ABC123".to_string(), "00008110-000A1234".to_string()];
    let form = PolicyForm::from_policy(&policy, &groups, &devices);
    let back = PolicyForm::from_pairs(&submitted(&form));
    assert_eq!(
        back, form,
        "empty programme rows are dropped, everything else kept"
    );
    let parsed = back.parse().unwrap();
    assert_eq!(parsed.policy, policy);
    assert_eq!(parsed.groups, groups);
    assert_eq!(parsed.devices, devices);
}

#[test]
fn every_mode_round_trips() {
    let deadline = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap().and_time(t(18, 0));
    let modes = [
        Enforcement::DoNotManage,
        Enforcement::Rolling {
            within: crate::policy::RollingWindow::TwoMonths,
            at: t(6, 45),
        },
        Enforcement::Minimum {
            version: "26.3".parse().unwrap(),
            deadline,
        },
        Enforcement::Specific {
            version: "26.3.1".parse().unwrap(),
            build: Some("23D8133".parse().unwrap()),
            deadline,
        },
        Enforcement::SecuritySla(crate::policy::SecuritySla {
            exploited_days: 3,
            cve_days: 10,
            other_days: 60,
            at: t(17, 0),
        }),
    ];
    for enforcement in modes {
        let policy = Policy {
            enforcement,
            bsi: BsiPolicy::None,
            settings: SoftwareUpdateSettings::default(),
            majors: MajorPolicy::default(),
            ..full_policy()
        };
        let form = PolicyForm::from_policy(&policy, &[], &[]);
        let mut sent = submitted(&form);
        sent.extend(pairs(&[
            ("minimum.version", &form.minimum_version),
            ("minimum.date", &form.minimum_date),
            ("minimum.time", &form.minimum_time),
            ("specific.version", &form.specific_version),
            ("specific.build", &form.specific_build),
            ("specific.date", &form.specific_date),
            ("specific.time", &form.specific_time),
            ("sla.exploited_days", &form.sla_exploited),
            ("sla.cve_days", &form.sla_cve),
            ("sla.other_days", &form.sla_other),
            ("sla.at", &form.sla_at),
        ]));
        let parsed = PolicyForm::from_pairs(&sent).parse().unwrap();
        assert_eq!(parsed.policy, policy, "{}", form.mode);
    }
}

#[test]
fn what_cannot_be_read_is_reported_on_its_own_input_and_nothing_is_made() {
    let form = PolicyForm::from_pairs(&pairs(&[
        ("name", "x"),
        ("platforms", "iOS"),
        ("platforms", "Windows"),
        ("priority", "high"),
        ("enforcement.mode", "minimum"),
        ("minimum.version", "26.x"),
        ("minimum.date", "15/01/2027"),
        ("minimum.time", "18:00"),
        ("bsi.mode", "within"),
        ("bsi.days", "-4"),
        ("bsi.at", "25:99"),
        ("settings.AutomaticActions.Download", "Sometimes"),
    ]));
    let problems = form.parse().unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "platforms",
            "priority",
            "minimum.version",
            "minimum.deadline",
            "bsi.days",
            "bsi.at",
            "settings.AutomaticActions.Download"
        ]
    );
    assert!(problems[0].message.contains("Windows"));
    assert!(problems[2].message.contains("26.x"));
    assert!(problems[4].message.contains("negative"));
}

#[test]
fn empty_optional_numbers_take_their_defaults() {
    let form = PolicyForm::from_pairs(&pairs(&[
        ("name", "auto"),
        ("platforms", "iOS"),
        ("enforcement.mode", "automatic-latest"),
        ("auto.combined", "7"),
        ("auto.grace_days", ""),
        ("auto.at", "18:00"),
    ]));
    let parsed = form.parse().unwrap();
    let Enforcement::AutomaticLatest(a) = parsed.policy.enforcement else {
        panic!("not automatic latest")
    };
    assert_eq!(a.grace_days, 30);
    assert_eq!(a.deferral.combined, Some(7));
    assert_eq!(a.deferral.major, None);
    assert_eq!(a.details_url, None);
    assert_eq!(parsed.policy.settings, SoftwareUpdateSettings::default());
}

#[test]
fn validation_paths_land_on_the_inputs_of_the_chosen_mode() {
    let problem = |field: &str, severity| Problem {
        field: field.into(),
        severity,
        message: format!("about {field}"),
    };
    let problems = [
        problem("enforcement.deadline", Severity::Error),
        problem("enforcement.version", Severity::Error),
        problem("settings.Beta.OfferPrograms.Token", Severity::Error),
        problem("enforcement.deferral.combined", Severity::NotApplicable),
        problem("name", Severity::Error),
        problem("assignments.devices", Severity::Error),
    ];
    let minimum = FieldProblems::new(&problems, "minimum");
    assert_eq!(
        minimum.errors_at("minimum.deadline"),
        ["about enforcement.deadline"]
    );
    assert_eq!(
        minimum.errors_at("minimum.version"),
        ["about enforcement.version"]
    );
    assert_eq!(
        minimum.errors_at("settings.Beta.OfferPrograms"),
        ["about settings.Beta.OfferPrograms.Token"]
    );
    assert_eq!(minimum.errors_at("name"), ["about name"]);
    assert_eq!(minimum.errors_at("devices"), ["about assignments.devices"]);
    let auto = FieldProblems::new(&problems, "automatic-latest");
    assert_eq!(
        auto.notes_at("auto.combined"),
        ["about enforcement.deferral.combined"]
    );
    assert!(auto.errors_at("auto.combined").is_empty());
    assert_eq!(auto.errors().len(), 5);
}
