//! The legacy path on iOS, iPadOS and tvOS needs supervision: Apple's schemas mark the deferral
//! restrictions (`forceDelayedSoftwareUpdates`, `enforcedSoftwareUpdateDelay`) and
//! `ScheduleOSUpdate` supervised-only there. An unsupervised legacy device is sent nothing it
//! would ignore, and its plan says why.

use crate::common;
use crate::policy_delivery::commands;
use crate::policy_store::{add_device, policy_app};

use orchard::admin::Actor;
use orchard::store::devices::{self, Inventory};

async fn tick(app: &common::TestApp) {
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// A device whose DeviceInformation said it is not supervised.
fn unsupervise(app: &common::TestApp, udid: &str) {
    let now = app.clock_now();
    let udid = udid.to_string();
    app.state
        .store
        .write_blocking(move |c| {
            let inventory = Inventory {
                is_supervised: Some(false),
                ..Inventory::default()
            };
            devices::update_inventory(c, &udid, &inventory, now)
        })
        .unwrap();
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
