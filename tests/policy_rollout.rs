//! The policy engine end to end over the real store, DDM service and MDM queue, with the virtual
//! clock: a new iOS release appears in the catalog; each default ring's device gets its
//! enforcement declaration on the day its deferral ends, is told the deadline, installs, and
//! loses the declaration; a legacy-path device gets its deferral profile and one
//! `ScheduleOSUpdate` at its deadline; a restart mid-rollout loses nothing and sends nothing twice.

use crate::common;
use crate::policy_store::add_device;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use orchard::admin::Actor;
use orchard::store::devices::{self, Inventory};
use orchard::store::policies::plans::{self, FleetScope};

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");

/// The gdmf catalog as it stood on `date`: entries posted later are removed.
pub(crate) fn gdmf_as_of(date: NaiveDate) -> Vec<u8> {
    crate::catalog_day::gdmf_as_of(GDMF, &date.format("%Y-%m-%d").to_string())
}

async fn import(app: &common::TestApp, date: NaiveDate) {
    let catalog = app.state.catalog.clone();
    let bytes = gdmf_as_of(date);
    tokio::task::spawn_blocking(move || {
        catalog.import_documents(vec![("pmv.json".into(), bytes)], &mut |_| {})
    })
    .await
    .unwrap()
    .unwrap();
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// The minute job and the worker, run now.
async fn tick(app: &common::TestApp) {
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// The enforcement declaration in the device's current own set: (TargetOSVersion, TargetLocalDateTime).
fn enforcement(app: &common::TestApp, udid: &str) -> Option<(String, String)> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| {
            let mut stmt = c.prepare(
                "SELECT d.payload FROM ddm_devices dv
                 JOIN ddm_group_members m ON m.group_key = dv.own_group
                 JOIN ddm_declarations d ON d.id = m.declaration_id
                 WHERE dv.udid = ?1 AND d.identifier = 'com.orchard.policy.enforcement'",
            )?;
            let payload: Option<String> = stmt.query_row([&udid], |r| r.get(0)).ok();
            Ok(payload.map(|p| {
                let v: serde_json::Value = serde_json::from_str(&p).unwrap();
                (
                    v["TargetOSVersion"].as_str().unwrap().to_string(),
                    v["TargetLocalDateTime"].as_str().unwrap().to_string(),
                )
            }))
        })
        .unwrap()
}

fn commands(app: &common::TestApp, udid: &str, request_type: &str) -> i64 {
    let (udid, kind) = (udid.to_string(), request_type.to_string());
    app.state
        .store
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT count(*) FROM commands WHERE udid = ?1 AND request_type = ?2",
                [&udid, &kind],
                |r| r.get(0),
            )?)
        })
        .unwrap()
}

fn install(app: &common::TestApp, udid: &str, version: &str, build: &str) {
    let (udid, now) = (udid.to_string(), app.clock_now());
    let update = Inventory {
        os_version: Some(version.into()),
        build_version: Some(build.into()),
        ..Inventory::default()
    };
    app.state
        .store
        .write_blocking(move |c| devices::update_inventory(c, &udid, &update, now))
        .unwrap();
}

const RINGS: [(&str, &str); 4] = [
    ("Vanguard", "RING-VANGUARD"),
    ("Early Adopter", "RING-EARLY"),
    ("General Adoption", "RING-GENERAL"),
    ("Late Adoption", "RING-LATE"),
];
const LEGACY: &str = "LEGACY-IPHONE";

#[tokio::test]
async fn a_new_release_rolls_out_ring_by_ring_and_a_restart_loses_nothing_and_sends_nothing_twice() {
    let app = common::spawn_app().await;
    app.clock.set(at(2026, 4, 7, 9));
    import(&app, NaiveDate::from_ymd_opt(2026, 4, 7).unwrap()).await;
    let service = &app.state.policies;
    let actor = Actor::cli();
    service.load_default_rings(&actor).await.unwrap();
    for (ring, udid) in RINGS {
        add_device(&app, udid, "iPhone14,2", "26.4", "23E246", udid);
        app.state.ddm.on_enrollment(udid).await.unwrap();
        service
            .add_members(ring, &[udid.to_string()], &actor)
            .await
            .unwrap();
    }
    // Supervised, but declarative management never came up: the legacy path.
    add_device(&app, LEGACY, "iPhone14,2", "26.4", "23E246", LEGACY);
    service
        .add_members("Vanguard", &[LEGACY.to_string()], &actor)
        .await
        .unwrap();

    tick(&app).await;
    for (_, udid) in RINGS {
        assert_eq!(enforcement(&app, udid), None, "{udid} is up to date on 26.4");
    }
    assert_eq!(
        commands(&app, LEGACY, "InstallProfile"),
        1,
        "the deferral profile"
    );
    let plan = service.device_plan(LEGACY).await.unwrap().unwrap();
    assert_eq!(plan.ring.as_deref(), Some("Vanguard"));

    // 2026-04-08: 26.4.1 is posted. The catalog refresh brings it in.
    app.clock.set(at(2026, 4, 8, 9));
    import(&app, NaiveDate::from_ymd_opt(2026, 4, 8).unwrap()).await;

    let expected = [
        ("RING-VANGUARD", "2026-04-09", "2026-04-12T18:00:00"),
        ("RING-EARLY", "2026-04-15", "2026-04-22T18:00:00"),
        ("RING-GENERAL", "2026-04-23", "2026-05-03T18:00:00"),
        ("RING-LATE", "2026-05-08", "2026-05-18T18:00:00"),
    ];
    let mut first_day: std::collections::BTreeMap<&str, String> = Default::default();
    let mut installed: Vec<&str> = Vec::new();
    let mut restarted = None;
    let mut app = app;
    let mut day = NaiveDate::from_ymd_opt(2026, 4, 8).unwrap();
    while day <= NaiveDate::from_ymd_opt(2026, 5, 20).unwrap() {
        for hour in [0, 19] {
            app.clock
                .set(Utc.from_utc_datetime(&day.and_hms_opt(hour, 30, 0).unwrap()));
            tick(&app).await;
            for (udid, visible, deadline) in expected {
                let Some((version, local)) = enforcement(&app, udid) else {
                    continue;
                };
                assert_eq!(version, "26.4.1", "{udid}");
                assert_eq!(local, deadline, "{udid}");
                first_day.entry(udid).or_insert_with(|| day.to_string());
                assert!(
                    day.to_string().as_str() >= visible,
                    "{udid} told before {visible}"
                );
                // The device installs at its deadline and reports the new version.
                if app.clock_now().naive_utc()
                    >= chrono::NaiveDateTime::parse_from_str(deadline, "%Y-%m-%dT%H:%M:%S").unwrap()
                {
                    install(&app, udid, "26.4.1", "23E254");
                    installed.push(udid);
                }
            }
        }
        // Mid-rollout (after Vanguard's deadline, before Early Adopter's), the appliance restarts
        // on the same data directory, with work still queued.
        if day == NaiveDate::from_ymd_opt(2026, 4, 14).unwrap() && restarted.is_none() {
            let now = app.clock_now();
            // Asked for as the hourly sweep would, but without waking the worker: still pending
            // at the stop.
            app.state
                .store
                .write_blocking(move |c| plans::request(c, FleetScope::Devices, now))
                .unwrap();
            let schedules_before = commands(&app, LEGACY, "ScheduleOSUpdate");
            let dir = app.stop().await;
            app = common::spawn_app_with(dir, |_| {}).await;
            app.clock.set(now);
            let pending = app
                .state
                .store
                .read_blocking(|c| plans::pending_request(c, FleetScope::Devices))
                .unwrap();
            assert!(pending.is_some(), "the fleet-wide request survives the restart");
            tick(&app).await;
            assert_eq!(
                commands(&app, LEGACY, "ScheduleOSUpdate"),
                schedules_before,
                "nothing sent twice"
            );
            restarted = Some(schedules_before);
        }
        day = day.succ_opt().unwrap();
    }
    let got: Vec<(&str, String)> = expected
        .iter()
        .map(|(u, _, _)| (*u, first_day.get(u).cloned().unwrap_or_default()))
        .collect();
    let wanted: Vec<(&str, String)> = expected.iter().map(|(u, v, _)| (*u, v.to_string())).collect();
    assert_eq!(got, wanted, "each ring is told on the day its deferral ends");
    for (_, udid) in RINGS {
        assert!(installed.contains(&udid), "{udid} installed at its deadline");
        assert_eq!(
            enforcement(&app, udid),
            None,
            "{udid} on the target keeps no enforcement"
        );
    }
    assert_eq!(
        restarted,
        Some(1),
        "the legacy device's ScheduleOSUpdate went out before the restart"
    );
    assert_eq!(
        commands(&app, LEGACY, "ScheduleOSUpdate"),
        1,
        "ScheduleOSUpdate once, at the deadline"
    );
    assert_eq!(commands(&app, LEGACY, "OSUpdateStatus"), 1);
    let sent_at: String = app
        .state
        .store
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT sent_at FROM legacy_scheduled_updates WHERE udid = ?1",
                [LEGACY],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert!(
        sent_at.as_str() >= "2026-04-12T18:00",
        "sent at the deadline, not before: {sent_at}"
    );
    assert!(
        sent_at.as_str() < "2026-04-13T18:00",
        "sent at the deadline: {sent_at}"
    );
    assert_eq!(
        commands(&app, LEGACY, "InstallProfile"),
        1,
        "the profile was not sent again"
    );
}
