//! The legacy path needs supervision. Apple's schemas mark the deferral restrictions
//! (`forceDelayedSoftwareUpdates`, `enforcedSoftwareUpdateDelay`) supervised-only on iOS, iPadOS
//! and tvOS, and `ScheduleOSUpdate` supervised-only on every platform, macOS included. An
//! unsupervised legacy device is sent nothing it would ignore, and its plan says why.

use crate::common;
use crate::policy_delivery::commands;
use crate::policy_store::{add_device, policy_app};

use orchard::admin::Actor;
use orchard::store::devices::{self, Inventory};

async fn tick(app: &common::TestApp) {
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// What a later DeviceInformation (or status report) said of a device.
fn report(app: &common::TestApp, udid: &str, inventory: Inventory) {
    let now = app.clock_now();
    let udid = udid.to_string();
    app.state
        .store
        .write_blocking(move |c| devices::update_inventory(c, &udid, &inventory, now))
        .unwrap();
}

/// A device whose DeviceInformation said it is not supervised.
fn unsupervise(app: &common::TestApp, udid: &str) {
    let inventory = Inventory {
        is_supervised: Some(false),
        ..Inventory::default()
    };
    report(app, udid, inventory);
}

#[tokio::test]
async fn an_unsupervised_legacy_iphone_gets_no_deferral_profile_nor_schedule_and_its_plan_says_why() {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    // Both on 26.3.1 in Vanguard, without declarative management (the legacy path): 26.4.1 is
    // enforced by 2026-04-12 18:00 local.
    add_device(&app, "SUPERVISED", "iPhone14,2", "26.3.1", "23D8133", "SUP1");
    add_device(&app, "UNSUPERVISED", "iPhone14,2", "26.3.1", "23D8133", "UNSUP1");
    unsupervise(&app, "UNSUPERVISED");
    service
        .add_members("Vanguard", &["SUPERVISED".into(), "UNSUPERVISED".into()], &actor)
        .await
        .unwrap();

    tick(&app).await;
    assert_eq!(
        commands(&app, "SUPERVISED"),
        ["InstallProfile"],
        "the deferral profile"
    );
    assert!(
        commands(&app, "UNSUPERVISED").is_empty(),
        "the restrictions would be ignored: nothing sent"
    );

    // Past the deadline: the supervised device is told to install, the other still nothing.
    app.clock.set(app.clock_now() + chrono::Duration::days(1));
    tick(&app).await;
    let supervised = commands(&app, "SUPERVISED");
    assert!(
        supervised.contains(&"ScheduleOSUpdate".to_string()),
        "{supervised:?}"
    );
    assert!(
        commands(&app, "UNSUPERVISED").is_empty(),
        "ScheduleOSUpdate needs supervision on iOS"
    );

    // The device page and the stored plan say why, and still show what the policy wants.
    let plan = service.device_plan("UNSUPERVISED").await.unwrap().unwrap();
    assert_eq!(plan.ring.as_deref(), Some("Vanguard"));
    assert_ne!(plan.plan.decision, "no-policy", "{:?}", plan.plan);
    assert!(
        plan.plan.explanation.contains("need a supervised device"),
        "{}",
        plan.plan.explanation
    );
    let control = service.device_plan("SUPERVISED").await.unwrap().unwrap();
    assert!(
        !control.plan.explanation.contains("supervised device"),
        "{}",
        control.plan.explanation
    );
    let stored = service.planned_targets().await.unwrap();
    let unsupervised = stored.iter().find(|p| p.udid == "UNSUPERVISED").unwrap();
    assert_eq!(unsupervised.path, "legacy");
    let summary = unsupervised.summary.as_ref().unwrap();
    assert!(
        summary.plan.explanation.contains("need a supervised device"),
        "{}",
        summary.plan.explanation
    );
}

/// On macOS the deferral restrictions work without supervision, but `ScheduleOSUpdate` is
/// supervised-only there too (`mdm/commands/system.update.schedule.yaml`: macOS `supervised: true`):
/// an unsupervised Mac on the legacy path gets the deferral profile and never the command.
#[tokio::test]
async fn an_unsupervised_legacy_mac_gets_its_deferral_profile_but_no_schedule() {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    add_device(&app, "MAC-SUPERVISED", "Mac14,9", "26.3", "25D125", "MSUP1");
    add_device(&app, "MAC-UNSUPERVISED", "Mac14,9", "26.3", "25D125", "MUNSUP1");
    unsupervise(&app, "MAC-UNSUPERVISED");
    for mac in ["MAC-SUPERVISED", "MAC-UNSUPERVISED"] {
        // A Mac's catalog entry is found by its software update device ID (board ID).
        let inventory = Inventory {
            software_update_device_id: Some("J414sAP".into()),
            ..Inventory::default()
        };
        report(&app, mac, inventory);
    }
    service
        .add_members(
            "Vanguard",
            &["MAC-SUPERVISED".into(), "MAC-UNSUPERVISED".into()],
            &actor,
        )
        .await
        .unwrap();

    tick(&app).await;
    assert_eq!(commands(&app, "MAC-SUPERVISED"), ["InstallProfile"]);
    assert_eq!(
        commands(&app, "MAC-UNSUPERVISED"),
        ["InstallProfile"],
        "macOS honours the deferral restrictions without supervision"
    );

    // Past the deadline (2026-04-13 18:00): only the supervised Mac is told to install.
    app.clock.set(app.clock_now() + chrono::Duration::days(2));
    tick(&app).await;
    let supervised = commands(&app, "MAC-SUPERVISED");
    assert!(
        supervised.contains(&"ScheduleOSUpdate".to_string()),
        "{supervised:?}"
    );
    assert_eq!(
        commands(&app, "MAC-UNSUPERVISED"),
        ["InstallProfile"],
        "ScheduleOSUpdate needs supervision on macOS too"
    );
    let plan = service.device_plan("MAC-UNSUPERVISED").await.unwrap().unwrap();
    assert!(
        plan.plan.explanation.contains("supervision"),
        "{}",
        plan.plan.explanation
    );
    assert!(plan.plan.deadline_utc.is_none(), "{:?}", plan.plan);
}
