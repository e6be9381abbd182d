//! API clients for device trust: a rotated secret keeps working for 24 hours (virtual clock) and
//! not after, an invalidated one stops at once, and the trust endpoint answers for a serial
//! number or a UDID.

use chrono::Duration;
use orchard::admin::Role;
use serde_json::{Value, json};

use crate::api_support::{get, one_device, post, token};
use crate::common::{self, TestApp};

const UDID: &str = "00008110-000A1C2E3F40801E";

async fn trust(app: &TestApp, id: &str, secret: &str, query: &str) -> (u16, Value) {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/trust/device?{query}")))
        .basic_auth(id, Some(secret))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_rotated_secret_works_for_24_hours_more_and_an_invalidated_one_stops_at_once() {
    let app = common::spawn_app().await;
    one_device(&app, UDID, "C02XYZ");
    let admin = token(&app, "root-bot", Role::Admin).await;
    let (status, created) = post(&app, &admin, "/api/v1/clients", &json!({ "name": "okta" })).await;
    assert_eq!(status, 201, "{created}");
    let id = created["client"]["client_id"].as_str().unwrap().to_string();
    let first = created["secret"].as_str().unwrap().to_string();
    assert_eq!(trust(&app, &id, &first, "serial_number=C02XYZ").await.0, 200);
    assert_eq!(
        trust(&app, &id, "not-the-secret", "serial_number=C02XYZ").await.0,
        401
    );
    assert_eq!(
        trust(&app, "oc_nobody", &first, "serial_number=C02XYZ").await.0,
        401
    );

    let (status, rotated) = post(&app, &admin, &format!("/api/v1/clients/{id}/rotate"), &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        trust(&app, &id, &second, "udid=").await.0,
        422,
        "an identifier is required"
    );
    assert_eq!(
        trust(&app, &id, &second, &format!("udid={UDID}")).await.0,
        200,
        "the new secret works at once"
    );
    assert_eq!(
        trust(&app, &id, &first, &format!("udid={UDID}")).await.0,
        200,
        "the old one still works"
    );
    let (_, listed) = get(&app, &admin, "/api/v1/clients").await;
    assert_eq!(
        listed["clients"][0]["previous_secret_expires_soon"], true,
        "{listed}"
    );

    app.clock.advance(Duration::hours(23) + Duration::minutes(59));
    assert_eq!(
        trust(&app, &id, &first, &format!("udid={UDID}")).await.0,
        200,
        "23:59 later"
    );
    app.clock.advance(Duration::minutes(1));
    let (status, body) = trust(&app, &id, &first, &format!("udid={UDID}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "24 h later"
    );
    assert_eq!(trust(&app, &id, &second, &format!("udid={UDID}")).await.0, 200);
    let (_, listed) = get(&app, &admin, "/api/v1/clients").await;
    assert_eq!(
        listed["clients"][0]["previous_secret_expires_soon"], false,
        "{listed}"
    );

    // Rotate again, then invalidate: neither the current nor the previous secret works.
    let (_, rotated) = post(&app, &admin, &format!("/api/v1/clients/{id}/rotate"), &json!({})).await;
    let third = rotated["secret"].as_str().unwrap().to_string();
    let (status, invalidated) = post(
        &app,
        &admin,
        &format!("/api/v1/clients/{id}/invalidate"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let fourth = invalidated["secret"].as_str().unwrap().to_string();
    for old in [&second, &third] {
        assert_eq!(trust(&app, &id, old, &format!("udid={UDID}")).await.0, 401);
    }
    assert_eq!(trust(&app, &id, &fourth, &format!("udid={UDID}")).await.0, 200);

    let (status, _) = post(&app, &admin, "/api/v1/clients/oc_unknown/rotate", &json!({})).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_trust_endpoint_says_what_is_known_of_a_device() {
    let app = common::spawn_app().await;
    one_device(&app, UDID, "C02XYZ");
    let admin = token(&app, "root-bot", Role::Admin).await;
    let (_, created) = post(&app, &admin, "/api/v1/clients", &json!({ "name": "entra" })).await;
    let id = created["client"]["client_id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();

    let (status, answer) = trust(&app, &id, &secret, "serial_number=C02XYZ").await;
    assert_eq!(status, 200);
    assert_eq!(answer["known"], true);
    assert_eq!(answer["udid"], UDID);
    assert_eq!(answer["enrolled"], true);
    assert!(answer["enrolled_since"].is_string());
    assert_eq!(answer["os_version"], "17.5");
    // No policy applies yet: not managed, so not compliant.
    assert_eq!(answer["managed"], false);
    assert_eq!(answer["compliant"], false);
    assert_eq!(answer["compliance_state"], "not_managed");
    assert!(answer["compliance_since"].is_string());

    let (status, answer) = trust(&app, &id, &secret, "serial_number=NOPE").await;
    assert_eq!((status, answer["known"].as_bool()), (200, Some(false)));
    // A bearer token is not a client credential, and the client secret is not a bearer token.
    let res = app
        .client
        .get(app.url("/api/v1/trust/device?serial_number=C02XYZ"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(get(&app, &secret, "/api/v1/devices").await.0, 401);
    app.stop().await;
}
