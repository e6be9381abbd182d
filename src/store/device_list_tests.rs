//! Both ways of applying a group or ring filter return the same rows; the cheaper one is
//! chosen; the counts read from the maintained cells equal the rows.

use chrono::{Duration, Utc};

use super::*;
use crate::store::Store;
use crate::store::compliance::{self as compliance_rows, ComplianceRow};
use crate::store::devices::{self, Authentication, Inventory};
use crate::store::groups::{self as group_store, GroupFields};
use crate::store::membership::{self, DeviceMembership};

const MODELS: [&str; 3] = ["iPhone15,2", "iPad13,4", "Mac14,9"];

/// 90 devices (every 3rd overdue), a big ring (2 of 3 devices), a small ring (every 30th, taking
/// precedence) and a group (every 2nd). Returns (big ring, small ring, group).
fn fleet(store: &Store) -> (i64, i64, i64) {
    store
        .write_blocking(|c| {
            let now = Utc::now();
            let tx = c.transaction()?;
            for i in 0..90usize {
                let udid = format!("U{i:03}");
                devices::record_authenticate(
                    &tx,
                    &Authentication {
                        udid: &udid,
                        topic: "t",
                        identity_fingerprint: &format!("fp{i}"),
                        inventory: Inventory {
                            product_name: Some(MODELS[i % 3].into()),
                            os_version: Some(format!("18.{}", i % 4)),
                            device_name: Some(format!("Device {:02}", (i * 7) % 50)),
                            ..Inventory::default()
                        },
                    },
                    now - Duration::minutes(((i * 13) % 40) as i64),
                )?;
                if i % 3 == 0 {
                    compliance_rows::upsert(
                        &tx,
                        &ComplianceRow {
                            udid: udid.clone(),
                            state: "overdue".into(),
                            reason: "r".into(),
                            deadline: None,
                            overdue_since: None,
                            stale: false,
                            since: "2026-01-01T00:00:00.000000Z".into(),
                            evaluated_at: "2026-01-01T00:00:00.000000Z".into(),
                        },
                    )?;
                }
            }
            let fields = |name, ring_order| GroupFields {
                name,
                description: "",
                kind: "static",
                rules: "{}",
                ring_order,
            };
            let big = group_store::insert(&tx, &fields("Big", Some(2)), now)?;
            let small = group_store::insert(&tx, &fields("Small", Some(1)), now)?;
            let group = group_store::insert(&tx, &fields("Group", None), now)?;
            let rows: Vec<DeviceMembership> = (0..90usize)
                .map(|i| {
                    let mut groups = Vec::new();
                    let mut ring = None;
                    if i % 3 != 0 {
                        groups.push(big);
                        ring = Some(big);
                    }
                    if i % 30 == 0 {
                        groups.push(small);
                        ring = Some(small);
                    }
                    if i % 2 == 0 {
                        groups.push(group);
                    }
                    DeviceMembership {
                        udid: format!("U{i:03}"),
                        groups,
                        ring,
                        rings: 1,
                    }
                })
                .collect();
            membership::replace_devices(&tx, &rows)?;
            tx.commit()?;
            Ok((big, small, group))
        })
        .unwrap()
}

#[test]
fn both_ways_of_filtering_on_membership_return_the_same_pages_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
    let (big, small, group) = fleet(&store);
    store
        .read_blocking(|c| {
            let filters = [
                DeviceFilter {
                    ring: Some(big),
                    ..DeviceFilter::default()
                },
                DeviceFilter {
                    ring: Some(small),
                    ..DeviceFilter::default()
                },
                DeviceFilter {
                    group: Some(group),
                    compliance: Some("overdue".into()),
                    ..DeviceFilter::default()
                },
                DeviceFilter {
                    group: Some(group),
                    ring: Some(big),
                    model: Some("iPad13,4".into()),
                    ..DeviceFilter::default()
                },
            ];
            for filter in &filters {
                let every = page_as(c, filter, (SortKey::Name, false), 1000, 0, Membership::Members)?;
                assert!(!every.is_empty(), "{filter:?} matches devices");
                let in_one_step = page_as(c, filter, (SortKey::Name, false), 5000, 0, Membership::Probe)?;
                assert_eq!(in_one_step, every, "a long read (one step) returns the same rows");
                assert_eq!(count(c, filter)?, every.len(), "{filter:?}");
                for (_, sort) in SortKey::ALL {
                    for descending in [false, true] {
                        for offset in [0, 7, 25] {
                            let members =
                                page_as(c, filter, (sort, descending), 10, offset, Membership::Members)?;
                            let probe =
                                page_as(c, filter, (sort, descending), 10, offset, Membership::Probe)?;
                            assert_eq!(members, probe, "{filter:?} {sort:?} {descending} {offset}");
                            assert_eq!(members, page(c, filter, sort, descending, 10, offset)?);
                        }
                    }
                }
            }
            let big_ring = &filters[0];
            assert_eq!(count(c, big_ring)?, 60, "two devices of three");
            assert_eq!(
                membership_for(c, big_ring, SortKey::LastSeen, 10, 0)?,
                Membership::Probe,
                "the first page of a large ring walks the sort index"
            );
            assert_eq!(
                membership_for(c, &filters[1], SortKey::LastSeen, 10, 0)?,
                Membership::Members,
                "a small ring is read from its members"
            );
            assert_eq!(
                membership_for(c, big_ring, SortKey::Compliance, 10, 0)?,
                Membership::Members,
                "no index gives the compliance order"
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_probe_walks_the_sort_index_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
    store
        .read_blocking(|c| {
            for filter in [
                DeviceFilter {
                    ring: Some(1),
                    ..DeviceFilter::default()
                },
                DeviceFilter {
                    group: Some(1),
                    ..DeviceFilter::default()
                },
            ] {
                let (clause, _) = where_clause(&filter, Membership::Probe);
                let plan: Vec<String> = c
                    .prepare(&format!(
                        "EXPLAIN QUERY PLAN SELECT d.udid FROM devices d {clause}
                         ORDER BY d.last_seen_at DESC, d.udid DESC LIMIT 100"
                    ))?
                    .query_map([1], |r| r.get::<_, String>(3))?
                    .collect::<Result<_, _>>()?;
                assert!(
                    plan.iter().any(|l| l.contains("devices_last_seen"))
                        && !plan.iter().any(|l| l.contains("TEMP B-TREE")),
                    "the probe walks the sort index: {plan:?}"
                );
            }
            Ok(())
        })
        .unwrap();
}
