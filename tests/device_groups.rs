//! A device's groups and ring on its page and in the API (`GET /api/v1/devices/{udid}`): every
//! group it is in links to the devices list filtered on it, its ring is the lowest-order ring it
//! is in (said when it is in several), and a device in no group says so.

use std::collections::{BTreeSet, HashMap};

use orchard::admin::{Actor, Role};
use orchard::policy::groups::{Group, GroupRules};
use serde_json::{Value, json};

use crate::api_support::{FakeDevice, get, group_ids, insert_devices, token};
use crate::common::{self, TestApp};

/// In the rings Zeta (order 1) and Alpha (order 2) and in the static group Lab.
const BUSY: &str = "00008110-0000000000000001";
/// In Alpha only.
const ONE_RING: &str = "00008110-0000000000000002";
/// In no group.
const LONER: &str = "00008110-0000000000000003";

fn device(udid: &str, app: &TestApp) -> FakeDevice {
    FakeDevice {
        udid: udid.into(),
        serial: format!("SERIAL{}", &udid[udid.len() - 1..]),
        name: format!("Phone {}", &udid[udid.len() - 1..]),
        product: "iPhone15,2",
        os: "17.5".into(),
        seen: app.clock_now(),
        enrolled: true,
    }
}

/// The fleet and its groups; the group ids by name.
async fn seeded() -> (TestApp, HashMap<String, i64>) {
    let app = common::spawn_app().await;
    insert_devices(&app, [BUSY, ONE_RING, LONER].map(|u| device(u, &app)).to_vec());
    let (policies, cli) = (&app.state.policies, Actor::cli());
    // Alpha sorts first by name, Zeta by ring order: the ring is the lower order.
    for (name, order, members) in [
        ("Alpha", Some(2), vec![BUSY, ONE_RING]),
        ("Zeta", Some(1), vec![BUSY]),
        ("Lab", None, vec![BUSY]),
    ] {
        policies
            .save_group(None, Group::new(name, order, GroupRules::default()), &cli)
            .await
            .unwrap();
        let members: Vec<String> = members.into_iter().map(String::from).collect();
        policies.add_members(name, &members, &cli).await.unwrap();
    }
    let ids = group_ids(&app).await;
    (app, ids)
}

#[tokio::test]
async fn the_device_page_links_its_ring_and_every_group() {
    let (app, ids) = seeded().await;
    let (zeta, alpha, lab) = (ids["Zeta"], ids["Alpha"], ids["Lab"]);
    app.create_admin("vic", Role::Viewer).await;
    let viewer = app.signed_in("vic").await;

    let html = app.page(&viewer, &format!("/devices/{BUSY}")).await;
    let line = groups_line(&html);
    assert_eq!(
        line,
        format!(
            "ring <a href=\"/devices?ring={zeta}\">Zeta</a> (lowest of 2 rings); in \
             <a href=\"/devices?group={zeta}\">Zeta</a>, <a href=\"/devices?group={alpha}\">Alpha</a>, \
             <a href=\"/devices?group={lab}\">Lab</a>"
        )
    );
    // The links lead to the list filtered on the group: this device is in it.
    let listed = app.page(&viewer, &format!("/devices?group={lab}")).await;
    assert!(listed.contains(BUSY) && !listed.contains(LONER));

    let line = groups_line(&app.page(&viewer, &format!("/devices/{ONE_RING}")).await);
    assert_eq!(
        line,
        format!(
            "ring <a href=\"/devices?ring={alpha}\">Alpha</a>; in <a href=\"/devices?group={alpha}\">Alpha</a>"
        ),
        "one ring: no count"
    );
    let line = groups_line(&app.page(&viewer, &format!("/devices/{LONER}")).await);
    assert_eq!(line, "in no group");

    // Leaving a ring shows at once.
    app.state
        .policies
        .remove_members("Zeta", &[BUSY.to_string()], &Actor::cli())
        .await
        .unwrap();
    let line = groups_line(&app.page(&viewer, &format!("/devices/{BUSY}")).await);
    assert!(
        line.starts_with(&format!("ring <a href=\"/devices?ring={alpha}\">Alpha</a>; in")),
        "{line}"
    );
    app.stop().await;
}

/// The text of the device page's "Groups" line.
fn groups_line(html: &str) -> String {
    let start = html.find("<dd id=\"device-groups\">").expect("a Groups line") + 23;
    let end = start + html[start..].find("</dd>").unwrap();
    html[start..end].to_string()
}

#[tokio::test]
async fn the_api_gives_the_ring_and_groups_as_the_openapi_document_says() {
    let (app, ids) = seeded().await;
    let (zeta, alpha, lab) = (ids["Zeta"], ids["Alpha"], ids["Lab"]);
    let viewer = token(&app, "dash", Role::Viewer).await;

    let (status, busy) = get(&app, &viewer, &format!("/api/v1/devices/{BUSY}")).await;
    assert_eq!(status, 200, "{busy}");
    assert_eq!(busy["ring"], json!({ "id": zeta, "name": "Zeta" }));
    assert_eq!(
        busy["groups"],
        json!([
            { "id": zeta, "name": "Zeta", "is_ring": true },
            { "id": alpha, "name": "Alpha", "is_ring": true },
            { "id": lab, "name": "Lab", "is_ring": false },
        ])
    );
    let (_, loner) = get(&app, &viewer, &format!("/api/v1/devices/{LONER}")).await;
    assert_eq!(loner["ring"], Value::Null);
    assert_eq!(loner["groups"], json!([]));
    assert_eq!(loner["udid"], LONER);

    // The document describes exactly the fields the answer has.
    let (_, doc) = get(&app, &viewer, "/api/v1/openapi.json").await;
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let schema = &doc["components"]["schemas"]["DeviceDetail"];
    assert_eq!(keys(&schema["properties"]), keys(&busy));
    assert_eq!(
        keys(&schema["properties"]["groups"]["items"]["properties"]),
        keys(&busy["groups"][0])
    );
    assert_eq!(
        keys(&schema["properties"]["ring"]["properties"]),
        keys(&busy["ring"])
    );
    assert_eq!(
        doc["paths"]["/devices/{udid}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/DeviceDetail"
    );

    // Unknown and malformed UDIDs: 404, unauthenticated: 401.
    assert_eq!(get(&app, &viewer, "/api/v1/devices/NOPE").await.0, 404);
    assert_eq!(get(&app, &viewer, "/api/v1/devices/%3Cscript%3E").await.0, 404);
    assert_eq!(
        get(&app, "wrong", &format!("/api/v1/devices/{BUSY}")).await.0,
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn each_group_count_leads_to_exactly_its_devices() {
    let (app, ids) = seeded().await;
    app.create_admin("vic", Role::Viewer).await;
    let viewer = app.signed_in("vic").await;
    let html = app.page(&viewer, "/groups").await;
    for (name, count, members) in [
        ("Alpha", 2, vec![BUSY, ONE_RING]),
        ("Zeta", 1, vec![BUSY]),
        ("Lab", 1, vec![BUSY]),
    ] {
        let id = ids[name];
        let row_start = html.find(&format!("<tr id=\"group-{name}\">")).unwrap();
        let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
        let link = format!("/devices?group={id}");
        assert!(
            row.contains(&format!(
                "<a href=\"{link}\" title=\"These devices in the devices list\">{count}</a>"
            )),
            "{row}"
        );
        let listed = app.page(&viewer, &link).await;
        assert!(listed.contains(&format!("{count} match the filters")), "{name}");
        for udid in [BUSY, ONE_RING, LONER] {
            assert_eq!(
                listed.contains(&format!("/devices/{udid}")),
                members.contains(&udid),
                "{name}: {udid}"
            );
        }
    }
    // The API's groups carry the same ids.
    let viewer_token = token(&app, "dash", Role::Viewer).await;
    let (_, groups) = get(&app, &viewer_token, "/api/v1/groups").await;
    let by_name: HashMap<String, (i64, u64)> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                (g["id"].as_i64().unwrap(), g["devices"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(by_name["Alpha"], (ids["Alpha"], 2));
    assert_eq!(by_name["Lab"], (ids["Lab"], 1));
    app.stop().await;
}

#[tokio::test]
async fn a_hostile_group_name_is_shown_as_text() {
    let (app, _) = seeded().await;
    let hostile = "<script>alert(1)</script> & \"co\"";
    let cli = Actor::cli();
    app.state
        .policies
        .save_group(None, Group::new(hostile, None, GroupRules::default()), &cli)
        .await
        .unwrap();
    app.state
        .policies
        .add_members(hostile, &[LONER.to_string()], &cli)
        .await
        .unwrap();
    let id = group_ids(&app).await[hostile];
    app.create_admin("vic", Role::Viewer).await;
    let viewer = app.signed_in("vic").await;
    let html = app.page(&viewer, &format!("/devices/{LONER}")).await;
    assert!(!html.contains("<script>alert(1)"), "escaped");
    assert_eq!(
        groups_line(&html),
        format!(
            "in <a href=\"/devices?group={id}\">&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;co&#34;</a>"
        )
    );
    app.stop().await;
}
