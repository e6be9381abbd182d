//! Table tests of [`assess`]: one controlled plan and status report per case, time from a
//! virtual clock.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::state::{ComplianceState, Inputs, assess};
use crate::catalog::{Build, OsVersion};
use crate::clock::{Clock, VirtualClock};
use crate::ddm::StatusInventory;
use crate::policy::{Deadline, Enforce, EnforcementPath, NoAction, Plan, Target, Unknown as Unsure};
use crate::protocol::ddm::{Platform, TargetLocalDateTime};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn version(text: &str) -> OsVersion {
    text.parse().unwrap()
}

fn plan(target: Target) -> Plan {
    Plan {
        platform: Some(Platform::Ios),
        target,
        bsi: None,
        upcoming: None,
        settings: Default::default(),
        explanation: String::new(),
    }
}

/// Enforce 17.6 by 2026-03-09 18:00 UTC.
fn enforce() -> Plan {
    let deadline = DateTime::parse_from_rfc3339("2026-03-09T18:00:00Z")
        .unwrap()
        .to_utc();
    plan(Target::Enforce(Enforce {
        version: version("17.6"),
        build: "21G80".parse::<Build>().unwrap(),
        deadline: Deadline {
            utc: deadline,
            local: TargetLocalDateTime(deadline.naive_utc()),
        },
        visible_from: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        release_posted: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        path: EnforcementPath::Declarative,
    }))
}

fn status(os: &str, install_state: &str, failures: u32, reason: Option<&str>) -> StatusInventory {
    StatusInventory {
        os_version: Some(os.into()),
        install_state: Some(install_state.into()),
        pending_version: (install_state != "none").then(|| "17.6".to_string()),
        failure_count: Some(failures),
        failure_reason: reason.map(str::to_string),
        ..StatusInventory::default()
    }
}

struct Case {
    name: &'static str,
    enrolled: bool,
    plan: Option<Plan>,
    status: StatusInventory,
    /// How long before "now" the device last reported.
    silent_for: Duration,
    /// How far the clock has moved from the start.
    advance: Duration,
    state: ComplianceState,
    reason_has: &'static str,
    deadline: bool,
    stale: bool,
}

fn case(
    name: &'static str,
    plan: Option<Plan>,
    status: StatusInventory,
    state: ComplianceState,
    reason_has: &'static str,
) -> Case {
    Case {
        name,
        enrolled: true,
        plan,
        status,
        silent_for: Duration::hours(1),
        advance: Duration::zero(),
        state,
        reason_has,
        deadline: false,
        stale: false,
    }
}

#[test]
fn each_case_has_its_state_and_a_reason_a_person_can_read() {
    use ComplianceState::*;
    let idle = status("17.5", "none", 0, None);
    let cases = vec![
        case(
            "target installed",
            Some(enforce()),
            status("17.6", "none", 0, None),
            UpToDate,
            "on 17.6",
        ),
        case(
            "nothing newer offered",
            Some(plan(Target::NoAction {
                reason: NoAction::UpToDate {
                    version: version("17.6"),
                },
            })),
            idle.clone(),
            UpToDate,
            "up to date on 17.6",
        ),
        case(
            "update hidden by the deferral",
            Some(plan(Target::NoAction {
                reason: NoAction::Deferred {
                    version: version("17.6"),
                    visible_from: NaiveDate::from_ymd_opt(2026, 3, 20).unwrap(),
                },
            })),
            idle.clone(),
            Deferred,
            "deferred until 2026-03-20",
        ),
        Case {
            deadline: true,
            ..case(
                "pending before the deadline",
                Some(enforce()),
                idle.clone(),
                InGrace,
                "17.6 due by 2026-03-09 18:00 UTC",
            )
        },
        Case {
            deadline: true,
            ..case(
                "downloading",
                Some(enforce()),
                status("17.5", "downloading", 0, None),
                Installing,
                "downloading 17.6",
            )
        },
        Case {
            deadline: true,
            ..case(
                "installing",
                Some(enforce()),
                status("17.5", "installing", 0, None),
                Installing,
                "installing 17.6",
            )
        },
        Case {
            deadline: true,
            advance: Duration::days(8),
            ..case(
                "past the deadline, not on the target",
                Some(enforce()),
                idle.clone(),
                Overdue,
                "17.6 was due by 2026-03-09 18:00 UTC",
            )
        },
        Case {
            deadline: true,
            ..case(
                "the device reports a failure",
                Some(enforce()),
                status("17.5", "failed", 3, Some("not enough space")),
                Failed,
                "(3 failure(s)): not enough space",
            )
        },
        case(
            "model not in the catalog",
            Some(plan(Target::Unknown {
                reason: Unsure::UnknownModel {
                    model: Some("iPhone99,1".into()),
                    device_id: None,
                },
            })),
            idle.clone(),
            Unknown,
            "iPhone99,1",
        ),
        case(
            "no catalog",
            Some(plan(Target::Unknown {
                reason: Unsure::NoCatalog,
            })),
            idle.clone(),
            Unknown,
            "no update catalog",
        ),
        Case {
            silent_for: Duration::days(20),
            stale: true,
            deadline: true,
            ..case(
                "no recent report",
                Some(enforce()),
                idle.clone(),
                Unknown,
                "no report since 2026-02-10",
            )
        },
        case("no policy", None, idle.clone(), NotManaged, "no update policy"),
        case(
            "policy leaves the OS alone",
            Some(plan(Target::NoAction {
                reason: NoAction::NotManaged,
            })),
            idle.clone(),
            NotManaged,
            "not managed",
        ),
        Case {
            enrolled: false,
            ..case(
                "checked out",
                Some(enforce()),
                idle.clone(),
                NotManaged,
                "not enrolled",
            )
        },
        Case {
            enrolled: false,
            silent_for: Duration::days(30),
            stale: true,
            ..case("checked out long ago", None, idle, NotManaged, "not enrolled")
        },
    ];
    for c in cases {
        let clock = VirtualClock::new(start());
        clock.advance(c.advance);
        let now = clock.now();
        let got = assess(&Inputs {
            enrolled: c.enrolled,
            plan: c.plan.as_ref(),
            status: &c.status,
            inventory_os_version: None,
            last_contact: Some(now - c.silent_for),
            now,
            stale_after_days: 14,
        });
        assert_eq!(got.state, c.state, "{}: {}", c.name, got.reason);
        assert!(
            got.reason.contains(c.reason_has),
            "{}: {:?} lacks {:?}",
            c.name,
            got.reason,
            c.reason_has
        );
        assert_eq!(got.deadline.is_some(), c.deadline, "{}: deadline", c.name);
        assert_eq!(got.stale, c.stale, "{}: stale", c.name);
        assert_eq!(
            got.overdue_since.is_some(),
            c.state == Overdue,
            "{}: overdue since",
            c.name
        );
    }
}

#[test]
fn the_same_device_moves_from_in_grace_to_overdue_as_the_clock_passes_the_deadline() {
    let clock = VirtualClock::new(start());
    let plan = enforce();
    let status = status("17.5", "none", 0, None);
    let at = |now: DateTime<Utc>| {
        assess(&Inputs {
            enrolled: true,
            plan: Some(&plan),
            status: &status,
            inventory_os_version: None,
            last_contact: Some(now),
            now,
            stale_after_days: 14,
        })
    };
    assert_eq!(at(clock.now()).state, ComplianceState::InGrace);
    clock.set(
        DateTime::parse_from_rfc3339("2026-03-09T17:59:59Z")
            .unwrap()
            .to_utc(),
    );
    assert_eq!(at(clock.now()).state, ComplianceState::InGrace);
    clock.advance(Duration::seconds(1));
    let overdue = at(clock.now());
    assert_eq!(overdue.state, ComplianceState::Overdue);
    assert_eq!(overdue.overdue_since, overdue.deadline);
}

#[test]
fn the_mdm_inventory_version_counts_when_status_has_none() {
    let plan = enforce();
    let status = StatusInventory::default();
    let now = start();
    let got = assess(&Inputs {
        enrolled: true,
        plan: Some(&plan),
        status: &status,
        inventory_os_version: Some("17.6.1"),
        last_contact: Some(now),
        now,
        stale_after_days: 14,
    });
    assert_eq!(got.state, ComplianceState::UpToDate);
}

#[test]
fn state_names_round_trip() {
    for s in ComplianceState::ALL {
        assert_eq!(ComplianceState::parse(s.as_str()), Some(s));
    }
    assert_eq!(ComplianceState::parse("late"), None);
}
