//! The dashboard's maintained counts (migration 0017) equal a recount from the devices after
//! every kind of change: a device added, its model or OS version changed, its compliance state
//! added, changed, kept and removed, its membership replaced, removed and rebuilt, a group
//! deleted, a member that is no known device, and a device deleted.

use chrono::Utc;
use rusqlite::Connection;

use super::compliance::{self as compliance_rows, ComplianceRow};
use super::dashboard::{self, FleetCell, MemberCell};
use super::devices::{self, Authentication, Inventory};
use super::groups::{self as group_store, GroupFields};
use super::membership::{self, DeviceMembership};
use super::{Store, StoreError};

fn add_device(c: &Connection, udid: &str, model: Option<&str>, os: Option<&str>) -> Result<(), StoreError> {
    devices::record_authenticate(
        c,
        &Authentication {
            udid,
            topic: "com.apple.mgmt.test",
            identity_fingerprint: &format!("fp-{udid}"),
            inventory: Inventory {
                product_name: model.map(str::to_string),
                os_version: os.map(str::to_string),
                ..Inventory::default()
            },
        },
        Utc::now(),
    )?;
    Ok(())
}

fn assess(c: &Connection, udid: &str, state: &str) -> Result<(), StoreError> {
    compliance_rows::upsert(
        c,
        &ComplianceRow {
            udid: udid.into(),
            state: state.into(),
            reason: "test".into(),
            deadline: None,
            overdue_since: None,
            stale: false,
            since: "2026-01-01T00:00:00.000000Z".into(),
            evaluated_at: "2026-01-01T00:00:00.000000Z".into(),
        },
    )
}

fn member(udid: &str, groups: &[i64], ring: Option<i64>) -> DeviceMembership {
    DeviceMembership {
        udid: udid.into(),
        groups: groups.to_vec(),
        ring,
        rings: usize::from(ring.is_some()),
    }
}

/// The maintained rows equal the recount; returns them (fleet, groups, rings).
fn agree(c: &Connection, step: &str) -> (Vec<FleetCell>, Vec<MemberCell>, Vec<MemberCell>) {
    let fleet = dashboard::fleet_cells(c).unwrap();
    assert_eq!(
        fleet,
        dashboard::fleet_cells_recount(c).unwrap(),
        "fleet after {step}"
    );
    let groups = dashboard::group_cells(c).unwrap();
    assert_eq!(
        groups,
        dashboard::group_cells_recount(c).unwrap(),
        "groups after {step}"
    );
    let rings = dashboard::ring_cells(c).unwrap();
    assert_eq!(
        rings,
        dashboard::ring_cells_recount(c).unwrap(),
        "rings after {step}"
    );
    (fleet, groups, rings)
}

fn in_state(cells: &[MemberCell], group: i64, state: Option<&str>) -> usize {
    cells
        .iter()
        .filter(|m| m.group_id == group && m.state.as_deref() == state)
        .map(|m| m.devices)
        .sum()
}

#[test]
fn maintained_counts_match_a_recount_after_every_kind_of_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
    store
        .write_blocking(|c| {
            let fields = |name, ring_order| GroupFields {
                name,
                description: "",
                kind: "static",
                rules: "{}",
                ring_order,
            };
            let pilot = group_store::insert(c, &fields("Pilot", Some(1)), Utc::now())?;
            let lab = group_store::insert(c, &fields("Lab", None), Utc::now())?;
            let late = group_store::insert(c, &fields("Late", Some(2)), Utc::now())?;
            agree(c, "nothing");

            add_device(c, "A", Some("iPhone15,2"), Some("17.5"))?;
            add_device(c, "B", Some("iPhone15,2"), Some("17.5"))?;
            add_device(c, "C", None, None)?;
            add_device(c, "D", Some(""), Some("18.1"))?;
            let (fleet, _, _) = agree(c, "devices added");
            assert_eq!(fleet.iter().map(|f| f.devices).sum::<usize>(), 4);

            assess(c, "A", "overdue")?;
            assess(c, "C", "unknown")?;
            agree(c, "compliance added");
            assess(c, "A", "overdue")?;
            agree(c, "the same state again");
            assess(c, "A", "up_to_date")?;
            agree(c, "a state changed");

            membership::replace_devices(
                c,
                &[
                    member("A", &[pilot, lab], Some(pilot)),
                    member("B", &[lab, late], Some(late)),
                    member("C", &[lab], None),
                ],
            )?;
            let (_, groups, rings) = agree(c, "membership replaced");
            assert_eq!(in_state(&groups, lab, None), 1, "B is not assessed");
            assert_eq!(in_state(&rings, pilot, Some("up_to_date")), 1);

            assess(c, "B", "failed")?;
            let (_, groups, rings) = agree(c, "a member assessed");
            assert_eq!(in_state(&groups, lab, Some("failed")), 1);
            assert_eq!(in_state(&rings, late, Some("failed")), 1);

            let update = Inventory {
                os_version: Some("18.0".into()),
                product_name: Some("iPad13,4".into()),
                ..Inventory::default()
            };
            devices::update_inventory(c, "A", &update, Utc::now())?;
            add_device(c, "B", None, Some("18.1"))?;
            agree(c, "model and OS version changed");

            membership::replace_devices(
                c,
                &[member("A", &[lab], None), member("C", &[pilot], Some(pilot))],
            )?;
            agree(c, "membership moved");
            membership::remove_devices(c, &["C".into()])?;
            agree(c, "membership removed");
            devices::mark_unenrolled(c, "B", Utc::now())?;
            agree(c, "a device unenrolled");

            membership::replace_devices(c, &[member("GHOST", &[lab], Some(late))])?;
            let (_, groups, _) = agree(c, "a member that is no known device");
            assert_eq!(in_state(&groups, lab, None), 0, "an unknown UDID counts nowhere");
            add_device(c, "GHOST", Some("Mac14,9"), Some("26.1"))?;
            let (_, groups, rings) = agree(c, "the member's device added");
            assert_eq!(in_state(&groups, lab, None), 1);
            assert_eq!(in_state(&rings, late, None), 1);

            membership::replace_all(
                c,
                &[
                    member("A", &[pilot, lab, late], Some(pilot)),
                    member("B", &[late], Some(late)),
                    member("D", &[lab], None),
                ],
            )?;
            agree(c, "membership rebuilt");
            membership::replace_devices(c, &[member("A", &[lab, late], Some(late))])?;
            let (_, _, rings) = agree(c, "a device moved to another ring");
            assert_eq!(in_state(&rings, late, Some("up_to_date")), 1, "A");
            assert_eq!(in_state(&rings, late, Some("failed")), 1, "B");
            assert!(rings.iter().all(|r| r.group_id != pilot), "nobody left in Pilot");

            c.execute("DELETE FROM device_compliance WHERE udid = 'A'", [])?;
            agree(c, "a compliance row deleted");
            assess(c, "D", "installing")?;
            c.execute("DELETE FROM devices WHERE udid = 'D'", [])?;
            let (fleet, groups, _) = agree(c, "a device deleted");
            assert!(
                !fleet.iter().any(|f| f.model.as_deref() == Some("")),
                "D (empty model) no longer counts"
            );
            assert_eq!(in_state(&groups, lab, Some("installing")), 0);

            group_store::delete(c, pilot)?;
            agree(c, "a ring deleted");

            let refused = c.execute("UPDATE devices SET udid = 'Z' WHERE udid = 'A'", []);
            assert!(refused.is_err(), "a UDID never changes");
            agree(c, "a refused UDID change");
            Ok(())
        })
        .unwrap();
}

#[test]
fn upgrading_counts_what_is_already_there() {
    // Migration 0017 fills the cells from the devices present: a database written before it
    // (here: cells emptied, as they would be) gets the same figures as a recount.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
    store
        .write_blocking(|c| {
            add_device(c, "A", Some("iPhone15,2"), Some("17.5"))?;
            add_device(c, "B", Some("Mac14,9"), None)?;
            assess(c, "A", "overdue")?;
            c.execute_batch(
                "DELETE FROM dashboard_fleet_cells; DELETE FROM dashboard_group_cells;
                 DELETE FROM dashboard_ring_cells;",
            )?;
            let sql = include_str!("../../migrations/0017_dashboard_cells.sql");
            let fill: String = sql
                .split(';')
                .filter(|s| s.lines().any(|l| l.starts_with("INSERT INTO dashboard_")))
                .map(|s| format!("{s};"))
                .collect();
            c.execute_batch(&fill)?;
            let (fleet, _, _) = agree(c, "the upgrade");
            assert_eq!(fleet.len(), 2);
            Ok(())
        })
        .unwrap();
}
