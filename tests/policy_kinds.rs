//! A change that reaches every device alike (a new catalog) is decided once per kind of device
//! and written to every device of the kind; the result is what deciding each device on its own
//! gives, a kind that no longer holds is evaluated device by device, and the hourly sweep
//! (device by device) catches what no queueing told the engine.

use chrono::{TimeZone, Utc};
use orchard::admin::Actor;
use orchard::store::policies::plans::{self, FleetScope, PlanRow};

use crate::catalog_day::gdmf_as_of;
use crate::common;
use crate::policy_store::add_device;

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");

/// The catalog as it stood on `day`, with the clock at `at` (UTC).
fn catalog_day(app: &common::TestApp, day: &str, at: chrono::DateTime<Utc>) {
    app.clock.set(at);
    app.state
        .catalog
        .import_documents(vec![("pmv.json".into(), gdmf_as_of(GDMF, day))], &mut |_| {})
        .unwrap();
}

/// Every plan row's decision and kind (not its stamps), by UDID.
fn decisions(app: &common::TestApp) -> Vec<PlanRow> {
    let mut rows = app.state.store.read_blocking(plans::all_plans).unwrap();
    for row in &mut rows {
        row.evaluated_at.clear();
        row.delivered_at = None;
    }
    rows
}

fn plan_of(app: &common::TestApp, udid: &str) -> PlanRow {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| plans::plan(c, &udid))
        .unwrap()
        .unwrap()
}

/// Writes `sql` behind the engine's back: nothing is queued.
fn behind_the_engines_back(app: &common::TestApp, sql: &'static str) {
    app.state
        .store
        .write_blocking(move |c| Ok(c.execute_batch(sql)?))
        .unwrap();
}

/// 26.4.1 is posted (the catalog of 2026-04-09, on 2026-04-10 at noon, when Vanguard's one-day
/// deferral has ended), and the engine runs.
async fn release_26_4_1(app: &common::TestApp) {
    catalog_day(
        app,
        "2026-04-09",
        Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap(),
    );
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// Asks for the whole fleet device by device (the hourly sweep) and runs it (or waits while
/// the engine's worker does).
async fn sweep(app: &common::TestApp) {
    app.state.policy_engine.sweep().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

const VANGUARD: [&str; 4] = ["V-IPHONE-1", "V-IPHONE-2", "V-MAC-1", "V-LEGACY"];
const LATE: [&str; 2] = ["L-IPHONE-1", "L-IPHONE-2"];

/// iPhones and Macs on 26.4 in Vanguard (one on the legacy path) and Late Adoption, and one
/// device in no ring, evaluated on 2026-04-07 before 26.4.1.
async fn fleet() -> common::TestApp {
    let app = common::spawn_app().await;
    catalog_day(
        &app,
        "2026-04-07",
        Utc.with_ymd_and_hms(2026, 4, 7, 9, 0, 0).unwrap(),
    );
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    let devices = VANGUARD.iter().chain(&LATE).chain(&["NO-RING"]);
    for (i, udid) in devices.enumerate() {
        let (model, build) = if udid.contains("MAC") {
            ("Mac14,9", "25E246")
        } else {
            ("iPhone14,2", "23E246")
        };
        add_device(&app, udid, model, "26.4", build, &format!("S{i}"));
        if *udid != "V-LEGACY" {
            app.state.ddm.on_enrollment(udid).await.unwrap();
        }
    }
    let to = |list: &[&str]| list.iter().map(|u| u.to_string()).collect::<Vec<_>>();
    service
        .add_members("Vanguard", &to(&VANGUARD), &actor)
        .await
        .unwrap();
    service
        .add_members("Late Adoption", &to(&LATE), &actor)
        .await
        .unwrap();
    let engine = &app.state.policy_engine;
    engine.enqueue_changes().await.unwrap();
    engine.run_queue().await.unwrap();
    app
}

#[tokio::test]
async fn a_new_catalog_is_decided_per_kind_and_gives_each_device_what_deciding_it_alone_gives() {
    let app = fleet().await;
    let engine = &app.state.policy_engine;
    let before = decisions(&app);
    assert!(
        before.iter().all(|r| r.kind.is_some()),
        "every evaluated plan has its kind"
    );
    assert_eq!(
        plan_of(&app, "V-IPHONE-1").kind,
        plan_of(&app, "V-IPHONE-2").kind,
        "devices alike share a kind"
    );
    assert_ne!(plan_of(&app, "V-IPHONE-1").kind, plan_of(&app, "L-IPHONE-1").kind);

    // 26.4.1 is posted; on 2026-04-10 Vanguard's one-day deferral has ended.
    catalog_day(
        &app,
        "2026-04-09",
        Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap(),
    );
    engine.enqueue_changes().await.unwrap();
    let pending = |scope| {
        app.state
            .store
            .read_blocking(move |c| plans::pending_request(c, scope))
            .unwrap()
    };
    assert!(
        pending(FleetScope::Kinds).is_some(),
        "a catalog change asks for kinds"
    );
    assert!(pending(FleetScope::Devices).is_none());
    // (The engine's worker may run it first; either way it is answered.)
    engine.run_queue().await.unwrap();
    assert!(pending(FleetScope::Kinds).is_none(), "the request is answered");
    // (macOS 26.4.1 was posted a day later: the Mac's deferral has not ended yet.)
    for udid in ["V-IPHONE-1", "V-IPHONE-2", "V-LEGACY"] {
        let plan = plan_of(&app, udid);
        assert_eq!(plan.target_version.as_deref(), Some("26.4.1"), "{udid}");
        assert_eq!(
            plan.delivered_fingerprint.as_ref(),
            Some(&plan.fingerprint),
            "{udid} is told"
        );
    }
    let late_before = before.iter().find(|r| r.udid == "L-IPHONE-1").unwrap();
    assert_eq!(
        plan_of(&app, "L-IPHONE-1").fingerprint,
        late_before.fingerprint,
        "Late Adoption still defers: unchanged"
    );
    let by_kind = decisions(&app);
    assert_ne!(by_kind, before);

    // Deciding every device on its own changes nothing, not even a kind.
    sweep(&app).await;
    assert_eq!(decisions(&app), by_kind);
}

/// A change under a kind that queued nothing (here the Late Adoption policies lose their
/// group, written behind the engine's back): the representative no longer decides as its kind,
/// so the kind's devices are evaluated one by one in the same run.
#[tokio::test]
async fn a_kind_that_no_longer_holds_is_evaluated_device_by_device() {
    let app = fleet().await;
    behind_the_engines_back(
        &app,
        "DELETE FROM policy_group_assignments
                 WHERE group_id = (SELECT id FROM policy_groups WHERE name = 'Late Adoption')",
    );
    let late_kind = plan_of(&app, "L-IPHONE-1").kind;
    release_26_4_1(&app).await;
    for udid in LATE {
        let plan = plan_of(&app, udid);
        assert_ne!(plan.kind, late_kind, "{udid} is of another kind now");
        assert_eq!(
            plan.fingerprint,
            plan_of(&app, "NO-RING").fingerprint,
            "{udid}: no policy reaches it any more, as none reaches the iPhone in no ring"
        );
    }
    let after = decisions(&app);
    sweep(&app).await;
    assert_eq!(
        decisions(&app),
        after,
        "the same as deciding each device on its own"
    );
}

/// A device's facts changed without queueing it (no write path does this; here an UPDATE
/// behind the engine's back): a decision by kind still follows the stored kind, and the
/// device-by-device sweep puts it right.
#[tokio::test]
async fn the_sweep_decides_each_device_on_its_own_whatever_its_stored_kind() {
    let app = fleet().await;
    behind_the_engines_back(
        &app,
        "UPDATE devices SET os_version = '26.4.1', build_version = '23E254'
                 WHERE udid = 'V-IPHONE-2'",
    );
    release_26_4_1(&app).await;
    let by_kind = plan_of(&app, "V-IPHONE-2");
    assert_eq!(by_kind.kind, plan_of(&app, "V-IPHONE-1").kind);
    assert_eq!(by_kind.target_version.as_deref(), Some("26.4.1"));

    sweep(&app).await;
    let alone = plan_of(&app, "V-IPHONE-2");
    assert_ne!(
        alone.kind, by_kind.kind,
        "decided on its own: the kind of a device on 26.4.1"
    );
    assert_ne!(
        alone.fingerprint, by_kind.fingerprint,
        "already on the target: nothing enforced"
    );
}
