//! The API access page (admins): a token created in the UI is shown once and works on the API
//! until it is revoked there; a client's rotated secret shows "expires soon"; settings shows the
//! check-in URL; other roles are refused.

use orchard::admin::Role;

use crate::api_support::get;
use crate::common;

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap_or_else(|| panic!("{start} not in page")) + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

#[tokio::test]
async fn admins_manage_tokens_and_clients_in_the_ui_and_others_cannot() {
    let app = common::spawn_app().await;
    app.create_admin("alice", Role::Admin).await;
    app.create_admin("max", Role::Manager).await;
    let browser = app.signed_in("alice").await;

    let res = app
        .post_form(
            &browser,
            "/settings/api/tokens",
            &[("name", "grafana"), ("role", "viewer")],
        )
        .await;
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    let secret = between(&html, "<code id=\"revealed-secret\">", "</code>").to_string();
    assert_eq!(get(&app, &secret, "/api/v1/devices").await.0, 200);
    let page = app.page(&browser, "/settings/api").await;
    assert!(page.contains("grafana"));
    assert!(!page.contains(&secret), "the token is shown once");

    let id = app.state.api_access().list_tokens().await.unwrap()[0].id;
    let res = app
        .post_form(&browser, &format!("/settings/api/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(get(&app, &secret, "/api/v1/devices").await.0, 401);

    let res = app
        .post_form(&browser, "/settings/api/clients", &[("name", "okta")])
        .await;
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    let client_id = between(&html, "<code id=\"revealed-id\">", "</code>").to_string();
    let res = app
        .post_form(
            &browser,
            &format!("/settings/api/clients/{client_id}/rotate"),
            &[],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("previous secret expires soon"), "{html}");

    let settings = app.page(&browser, "/settings").await;
    let checkin = between(&settings, "<code id=\"checkin-url\">", "</code>");
    assert!(
        checkin.starts_with("https://") && checkin.ends_with("/mdm/checkin"),
        "{checkin}"
    );

    let manager = app.signed_in("max").await;
    let res = manager.get(app.url("/settings/api")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            &manager,
            "/settings/api/tokens",
            &[("name", "sneaky"), ("role", "admin")],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.state.api_access().list_tokens().await.unwrap().len(), 1);
    app.stop().await;
}
