//! Groups and policies through the API: CRUD with the form's validation (the service's own
//! problems, per field), preview, roles; and compliance from the engine's plans.

use chrono::Duration;
use orchard::admin::Role;
use orchard::policy::{AutomaticLatest, DeferralPeriods, Enforcement, PolicyError, Severity};
use serde_json::json;

use crate::api_support::{get, post, token};
use crate::policy_store::{add_device, policy_app};
use crate::policy_support::{IOS, local, policy, time};

const PHONE: &str = "00008110-000A1C2E3F40801E";

fn auto(combined: u32, grace: u32) -> Enforcement {
    Enforcement::AutomaticLatest(AutomaticLatest {
        deferral: DeferralPeriods {
            combined: Some(combined),
            ..DeferralPeriods::default()
        },
        grace_days: grace,
        at: time(18, 0),
        details_url: None,
    })
}

#[tokio::test]
async fn groups_and_policies_are_managed_previewed_and_refused_like_the_form() {
    let app = policy_app().await;
    add_device(&app, PHONE, "iPhone15,2", "18.5", "22F76", "SERIALP");
    let manager = token(&app, "fleet-bot", Role::Manager).await;
    let viewer = token(&app, "dash", Role::Viewer).await;

    let group = json!({ "name": "Phones", "kind": "rules", "rules": { "platforms": ["iOS"] } });
    assert_eq!(post(&app, &viewer, "/api/v1/groups", &group).await.0, 403);
    let (status, body) = post(&app, &manager, "/api/v1/groups", &group).await;
    assert_eq!(status, 201, "{body}");
    let (_, groups) = get(&app, &viewer, "/api/v1/groups").await;
    assert_eq!(groups["groups"][0]["name"], "Phones");
    assert_eq!(groups["groups"][0]["devices"], 1);

    let body =
        json!({ "policy": policy("phones", IOS, auto(3, 5)), "assignments": { "groups": ["Phones"] } });
    let (status, preview) = post(&app, &viewer, "/api/v1/policies/preview", &body).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["rows"][0]["udid"], PHONE);
    assert_eq!(preview["rows"][0]["plan"]["decision"], "enforce", "{preview}");
    assert!(
        app.state.policies.list_policies().await.unwrap().is_empty(),
        "a preview saves nothing"
    );

    assert_eq!(post(&app, &viewer, "/api/v1/policies", &body).await.0, 403);
    let (status, saved) = post(&app, &manager, "/api/v1/policies", &body).await;
    assert_eq!(status, 201, "{saved}");
    let (status, listed) = get(&app, &viewer, "/api/v1/policies/phones").await;
    assert_eq!(status, 200);
    assert_eq!(listed["assignments"]["groups"], json!(["Phones"]));

    // The same invalid policy: the API's fields are the service's (the form's) own problems.
    let bad = policy(
        "pin",
        IOS,
        Enforcement::Specific {
            version: "26.9".parse().unwrap(),
            build: None,
            deadline: local(2026, 4, 1, 18, 0),
        },
    );
    let (status, refused) = post(
        &app,
        &manager,
        "/api/v1/policies",
        &json!({ "policy": bad.clone() }),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let api_fields: Vec<(String, String)> = refused["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().into(),
                f["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    let service_problems = match app
        .state
        .policies
        .save_policy(None, bad, Default::default(), &orchard::admin::Actor::cli())
        .await
    {
        Err(PolicyError::Invalid(problems)) => problems,
        other => panic!("expected invalid, got {other:?}"),
    };
    let form_fields: Vec<(String, String)> = service_problems
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.field, p.message))
        .collect();
    assert_eq!(api_fields, form_fields);
    assert!(
        api_fields.iter().any(|(f, _)| f == "enforcement.version"),
        "{api_fields:?}"
    );
    assert_eq!(
        app.state.policies.list_policies().await.unwrap().len(),
        1,
        "the bad policy was not saved"
    );

    let res = app
        .client
        .delete(app.url("/api/v1/policies/phones"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, body) = get(&app, &viewer, "/api/v1/policies/phones").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    app.stop().await;
}

#[tokio::test]
async fn compliance_follows_the_engines_plan_and_the_list_filters_on_it() {
    let app = policy_app().await;
    add_device(&app, PHONE, "iPhone15,2", "18.5", "22F76", "SERIALP");
    let manager = token(&app, "fleet-bot", Role::Manager).await;
    let (_, summary) = get(&app, &manager, &format!("/api/v1/compliance/devices/{PHONE}")).await;
    assert_eq!(summary["compliance"]["state"], "not_managed", "{summary}");

    post(
        &app,
        &manager,
        "/api/v1/groups",
        &json!({ "name": "Phones", "kind": "rules", "rules": { "platforms": ["iOS"] } }),
    )
    .await;
    let body =
        json!({ "policy": policy("phones", IOS, auto(3, 5)), "assignments": { "groups": ["Phones"] } });
    assert_eq!(post(&app, &manager, "/api/v1/policies", &body).await.0, 201);

    let (_, now) = get(&app, &manager, &format!("/api/v1/compliance/devices/{PHONE}")).await;
    let state = now["compliance"]["state"].as_str().unwrap().to_string();
    assert!(["in_grace", "overdue"].contains(&state.as_str()), "{now}");
    assert!(now["compliance"]["deadline"].is_string(), "{now}");
    let (_, listed) = get(&app, &manager, &format!("/api/v1/devices?state={state}")).await;
    assert_eq!(listed["total"], 1, "{listed}");
    let (_, listed) = get(&app, &manager, "/api/v1/devices?state=up_to_date").await;
    assert_eq!(listed["total"], 0);

    // A month on, without contact for longer than compliance.stale_after_days: unknown, stale.
    app.clock.advance(Duration::days(30));
    let (_, later) = get(&app, &manager, &format!("/api/v1/compliance/devices/{PHONE}")).await;
    assert_eq!(later["compliance"]["state"], "unknown", "{later}");
    assert_eq!(later["compliance"]["stale"], true);
    let (_, summary) = get(&app, &manager, "/api/v1/compliance/summary").await;
    assert_eq!(summary["by_state"]["unknown"], 1, "{summary}");
    assert_eq!(summary["stale"], 1);
    app.stop().await;
}

/// Stores status items as an ingested report would (values as canonical JSON text).
fn report(app: &crate::common::TestApp, items: &[(&str, serde_json::Value)]) {
    let items: Vec<(String, String)> = items
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let now = orchard::store::sql_time(app.clock_now());
    app.state
        .store
        .write_blocking(move |c| {
            for (name, value) in &items {
                orchard::store::ddm::status::put_item(c, PHONE, name, None, value, &now)?;
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn compliance_reads_the_devices_status_reports() {
    let app = policy_app().await;
    add_device(&app, PHONE, "iPhone15,2", "18.5", "22F76", "SERIALP");
    let manager = token(&app, "fleet-bot", Role::Manager).await;
    post(
        &app,
        &manager,
        "/api/v1/groups",
        &json!({ "name": "Phones", "kind": "rules", "rules": { "platforms": ["iOS"] } }),
    )
    .await;
    let body =
        json!({ "policy": policy("phones", IOS, auto(3, 5)), "assignments": { "groups": ["Phones"] } });
    assert_eq!(post(&app, &manager, "/api/v1/policies", &body).await.0, 201);
    let path = format!("/api/v1/compliance/devices/{PHONE}");

    report(
        &app,
        &[
            ("softwareupdate.install-state", json!("failed")),
            (
                "softwareupdate.failure-reason",
                json!({ "count": 2, "reason": "not enough storage" }),
            ),
        ],
    );
    let (_, got) = get(&app, &manager, &path).await;
    assert_eq!(got["compliance"]["state"], "failed", "{got}");
    let reason = got["compliance"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("2 failure(s)") && reason.contains("not enough storage"),
        "{reason}"
    );

    report(
        &app,
        &[
            ("softwareupdate.install-state", json!("downloading")),
            (
                "softwareupdate.pending-version",
                json!({ "os-version": "26.4", "build-version": "23E246" }),
            ),
        ],
    );
    let (_, got) = get(&app, &manager, &path).await;
    assert_eq!(got["compliance"]["state"], "installing", "{got}");
    assert!(
        got["compliance"]["reason"]
            .as_str()
            .unwrap()
            .contains("downloading 26.4")
    );

    report(
        &app,
        &[
            ("softwareupdate.install-state", json!("none")),
            ("softwareupdate.failure-reason", json!({ "count": 0 })),
            ("device.operating-system.version", json!("99.0")),
        ],
    );
    let (_, got) = get(&app, &manager, &path).await;
    assert_eq!(got["compliance"]["state"], "up_to_date", "{got}");
    app.stop().await;
}
