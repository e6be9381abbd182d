//! Hostile, malformed and oversized input to the admin pages: a clear 4xx, nothing stored,
//! nothing executed.

use crate::common;

use common::*;
use orchard::admin::Role;

#[tokio::test]
async fn an_oversized_form_is_refused_before_any_handler() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    let client = client_for(&app.state);
    let token = app.login_form_token(&client).await;
    let huge = "x".repeat(200 * 1024);
    let before = app.audit_count().await;
    let resp = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "ada"),
            ("password", huge.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(resp.text().await.unwrap().contains("too large"));
    assert_eq!(app.audit_count().await, before);
    app.stop().await;
}

#[tokio::test]
async fn markup_in_input_is_shown_as_text_never_run() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    let client = client_for(&app.state);
    let token = app.login_form_token(&client).await;
    let evil = "<script>alert(1)</script>\"><img src=x>";
    let resp = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", evil),
            ("password", "whatever it is"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body = resp.text().await.unwrap();
    assert!(!body.contains("<script>alert"), "{body}");
    assert!(!body.contains("<img src=x>"), "{body}");
    assert!(body.contains("&#60;script&#62;alert(1)"), "escaped: {body}");

    // An admin cannot create an account with such a name either.
    let admin = app.signed_in("ada").await;
    let resp = app
        .post_form(
            &admin,
            "/users",
            &[
                ("username", evil),
                ("role", "viewer"),
                ("password", TEST_PASSWORD),
                ("password_confirm", TEST_PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(app.account_names().await, ["ada"]);
    app.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_a_clear_4xx() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    let admin = app.signed_in("ada").await;
    assert_eq!(
        admin
            .get(app.url("/audit?before=yesterday"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let resp = app.post_form(&admin, "/users/ghost/disable", &[]).await;
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("no account named"));
    let token = app.session_csrf(&admin).await;
    let resp = admin
        .post(app.url("/users/ada/role"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={token}&role=%ZZ"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(app.state.admins().find("ada").await.unwrap().role, Role::Admin);
    // Unauthenticated changes go nowhere.
    let anonymous = client_for(&app.state);
    let resp = anonymous
        .post(app.url("/users/ada/disable"))
        .header("x-csrf-token", "anything")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login");
    assert!(!app.state.admins().find("ada").await.unwrap().disabled);
    app.stop().await;
}
