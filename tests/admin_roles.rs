//! What each role can reach: the users page is for admins only; others get a clear 403 page.

use crate::common;

use common::*;
use orchard::admin::Role;

#[tokio::test]
async fn only_admins_reach_the_users_page() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    app.create_admin("max", Role::Manager).await;
    app.create_admin("vic", Role::Viewer).await;

    let resp = app
        .signed_in("ada")
        .await
        .get(app.url("/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    for name in ["ada", "max", "vic"] {
        assert!(body.contains(name), "{name} listed");
    }

    for (name, role) in [("max", "manager"), ("vic", "viewer")] {
        let client = app.signed_in(name).await;
        let resp = client.get(app.url("/users")).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{name}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("does not allow you to manage administrator accounts"),
            "{body}"
        );
        assert!(body.contains(role), "the page names the role: {body}");
        assert!(
            body.contains("Request id"),
            "the error page shows the request id: {body}"
        );
        assert!(!body.contains("New account"), "no user form for {name}");
        // Read-only pages are open to every role.
        assert_eq!(client.get(app.url("/audit")).send().await.unwrap().status(), 200);
        assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 200);
    }

    let anonymous = client_for(&app.state);
    let resp = anonymous.get(app.url("/users")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=%2Fusers");
    app.stop().await;
}

#[tokio::test]
async fn a_manager_with_a_valid_token_still_cannot_change_accounts() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    app.create_admin("max", Role::Manager).await;
    let client = app.signed_in("max").await;
    let token = app.session_csrf(&client).await;
    let audits = app.audit_count().await;
    let resp = client
        .post(app.url("/users/max/role"))
        .form(&[("csrf_token", token.as_str()), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(app.state.admins().find("max").await.unwrap().role, Role::Manager);
    assert_eq!(app.audit_count().await, audits);
    app.stop().await;
}

#[tokio::test]
async fn admins_manage_accounts_through_the_page_and_every_change_is_audited() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    let client = app.signed_in("ada").await;
    let post = |path: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let (app, client) = (&app, &client);
        async move { Ok::<_, ()>(app.post_form(client, path, &fields).await) }
    };
    let resp = post(
        "/users",
        vec![
            ("username", "bob"),
            ("role", "viewer"),
            ("password", TEST_PASSWORD),
            ("password_confirm", TEST_PASSWORD),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/users?done=created&user=bob");
    let bob = app.signed_in("bob").await;

    assert_eq!(
        post("/users/bob/role", vec![("role", "manager")])
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(app.state.admins().find("bob").await.unwrap().role, Role::Manager);
    assert_eq!(post("/users/bob/disable", vec![]).await.unwrap().status(), 303);
    assert_eq!(
        bob.get(app.url("/")).send().await.unwrap().status(),
        303,
        "a disabled account's session ends at once"
    );
    assert_eq!(app.login_with(&bob, "bob", TEST_PASSWORD).await, 403);

    // Bad input is answered on the page and changes nothing.
    let resp = post(
        "/users",
        vec![
            ("username", "bad name"),
            ("role", "viewer"),
            ("password", TEST_PASSWORD),
            ("password_confirm", TEST_PASSWORD),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("may contain only letters"));
    let resp = post(
        "/users",
        vec![
            ("username", "BOB"),
            ("role", "viewer"),
            ("password", TEST_PASSWORD),
            ("password_confirm", TEST_PASSWORD),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 409, "names are unique regardless of case");
    let resp = post("/users/ada/disable", vec![]).await.unwrap();
    assert_eq!(resp.status(), 409);
    assert!(resp.text().await.unwrap().contains("last active administrator"));
    let resp = post("/users/ada/role", vec![("role", "root")]).await.unwrap();
    assert_eq!(resp.status(), 400);

    let audit = app.state.admins().audit_page(None, 50).await.unwrap().entries;
    let mine: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.actor == "admin:ada" && e.action.starts_with("admin."))
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        mine,
        [
            ("admin.disable", "admin:bob"),
            ("admin.role", "admin:bob"),
            ("admin.create", "admin:bob")
        ]
    );
    let role_change = audit.iter().find(|e| e.action == "admin.role").unwrap();
    assert_eq!(role_change.before.as_deref(), Some(r#"{"role":"viewer"}"#));
    assert_eq!(role_change.after.as_deref(), Some(r#"{"role":"manager"}"#));
    assert_eq!(role_change.remote_addr.as_deref(), Some("127.0.0.1"));

    let page = app.page(&client, "/audit").await;
    assert!(
        page.contains("admin.role") && page.contains("role: viewer") && page.contains("role: manager"),
        "{page}"
    );
    app.stop().await;
}
