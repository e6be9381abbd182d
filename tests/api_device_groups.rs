//! The devices list filtered by group and by ring at 100,000 devices (resolved membership,
//! migration 0012): exact rows and counts, combined with other filters and paging, through the
//! API, the CSV export and the UI page; unknown ids refused naming the parameter.

use std::collections::HashMap;
use std::time::Instant;

use orchard::admin::{Actor, Role};
use orchard::policy::groups::{Group, GroupRules};
use orchard::protocol::ddm::Platform;

use crate::api_device_list::{FLEET, overdue_days, seed_fleet};
use crate::api_support::{get, group_ids, token};
use crate::common::{self, TestApp};

fn group(name: &str, ring_order: Option<u32>, rules: GroupRules) -> Group {
    Group::new(name, ring_order, rules)
}

fn udid(i: usize) -> String {
    format!("UDID-{i:08}")
}

fn enrolled(i: usize) -> bool {
    i % 10 != 9
}
fn is_mac(i: usize) -> bool {
    i % 4 == 2
}
fn in_pilot(i: usize) -> bool {
    i.is_multiple_of(10)
}
fn on_18(i: usize) -> bool {
    matches!((i / 4) % 5, 2 | 3)
}

/// Pilot (static, ring 1): every 10th device; Macs (rules, ring 3); OS 18 (rules, no ring).
/// Returns the group ids by name. `members`: add Pilot's members (the fleet is there).
pub(crate) async fn seed_groups(app: &TestApp, members: bool) -> HashMap<String, i64> {
    let policies = &app.state.policies;
    let cli = Actor::cli();
    let macs = GroupRules {
        platforms: vec![Platform::MacOs],
        ..GroupRules::default()
    };
    let os_18 = GroupRules {
        os_majors: vec![18],
        ..GroupRules::default()
    };
    for g in [
        group("Pilot", Some(1), GroupRules::default()),
        group("Macs", Some(3), macs),
        group("OS 18", None, os_18),
    ] {
        policies.save_group(None, g, &cli).await.unwrap();
    }
    if members {
        let pilot: Vec<String> = (0..FLEET).filter(|i| in_pilot(*i)).map(udid).collect();
        assert_eq!(policies.add_members("Pilot", &pilot, &cli).await.unwrap(), 10_000);
    }
    group_ids(app).await
}

fn udids(page: &serde_json::Value) -> Vec<String> {
    page["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["udid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn group_and_ring_filters_are_exact_at_100000_devices() {
    let app = common::spawn_app().await;
    let started = Instant::now();
    seed_fleet(&app);
    let ids = seed_groups(&app, true).await;
    eprintln!("fleet and groups in {:?}", started.elapsed());
    let (pilot, macs, os_18) = (ids["Pilot"], ids["Macs"], ids["OS 18"]);
    let viewer = token(&app, "dash", Role::Viewer).await;

    // A group: its enrolled members, counted exactly.
    let (status, page) = get(
        &app,
        &viewer,
        &format!("/api/v1/devices?group={macs}&per_page=500"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let want_macs = (0..FLEET).filter(|&i| is_mac(i) && enrolled(i)).count();
    assert_eq!(page["total"], want_macs);
    assert!(udids(&page).iter().all(|u| {
        let i: usize = u[5..].parse().unwrap();
        is_mac(i) && enrolled(i)
    }));

    // A ring: a Mac in Pilot has Pilot as its ring (the lower order), not Macs.
    let ring_macs: Vec<usize> = (0..FLEET)
        .filter(|&i| is_mac(i) && enrolled(i) && !in_pilot(i))
        .collect();
    let timer = Instant::now();
    let (_, page) = get(
        &app,
        &viewer,
        &format!("/api/v1/devices?ring={macs}&per_page=100&page=3"),
    )
    .await;
    eprintln!("ring page in {:?}", timer.elapsed());
    assert_eq!(page["total"], ring_macs.len());
    // Default order: most recently seen first, which is the fleet's index order.
    let want: Vec<String> = ring_macs[200..300].iter().map(|&i| udid(i)).collect();
    assert_eq!(udids(&page), want);
    assert!(
        page["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["ring"] == "Macs" && d["rings"] == 1)
    );
    let (_, page) = get(
        &app,
        &viewer,
        &format!("/api/v1/devices?ring={pilot}&platform=macOS"),
    )
    .await;
    let pilot_macs = (0..FLEET).filter(|&i| is_mac(i) && in_pilot(i)).count();
    assert_eq!(page["total"], pilot_macs);
    assert!(
        page["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["ring"] == "Pilot" && d["rings"] == 2)
    );

    // Combined with another filter and paging.
    let want: Vec<String> = (0..FLEET)
        .filter(|&i| i % 4 == 1 && on_18(i) && enrolled(i))
        .map(udid)
        .collect();
    let (_, page) = get(
        &app,
        &viewer,
        &format!("/api/v1/devices?group={os_18}&platform=iPadOS&per_page=100&page=2"),
    )
    .await;
    assert_eq!(page["total"], want.len());
    assert_eq!(udids(&page), want[100..200].to_vec());
    let overdue_macs = ring_macs.iter().filter(|&&i| overdue_days(i).is_some()).count();
    let (_, page) = get(
        &app,
        &viewer,
        &format!("/api/v1/devices?ring={macs}&state=overdue"),
    )
    .await;
    assert_eq!(page["total"], overdue_macs);
    let (_, page) = get(
        &app,
        &viewer,
        &format!("/api/v1/devices?group={pilot}&ring={macs}"),
    )
    .await;
    assert_eq!(page["total"], 0, "no Pilot member has Macs as its ring");

    // The CSV export of a ring and OS version, with the ring column.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/devices.csv?ring={macs}&os_version=18")))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    let want = ring_macs.iter().filter(|&&i| on_18(i)).count();
    assert_eq!(csv.lines().count(), want + 1);
    assert!(csv.lines().next().unwrap().ends_with(",ring,rings"));
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",Macs,1")));

    // The UI page: the select boxes hold the groups and rings, the view is the same.
    app.create_admin("vic", Role::Viewer).await;
    let browser = app.signed_in("vic").await;
    let timer = Instant::now();
    let html = app
        .page(&browser, &format!("/devices?ring={pilot}&platform=macOS"))
        .await;
    eprintln!("UI ring page in {:?}", timer.elapsed());
    assert!(
        html.contains(&format!("{pilot_macs} match the filters")),
        "UI count"
    );
    assert!(html.contains(&format!("<option value=\"{pilot}\" selected>Pilot</option>")));
    assert!(
        html.contains(&format!("<option value=\"{os_18}\">OS 18</option>")),
        "groups listed"
    );
    assert!(
        html.contains("(lowest of 2 rings)"),
        "a device in two rings says so"
    );
    let csv = browser
        .get(app.url(&format!("/devices/export.csv?group={pilot}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 10_000 + 1);
    app.stop().await;
}

#[tokio::test]
async fn unknown_groups_and_rings_are_refused_naming_the_parameter() {
    let app = common::spawn_app().await;
    let ids = seed_groups(&app, false).await;
    let viewer = token(&app, "dash", Role::Viewer).await;
    let fields = |body: &serde_json::Value| -> Vec<(String, String)> {
        body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["field"].as_str().unwrap().into(),
                    f["message"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let (status, body) = get(&app, &viewer, "/api/v1/devices?group=999999").await;
    assert_eq!(status, 422);
    assert_eq!(
        fields(&body),
        [("group".into(), "there is no group with id 999999".into())]
    );
    let os_18 = ids["OS 18"];
    let (status, body) = get(&app, &viewer, &format!("/api/v1/devices.csv?ring={os_18}")).await;
    assert_eq!(status, 422);
    assert_eq!(
        fields(&body),
        [("ring".into(), format!("group {os_18} (OS 18) is not a ring"))]
    );
    let (status, body) = get(&app, &viewer, "/api/v1/devices?group=abc&ring=-1&state=late").await;
    assert_eq!(status, 422);
    let named: Vec<String> = fields(&body).into_iter().map(|(f, _)| f).collect();
    assert_eq!(named, ["state", "group", "ring"]);

    app.create_admin("vic", Role::Viewer).await;
    let browser = app.signed_in("vic").await;
    let res = browser.get(app.url("/devices?ring=424242")).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("ring: there is no ring with id 424242")
    );
    app.stop().await;
}
