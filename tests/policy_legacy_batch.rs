//! The legacy path delivered in batches: one engine run whose batch mixes a device getting its
//! deferral profile, one losing it, one told to install at its deadline and one no longer
//! enrolled; each gets exactly its commands with their records, and a second run sends nothing.
//! A failure in the middle of a batch leaves no command without its record, and the retry sends
//! each command once.

use crate::common;
use crate::policy_delivery::commands;
use crate::policy_store::{add_device, policy_app};

use orchard::admin::Actor;
use orchard::store::devices::{self, Inventory};
use orchard::store::policies::plans;

async fn tick(app: &common::TestApp) {
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// The queued commands of `udid` as (request type, command UUID), oldest first.
fn queued(app: &common::TestApp, udid: &str) -> Vec<(String, String)> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| {
            let mut stmt =
                c.prepare("SELECT request_type, uuid FROM commands WHERE udid = ?1 ORDER BY id")?;
            let rows = stmt
                .query_map([&udid], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

fn uuid_of(app: &common::TestApp, udid: &str, request_type: &str) -> String {
    let found: Vec<String> = queued(app, udid)
        .into_iter()
        .filter(|(t, _)| t == request_type)
        .map(|(_, u)| u)
        .collect();
    assert_eq!(found.len(), 1, "{udid}: one {request_type}, got {found:?}");
    found[0].clone()
}

/// The command UUID recorded for the device's legacy profile.
fn profile_record(app: &common::TestApp, udid: &str) -> Option<String> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT command_uuid FROM legacy_update_profiles WHERE udid = ?1",
                [&udid],
                |r| r.get(0),
            )
            .ok())
        })
        .unwrap()
}

/// The recorded ScheduleOSUpdates of the device: (target version, command UUID, status UUID).
fn schedule_records(app: &common::TestApp, udid: &str) -> Vec<(String, String, Option<String>)> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| {
            let mut stmt = c.prepare(
                "SELECT target_version, command_uuid, status_uuid FROM legacy_scheduled_updates
                 WHERE udid = ?1 ORDER BY sent_at",
            )?;
            let rows = stmt
                .query_map([&udid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

fn unsupervise(app: &common::TestApp, udid: &str) {
    let (now, udid) = (app.clock_now(), udid.to_string());
    let inventory = Inventory {
        is_supervised: Some(false),
        ..Inventory::default()
    };
    app.state
        .store
        .write_blocking(move |c| devices::update_inventory(c, &udid, &inventory, now))
        .unwrap();
}

fn delivered(app: &common::TestApp, udid: &str) -> bool {
    let udid = udid.to_string();
    let plan = app
        .state
        .store
        .read_blocking(move |c| plans::plan(c, &udid))
        .unwrap()
        .unwrap();
    plan.delivered_path.as_deref() == Some("legacy")
        && plan.delivered_fingerprint.as_deref() == Some(plan.fingerprint.as_str())
}

/// Every InstallProfile and ScheduleOSUpdate queued for `udid` has its record.
fn no_command_without_record(app: &common::TestApp, udid: &str) {
    let scheduled: Vec<String> = schedule_records(app, udid).into_iter().map(|r| r.1).collect();
    let profile = profile_record(app, udid);
    for (request_type, uuid) in queued(app, udid) {
        match request_type.as_str() {
            "ScheduleOSUpdate" => assert!(scheduled.contains(&uuid), "{udid}: {uuid} has no record"),
            "InstallProfile" => assert!(profile.is_some(), "{udid}: {uuid} has no record"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn one_batch_installs_removes_and_schedules_each_device_with_its_records_and_never_twice() {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    // Legacy iPhones (no declarative management) on 26.3.1 under Vanguard: 26.4.1 is enforced by
    // 2026-04-12 18:00 local.
    add_device(&app, "SCHEDULE", "iPhone14,2", "26.3.1", "23D8133", "SCH1");
    add_device(&app, "REMOVAL", "iPhone14,2", "26.3.1", "23D8133", "REM1");
    service
        .add_members("Vanguard", &["SCHEDULE".into(), "REMOVAL".into()], &actor)
        .await
        .unwrap();
    tick(&app).await;
    let first_profile = uuid_of(&app, "SCHEDULE", "InstallProfile");
    assert_eq!(commands(&app, "REMOVAL"), ["InstallProfile"]);

    // A day later, past Vanguard's deadline. REMOVAL turns out unsupervised (its restrictions
    // would be ignored: the profile goes); PROFILE joins Late Adoption (deferred, no deadline
    // yet); GONE would be told to install but is no longer enrolled.
    app.clock.set(app.clock_now() + chrono::Duration::days(1));
    unsupervise(&app, "REMOVAL");
    add_device(&app, "PROFILE", "iPhone14,2", "26.3.1", "23D8133", "PRO1");
    add_device(&app, "GONE", "iPhone14,2", "26.3.1", "23D8133", "GON1");
    service
        .add_members("Late Adoption", &["PROFILE".into()], &actor)
        .await
        .unwrap();
    // Unenrolled before it joins the ring: the engine's worker runs as soon as a group change
    // queues devices, and must not find GONE still enrolled.
    let now = app.clock_now();
    app.state
        .store
        .write_blocking(move |c| devices::mark_unenrolled(c, "GONE", now))
        .unwrap();
    service
        .add_members("Vanguard", &["GONE".into()], &actor)
        .await
        .unwrap();
    tick(&app).await;

    assert_eq!(
        commands(&app, "SCHEDULE"),
        ["InstallProfile", "ScheduleOSUpdate", "OSUpdateStatus"],
        "its profile is unchanged; at the deadline it is told to install, then asked how it goes"
    );
    assert_eq!(
        schedule_records(&app, "SCHEDULE"),
        [(
            "26.4.1".to_string(),
            uuid_of(&app, "SCHEDULE", "ScheduleOSUpdate"),
            Some(uuid_of(&app, "SCHEDULE", "OSUpdateStatus"))
        )]
    );
    assert_eq!(profile_record(&app, "SCHEDULE"), Some(first_profile));
    assert_eq!(commands(&app, "REMOVAL"), ["InstallProfile", "RemoveProfile"]);
    assert_eq!(
        profile_record(&app, "REMOVAL"),
        None,
        "its record goes with the profile"
    );
    assert!(schedule_records(&app, "REMOVAL").is_empty());
    assert_eq!(commands(&app, "PROFILE"), ["InstallProfile"]);
    assert_eq!(
        profile_record(&app, "PROFILE"),
        Some(uuid_of(&app, "PROFILE", "InstallProfile"))
    );
    assert!(
        commands(&app, "GONE").is_empty(),
        "a device not enrolled is sent nothing"
    );
    assert_eq!(profile_record(&app, "GONE"), None);
    assert!(schedule_records(&app, "GONE").is_empty());
    for udid in ["SCHEDULE", "REMOVAL", "PROFILE"] {
        assert!(delivered(&app, udid), "{udid}'s plan is recorded as delivered");
    }

    // Running again, and a full sweep, sends nothing new.
    tick(&app).await;
    app.state.policy_engine.sweep().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
    assert_eq!(commands(&app, "SCHEDULE").len(), 3);
    assert_eq!(commands(&app, "REMOVAL").len(), 2);
    assert_eq!(commands(&app, "PROFILE").len(), 1);
    assert!(commands(&app, "GONE").is_empty());
}

#[tokio::test]
async fn a_failure_in_the_middle_of_a_batch_leaves_no_command_without_its_record_and_the_retry_sends_each_once()
 {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    let fleet = ["FAIL-A", "FAIL-B", "FAIL-C"];
    for (i, udid) in fleet.iter().enumerate() {
        add_device(&app, udid, "iPhone14,2", "26.3.1", "23D8133", &format!("F{i}"));
    }
    let members: Vec<String> = fleet.iter().map(|u| u.to_string()).collect();
    service.add_members("Vanguard", &members, &actor).await.unwrap();
    tick(&app).await;
    for udid in fleet {
        assert_eq!(commands(&app, udid), ["InstallProfile"]);
    }

    // Past the deadline, the record of FAIL-B's ScheduleOSUpdate cannot be written (the
    // database refuses it, as a full disk would); the others' can.
    app.clock.set(app.clock_now() + chrono::Duration::days(1));
    app.state
        .store
        .write_blocking(|c| {
            c.execute_batch(
                "CREATE TRIGGER refuse_b BEFORE INSERT ON legacy_scheduled_updates
                 WHEN NEW.udid = 'FAIL-B' BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
            )?;
            Ok(())
        })
        .unwrap();
    app.state.policy_engine.enqueue_changes().await.unwrap();
    // The engine's worker may take the run (and log the failure): either way, once this returns
    // the queued devices were evaluated and their delivery attempted.
    let _ = app.state.policy_engine.run_queue().await;
    let left = app.state.store.read_blocking(plans::queue_len).unwrap();
    assert_eq!(left, 0, "the run went through the queue");
    for udid in fleet {
        no_command_without_record(&app, udid);
        assert_eq!(
            commands(&app, udid),
            ["InstallProfile"],
            "{udid}: the whole batch was rolled back"
        );
        assert!(schedule_records(&app, udid).is_empty());
        assert!(
            !delivered(&app, udid),
            "{udid}: its delivery is not recorded either"
        );
    }

    // The fault clears; the sweep delivers each ScheduleOSUpdate once.
    app.state
        .store
        .write_blocking(|c| {
            c.execute_batch("DROP TRIGGER refuse_b;")?;
            Ok(())
        })
        .unwrap();
    for _ in 0..2 {
        app.state.policy_engine.sweep().await.unwrap();
        app.state.policy_engine.run_queue().await.unwrap();
    }
    for udid in fleet {
        no_command_without_record(&app, udid);
        assert_eq!(
            commands(&app, udid),
            ["InstallProfile", "ScheduleOSUpdate", "OSUpdateStatus"],
            "{udid}"
        );
        assert_eq!(schedule_records(&app, udid).len(), 1);
        assert!(delivered(&app, udid));
    }
}
