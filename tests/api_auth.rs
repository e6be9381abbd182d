//! The API's frame: bearer tokens (missing, wrong, revoked), each role's allowed and refused
//! operations, JSON errors (invalid JSON, oversized, wrong type, validation, unknown route),
//! audit with the token's name, and the OpenAPI document against the real routes.

use orchard::admin::{Actor, Role};
use serde_json::json;

use crate::api_support::{get, one_device, post, token};
use crate::common;

const UDID: &str = "00008110-000A1C2E3F40801E";

#[tokio::test]
async fn missing_wrong_and_revoked_tokens_get_401_in_json() {
    let app = common::spawn_app().await;
    let good = token(&app, "ci", Role::Viewer).await;
    let res = app.client.get(app.url("/api/v1/devices")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let mut wrong = good.clone();
    wrong.pop();
    wrong.push('x');
    for bad in [wrong.as_str(), "orchard_0000000000000000_nope", "garbage"] {
        let (status, body) = get(&app, bad, "/api/v1/devices").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{bad}"
        );
    }
    let (status, _) = get(&app, &good, "/api/v1/devices").await;
    assert_eq!(status, 200);

    let id = app.state.api_access().list_tokens().await.unwrap()[0].id;
    app.state
        .api_access()
        .revoke_token(&Actor::cli(), id)
        .await
        .unwrap();
    let (status, body) = get(&app, &good, "/api/v1/devices").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    app.stop().await;
}

#[tokio::test]
async fn each_role_may_do_what_the_ui_allows_and_no_more() {
    let app = common::spawn_app().await;
    one_device(&app, UDID, "SERIAL1");
    let viewer = token(&app, "dash", Role::Viewer).await;
    let manager = token(&app, "fleet-bot", Role::Manager).await;
    let admin = token(&app, "root-bot", Role::Admin).await;
    let command = json!({ "command": "DeviceInformation" });
    let enrollment = json!({ "label": "lab", "days": 7 });
    let commands = format!("/api/v1/devices/{UDID}/commands");

    // Reads: every role.
    for t in [&viewer, &manager, &admin] {
        for path in [
            "/api/v1/devices",
            "/api/v1/audit",
            "/api/v1/enrollment/tokens",
            "/api/v1/compliance/summary",
        ] {
            assert_eq!(get(&app, t, path).await.0, 200, "{path}");
        }
    }
    // Viewer: no changes.
    let (status, body) = post(&app, &viewer, &commands, &command).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(
        post(&app, &viewer, "/api/v1/enrollment/tokens", &enrollment)
            .await
            .0,
        403
    );
    assert_eq!(get(&app, &viewer, "/api/v1/clients").await.0, 403);
    // Manager: devices, not enrollment, tokens or clients.
    let (status, body) = post(&app, &manager, &commands, &command).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        post(&app, &manager, "/api/v1/enrollment/tokens", &enrollment)
            .await
            .0,
        403
    );
    assert_eq!(get(&app, &manager, "/api/v1/api-tokens").await.0, 403);
    assert_eq!(
        post(&app, &manager, "/api/v1/clients", &json!({ "name": "idp" }))
            .await
            .0,
        403
    );
    // Admin: everything.
    assert_eq!(
        post(&app, &admin, "/api/v1/enrollment/tokens", &enrollment)
            .await
            .0,
        201
    );
    assert_eq!(
        post(&app, &admin, "/api/v1/clients", &json!({ "name": "idp" }))
            .await
            .0,
        201
    );
    assert_eq!(get(&app, &admin, "/api/v1/api-tokens").await.0, 200);

    // Changes are audited with the token's name.
    let (_, audit) = get(&app, &admin, "/api/v1/audit?limit=10").await;
    let actors: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        actors.contains(&("token:fleet-bot".into(), "device.command".into())),
        "{actors:?}"
    );
    assert!(
        actors.contains(&("token:root-bot".into(), "enrollment.token.create".into())),
        "{actors:?}"
    );
    assert!(
        actors.contains(&("token:root-bot".into(), "api_client.create".into())),
        "{actors:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_clear_json_errors_and_change_nothing() {
    let app = common::spawn_app().await;
    let admin = token(&app, "root-bot", Role::Admin).await;
    let url = app.url("/api/v1/enrollment/tokens");
    let before = app.audit_count().await;

    let res = app
        .client
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"label\": \"lab\",")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("EOF"),
        "{body}"
    );

    let res = app
        .client
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"label\": 7}")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{body}"
    );

    let huge = format!("{{\"label\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let res = app
        .client
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    let res = app
        .client
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/xml")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    assert_eq!(app.audit_count().await, before, "nothing was recorded");
    assert!(
        app.state.enrollment.tokens().list_tokens().unwrap().is_empty(),
        "nothing was created"
    );
    app.stop().await;
}

#[tokio::test]
async fn validation_errors_are_the_forms_own_words_per_field() {
    let app = common::spawn_app().await;
    let admin = token(&app, "root-bot", Role::Admin).await;
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/enrollment/tokens",
        &json!({ "label": "lab", "days": 0, "max_uses": "many" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields = body["error"]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 2, "{body}");
    assert_eq!(fields[0]["field"], "days");
    assert_eq!(fields[1]["field"], "max_uses");

    // The enrollment form says the same words for the same input.
    app.create_admin("alice", Role::Admin).await;
    let browser = app.signed_in("alice").await;
    let page = app
        .post_form(
            &browser,
            "/enrollment/tokens",
            &[("label", "lab"), ("days", "0"), ("max_uses", "")],
        )
        .await
        .text()
        .await
        .unwrap();
    let days_message = fields[0]["message"].as_str().unwrap();
    assert!(page.contains(days_message), "form page lacks {days_message:?}");
    let page = app
        .post_form(
            &browser,
            "/enrollment/tokens",
            &[("label", "lab"), ("days", ""), ("max_uses", "many")],
        )
        .await
        .text()
        .await
        .unwrap();
    let uses_message = fields[1]["message"]
        .as_str()
        .unwrap()
        .replace('“', "&#8220;")
        .replace('”', "&#8221;");
    assert!(
        page.contains(fields[1]["message"].as_str().unwrap()) || page.contains(&uses_message),
        "form page lacks {:?}",
        fields[1]["message"]
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let app = common::spawn_app().await;
    let viewer = token(&app, "dash", Role::Viewer).await;
    for path in ["/api/v1/nothing", "/api/v1/devices/x/y/z", "/api/v2/devices"] {
        let (status, body) = get(&app, &viewer, path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_that_answer() {
    let app = common::spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut described = 0;
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            described += 1;
            assert!(
                orchard::web::api::ROUTES.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is described but not routed"
            );
            // Each described route is served: without credentials it asks for them (or, for the
            // document itself, answers) rather than saying there is nothing there.
            let concrete = path
                .replace("{udid}", UDID)
                .replace("{id}", "1")
                .replace("{client_id}", "oc_x")
                .replace("{name}", "ring-1");
            let url = app.url(&format!("/api/v1{concrete}"));
            let req = match method.as_str() {
                "get" => app.client.get(&url),
                "post" => app.client.post(&url).json(&json!({})),
                "put" => app.client.put(&url).json(&json!({})),
                "delete" => app.client.delete(&url),
                other => panic!("unexpected method {other}"),
            };
            let status = req.send().await.unwrap().status().as_u16();
            let expected = if path == "/openapi.json" { 200 } else { 401 };
            assert_eq!(status, expected, "{method} {path}");
        }
    }
    assert_eq!(described, orchard::web::api::ROUTES.len());
    app.stop().await;
}
