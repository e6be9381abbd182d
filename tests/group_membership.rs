//! Resolved group membership (migration 0012) stays what the policy engine's rules say as
//! groups, their rules, their static members and the devices' facts change; the rebuild is
//! idempotent and repairs a damaged table.

use std::collections::BTreeMap;

use orchard::admin::Actor;
use orchard::policy::groups::{Group, GroupRules};
use orchard::protocol::ddm::Platform;
use orchard::store::devices::{self, Inventory};
use orchard::store::membership;

use crate::api_support::{FakeDevice, insert_devices};
use crate::common::{self, TestApp};

const PHONE: &str = "PHONE-1";
const PAD: &str = "PAD-1";
const MAC: &str = "MAC-1";
const GONE: &str = "PHONE-GONE";

fn device(udid: &str, product: &'static str, os: &str, enrolled: bool, app: &TestApp) -> FakeDevice {
    FakeDevice {
        udid: udid.into(),
        serial: format!("S{}", udid.replace('-', "")),
        name: udid.into(),
        product,
        os: os.into(),
        seen: app.clock_now(),
        enrolled,
    }
}

fn group(name: &str, ring_order: Option<u32>, rules: GroupRules) -> Group {
    Group::new(name, ring_order, rules)
}

/// UDID → (group names sorted, ring name, rings), as stored.
async fn stored(app: &TestApp) -> BTreeMap<String, (Vec<String>, Option<String>, usize)> {
    app.state
        .store
        .read(|c| {
            let names: BTreeMap<i64, String> = membership::choices(c)?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect();
            Ok(membership::all(c)?
                .into_values()
                .map(|m| {
                    let mut groups: Vec<String> = m.groups.iter().map(|g| names[g].clone()).collect();
                    groups.sort();
                    (m.udid, (groups, m.ring.map(|r| names[&r].clone()), m.rings))
                })
                .collect())
        })
        .await
        .unwrap()
}

fn entry(groups: &[&str], ring: Option<&str>, rings: usize) -> (Vec<String>, Option<String>, usize) {
    (
        groups.iter().map(|g| g.to_string()).collect(),
        ring.map(str::to_string),
        rings,
    )
}

#[tokio::test]
async fn membership_follows_groups_members_and_device_facts() {
    let app = common::spawn_app().await;
    insert_devices(
        &app,
        vec![
            device(PHONE, "iPhone15,2", "17.5", true, &app),
            device(PAD, "iPad13,4", "18.1", true, &app),
            device(MAC, "Mac14,9", "15.1", true, &app),
            device(GONE, "iPhone15,2", "17.5", false, &app),
        ],
    );
    let policies = &app.state.policies;
    let cli = Actor::cli();
    let ios = GroupRules {
        platforms: vec![Platform::Ios, Platform::IpadOs],
        ..GroupRules::default()
    };
    policies
        .save_group(None, group("Mobile", None, ios), &cli)
        .await
        .unwrap();
    policies
        .save_group(None, group("Late", Some(4), GroupRules::default()), &cli)
        .await
        .unwrap();
    policies
        .save_group(None, group("Pilot", Some(1), GroupRules::default()), &cli)
        .await
        .unwrap();
    // A rule group: its matches are stored with the change (the unenrolled phone is in no group).
    let mut expected = BTreeMap::from([
        (PHONE.to_string(), entry(&["Mobile"], None, 0)),
        (PAD.to_string(), entry(&["Mobile"], None, 0)),
    ]);
    assert_eq!(stored(&app).await, expected);

    // Static members: the phone in two rings has the lowest order as its ring.
    policies
        .add_members("Late", &[PHONE.into(), MAC.into()], &cli)
        .await
        .unwrap();
    policies
        .add_members("Pilot", &[PHONE.into()], &cli)
        .await
        .unwrap();
    expected.insert(
        PHONE.into(),
        entry(&["Late", "Mobile", "Pilot"], Some("Pilot"), 2),
    );
    expected.insert(MAC.into(), entry(&["Late"], Some("Late"), 1));
    assert_eq!(stored(&app).await, expected);

    // A ring's order changes: the phone's ring follows.
    policies
        .save_group(Some("Late"), group("Late", Some(1), GroupRules::default()), &cli)
        .await
        .unwrap();
    policies
        .save_group(
            Some("Pilot"),
            group("Pilot", Some(5), GroupRules::default()),
            &cli,
        )
        .await
        .unwrap();
    expected.insert(PHONE.into(), entry(&["Late", "Mobile", "Pilot"], Some("Late"), 2));
    assert_eq!(stored(&app).await, expected);

    // Rules change: macOS joins, iPadOS leaves.
    let rules = GroupRules {
        platforms: vec![Platform::Ios, Platform::MacOs],
        ..GroupRules::default()
    };
    policies
        .save_group(Some("Mobile"), group("Mobile", None, rules), &cli)
        .await
        .unwrap();
    expected.remove(PAD);
    expected.insert(MAC.into(), entry(&["Late", "Mobile"], Some("Late"), 1));
    assert_eq!(stored(&app).await, expected);

    // A removed member and a deleted ring: the phone falls back to its other ring.
    policies
        .remove_members("Late", &[MAC.into()], &cli)
        .await
        .unwrap();
    policies.delete_group("Late", &cli).await.unwrap();
    expected.insert(PHONE.into(), entry(&["Mobile", "Pilot"], Some("Pilot"), 1));
    expected.insert(MAC.into(), entry(&["Mobile"], None, 0));
    assert_eq!(stored(&app).await, expected);

    // A device's facts change (the iPad becomes reported as an iPhone): the engine's next run
    // stores its new groups, found by the same evaluation that plans it.
    app.clock.advance(chrono::Duration::minutes(5));
    let now = app.clock_now();
    app.state
        .store
        .write_blocking(move |c| {
            let inv = Inventory {
                product_name: Some("iPhone16,1".into()),
                ..Inventory::default()
            };
            devices::update_inventory(c, PAD, &inv, now)
        })
        .unwrap();
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
    expected.insert(PAD.into(), entry(&["Mobile"], None, 0));
    assert_eq!(stored(&app).await, expected);

    // Unenrolling drops a device from every group.
    app.state
        .store
        .write_blocking(move |c| devices::mark_unenrolled(c, PHONE, now))
        .unwrap();
    expected.remove(PHONE);
    assert_eq!(stored(&app).await, expected);
}

#[tokio::test]
async fn the_rebuild_is_idempotent_and_repairs_the_table() {
    let app = common::spawn_app().await;
    let fleet: Vec<FakeDevice> = (0..300)
        .map(|i| {
            let product = ["iPhone15,2", "iPad13,4", "Mac14,9"][i % 3];
            device(&format!("D-{i:04}"), product, "18.1", i % 10 != 0, &app)
        })
        .collect();
    insert_devices(&app, fleet);
    let policies = &app.state.policies;
    let cli = Actor::cli();
    let macs = GroupRules {
        platforms: vec![Platform::MacOs],
        ..GroupRules::default()
    };
    policies
        .save_group(None, group("Macs", Some(2), macs), &cli)
        .await
        .unwrap();
    let first = policies.refresh_membership().await.unwrap();
    let before = stored(&app).await;
    // 100 Macs, 10 of them unenrolled.
    assert_eq!((first.devices, first.memberships, first.in_rings), (270, 90, 90));
    assert_eq!(before.len(), 90);

    // Rows lost or invented behind the service's back are put right by the next rebuild.
    app.state
        .store
        .write_blocking(|c| {
            c.execute("DELETE FROM group_members_resolved WHERE udid < 'D-0100'", [])?;
            c.execute("DELETE FROM device_rings WHERE udid > 'D-0200'", [])?;
            c.execute(
                "INSERT INTO group_members_resolved (group_id, udid)
                 SELECT id, 'D-0001' FROM policy_groups",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    assert_ne!(stored(&app).await, before);
    assert_eq!(policies.refresh_membership().await.unwrap(), first);
    assert_eq!(stored(&app).await, before);
    assert_eq!(policies.refresh_membership().await.unwrap(), first);
    assert_eq!(stored(&app).await, before);

    // The start-up pass resolves only a database that has nothing resolved yet.
    assert_eq!(policies.resolve_membership_once().await.unwrap(), None);
    app.state
        .store
        .write_blocking(|c| {
            c.execute("DELETE FROM group_members_resolved", [])?;
            c.execute("DELETE FROM device_rings", [])?;
            Ok(())
        })
        .unwrap();
    assert_eq!(policies.resolve_membership_once().await.unwrap(), Some(first));
    assert_eq!(stored(&app).await, before);
}
