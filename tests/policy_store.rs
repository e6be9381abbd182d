//! The policy service over the real store: policies, groups, rings and assignments saved,
//! refused with reasons (nothing saved), audited, previewed and explained.

use crate::common;
use crate::policy_support::{IOS, MAC, local, policy, time};

use chrono::{TimeZone, Utc};
use orchard::admin::Actor;
use orchard::policy::groups::{Group, GroupKind, GroupRules};
use orchard::policy::service::Assignments;
use orchard::policy::{
    AutomaticLatest, DeferralPeriods, Enforcement, MaintenanceWindow, PolicyError, RingSchedule,
    RollingWindow,
};
use orchard::protocol::ddm::{AutomaticActions, Platform, UserControl};
use orchard::store::devices::{self, Authentication, Inventory, PushCredentials};

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");

/// An appliance on 2026-04-12 10:00 UTC with the catalog of that day.
pub async fn policy_app() -> common::TestApp {
    let app = common::spawn_app().await;
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 4, 12, 10, 0, 0).unwrap());
    let catalog = app.state.catalog.clone();
    tokio::task::spawn_blocking(move || {
        catalog.import_documents(vec![("pmv.json".into(), GDMF.to_vec())], &mut |_| {})
    })
    .await
    .unwrap()
    .unwrap();
    app
}

/// An enrolled device as its MDM check-ins would have recorded it.
pub fn add_device(app: &common::TestApp, udid: &str, model: &str, version: &str, build: &str, serial: &str) {
    let now = app.clock_now();
    let inventory = Inventory {
        serial_number: Some(serial.into()),
        os_version: Some(version.into()),
        build_version: Some(build.into()),
        product_name: Some(model.into()),
        device_name: Some(format!("{model} {serial}")),
        is_supervised: Some(true),
        ..Inventory::default()
    };
    let (udid, fingerprint) = (udid.to_string(), format!("fingerprint-{udid}"));
    app.state
        .store
        .write_blocking(move |c| {
            devices::record_authenticate(
                c,
                &Authentication {
                    udid: &udid,
                    topic: "com.apple.mgmt.test",
                    identity_fingerprint: &fingerprint,
                    inventory: inventory.clone(),
                },
                now,
            )?;
            devices::record_token_update(
                c,
                &udid,
                &PushCredentials {
                    topic: "com.apple.mgmt.test",
                    token: b"token",
                    push_magic: "magic",
                    unlock_token: None,
                    awaiting_configuration: false,
                },
                now,
            )?;
            devices::update_inventory(c, &udid, &inventory, now)
        })
        .unwrap();
}

pub fn admin() -> Actor {
    Actor {
        name: "admin:alice".into(),
        remote_addr: Some("192.0.2.7".into()),
    }
}

fn static_group(name: &str, ring_order: Option<u32>) -> Group {
    Group {
        name: name.into(),
        description: String::new(),
        kind: GroupKind::Static,
        rules: GroupRules::default(),
        ring_order,
    }
}

fn to_groups(names: &[&str]) -> Assignments {
    Assignments {
        groups: names.iter().map(|n| n.to_string()).collect(),
        devices: Vec::new(),
    }
}

pub fn auto(combined: u32, grace: u32) -> Enforcement {
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

fn error_fields(e: &PolicyError) -> Vec<String> {
    match e {
        PolicyError::Invalid(problems) => problems
            .iter()
            .filter(|p| p.severity == orchard::policy::Severity::Error)
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect(),
        other => panic!("expected invalid input, got {other}"),
    }
}

#[tokio::test]
async fn bad_policies_are_refused_with_every_reason_and_nothing_is_saved() {
    let app = policy_app().await;
    let service = &app.state.policies;
    let audit_before = app.audit_count().await;

    let mut days = policy("days", IOS, auto(91, 400));
    days.settings.automatic_actions = Some(AutomaticActions {
        download: Some(UserControl::AlwaysOff),
        install_os_updates: Some(UserControl::AlwaysOn),
        install_security_update: None,
    });
    if let Enforcement::AutomaticLatest(a) = &mut days.enforcement {
        a.details_url = Some("ftp://intranet.example/updates".into());
    }
    let e = service
        .save_policy(None, days, to_groups(&["nowhere"]), &admin())
        .await
        .unwrap_err();
    let reasons = error_fields(&e);
    for wanted in [
        "enforcement.deferral.combined: the combined deferral must be between 1 and 90 days, not 91",
        "enforcement.grace_days: the grace period must be between 0 and 365 days, not 400",
        "enforcement.details_url: the details URL must start with http:// or https://",
        "settings.AutomaticActions.InstallOSUpdates:",
        "assignments.groups: there is no group named `nowhere`",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with(wanted)),
            "{wanted} not in {reasons:#?}"
        );
    }

    let unknown_version = policy(
        "pin",
        IOS,
        Enforcement::Specific {
            version: "26.9".parse().unwrap(),
            build: None,
            deadline: local(2026, 4, 1, 18, 0),
        },
    );
    let e = service
        .save_policy(None, unknown_version, Assignments::default(), &admin())
        .await
        .unwrap_err();
    let reasons = error_fields(&e);
    assert!(
        reasons[0].starts_with("enforcement.version: 26.9 does not exist in the catalog for iOS"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("enforcement.deadline: the deadline 2026-04-01 18:00 is in the past"),
        "{reasons:?}"
    );
    assert!(e.is_bad_input());

    let unknown_device = Assignments {
        groups: Vec::new(),
        devices: vec!["NO-SUCH-DEVICE".into()],
    };
    let e = service
        .save_policy(None, policy("ok", IOS, auto(3, 5)), unknown_device, &admin())
        .await
        .unwrap_err();
    assert_eq!(
        error_fields(&e),
        ["assignments.devices: there is no device NO-SUCH-DEVICE"]
    );

    assert!(service.list_policies().await.unwrap().is_empty(), "nothing saved");
    assert_eq!(app.audit_count().await, audit_before, "nothing audited");
}

#[tokio::test]
async fn a_saved_policy_is_listed_with_its_groups_counts_and_audit_and_can_be_renamed_and_deleted() {
    let app = policy_app().await;
    let service = &app.state.policies;
    add_device(&app, "UDID-IPHONE", "iPhone14,2", "26.2", "23C55", "SERIAL1");
    add_device(&app, "UDID-MAC", "Mac14,9", "26.3", "25D125", "SERIAL2");
    service
        .save_group(None, static_group("Pilot", None), &admin())
        .await
        .unwrap();
    let added = service
        .add_members("Pilot", &["UDID-IPHONE".into(), "UDID-MAC".into()], &admin())
        .await
        .unwrap();
    assert_eq!(added, 2);

    let saved = service
        .save_policy(
            None,
            policy("ios-auto", IOS, auto(3, 5)),
            to_groups(&["Pilot"]),
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!(saved.queued_devices, 2, "both members are re-evaluated");
    let unassigned = service
        .save_policy(
            None,
            policy("mac-later", MAC, auto(3, 5)),
            Assignments::default(),
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!(unassigned.queued_devices, 0);

    let list = service.list_policies().await.unwrap();
    let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ios-auto", "mac-later"]);
    let ios = &list[0];
    assert_eq!(ios.mode, "automatic latest");
    assert_eq!(ios.groups.len(), 1);
    assert_eq!(
        (ios.groups[0].devices, ios.groups[0].covered_devices),
        (2, 1),
        "the Mac is not covered"
    );
    assert_eq!(ios.effective_devices, 1);
    assert!(!ios.takes_effect_on_no_device);
    assert!(
        list[1].takes_effect_on_no_device,
        "a policy assigned to nobody is flagged"
    );

    // A second policy with the same name is refused; renaming keeps the assignments.
    let e = service
        .save_policy(
            None,
            policy("ios-auto", IOS, auto(1, 1)),
            Assignments::default(),
            &admin(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error_fields(&e),
        ["name: a policy named `ios-auto` already exists"]
    );
    service
        .save_policy(
            Some("ios-auto"),
            policy("ios-auto-2", IOS, auto(4, 5)),
            to_groups(&["Pilot"]),
            &admin(),
        )
        .await
        .unwrap();
    assert!(service.get_policy("ios-auto").await.unwrap().is_none());
    let detail = service.get_policy("ios-auto-2").await.unwrap().unwrap();
    assert_eq!(detail.assignments.groups, ["Pilot"]);
    assert_eq!(detail.policy.enforcement, auto(4, 5));

    service.delete_policy("ios-auto-2", &admin()).await.unwrap();
    assert!(matches!(
        service.delete_policy("ios-auto-2", &admin()).await,
        Err(PolicyError::NotFound { .. })
    ));
    let actions: Vec<String> = app
        .state
        .store
        .read_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT action || ' ' || target || ' ' || actor FROM audit_log ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    let policy_actions: Vec<&String> = actions
        .iter()
        .filter(|a| a.starts_with("policy.") || a.starts_with("group."))
        .collect();
    assert_eq!(
        policy_actions,
        [
            "group.create group:Pilot admin:alice",
            "group.members.add group:Pilot admin:alice",
            "policy.create policy:ios-auto admin:alice",
            "policy.create policy:mac-later admin:alice",
            "policy.update policy:ios-auto-2 admin:alice",
            "policy.delete policy:ios-auto-2 admin:alice",
        ]
    );
}

#[tokio::test]
async fn equal_priorities_on_one_device_are_a_conflict_shown_in_the_list_and_on_the_device() {
    let app = policy_app().await;
    let service = &app.state.policies;
    add_device(&app, "UDID-1", "iPhone14,2", "26.2", "23C55", "S1");
    let rules = Group {
        name: "All iPhones".into(),
        description: String::new(),
        kind: GroupKind::Rules,
        rules: GroupRules {
            platforms: vec![Platform::Ios],
            ..GroupRules::default()
        },
        ring_order: None,
    };
    assert_eq!(service.rule_match_count(&rules.rules).await.unwrap(), 1);
    service.save_group(None, rules, &admin()).await.unwrap();
    for name in ["a", "b"] {
        service
            .save_policy(
                None,
                policy(name, IOS, auto(3, 5)),
                to_groups(&["All iPhones"]),
                &admin(),
            )
            .await
            .unwrap();
    }
    let list = service.list_policies().await.unwrap();
    assert_eq!(list[0].conflicts.len(), 1, "{:?}", list[0].conflicts);
    assert!(list[0].conflicts[0].contains("give one of them a higher priority"));
    let plan = service.device_plan("UDID-1").await.unwrap().unwrap();
    assert_eq!(plan.plan.decision, "conflict");
    assert_eq!(plan.groups, ["All iPhones"]);

    let mut higher = policy("b", IOS, auto(3, 5));
    higher.priority = 5;
    service
        .save_policy(Some("b"), higher, to_groups(&["All iPhones"]), &admin())
        .await
        .unwrap();
    let plan = service.device_plan("UDID-1").await.unwrap().unwrap();
    assert_eq!(plan.policy.as_deref(), Some("b"));
    assert!(plan.conflicts.is_empty());
    assert!(service.device_plan("UNKNOWN").await.unwrap().is_none());
}

#[tokio::test]
async fn groups_refuse_bad_rules_unknown_members_and_members_of_rule_groups() {
    let app = policy_app().await;
    let service = &app.state.policies;
    add_device(&app, "UDID-1", "iPad13,1", "26.2", "23C55", "S1");
    let empty_rules = Group {
        kind: GroupKind::Rules,
        ..static_group("Lab", None)
    };
    let e = service.save_group(None, empty_rules, &admin()).await.unwrap_err();
    assert!(error_fields(&e)[0].starts_with("rules: a rule-based group needs at least one rule"));
    service
        .save_group(None, static_group("Lab", Some(2)), &admin())
        .await
        .unwrap();
    let e = service
        .add_members("Lab", &["UDID-1".into(), "GHOST".into()], &admin())
        .await
        .unwrap_err();
    assert_eq!(error_fields(&e), ["members: no device GHOST"]);
    assert!(
        service
            .get_group("Lab")
            .await
            .unwrap()
            .unwrap()
            .static_members
            .is_empty()
    );
    let e = service
        .save_group(None, static_group("Lab", None), &admin())
        .await
        .unwrap_err();
    assert_eq!(error_fields(&e), ["name: a group named `Lab` already exists"]);

    service
        .add_members("Lab", &["UDID-1".into()], &admin())
        .await
        .unwrap();
    let detail = service.get_group("Lab").await.unwrap().unwrap();
    assert_eq!(detail.devices, 1);
    assert_eq!(detail.static_members[0].name.as_deref(), Some("iPad13,1 S1"));
    assert_eq!(
        service
            .remove_members("Lab", &["UDID-1".into()], &admin())
            .await
            .unwrap(),
        1
    );
    service.delete_group("Lab", &admin()).await.unwrap();
    assert!(service.list_groups().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_ring_calendar_is_validated_and_moves_previewed_deadlines() {
    let app = policy_app().await;
    let service = &app.state.policies;
    let outcome = service.load_default_rings(&admin()).await.unwrap();
    assert_eq!(outcome.created.len(), 12, "{outcome:?}");
    add_device(&app, "UDID-V", "iPhone14,2", "26.2", "23C55", "V1");
    add_device(&app, "UDID-L", "iPhone14,2", "26.2", "23C55", "L1");
    service
        .add_members("Vanguard", &["UDID-V".into()], &admin())
        .await
        .unwrap();
    service
        .add_members("Late Adoption", &["UDID-L".into()], &admin())
        .await
        .unwrap();

    let everything_blocked = RingSchedule {
        blocked_weekdays: vec![
            chrono::Weekday::Mon,
            chrono::Weekday::Tue,
            chrono::Weekday::Wed,
            chrono::Weekday::Thu,
            chrono::Weekday::Fri,
            chrono::Weekday::Sat,
            chrono::Weekday::Sun,
        ],
        offset_days: [("Nowhere".to_string(), 3)].into_iter().collect(),
        ..RingSchedule::default()
    };
    let e = service
        .save_ring_schedule(everything_blocked, &admin())
        .await
        .unwrap_err();
    let reasons = error_fields(&e);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("blocked_weekdays: every weekday is blocked"));
    assert_eq!(
        reasons[1],
        "offset_days.Nowhere: there is no ring named `Nowhere`"
    );
    assert_eq!(service.ring_schedule().await.unwrap(), RingSchedule::default());

    let schedule = RingSchedule {
        offset_days: [("Vanguard".to_string(), 2)].into_iter().collect(),
        window: Some(MaintenanceWindow {
            start: time(20, 0),
            end: time(23, 0),
        }),
        ..RingSchedule::default()
    };
    service
        .save_ring_schedule(schedule.clone(), &admin())
        .await
        .unwrap();
    assert_eq!(service.ring_schedule().await.unwrap(), schedule);

    // A rolling policy previewed on the Vanguard ring: the newest iOS (26.4.1, posted 2026-04-08),
    // within 1 week at 18:00, + 2 days for Vanguard, moved into the 20:00 window.
    let mut rolling = policy(
        "rolling",
        IOS,
        Enforcement::Rolling {
            within: RollingWindow::OneWeek,
            at: time(18, 0),
        },
    );
    rolling.priority = 10;
    let preview = service
        .preview(&rolling, &to_groups(&["Vanguard"]))
        .await
        .unwrap();
    assert_eq!(preview.rows.len(), 1);
    let row = &preview.rows[0];
    assert_eq!(row.udid, "UDID-V");
    assert_eq!(row.plan.decision, "enforce", "{}", row.plan.explanation);
    assert_eq!(row.plan.target_version.as_deref(), Some("26.4.1"));
    assert_eq!(
        row.plan.deadline_local,
        Some(local(2026, 4, 17, 20, 0)),
        "{}",
        row.plan.explanation
    );
    assert!(
        row.plan.explanation.contains("ring Vanguard"),
        "{}",
        row.plan.explanation
    );
    assert!(
        service.get_policy("rolling").await.unwrap().is_none(),
        "a preview saves nothing"
    );

    let plan = service.device_plan("UDID-L").await.unwrap().unwrap();
    assert_eq!(plan.ring.as_deref(), Some("Late Adoption"));
    assert_eq!(
        plan.policy.as_deref(),
        Some("Late Adoption (iOS, iPadOS) (ring-late-adoption-ios)")
    );
}
