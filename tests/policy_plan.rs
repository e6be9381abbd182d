//! Table tests of the pure planner against the real catalog samples (gdmf 2026-04-12, SOFA v2):
//! every enforcement mode, rings and their calendar, majors, expiry, unknown models, paths.

use chrono::{FixedOffset, Weekday};
use orchard::policy::{
    AutomaticLatest, DeferralPeriods, Enforcement, MaintenanceWindow, MajorPolicy, NewestMajor, NoAction,
    Plan, RingAssignment, RingSchedule, RollingWindow, Target, plan,
};
use orchard::protocol::ddm::Platform;

use crate::policy_support::*;

fn rolling(within: RollingWindow) -> Enforcement {
    Enforcement::Rolling {
        within,
        at: time(18, 0),
    }
}

fn automatic(combined: u32, grace: u32) -> Enforcement {
    Enforcement::AutomaticLatest(AutomaticLatest {
        deferral: DeferralPeriods {
            combined: Some(combined),
            ..DeferralPeriods::default()
        },
        grace_days: grace,
        at: time(18, 0),
        details_url: None,
    })
}

fn run(
    device: &orchard::policy::DeviceView,
    policy: &orchard::policy::Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> Plan {
    plan(device, catalog(), policy, None, now)
}

#[test]
fn rolling_release_posted_the_day_before_a_blocked_weekday_moves_to_the_next_allowed_day() {
    // iOS 26.4.1 was posted on Wednesday 2026-04-08; within 1 day is Thursday, which is blocked.
    let iphone = unsupervised("iPhone14,2", "26.4", "23E246");
    let p = policy("rolling-1d", IOS, rolling(RollingWindow::OneDay));
    let schedule = RingSchedule {
        blocked_weekdays: vec![Weekday::Thu],
        ..RingSchedule::default()
    };
    let ring = RingAssignment {
        name: "Pilot",
        schedule: &schedule,
    };
    let now = utc(2026, 4, 8, 12);
    let free = run(&iphone, &p, now);
    assert_eq!(
        summary(&free),
        "enforce 26.4.1 (23E254) by 2026-04-09T18:00:00 visible 2026-04-08 Declarative"
    );
    let blocked = plan(&iphone, catalog(), &p, Some(&ring), now);
    assert_eq!(
        summary(&blocked),
        "enforce 26.4.1 (23E254) by 2026-04-10T18:00:00 visible 2026-04-08 Declarative"
    );
    for part in [
        "Policy rolling-1d, ring Pilot",
        "26.4.1 (23E254) posted on 2026-04-08",
        "within 1 day",
        "Thursday 2026-04-09 is a blocked weekday",
        "deadline 2026-04-10 18:00 local",
    ] {
        assert!(
            blocked.explanation.contains(part),
            "{part:?} not in {}",
            blocked.explanation
        );
    }
}

#[test]
fn ring_base_date_offsets_and_maintenance_window_set_each_rings_deadline() {
    let iphone = unsupervised("iPhone14,2", "26.4", "23E246");
    let p = policy("rolling-2d", IOS, rolling(RollingWindow::TwoDays));
    let schedule = RingSchedule {
        base_date: Some(day(2026, 4, 10)),
        offset_days: [
            ("First".to_string(), 0),
            ("Second".to_string(), 3),
            ("Last".to_string(), 7),
        ]
        .into(),
        blocked_weekdays: vec![Weekday::Sat, Weekday::Sun],
        blocked_dates: vec![day(2026, 4, 20)],
        window: Some(MaintenanceWindow {
            start: time(19, 0),
            end: time(23, 0),
        }),
    };
    let now = utc(2026, 4, 10, 9);
    let table = [
        // base 04-10 (after the 04-08 posting) + 2 days = Sunday 04-12 → Monday 04-13, 18:00 → 19:00.
        ("First", "2026-04-13T19:00:00"),
        // + 3 = Wednesday 04-15.
        ("Second", "2026-04-15T19:00:00"),
        // + 7 = Sunday 04-19 → Monday 04-20 is a blocked date → Tuesday 04-21.
        ("Last", "2026-04-21T19:00:00"),
    ];
    for (ring, deadline) in table {
        let assignment = RingAssignment {
            name: ring,
            schedule: &schedule,
        };
        let got = plan(&iphone, catalog(), &p, Some(&assignment), now);
        let Target::Enforce(e) = &got.target else {
            panic!("{ring}: {}", summary(&got))
        };
        assert_eq!(
            e.deadline.local.to_string(),
            deadline,
            "{ring}: {}",
            got.explanation
        );
        assert!(
            got.explanation.contains("ring base date 2026-04-10"),
            "{}",
            got.explanation
        );
    }
}

#[test]
fn minimum_and_specific_versions() {
    let p_min = |v: &str| {
        policy(
            "min",
            IOS,
            Enforcement::Minimum {
                version: v.parse().unwrap(),
                deadline: local(2026, 4, 20, 18, 0),
            },
        )
    };
    let p_spec = |v: &str, b: Option<&str>| {
        policy(
            "spec",
            IOS,
            Enforcement::Specific {
                version: v.parse().unwrap(),
                build: b.map(|b| b.parse().unwrap()),
                deadline: local(2026, 4, 20, 18, 0),
            },
        )
    };
    let now = utc(2026, 4, 12, 8);
    let behind_sup = supervised("iPhone14,2", "26.2", "23C55");
    let behind_unsup = unsupervised("iPhone14,2", "26.2", "23C55");
    let above = unsupervised("iPhone14,2", "26.4.1", "23E254");
    let old_ipad = supervised("iPad7,11", "18.7.7", "22H340");
    let table = [
        (
            &above,
            p_min("26.4"),
            "no action: already at or above the minimum 26.4",
        ),
        (
            &above,
            p_min("26.4.1"),
            "no action: already at or above the minimum 26.4.1",
        ),
        // The minimum itself when the device may take it (supervised: AssetSets offers 26.3.1)...
        (
            &behind_sup,
            p_min("26.3.1"),
            "enforce 26.3.1 (23D8133) by 2026-04-20T18:00:00 visible 2026-03-04 Declarative",
        ),
        // ...else the lowest release above it that is offered (unsupervised: public 26.4.1 only).
        (
            &behind_unsup,
            p_min("26.3.1"),
            "enforce 26.4.1 (23E254) by 2026-04-20T18:00:00 visible 2026-04-08 Declarative",
        ),
        (
            &old_ipad,
            p_min("26.4"),
            "no action: 26.4 is not offered to this model",
        ),
        (
            &behind_sup,
            p_spec("26.3.1", Some("23D9133")),
            "enforce 26.3.1 (23D9133) by 2026-04-20T18:00:00 visible 2026-03-04 Declarative",
        ),
        (
            &behind_sup,
            p_spec("26.3.1", None),
            "enforce 26.3.1 (23D8133) by 2026-04-20T18:00:00 visible 2026-03-04 Declarative",
        ),
        (
            &above,
            p_spec("26.4.1", None),
            "no action: already at or above the target 26.4.1",
        ),
        (
            &above,
            p_spec("26.3", None),
            "no action: already at or above the target 26.3",
        ),
        (
            &behind_unsup,
            p_spec("26.3.1", None),
            "no action: 26.3.1 is not offered to this model",
        ),
        (
            &behind_sup,
            p_spec("26.3.1", Some("23D1")),
            "no action: 26.3.1 is not offered to this model",
        ),
    ];
    for (device, p, want) in table {
        assert_eq!(summary(&run(device, &p, now)), want, "{:?}", p.enforcement);
    }
}

#[test]
fn a_device_whose_model_is_unknown_is_unknown_never_up_to_date() {
    let p = policy("rolling", IOS, rolling(RollingWindow::OneWeek));
    let now = utc(2026, 4, 12, 8);
    let ghost = unsupervised("iPhone99,9", "26.4.1", "23E254");
    let got = run(&ghost, &p, now);
    assert!(matches!(got.target, Target::Unknown { .. }), "{}", summary(&got));
    assert_eq!(
        summary(&got),
        "unknown: model iPhone99,9 (update id ?) is not in the catalog"
    );
    let mut nameless = ghost.clone();
    nameless.model = None;
    assert_eq!(
        summary(&run(&nameless, &p, now)),
        "unknown: the device's platform is not known yet"
    );
    let empty = orchard::catalog::CatalogIndex::default();
    let known = unsupervised("iPhone14,2", "26.4", "23E246");
    assert_eq!(
        summary(&plan(&known, &empty, &p, None, now)),
        "unknown: no update catalog loaded yet"
    );
}

#[test]
fn majors_only_when_allowed_and_never_beyond_the_newest_allowed_major() {
    let now = utc(2026, 4, 12, 8);
    let on_18 = supervised("iPhone14,2", "18.7.6", "22H320");
    let on_18_latest = supervised("iPhone14,2", "18.7.7", "22H340");
    let with = |enforcement: Enforcement, allow_major: bool, newest_major: NewestMajor| {
        let mut p = policy("majors", IOS, enforcement);
        p.majors = MajorPolicy {
            allow_major,
            newest_major,
        };
        p
    };
    let spec = || Enforcement::Specific {
        version: "26.4.1".parse().unwrap(),
        build: None,
        deadline: local(2026, 4, 30, 18, 0),
    };
    let week = || rolling(RollingWindow::OneWeek);
    let table = [
        (
            &on_18,
            with(week(), false, NewestMajor::N),
            "enforce 18.7.7 (22H340) by 2026-04-08T18:00:00 visible 2026-04-01 Declarative",
        ),
        (
            &on_18,
            with(week(), true, NewestMajor::NMinusOne),
            "enforce 18.7.7 (22H340) by 2026-04-08T18:00:00 visible 2026-04-01 Declarative",
        ),
        (
            &on_18,
            with(week(), true, NewestMajor::N),
            "enforce 26.4.1 (23E254) by 2026-04-15T18:00:00 visible 2026-04-08 Declarative",
        ),
        (
            &on_18,
            with(spec(), true, NewestMajor::NMinusOne),
            "no action: 26.4.1 is beyond the newest major the policy allows (18)",
        ),
        (
            &on_18,
            with(spec(), false, NewestMajor::N),
            "no action: 26.4.1 is a major upgrade and the policy does not allow major upgrades",
        ),
        (
            &on_18_latest,
            with(week(), false, NewestMajor::N),
            "no action: 26.4.1 is a major upgrade and the policy does not allow major upgrades",
        ),
        (
            &on_18_latest,
            with(spec(), true, NewestMajor::N),
            "enforce 26.4.1 (23E254) by 2026-04-30T18:00:00 visible 2026-04-08 Declarative",
        ),
    ];
    for (device, p, want) in table {
        assert_eq!(
            summary(&run(device, &p, now)),
            want,
            "{:?} {:?}",
            p.enforcement,
            p.majors
        );
    }
}

#[test]
fn automatic_latest_deferral_and_grace_boundaries() {
    // 26.4.1 posted 2026-04-08; deferral 7 days → visible 2026-04-15; grace 10 → 2026-04-25 18:00.
    let iphone = unsupervised("iPhone14,2", "26.4", "23E246");
    let p = policy("auto", IOS, automatic(7, 10));
    let deferred = "no action: 26.4.1 is deferred until 2026-04-15";
    let enforced = "enforce 26.4.1 (23E254) by 2026-04-25T18:00:00 visible 2026-04-15 Declarative";
    let table = [
        // Deferral: the day before, the day of, the day after its end.
        (utc(2026, 4, 14, 23), deferred),
        (utc(2026, 4, 15, 0), enforced),
        (utc(2026, 4, 16, 12), enforced),
        // Grace: the day before, the day of, the day after the deadline: the same target and
        // deadline (past it, the device installs at once).
        (utc(2026, 4, 24, 12), enforced),
        (utc(2026, 4, 25, 12), enforced),
        (utc(2026, 4, 26, 12), enforced),
    ];
    for (now, want) in table {
        let got = run(&iphone, &p, now);
        assert_eq!(summary(&got), want, "at {now}");
        if let Target::NoAction { .. } = got.target {
            let up = got.upcoming.expect("the deferred release is announced");
            assert_eq!(
                (up.visible_from, up.deadline),
                (day(2026, 4, 15), local(2026, 4, 25, 18, 0))
            );
        }
    }
    // No grace: enforced the day the deferral ends.
    let none = policy("auto-0", IOS, automatic(7, 0));
    assert_eq!(
        summary(&run(&iphone, &none, utc(2026, 4, 15, 0))),
        "enforce 26.4.1 (23E254) by 2026-04-15T18:00:00 visible 2026-04-15 Declarative"
    );
    // While the newest is deferred, the newest visible release is enforced (supervised: 26.4,
    // posted 03-24, visible 03-31, due 04-10), and the newer one is announced.
    let behind = supervised("iPhone14,2", "26.3.1", "23D8133");
    let got = run(&behind, &p, utc(2026, 4, 14, 12));
    assert_eq!(
        summary(&got),
        "enforce 26.4 (23E246) by 2026-04-10T18:00:00 visible 2026-03-31 Declarative"
    );
    assert_eq!(got.upcoming.map(|u| u.version.to_string()), Some("26.4.1".into()));
    assert!(
        got.explanation.contains("26.4.1 becomes visible on 2026-04-15"),
        "{}",
        got.explanation
    );
}

#[test]
fn macos_defers_majors_and_minors_separately() {
    let mac = supervised("Mac14,9", "15.7.4", "24G517");
    let mut p = policy(
        "mac-auto",
        MAC,
        Enforcement::AutomaticLatest(AutomaticLatest {
            deferral: DeferralPeriods {
                major: Some(30),
                minor: Some(3),
                system: Some(5),
                combined: None,
            },
            grace_days: 5,
            at: time(20, 0),
            details_url: None,
        }),
    );
    // Minor step: 15.7.5 (its public entry posted 04-09) is visible after 3 days, 04-12.
    let got = run(&mac, &p, utc(2026, 4, 12, 8));
    assert_eq!(
        summary(&got),
        "enforce 15.7.5 (24G624) by 2026-04-17T20:00:00 visible 2026-04-12 Declarative"
    );
    // Majors allowed: each major release is hidden 30 days. 26.4.1 (04-09) and 26.4 (03-24) are
    // still hidden on 04-12; 26.3.1 (posted 03-04, supervised) became visible on 04-03.
    p.majors.allow_major = true;
    let got = run(&mac, &p, utc(2026, 4, 12, 8));
    assert_eq!(
        summary(&got),
        "enforce 26.3.1 (25D2128) by 2026-04-08T20:00:00 visible 2026-04-03 Declarative"
    );
    let up = got.upcoming.expect("the major is announced");
    assert_eq!(
        (up.version.to_string(), up.visible_from),
        ("26.4.1".to_string(), day(2026, 5, 9))
    );
}

#[test]
fn an_expired_release_is_not_enforced() {
    // Every release of the sample expires by 2026-07-11.
    let now = utc(2026, 7, 12, 8);
    let behind = supervised("iPhone14,2", "26.2", "23C55");
    let specific = policy(
        "spec",
        IOS,
        Enforcement::Specific {
            version: "26.3.1".parse().unwrap(),
            build: Some("23D8133".parse().unwrap()),
            deadline: local(2026, 7, 20, 18, 0),
        },
    );
    assert_eq!(
        summary(&run(&behind, &specific, now)),
        "no action: 26.3.1 expired on 2026-07-11: Apple no longer offers it, so it is not enforced"
    );
    let got = run(
        &behind,
        &policy("rolling", IOS, rolling(RollingWindow::OneWeek)),
        now,
    );
    assert_eq!(
        summary(&got),
        "no action: 26.4.1 expired on 2026-07-11: Apple no longer offers it, so it is not enforced"
    );
    // The day of expiry it is still offered.
    let still = run(&behind, &specific, utc(2026, 7, 11, 8));
    assert!(matches!(still.target, Target::Enforce(_)), "{}", summary(&still));
}

#[test]
fn deadlines_are_local_on_the_device_and_utc_for_the_scheduler() {
    let mut iphone = unsupervised("iPhone14,2", "26.4", "23E246");
    iphone.utc_offset = FixedOffset::east_opt(2 * 3600).unwrap();
    let got = run(
        &iphone,
        &policy("rolling-1d", IOS, rolling(RollingWindow::OneDay)),
        utc(2026, 4, 8, 12),
    );
    let Target::Enforce(e) = got.target else {
        panic!("{}", got.explanation)
    };
    assert_eq!(e.deadline.local.to_string(), "2026-04-09T18:00:00");
    assert_eq!(e.deadline.utc, utc(2026, 4, 9, 16));
}

#[test]
fn legacy_path_for_devices_without_declarative_enforcement() {
    let now = utc(2026, 4, 12, 8);
    let p = policy("auto", IOS, automatic(3, 2));
    // iPadOS 16 has no enforcement declaration: ScheduleOSUpdate, supervised only.
    let ipad16 = supervised("iPad6,11", "16.7.14", "20H370");
    let got = run(&ipad16, &p, now);
    assert_eq!(
        summary(&got),
        "enforce 16.7.15 (20H380) by 2026-04-13T18:00:00 visible 2026-04-11 Legacy"
    );
    assert!(
        got.explanation.contains("legacy path: ScheduleOSUpdate"),
        "{}",
        got.explanation
    );
    match &got.settings {
        orchard::policy::SettingsPlan::Legacy(l) => assert_eq!(l.delay_days, 3),
        other => panic!("legacy deferrals expected, got {other:?}"),
    }
    let unsup = unsupervised("iPad6,11", "16.7.14", "20H370");
    assert_eq!(
        summary(&run(&unsup, &p, now)),
        "no action: update enforcement on this device needs supervision"
    );
    // A DDM-capable iPhone whose DDM engine is not on yet also takes the legacy road.
    let mut off = supervised("iPhone14,2", "26.4", "23E246");
    off.ddm_active = false;
    let Target::Enforce(e) = run(&off, &policy("r", IOS, rolling(RollingWindow::OneDay)), now).target else {
        panic!("enforcement expected")
    };
    assert_eq!(e.path, orchard::policy::EnforcementPath::Legacy);
    // An unsupervised Mac takes no enforcement declaration.
    let mac = unsupervised("Mac14,9", "26.3.1", "25D2128");
    assert_eq!(
        summary(&run(&mac, &policy("m", MAC, rolling(RollingWindow::OneDay)), now)),
        "no action: update enforcement on this device needs supervision"
    );
}

#[test]
fn a_policy_for_other_platforms_and_do_not_manage_enforce_nothing() {
    let now = utc(2026, 4, 12, 8);
    let iphone = unsupervised("iPhone14,2", "26.4", "23E246");
    let mac_policy = policy("mac", MAC, rolling(RollingWindow::OneDay));
    assert_eq!(
        summary(&run(&iphone, &mac_policy, now)),
        "no action: the policy does not cover iOS"
    );
    let hands_off = policy("off", IOS, Enforcement::DoNotManage);
    let got = run(&iphone, &hands_off, now);
    assert_eq!(
        got.target,
        Target::NoAction {
            reason: NoAction::NotManaged
        }
    );
    let ipad = unsupervised("iPad13,18", "26.4", "23E246");
    assert_eq!(ipad.platform(), Some(Platform::IpadOs));
}
