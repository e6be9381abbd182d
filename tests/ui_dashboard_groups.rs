//! The dashboard by ring and by group (resolved membership, migration 0012): counts by state
//! and the share up to date per ring and group, every number a link to the devices list
//! filtered to exactly those devices.

use std::collections::HashMap;

use orchard::admin::{Actor, Role};
use orchard::policy::groups::{Group, GroupRules};
use orchard::protocol::ddm::Platform;
use orchard::store::membership;

use crate::common;
use crate::ui_dashboard::{FLEET, PRODUCTS, controlled_fleet, device_links, get, state_of};

fn group(name: &str, ring_order: Option<u32>, platforms: Vec<Platform>) -> Group {
    let rules = GroupRules {
        platforms,
        ..GroupRules::default()
    };
    Group::new(name, ring_order, rules)
}

fn in_pilot(i: usize) -> bool {
    i.is_multiple_of(4)
}
fn is_mac(i: usize) -> bool {
    PRODUCTS[i % 3].starts_with("Mac")
}
fn is_phone(i: usize) -> bool {
    PRODUCTS[i % 3].starts_with("iPhone")
}

#[tokio::test]
async fn ring_and_group_figures_lead_to_exactly_their_devices() {
    let app = common::spawn_app().await;
    controlled_fleet(&app, app.clock_now());
    let policies = &app.state.policies;
    let cli = Actor::cli();
    // Pilot (ring 1): every 4th device; Macs (ring 2): the Macs; Phones: a group, not a ring.
    policies
        .save_group(None, group("Pilot", Some(1), vec![]), &cli)
        .await
        .unwrap();
    policies
        .save_group(None, group("Macs", Some(2), vec![Platform::MacOs]), &cli)
        .await
        .unwrap();
    policies
        .save_group(None, group("Phones", None, vec![Platform::Ios]), &cli)
        .await
        .unwrap();
    let pilot: Vec<String> = (0..FLEET)
        .filter(|i| in_pilot(*i))
        .map(|i| format!("DASH-{i:04}"))
        .collect();
    policies.add_members("Pilot", &pilot, &cli).await.unwrap();
    let names: HashMap<i64, String> = app
        .state
        .store
        .read(membership::choices)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();

    app.create_admin("vic", Role::Viewer).await;
    let viewer = app.signed_in("vic").await;
    let (status, html) = get(&viewer, &app, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h2>By ring</h2>") && html.contains("<h2>By group</h2>"));
    assert!(html.contains("A device in several rings counts in the one of lowest order"));

    // Which devices a ring or group holds, from the fleet's own description.
    let member = |name: &str, i: usize| match name {
        "Pilot" => in_pilot(i),
        "Macs" => is_mac(i),
        "Phones" => is_phone(i),
        other => panic!("unexpected group {other}"),
    };
    let ring_of = |i: usize| {
        if in_pilot(i) {
            Some("Pilot")
        } else if is_mac(i) {
            Some("Macs")
        } else {
            None
        }
    };
    let expected = |query: &str| {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        (0..FLEET)
            .filter(|&i| {
                pairs.iter().all(|(k, v)| match k.as_str() {
                    "state" => state_of(i) == Some(v.as_str()),
                    "group" => member(&names[&v.parse::<i64>().unwrap()], i),
                    "ring" => ring_of(i) == Some(names[&v.parse::<i64>().unwrap()].as_str()),
                    _ => unreachable!("filtered below"),
                })
            })
            .count()
    };
    let links: Vec<(String, usize)> = device_links(&html)
        .into_iter()
        .filter(|(h, _)| h.contains("group=") || h.contains("ring="))
        .collect();
    // Per ring and group: the total and each non-zero state.
    assert!(links.len() >= 10, "{links:?}");
    for (href, shown) in &links {
        let query = href.trim_start_matches("/devices?");
        assert_eq!(*shown, expected(query), "{href}");
        let (status, list) = get(&viewer, &app, href).await;
        assert_eq!(status, 200, "{href}");
        assert!(list.contains(&format!("{shown} match the filters")), "{href}");
        assert_eq!(list.matches("<a href=\"/devices/DASH-").count(), *shown, "{href}");
    }
    // A Mac in Pilot counts in Pilot's ring row and in both groups' rows.
    let pilot_total = (0..FLEET).filter(|&i| in_pilot(i)).count();
    let macs_ring = (0..FLEET).filter(|&i| is_mac(i) && !in_pilot(i)).count();
    let macs_group = (0..FLEET).filter(|&i| is_mac(i)).count();
    let totals: Vec<usize> = links
        .iter()
        .filter(|(h, _)| !h.contains("state="))
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(
        totals,
        [pilot_total, macs_ring, pilot_total, macs_group, FLEET / 3]
    );
    // The devices in no ring: shown, not linked (the list has no filter for them).
    let outside = FLEET - pilot_total - macs_ring;
    let row = html.split("<th scope=\"row\">in no ring</th>").nth(1).unwrap();
    let first = row.split("<td class=\"num\">").nth(1).unwrap();
    assert!(first.starts_with(&format!("{outside}</td>")), "{first}");
    // Share up to date of the Macs ring.
    let up = (0..FLEET)
        .filter(|&i| is_mac(i) && !in_pilot(i) && state_of(i) == Some("up_to_date"))
        .count();
    let share = format!("{:.1}%", up as f64 * 100.0 / macs_ring as f64);
    let macs_row = html.split("<th scope=\"row\">Macs</th>").nth(1).unwrap();
    let macs_row = macs_row.split("</tr>").next().unwrap();
    assert!(
        macs_row.contains(&format!("<td class=\"num\">{share}</td>")),
        "{macs_row}"
    );
}
