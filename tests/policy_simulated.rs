//! The policy engine with a simulated iPhone over the real listener: enrolled by SCEP, in the
//! Vanguard ring, it syncs the declarations the engine delivers through signed
//! `DeclarativeManagement` check-ins, is told 26.4.1 the day its deferral ends, installs at the
//! deadline, reports it, and loses the enforcement.

use crate::ddm_rollout::{SignedCheckins, run_command_loop};
use crate::device_channel::{self as channel};
use crate::policy_rollout::gdmf_as_of;

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use orchard::admin::Actor;
use orchard::protocol::ddm::Platform;
use orchard::sim::ddm::{DdmClient, DeviceProfile, OfferedUpdate, SoftwareUpdateModel};

const ENFORCEMENT: &str = "com.orchard.policy.enforcement";

pub(crate) async fn import(app: &crate::common::TestApp, day: (i32, u32, u32)) {
    let catalog = app.state.catalog.clone();
    let bytes = gdmf_as_of(NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap());
    tokio::task::spawn_blocking(move || {
        catalog.import_documents(vec![("pmv.json".into(), bytes)], &mut |_| {})
    })
    .await
    .unwrap()
    .unwrap();
}

async fn inventory_version(app: &crate::common::TestApp) -> Option<String> {
    app.state
        .store
        .read(|c| orchard::store::devices::get(c, channel::UDID))
        .await
        .unwrap()
        .and_then(|d| d.inventory.os_version)
}

#[tokio::test]
async fn a_simulated_iphone_in_vanguard_is_told_on_the_right_day_installs_and_is_released() {
    let rig = channel::rig().await;
    let app = &rig.app;
    app.clock.set(Utc.with_ymd_and_hms(2026, 4, 7, 9, 0, 0).unwrap());
    import(app, (2026, 4, 7)).await;
    let actor = Actor::cli();
    app.state.policies.load_default_rings(&actor).await.unwrap();

    let device = Arc::new(channel::enroll_running(app, channel::UDID, &[9; 32], "26.4").await);
    let clock: orchard::clock::SharedClock = Arc::new(app.clock.clone());
    let mut profile = DeviceProfile::new(Platform::Ios, channel::UDID, "26.4", "23E246");
    profile.model_identifier = "iPhone17,3".into();
    let offered = vec![OfferedUpdate::new(
        "26.4.1",
        "23E254",
        Utc.with_ymd_and_hms(2026, 4, 8, 17, 0, 0).unwrap(),
    )];
    let model = SoftwareUpdateModel::new(clock.clone(), profile, offered);
    let transport = Arc::new(SignedCheckins {
        udid: channel::UDID.into(),
        client: app.client.clone(),
        url: app.url("/mdm/checkin"),
        device: device.clone(),
    });
    let mut ddm = DdmClient::new(transport, clock.clone(), model);
    rig.apns
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let seen = run_command_loop(&rig, &device, &mut ddm).await;
    assert_eq!(seen, ["DeviceInformation", "DeclarativeManagement"]);
    app.state
        .policies
        .add_members("Vanguard", &[channel::UDID.to_string()], &actor)
        .await
        .unwrap();

    let tick = || async {
        app.state.policy_engine.enqueue_changes().await.unwrap();
        app.state.policy_engine.run_queue().await.unwrap()
    };
    tick().await;
    run_command_loop(&rig, &device, &mut ddm).await;
    assert!(
        !ddm.held().contains_key(ENFORCEMENT),
        "up to date on 26.4: nothing enforced"
    );

    // 26.4.1 is posted on 2026-04-08; Vanguard's one-day deferral ends on the 9th.
    app.clock.set(Utc.with_ymd_and_hms(2026, 4, 8, 20, 0, 0).unwrap());
    import(app, (2026, 4, 8)).await;
    tick().await;
    run_command_loop(&rig, &device, &mut ddm).await;
    assert!(!ddm.held().contains_key(ENFORCEMENT), "still deferred on the 8th");
    let why = app
        .state
        .policies
        .device_plan(channel::UDID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(why.ring.as_deref(), Some("Vanguard"));
    assert!(
        why.plan.explanation.contains("2026-04-09"),
        "{}",
        why.plan.explanation
    );

    app.clock.set(Utc.with_ymd_and_hms(2026, 4, 9, 0, 30, 0).unwrap());
    tick().await;
    let seen = run_command_loop(&rig, &device, &mut ddm).await;
    assert!(seen.contains(&"DeclarativeManagement".to_string()), "{seen:?}");
    let held = ddm
        .held()
        .get(ENFORCEMENT)
        .expect("the enforcement declaration reached the device");
    assert!(held.problem.is_none(), "{:?}", held.problem);
    let payload = &held.declaration.payload;
    assert_eq!(payload["TargetOSVersion"], "26.4.1");
    assert_eq!(payload["TargetLocalDateTime"], "2026-04-12T18:00:00");

    // Nothing before the deadline; installed and reported after it.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 4, 11, 12, 0, 0).unwrap());
    ddm.advance().await.unwrap();
    assert_eq!(inventory_version(app).await.as_deref(), Some("26.4"));
    let mut at = Utc.with_ymd_and_hms(2026, 4, 12, 18, 0, 0).unwrap();
    for _ in 0..48 {
        at += Duration::minutes(15);
        app.clock.set(at);
        ddm.advance().await.unwrap();
        if inventory_version(app).await.as_deref() == Some("26.4.1") {
            break;
        }
    }
    assert_eq!(inventory_version(app).await.as_deref(), Some("26.4.1"));

    // On the target: the engine takes the enforcement back.
    tick().await;
    run_command_loop(&rig, &device, &mut ddm).await;
    assert!(!ddm.held().contains_key(ENFORCEMENT), "{:?}", ddm.held().keys());
}
