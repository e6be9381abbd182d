//! Delivery rules of the policy engine: never both paths on one device (moving to DDM removes
//! the legacy profile), no enforcement for a release past its expiration or for a device without
//! a policy, and what is served validates against Apple's schemas.

use crate::common;
use crate::policy_store::{add_device, policy_app};
use crate::schema::{SchemaTarget, Schemas};

use chrono::{TimeZone, Utc};
use orchard::admin::Actor;
use orchard::protocol::ddm::OsVersion;
use serde_json::{Value, json};

async fn tick(app: &common::TestApp) {
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// The hourly sweep, as its job runs it (and the engine then).
async fn sweep(app: &common::TestApp) {
    app.state.policy_engine.sweep().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// The device's own declarations as served: `{Type, Identifier, ServerToken, Payload}`.
fn own_set(app: &common::TestApp, udid: &str) -> Vec<Value> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| {
            let mut stmt = c.prepare(
                "SELECT d.declaration_type, d.identifier, d.server_token, d.payload FROM ddm_devices dv
                 JOIN ddm_group_members m ON m.group_key = dv.own_group
                 JOIN ddm_declarations d ON d.id = m.declaration_id
                 WHERE dv.udid = ?1 ORDER BY d.identifier",
            )?;
            let rows = stmt
                .query_map([&udid], |r| {
                    let payload: String = r.get(3)?;
                    Ok(json!({
                        "Type": r.get::<_, String>(0)?,
                        "Identifier": r.get::<_, String>(1)?,
                        "ServerToken": r.get::<_, String>(2)?,
                        "Payload": serde_json::from_str::<Value>(&payload).unwrap(),
                    }))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

fn identifiers(set: &[Value]) -> Vec<String> {
    set.iter()
        .map(|d| d["Identifier"].as_str().unwrap().to_string())
        .collect()
}

/// The request types queued for `udid`, oldest first.
pub(crate) fn commands(app: &common::TestApp, udid: &str) -> Vec<String> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| {
            let mut stmt = c.prepare("SELECT request_type FROM commands WHERE udid = ?1 ORDER BY id")?;
            let rows = stmt
                .query_map([&udid], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

#[tokio::test]
async fn a_device_moving_to_ddm_loses_its_legacy_profile_and_gets_a_valid_declaration_set() {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    // On 26.3.1 under Vanguard (1 day deferral): 26.4.1, posted 2026-04-08, is enforced.
    add_device(&app, "MOVER", "iPhone14,2", "26.3.1", "23D8133", "MOVER1");
    service
        .add_members("Vanguard", &["MOVER".into()], &actor)
        .await
        .unwrap();

    tick(&app).await;
    assert_eq!(
        commands(&app, "MOVER"),
        ["InstallProfile"],
        "legacy path: the deferral profile only"
    );
    assert!(
        own_set(&app, "MOVER").is_empty(),
        "no declarations on the legacy path"
    );
    tick(&app).await;
    assert_eq!(commands(&app, "MOVER"), ["InstallProfile"], "nothing sent twice");

    // Declarative management comes up (the device's DDM enrollment is recorded).
    app.clock.set(app.clock_now() + chrono::Duration::minutes(5));
    app.state.ddm.on_enrollment("MOVER").await.unwrap();
    tick(&app).await;
    let sent = commands(&app, "MOVER");
    assert_eq!(
        sent.iter().filter(|c| *c == "RemoveProfile").count(),
        1,
        "the legacy profile is removed: {sent:?}"
    );
    let set = own_set(&app, "MOVER");
    assert_eq!(
        identifiers(&set),
        [
            "com.orchard.activation.status-subscriptions",
            "com.orchard.policy.enforcement",
            "com.orchard.policy.settings",
            "com.orchard.status-subscriptions",
        ]
    );
    let enforcement = &set[1]["Payload"];
    assert_eq!(
        set[2]["Payload"]["Deferrals"]["CombinedPeriodInDays"], 1,
        "Vanguard's deferral"
    );
    assert_eq!(enforcement["TargetOSVersion"], "26.4.1");
    assert_eq!(enforcement["TargetBuildVersion"], "23E254");
    assert_eq!(enforcement["TargetLocalDateTime"], "2026-04-12T18:00:00");
    let activation = &set[0]["Payload"]["StandardConfigurations"];
    assert_eq!(
        activation,
        &json!([
            "com.orchard.policy.enforcement",
            "com.orchard.policy.settings",
            "com.orchard.status-subscriptions"
        ]),
        "one activation applies every configuration"
    );
    let schemas = Schemas::load();
    let target = SchemaTarget {
        os: "iOS",
        version: OsVersion::new(26, 3, 1),
        enrollment: "supervised",
    };
    for declaration in &set {
        let problems = schemas.validate(declaration, &target);
        assert!(problems.is_empty(), "{declaration:#}\n{problems:#?}");
    }
    assert!(
        app.state
            .store
            .read_blocking(|c| orchard::store::policies::plans::legacy_profile(c, "MOVER"))
            .unwrap()
            .is_none()
    );
    tick(&app).await;
    assert_eq!(
        commands(&app, "MOVER")
            .iter()
            .filter(|c| *c == "RemoveProfile")
            .count(),
        1
    );

    // Past the release's expiration (2026-07-11) Apple no longer offers it: the enforcement goes
    // (the deferral settings stay).
    app.clock.set(Utc.with_ymd_and_hms(2026, 7, 12, 9, 0, 0).unwrap());
    app.state.policy_engine.sweep().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
    assert_eq!(
        identifiers(&own_set(&app, "MOVER")),
        [
            "com.orchard.activation.status-subscriptions",
            "com.orchard.policy.settings",
            "com.orchard.status-subscriptions"
        ]
    );
    let why = service.device_plan("MOVER").await.unwrap().unwrap();
    assert!(
        why.plan.explanation.contains("expired"),
        "{}",
        why.plan.explanation
    );
}

#[tokio::test]
async fn a_device_that_enrolls_again_is_given_its_legacy_profile_again() {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    add_device(&app, "AGAIN", "iPhone14,2", "26.3.1", "23D8133", "AGAIN1");
    service
        .add_members("Vanguard", &["AGAIN".into()], &actor)
        .await
        .unwrap();
    tick(&app).await;
    tick(&app).await;
    assert_eq!(commands(&app, "AGAIN"), ["InstallProfile"], "sent once");

    // Unenrolling removed the profile; the device enrolls again (Authenticate, TokenUpdate).
    app.clock.set(app.clock_now() + chrono::Duration::minutes(5));
    add_device(&app, "AGAIN", "iPhone14,2", "26.3.1", "23D8133", "AGAIN1");
    tick(&app).await;
    assert_eq!(
        commands(&app, "AGAIN"),
        ["InstallProfile", "InstallProfile"],
        "the new enrollment is given the profile again"
    );
    tick(&app).await;
    assert_eq!(commands(&app, "AGAIN").len(), 2, "and only once");
}

#[tokio::test]
async fn a_device_whose_policy_is_deleted_keeps_only_its_status_subscription() {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    add_device(&app, "DDM-1", "iPhone14,2", "26.3.1", "23D8133", "D1");
    app.state.ddm.on_enrollment("DDM-1").await.unwrap();
    service
        .add_members("Vanguard", &["DDM-1".into()], &actor)
        .await
        .unwrap();
    tick(&app).await;
    assert_eq!(
        own_set(&app, "DDM-1").len(),
        4,
        "subscription, enforcement, settings, activation"
    );
    let delivered = service.device_plan("DDM-1").await.unwrap().unwrap().delivered;
    assert_eq!(delivered.map(|(path, _)| path).as_deref(), Some("declarative"));

    service.delete_policy("ring-vanguard-ios", &actor).await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
    assert_eq!(
        identifiers(&own_set(&app, "DDM-1")),
        [
            "com.orchard.activation.status-subscriptions",
            "com.orchard.status-subscriptions"
        ]
    );
    let plan = service.device_plan("DDM-1").await.unwrap().unwrap();
    assert_eq!(plan.plan.decision, "no-policy");
}

fn stored_summaries(app: &common::TestApp) -> i64 {
    app.state
        .store
        .read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM plan_summaries", [], |r| r.get(0))?))
        .unwrap()
}

/// Devices with the same decision share one stored summary; a summary no plan refers to any
/// more is deleted by the hourly sweep, and every plan keeps its "why".
#[tokio::test]
async fn devices_deciding_alike_share_one_summary_and_unused_ones_are_deleted() {
    let app = policy_app().await;
    let actor = Actor::cli();
    let service = &app.state.policies;
    service.load_default_rings(&actor).await.unwrap();
    for (udid, serial) in [("ALIKE-1", "A1"), ("ALIKE-2", "A2"), ("ALIKE-3", "A3")] {
        add_device(&app, udid, "iPhone14,2", "26.3.1", "23D8133", serial);
    }
    let all: Vec<String> = ["ALIKE-1", "ALIKE-2", "ALIKE-3"].map(String::from).to_vec();
    service.add_members("Vanguard", &all, &actor).await.unwrap();
    tick(&app).await;
    assert_eq!(stored_summaries(&app), 1, "three devices, one decision");

    // One device moves to another ring: a second decision, a second summary.
    let moved = vec!["ALIKE-3".to_string()];
    service.remove_members("Vanguard", &moved, &actor).await.unwrap();
    service
        .add_members("Late Adoption", &moved, &actor)
        .await
        .unwrap();
    // (The engine's worker may evaluate it between the two changes, in no ring; the hourly
    // sweep deletes that summary.)
    tick(&app).await;
    sweep(&app).await;
    assert_eq!(stored_summaries(&app), 2);

    // Back again: the Late Adoption summary is no longer referred to and goes.
    service
        .remove_members("Late Adoption", &moved, &actor)
        .await
        .unwrap();
    service.add_members("Vanguard", &moved, &actor).await.unwrap();
    tick(&app).await;
    sweep(&app).await;
    assert_eq!(stored_summaries(&app), 1);
    let planned = service.planned_targets().await.unwrap();
    assert_eq!(planned.len(), 3);
    for p in &planned {
        let summary = p
            .summary
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no summary", p.udid));
        assert_eq!(summary.ring.as_deref(), Some("Vanguard"), "{}", p.udid);
    }
}
