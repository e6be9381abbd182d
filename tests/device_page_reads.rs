//! The device page and a device's compliance read only that device's static memberships: what
//! they show must be what the whole policy book gives, over a small fleet mixing static rings, a
//! static group that is not a ring, a rule-based group, a direct assignment and no group at all.

use crate::common;
use crate::policy_store::{add_device, admin, auto, policy_app};
use crate::policy_support::{IOS, MAC, policy};

use orchard::compliance::{PlanSource, PolicyPlans};
use orchard::policy::PolicyService;
use orchard::policy::groups::{Group, GroupRules};
use orchard::policy::service::loading::device_record;
use orchard::policy::service::{Assignments, PlanSummary};
use orchard::protocol::ddm::Platform;
use orchard::store::policies as policy_store;

/// (UDID, model, version, build): iPhones, an iPad and a Mac.
const FLEET: [(&str, &str, &str, &str); 7] = [
    ("IN-PILOT", "iPhone15,2", "18.5", "22F76"),
    ("NOT-IN-PILOT", "iPhone15,2", "18.5", "22F76"),
    ("PILOT-AND-LAB", "iPhone14,2", "26.3.1", "23D8133"),
    ("LAB-ONLY", "iPhone14,2", "26.3.1", "23D8133"),
    ("LATE-MAC", "Mac14,9", "15.5", "24F74"),
    ("DIRECT-MAC", "Mac14,9", "15.5", "24F74"),
    ("NO-GROUP-IPAD", "iPad13,4", "18.5", "22F76"),
];

fn assigned(groups: &[&str], devices: &[&str]) -> Assignments {
    Assignments {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        devices: devices.iter().map(|d| d.to_string()).collect(),
    }
}

/// Pilot (static ring 1) and Late (static ring 2) with policies; Lab (static, no policy);
/// iPhones (rule-based: every iPhone) with a lower-priority policy; a Mac policy assigned to
/// DIRECT-MAC itself; the iPad is in nothing.
async fn book(service: &PolicyService) {
    let iphones = GroupRules {
        platforms: vec![Platform::Ios],
        ..GroupRules::default()
    };
    for group in [
        Group::new("Pilot", Some(1), GroupRules::default()),
        Group::new("Late", Some(2), GroupRules::default()),
        Group::new("Lab", None, GroupRules::default()),
        Group::new("iPhones", None, iphones),
    ] {
        service.save_group(None, group, &admin()).await.unwrap();
    }
    let members = |udids: &[&str]| udids.iter().map(|u| u.to_string()).collect::<Vec<_>>();
    service
        .add_members("Pilot", &members(&["IN-PILOT", "PILOT-AND-LAB"]), &admin())
        .await
        .unwrap();
    service
        .add_members("Lab", &members(&["PILOT-AND-LAB", "LAB-ONLY"]), &admin())
        .await
        .unwrap();
    service
        .add_members("Late", &members(&["LATE-MAC", "DIRECT-MAC"]), &admin())
        .await
        .unwrap();
    let mut pilot = policy("pilot-ios", IOS, auto(1, 2));
    pilot.priority = 5;
    let policies = [
        (pilot, assigned(&["Pilot"], &[])),
        (policy("broad-ios", IOS, auto(14, 7)), assigned(&["iPhones"], &[])),
        (policy("late-mac", MAC, auto(30, 10)), assigned(&["Late"], &[])),
        (
            {
                let mut direct = policy("direct-mac", MAC, auto(3, 3));
                direct.priority = 9;
                direct
            },
            assigned(&[], &["DIRECT-MAC"]),
        ),
    ];
    for (p, to) in policies {
        service.save_policy(None, p, to, &admin()).await.unwrap();
    }
}

/// The appliance with [`FLEET`] enrolled and [`book`] saved.
async fn fleet_app() -> common::TestApp {
    let app = policy_app().await;
    for (udid, model, version, build) in FLEET {
        add_device(&app, udid, model, version, build, &format!("S-{udid}"));
    }
    book(&app.state.policies).await;
    app
}

#[tokio::test]
async fn each_device_page_shows_what_the_whole_book_gives_that_device() {
    let app = fleet_app().await;
    let service = &app.state.policies;

    // What a user sees on the page, device by device.
    let expected = [
        (
            "IN-PILOT",
            Some("pilot-ios"),
            Some("Pilot"),
            vec!["Pilot", "iPhones"],
        ),
        ("NOT-IN-PILOT", Some("broad-ios"), None, vec!["iPhones"]),
        (
            "PILOT-AND-LAB",
            Some("pilot-ios"),
            Some("Pilot"),
            vec!["Pilot", "Lab", "iPhones"],
        ),
        ("LAB-ONLY", Some("broad-ios"), None, vec!["Lab", "iPhones"]),
        ("LATE-MAC", Some("late-mac"), Some("Late"), vec!["Late"]),
        ("DIRECT-MAC", Some("direct-mac"), Some("Late"), vec!["Late"]),
        ("NO-GROUP-IPAD", None, None, vec![]),
    ];
    for (udid, policy, ring, groups) in expected {
        let page = service.device_plan(udid).await.unwrap().unwrap();
        assert_eq!(
            page.policy.as_deref().map(|p| p.split(' ').next().unwrap()),
            policy,
            "{udid}"
        );
        assert_eq!(page.ring.as_deref(), ring, "{udid}");
        assert_eq!(page.groups, groups, "{udid}");
    }

    // The same as evaluating each device against the whole book (every static member loaded).
    let whole = service.book().await.unwrap();
    let fleet = app.state.store.read(policy_store::managed_devices).await.unwrap();
    assert_eq!(fleet.len(), FLEET.len());
    let (catalog, now, offset) = (
        service.catalog_snapshot(),
        service.clock_now(),
        service.utc_offset(),
    );
    let plans = PolicyPlans {
        policies: service.clone(),
        catalog: app.state.catalog.clone(),
        clock: app.state.clock.clone(),
    };
    let udids: Vec<String> = FLEET.iter().map(|d| d.0.to_string()).collect();
    let batch = plans.plans(&udids).await.unwrap();
    for row in fleet {
        let device = device_record(row);
        let udid = device.udid.clone();
        let evaluation = whole.evaluate(&device, &catalog.index, offset, now);
        let page = service.device_plan(&udid).await.unwrap().unwrap();
        let groups: Vec<String> = whole
            .groups_of(&device)
            .into_iter()
            .map(|g| whole.groups[g].group.name.clone())
            .collect();
        assert_eq!(page.groups, groups, "{udid}");
        assert_eq!(page.ring, evaluation.ring, "{udid}");
        assert_eq!(
            page.policy,
            evaluation.policy.map(|i| whole.policies[i].policy.display_name()),
            "{udid}"
        );
        let summary = PlanSummary::of(&evaluation);
        assert_eq!(
            (
                &page.plan.decision,
                &page.plan.target_version,
                page.plan.deadline_local,
                page.plan.path
            ),
            (
                &summary.decision,
                &summary.target_version,
                summary.deadline_local,
                summary.path
            ),
            "{udid}"
        );
        // Compliance's plans, for the batch and for the device alone.
        assert_eq!(batch.get(&udid), Some(&evaluation.plan), "{udid} in the batch");
        let alone = plans.plans(std::slice::from_ref(&udid)).await.unwrap();
        assert_eq!(alone.get(&udid), Some(&evaluation.plan), "{udid} alone");
    }
}

#[tokio::test]
async fn changing_some_members_leaves_the_other_members_rings_alone() {
    let app = fleet_app().await;
    let service = &app.state.policies;
    service
        .remove_members("Pilot", &["IN-PILOT".to_string()], &admin())
        .await
        .unwrap();
    service
        .add_members("Pilot", &["LAB-ONLY".to_string()], &admin())
        .await
        .unwrap();
    let ring =
        |udid: &'static str| async move { service.device_groups(udid).await.unwrap().ring.map(|r| r.name) };
    assert_eq!(ring("IN-PILOT").await, None);
    assert_eq!(ring("LAB-ONLY").await.as_deref(), Some("Pilot"));
    assert_eq!(ring("PILOT-AND-LAB").await.as_deref(), Some("Pilot"));
    assert_eq!(ring("LATE-MAC").await.as_deref(), Some("Late"));
    let page = service.device_plan("LAB-ONLY").await.unwrap().unwrap();
    assert_eq!(page.ring.as_deref(), Some("Pilot"));
    let page = service.device_plan("IN-PILOT").await.unwrap().unwrap();
    assert_eq!((page.ring, page.policy.is_some()), (None, true));
}
