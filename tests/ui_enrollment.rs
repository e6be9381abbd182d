//! The enrollment page over real TLS: the page link and its QR code; enrollment tokens created
//! (secret, link and QR shown once), refused when the form is wrong, revoked; every role's reach.

use crate::common;
use crate::ui_support;

use common::*;
use orchard::enrollment::{EnrollmentError, TokenRefusal};
use ui_support::{visible, with_roles};

fn token_count(app: &TestApp) -> usize {
    app.state.enrollment.tokens().list_tokens().unwrap().len()
}

/// The secret in the enrollment link shown on a page (`/enroll?token=...`, percent-encoded).
fn secret_in(html: &str) -> String {
    let marker = "/enroll?token=";
    let start = html.find(marker).expect("the page shows the token link") + marker.len();
    let end = html[start..].find(['"', '<']).unwrap() + start;
    percent_encoding::percent_decode_str(&html[start..end])
        .decode_utf8()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_page_shows_the_enrollment_link_and_its_qr_code_to_every_role() {
    let app = spawn_app().await;
    with_roles(&app).await;

    let anonymous = client_for(&app.state);
    let resp = anonymous.get(app.url("/enrollment")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=%2Fenrollment");

    let viewer = app.signed_in("vic").await;
    let resp = viewer.get(app.url("/enrollment")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!("{}/enroll", app.base)), "the page link");
    let qr = html.split("id=\"enroll-qr\"").nth(1).expect("QR block");
    assert!(qr.trim_start().contains("<svg"), "an SVG QR code");
    assert!(
        visible(&html).contains("No push certificate is imported yet"),
        "the profile needs the push certificate first"
    );
    assert!(!html.contains("Create token"), "no form for a viewer");
    app.stop().await;
}

#[tokio::test]
async fn an_admin_creates_a_token_sees_its_link_once_and_revokes_it() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let admin = app.signed_in("ada").await;

    let resp = app
        .post_form(
            &admin,
            "/enrollment/tokens",
            &[("label", "Year 7 iPads"), ("days", "30"), ("max_uses", "5")],
        )
        .await;
    assert_eq!(resp.status(), 201);
    let html = resp.text().await.unwrap();
    let text = visible(&html);
    assert!(text.contains("Created the token “Year 7 iPads”"), "{text}");
    let created = html.split("id=\"token-qr\"").nth(1).expect("the token's QR code");
    assert!(created.trim_start().contains("<svg"));
    let secret = secret_in(&html);
    let info = app
        .state
        .enrollment
        .tokens()
        .check_token(&secret)
        .expect("the shown secret works");
    assert_eq!(info.label, "Year 7 iPads");
    assert_eq!(info.max_uses, Some(5));
    assert!(text.contains("0 of 5") && text.contains("active"), "{text}");

    // The secret is not shown again.
    let page = app.page(&admin, "/enrollment").await;
    assert!(!page.contains(&secret));
    assert!(visible(&page).contains("Year 7 iPads"));

    let resp = app
        .post_form(&admin, &format!("/enrollment/tokens/{}/revoke", info.id), &[])
        .await;
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let page = app.page(&admin, &location).await;
    let text = visible(&page);
    assert!(text.contains("Revoked the token “Year 7 iPads”"), "{text}");
    assert!(page.contains("<td class=\"token-state\">revoked</td>"));
    assert!(matches!(
        app.state.enrollment.tokens().check_token(&secret),
        Err(EnrollmentError::TokenRefused(TokenRefusal::Revoked))
    ));

    let entries = app.state.admins().audit_page(None, 10).await.unwrap().entries;
    for action in ["enrollment.token.create", "enrollment.token.revoke"] {
        assert!(
            entries
                .iter()
                .any(|e| e.action == action && e.actor == "admin:ada"),
            "{action} audited: {entries:?}"
        );
    }
    assert!(
        entries
            .iter()
            .all(|e| !e.after.as_deref().unwrap_or("").contains(&secret)),
        "the secret is not in the audit log"
    );

    let resp = app.post_form(&admin, "/enrollment/tokens/999/revoke", &[]).await;
    assert_eq!(resp.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn wrong_forms_get_a_clear_message_and_create_nothing() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let admin = app.signed_in("ada").await;
    let audits = app.audit_count().await;

    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("label", "lab"), ("max_uses", "0")], "must be at least 1"),
        (&[("label", "lab"), ("max_uses", "-4")], "must be at least 1"),
        (&[("label", "lab"), ("days", "-3")], "between 1 and 3650 days"),
        (
            &[("label", "lab"), ("days", "soon")],
            "not a whole number of days",
        ),
        (&[("label", "   ")], "needs a label"),
    ];
    for (fields, expected) in cases {
        let resp = app.post_form(&admin, "/enrollment/tokens", fields).await;
        assert_eq!(resp.status(), 400, "{fields:?}");
        let text = visible(&resp.text().await.unwrap());
        assert!(text.contains("The token was not created"), "{text}");
        assert!(text.contains(expected), "{fields:?}: {text}");
    }
    assert_eq!(token_count(&app), 0);
    assert_eq!(app.audit_count().await, audits);

    // Without the CSRF token.
    let resp = admin
        .post(app.url("/enrollment/tokens"))
        .form(&[("label", "sneaky")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(token_count(&app), 0);
    app.stop().await;
}

#[tokio::test]
async fn viewers_and_managers_cannot_create_or_revoke_tokens() {
    let app = spawn_app().await;
    with_roles(&app).await;
    let (info, _) = app
        .state
        .enrollment
        .tokens()
        .create_token(orchard::enrollment::NewTokenRequest {
            label: "lab".into(),
            valid_for: None,
            max_uses: None,
        })
        .unwrap();
    for name in ["vic", "max"] {
        let client = app.signed_in(name).await;
        let resp = app
            .post_form(&client, "/enrollment/tokens", &[("label", "mine")])
            .await;
        assert_eq!(resp.status(), 403, "{name}");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("does not allow you to change enrollment")
        );
        let resp = app
            .post_form(&client, &format!("/enrollment/tokens/{}/revoke", info.id), &[])
            .await;
        assert_eq!(resp.status(), 403, "{name}");
    }
    let tokens = app.state.enrollment.tokens().list_tokens().unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].revoked_at.is_none());
    app.stop().await;
}
