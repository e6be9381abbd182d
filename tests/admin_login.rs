//! Login: wrong passwords, rate limiting per account and per address, idle session expiry
//! (virtual clock), cookie attributes, security headers and static files.

use crate::common;

use std::net::IpAddr;

use chrono::Duration;
use common::*;
use orchard::admin::Role;

fn addr(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

async fn limited_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_with(dir, |c| {
        c.security.login_max_failures = 3;
        c.security.login_window_minutes = 10;
        c.security.session_idle_hours = 2;
    })
    .await
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_the_right_one_opens_a_secure_session() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    let client = client_for(&app.state);
    let token = app.login_form_token(&client).await;
    let resp = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "ada"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("Wrong username or password."));
    assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 303);

    let resp = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "ADA"),
            ("password", TEST_PASSWORD),
            ("next", "/audit"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/audit");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-orchard_session="), "{cookie}");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    // Only a hash of the session id is stored.
    let id = cookie
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_string();
    let stored: Vec<String> = app
        .state
        .store
        .read(|c| {
            let mut s = c.prepare("SELECT id_hash FROM admin_sessions")?;
            let rows = s.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], id);
    assert!(!stored[0].contains(&id));

    let dashboard = app.page(&client, "/").await;
    assert!(dashboard.contains("Signed in as ada"));
    // An open redirect after login is not followed.
    let resp = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "ada"),
            ("password", TEST_PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], "/");
    app.stop().await;
}

#[tokio::test]
async fn failures_for_one_account_lock_that_account_from_every_address_until_the_window_passes() {
    let app = limited_app().await;
    app.create_admin("ada", Role::Admin).await;
    app.create_admin("bob", Role::Admin).await;
    // Three failures for ada, each from a different address.
    for last in [11, 12, 13] {
        let c = client_from(&app.state, addr(last));
        assert_eq!(app.login_with(&c, "ada", "wrong password!!").await, 401);
    }
    // The right password from a fresh address is now refused too, with a wait time.
    let fresh = client_from(&app.state, addr(14));
    let page = app.page(&fresh, "/login").await;
    let resp = fresh
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf_in(&page).as_str()),
            ("username", "Ada"),
            ("password", TEST_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("too many failed logins; try again in 10 minute(s)")
    );
    // Another account from that same address is not affected.
    assert_eq!(app.login_with(&fresh, "bob", TEST_PASSWORD).await, 303);

    app.clock.advance(Duration::minutes(10) + Duration::seconds(1));
    assert_eq!(app.login_with(&fresh, "ada", TEST_PASSWORD).await, 303);
    app.stop().await;
}

#[tokio::test]
async fn failures_from_one_address_lock_that_address_for_every_account() {
    let app = limited_app().await;
    app.create_admin("ada", Role::Admin).await;
    let attacker = client_from(&app.state, addr(21));
    for name in ["root", "admin", "administrator"] {
        assert_eq!(app.login_with(&attacker, name, "guess guess guess").await, 401);
    }
    assert_eq!(app.login_with(&attacker, "ada", TEST_PASSWORD).await, 429);
    // The account itself is fine from elsewhere.
    let colleague = client_from(&app.state, addr(22));
    assert_eq!(app.login_with(&colleague, "ada", TEST_PASSWORD).await, 303);
    app.clock.advance(Duration::minutes(11));
    assert_eq!(app.login_with(&attacker, "ada", TEST_PASSWORD).await, 303);
    app.stop().await;
}

#[tokio::test]
async fn an_idle_session_expires_and_an_active_one_does_not() {
    let app = limited_app().await;
    app.create_admin("ada", Role::Admin).await;
    let client = app.signed_in("ada").await;
    // Active use keeps it alive well past the idle limit.
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(110));
        assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 200);
    }
    app.clock.advance(Duration::hours(2));
    let resp = client.get(app.url("/audit")).send().await.unwrap();
    assert_eq!(resp.status(), 303, "idle for two hours: signed out");
    assert_eq!(resp.headers()["location"], "/login?next=%2Faudit");
    let sessions: i64 = app
        .state
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM admin_sessions", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(sessions, 0, "the expired session was removed");
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    let client = app.signed_in("ada").await;
    let resp = app.post_form(&client, "/logout", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?signed_out=1");
    assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), 303);
    let actions: Vec<String> = app
        .state
        .admins()
        .audit_page(None, 10)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions[0], "session.logout");
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/login", "/nope", "/static/app.css", "/healthz", "/users"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["strict-transport-security"], "max-age=31536000", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn static_files_have_their_type_and_are_cached_by_content_version() {
    let app = spawn_app().await;
    let page = app.page(&app.client, "/login").await;
    let start = page.find("/static/app.css?v=").unwrap();
    let end = start + page[start..].find('"').unwrap();
    let versioned = &page[start..end];
    let resp = app.client.get(app.url(versioned)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = resp.headers()["etag"].clone();
    assert!(resp.text().await.unwrap().contains("--accent"));

    let plain = app.client.get(app.url("/static/app.css")).send().await.unwrap();
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    let again = app
        .client
        .get(app.url("/static/app.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let svg = app
        .client
        .get(app.url("/static/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml; charset=utf-8");
    for bad in [
        "/static/nothing.css",
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
    ] {
        assert_eq!(
            app.client.get(app.url(bad)).send().await.unwrap().status(),
            404,
            "{bad}"
        );
    }
    app.stop().await;
}
