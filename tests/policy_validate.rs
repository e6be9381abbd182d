//! Policy validation: every problem reported at once with its field and an actionable message;
//! settings a platform will not receive reported as such.

use orchard::policy::{
    AutomaticLatest, BsiPolicy, DeferralPeriods, Enforcement, MaintenanceWindow, Problem, RingSchedule,
    SecuritySla, Severity, ValidationContext, acceptable, default_rings, validate, validate_schedule,
};
use orchard::protocol::ddm::{
    AutomaticActions, Beta, BetaProgram, Platform, RecommendedCadence, SoftwareUpdateSettings, UserControl,
};

use crate::policy_support::*;

fn ctx() -> ValidationContext<'static> {
    ValidationContext {
        catalog: catalog(),
        now_local: local(2026, 4, 12, 10, 0),
    }
}

fn errors(problems: &[Problem]) -> Vec<(String, String)> {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.field.clone(), p.message.clone()))
        .collect()
}

fn fields(problems: &[Problem], severity: Severity) -> Vec<String> {
    problems
        .iter()
        .filter(|p| p.severity == severity)
        .map(|p| p.field.clone())
        .collect()
}

#[test]
fn out_of_range_days_and_a_non_http_details_url_are_refused_with_their_reasons() {
    let p = policy(
        "auto",
        IOS,
        Enforcement::AutomaticLatest(AutomaticLatest {
            deferral: DeferralPeriods {
                combined: Some(91),
                ..DeferralPeriods::default()
            },
            grace_days: 366,
            at: time(18, 0),
            details_url: Some("ftp://intranet.example/updates".into()),
        }),
    );
    let problems = validate(&p, &ctx());
    assert!(!acceptable(&problems));
    assert_eq!(
        errors(&problems),
        [
            (
                "enforcement.deferral.combined".to_string(),
                "the combined deferral must be between 1 and 90 days, not 91".to_string()
            ),
            (
                "enforcement.grace_days".to_string(),
                "the grace period must be between 0 and 365 days, not 366".to_string()
            ),
            (
                "enforcement.details_url".to_string(),
                "the details URL must start with http:// or https:// (got \"ftp://intranet.example/updates\")".to_string()
            ),
        ]
    );
    let mut zero = p.clone();
    zero.enforcement = Enforcement::AutomaticLatest(AutomaticLatest {
        deferral: DeferralPeriods {
            combined: Some(0),
            ..DeferralPeriods::default()
        },
        grace_days: 0,
        at: time(18, 0),
        details_url: Some("https://intranet.example/updates".into()),
    });
    assert_eq!(
        fields(&validate(&zero, &ctx()), Severity::Error),
        ["enforcement.deferral.combined"]
    );
    let mut sla = p.clone();
    sla.enforcement = Enforcement::SecuritySla(SecuritySla {
        exploited_days: 0,
        ..SecuritySla::with_defaults(time(9, 0))
    });
    sla.bsi = BsiPolicy::Within {
        days: 91,
        at: time(9, 0),
    };
    assert_eq!(
        fields(&validate(&sla, &ctx()), Severity::Error),
        ["enforcement.exploited_days", "bsi.days"]
    );
}

#[test]
fn versions_must_exist_for_every_platform_and_deadlines_must_be_in_the_future() {
    let both = &[Platform::Ios, Platform::MacOs];
    let p = policy(
        "min",
        both,
        Enforcement::Minimum {
            version: "18.7.7".parse().unwrap(),
            deadline: local(2026, 4, 1, 18, 0),
        },
    );
    assert_eq!(
        errors(&validate(&p, &ctx())),
        [
            (
                "enforcement.version".to_string(),
                "18.7.7 does not exist in the catalog for macOS (the newest is 26.4.1)".to_string()
            ),
            (
                "enforcement.deadline".to_string(),
                "the deadline 2026-04-01 18:00 is in the past (it is now 2026-04-12 10:00): choose a later date".to_string()
            ),
        ]
    );
    let good = policy(
        "spec",
        IOS,
        Enforcement::Specific {
            version: "26.3.1".parse().unwrap(),
            build: Some("23D9133".parse().unwrap()),
            deadline: local(2026, 4, 20, 18, 0),
        },
    );
    assert!(
        validate(&good, &ctx()).is_empty(),
        "{:?}",
        validate(&good, &ctx())
    );
    let wrong_build = policy(
        "spec",
        IOS,
        Enforcement::Specific {
            version: "26.3.1".parse().unwrap(),
            build: Some("23E254".parse().unwrap()),
            deadline: local(2026, 4, 20, 18, 0),
        },
    );
    assert_eq!(
        errors(&validate(&wrong_build, &ctx())),
        [(
            "enforcement.build".to_string(),
            "23E254 is not a build of iOS 26.3.1 (its builds are 23D8133, 23D9133)".to_string()
        )]
    );
    let empty = orchard::catalog::CatalogIndex::default();
    let no_catalog = ValidationContext {
        catalog: &empty,
        now_local: local(2026, 4, 12, 10, 0),
    };
    assert!(
        errors(&validate(&good, &no_catalog))[0]
            .1
            .contains("no update catalog is loaded")
    );
}

#[test]
fn invalid_automatic_actions_and_beta_combinations_are_refused_as_the_device_would() {
    let mut p = policy("settings", IOS, Enforcement::DoNotManage);
    p.settings.automatic_actions = Some(AutomaticActions {
        download: Some(UserControl::AlwaysOff),
        install_os_updates: Some(UserControl::AlwaysOn),
        install_security_update: None,
    });
    let e = errors(&validate(&p, &ctx()));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "settings.AutomaticActions.InstallOSUpdates");
    assert!(
        e[0].1
            .contains("installation cannot be forced when downloading is disabled"),
        "{}",
        e[0].1
    );
    for (download, install) in [
        (UserControl::Allowed, UserControl::AlwaysOn),
        (UserControl::AlwaysOff, UserControl::Allowed),
    ] {
        p.settings.automatic_actions = Some(AutomaticActions {
            download: Some(download),
            install_os_updates: Some(install),
            install_security_update: None,
        });
        assert!(!acceptable(&validate(&p, &ctx())), "{download:?} + {install:?}");
    }
    p.settings.automatic_actions = None;
    let program = BetaProgram {
        description: "Seed".into(),
        token: "t".into(),
    };
    p.settings.beta = Some(Beta {
        program_enrollment: Some(UserControl::Allowed),
        offer_programs: None,
        require_program: Some(program),
    });
    assert_eq!(
        fields(&validate(&p, &ctx()), Severity::Error),
        ["settings.Beta.RequireProgram"]
    );
}

#[test]
fn settings_a_platform_does_not_take_are_reported_not_applicable() {
    let mut p = policy(
        "mixed",
        &[Platform::Ios, Platform::MacOs, Platform::TvOs],
        Enforcement::DoNotManage,
    );
    p.settings = SoftwareUpdateSettings {
        recommended_cadence: Some(RecommendedCadence::Newest),
        allow_standard_user_os_updates: Some(false),
        ..SoftwareUpdateSettings::default()
    };
    p.bsi = BsiPolicy::Within {
        days: 2,
        at: time(20, 0),
    };
    let problems = validate(&p, &ctx());
    assert!(acceptable(&problems), "{problems:?}");
    let notes: Vec<(String, String)> = problems
        .iter()
        .filter(|p| p.severity == Severity::NotApplicable)
        .map(|p| (p.field.clone(), p.message.clone()))
        .collect();
    assert_eq!(
        notes,
        [
            (
                "bsi".to_string(),
                "Apple offers no Background Security Improvements for tvOS".to_string()
            ),
            (
                "settings.RecommendedCadence".to_string(),
                "does not apply to macOS, tvOS: those devices will not receive it".to_string()
            ),
            (
                "settings.AllowStandardUserOSUpdates".to_string(),
                "does not apply to iOS, tvOS: those devices will not receive it".to_string()
            ),
        ]
    );
    let mut deferrals = policy(
        "mixed",
        &[Platform::Ios, Platform::MacOs],
        Enforcement::AutomaticLatest(AutomaticLatest {
            deferral: DeferralPeriods {
                combined: Some(5),
                major: Some(30),
                minor: None,
                system: None,
            },
            grace_days: 7,
            at: time(18, 0),
            details_url: None,
        }),
    );
    assert_eq!(
        fields(&validate(&deferrals, &ctx()), Severity::NotApplicable),
        ["enforcement.deferral.combined", "enforcement.deferral.major"]
    );
    deferrals.platforms = vec![Platform::MacOs];
    assert_eq!(
        fields(&validate(&deferrals, &ctx()), Severity::NotApplicable),
        ["enforcement.deferral.combined"]
    );
}

#[test]
fn the_default_rings_are_valid_and_a_schedule_must_leave_room_for_deadlines() {
    for ring in default_rings() {
        for p in &ring.policies {
            let problems = validate(p, &ctx());
            assert!(problems.is_empty(), "{}: {problems:?}", p.name);
        }
    }
    use chrono::Weekday::*;
    let closed = RingSchedule {
        blocked_weekdays: vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        window: Some(MaintenanceWindow {
            start: time(23, 0),
            end: time(1, 0),
        }),
        offset_days: [("Late".to_string(), 400)].into(),
        ..RingSchedule::default()
    };
    let problems = validate_schedule(&closed);
    assert_eq!(
        problems.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(),
        ["blocked_weekdays", "window", "offset_days.Late"]
    );
    assert!(validate_schedule(&RingSchedule::default()).is_empty());
}
