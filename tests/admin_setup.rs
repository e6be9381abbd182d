//! The first administrator: a one-time link, never a default password.

use crate::common;

use common::*;
use orchard::admin::Role;

async fn submit_setup(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let page = app.page(client, &format!("/setup?token={token}")).await;
    let form_token = csrf_in(&page);
    client
        .post(app.url("/setup"))
        .form(&[
            ("csrf_token", form_token.as_str()),
            ("token", token),
            ("username", username),
            ("password", password),
            ("password_confirm", password),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn_app().await;
    assert!(app.account_names().await.is_empty(), "no default account");
    let link = app.setup_link().await.expect("a link while no admin exists");
    assert!(link.starts_with(&format!("{}/setup?token=", app.base)), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_string();
    let stored: String = app
        .state
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT value FROM settings WHERE key = 'admin.setup_token_sha256'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_ne!(stored, token, "only a hash of the token is stored");

    let client = client_for(&app.state);
    // A wrong token shows no form.
    let resp = client.get(app.url("/setup?token=guess")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(!resp.text().await.unwrap().contains("name=\"password\""));
    // A short password is refused and creates nothing.
    let resp = submit_setup(&app, &client, &token, "root", "short").await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("at least 12 characters"));
    assert!(app.account_names().await.is_empty());

    let resp = submit_setup(&app, &client, &token, "root", TEST_PASSWORD).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?created=1");
    let root = app.state.admins().find("root").await.unwrap();
    assert_eq!(root.role, Role::Admin);

    // The token died with it.
    let resp = client.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    assert!(resp.text().await.unwrap().contains("already exists"));
    let again = client
        .post(app.url("/setup"))
        .form(&[
            ("csrf_token", "x"),
            ("token", token.as_str()),
            ("username", "second"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
    assert_eq!(app.account_names().await, ["root"]);
    assert_eq!(app.setup_link().await, None);

    let entry = &app.state.admins().audit_page(None, 10).await.unwrap().entries[0];
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str(), entry.target.as_str()),
        ("setup", "admin.create", "admin:root")
    );
    app.stop().await;
}

#[tokio::test]
async fn each_start_issues_a_new_token_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let first = app.setup_link().await.unwrap();
    let dir = app.stop().await;
    let app = spawn_app_with(dir, |_| {}).await;
    let second = app.setup_link().await.unwrap();
    assert_ne!(first, second);
    let old_path = &first[first.find("/setup").unwrap()..];
    let resp = app.client.get(app.url(old_path)).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("not valid"));
    let new_path = &second[second.find("/setup").unwrap()..];
    assert_eq!(
        app.client.get(app.url(new_path)).send().await.unwrap().status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn creating_an_admin_from_the_cli_also_ends_the_setup_link() {
    let app = spawn_app().await;
    let link = app.setup_link().await.unwrap();
    app.create_admin("ops", Role::Admin).await;
    let path = &link[link.find("/setup").unwrap()..];
    assert_eq!(app.client.get(app.url(path)).send().await.unwrap().status(), 409);
    app.stop().await;
}
