//! Every state-changing form needs a valid CSRF token: without one the request is refused with
//! 403 and nothing changes.

use crate::common;

use common::*;
use orchard::admin::Role;

#[tokio::test]
async fn user_creation_without_a_valid_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_admin("root", Role::Admin).await;
    let client = app.signed_in("root").await;
    let audits = app.audit_count().await;
    let form = |token: Option<&str>| {
        let mut fields = vec![
            ("username", "mallory".to_string()),
            ("role", "admin".to_string()),
            ("password", TEST_PASSWORD.to_string()),
            ("password_confirm", TEST_PASSWORD.to_string()),
        ];
        if let Some(t) = token {
            fields.push(("csrf_token", t.to_string()));
        }
        fields
    };

    for token in [None, Some("wrong"), Some("")] {
        let resp = client
            .post(app.url("/users"))
            .form(&form(token))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "token {token:?}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Nothing was changed"), "{body}");
    }
    // A token of another session is no good either.
    app.create_admin("other", Role::Admin).await;
    let other = app.signed_in("other").await;
    let foreign = app.session_csrf(&other).await;
    let resp = client
        .post(app.url("/users"))
        .form(&form(Some(&foreign)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        app.account_names().await,
        ["other", "root"],
        "nobody else was created"
    );
    let audits_after_other = app.audit_count().await;
    assert_eq!(
        audits_after_other,
        audits + 2,
        "only other's creation and login were recorded"
    );

    // The same form with the session's token works (so the refusals above were about the token).
    let token = app.session_csrf(&client).await;
    let resp = client
        .post(app.url("/users"))
        .form(&form(Some(&token)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(app.account_names().await.contains(&"mallory".to_string()));
    app.stop().await;
}

#[tokio::test]
async fn a_token_in_the_header_is_accepted_and_a_cross_site_text_post_is_refused() {
    let app = spawn_app().await;
    app.create_admin("root", Role::Admin).await;
    let client = app.signed_in("root").await;
    let token = app.session_csrf(&client).await;
    let resp = client
        .post(app.url("/users/root/role"))
        .header("content-type", "text/plain")
        .body("role=viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = client
        .post(app.url("/users/nobody/disable"))
        .header("x-csrf-token", token)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "passed the guard and reached the handler");
    assert_eq!(app.state.admins().find("root").await.unwrap().role, Role::Admin);
    app.stop().await;
}

#[tokio::test]
async fn login_logout_and_setup_without_a_token_are_refused() {
    let app = spawn_app().await;
    let link = app.setup_link().await.unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    let client = client_for(&app.state);
    // Setup without the form token: no account is created and the link still works.
    let resp = client
        .post(app.url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("username", "root"),
            ("password", TEST_PASSWORD),
            ("password_confirm", TEST_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(app.account_names().await.is_empty());
    assert_eq!(client.get(&link).send().await.unwrap().status(), 200);

    app.create_admin("root", Role::Admin).await;
    let before = app.audit_count().await;
    let resp = client
        .post(app.url("/login"))
        .form(&[("username", "root"), ("password", TEST_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("set-cookie").is_none(), "no session cookie");
    assert_eq!(app.audit_count().await, before, "no login was recorded");

    let signed_in = app.signed_in("root").await;
    let resp = signed_in
        .post(app.url("/logout"))
        .form(&[("a", "b")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        signed_in.get(app.url("/")).send().await.unwrap().status(),
        200,
        "still signed in"
    );
    app.stop().await;
}
