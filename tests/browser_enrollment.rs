//! In a real headless Chromium: an administrator creates an enrollment token on the Enrollment
//! page and sees its link and QR code (shown once).

use crate::browser_admin::{browser, click, fill, sign_in, start_driver, wait_for_text};
use crate::common;

use common::*;
use fantoccini::Locator;
use orchard::admin::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_an_enrollment_token_and_sees_its_qr_code() {
    let driver = start_driver();
    let app = spawn_app().await;
    app.create_admin("ada", Role::Admin).await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    sign_in(&c, &app, "ada", TEST_PASSWORD).await;
    wait_for_text(&c, "Signed in as ada").await;
    c.goto(&app.url("/enrollment")).await.unwrap();
    wait_for_text(&c, "New token").await;
    fill(
        &c,
        "form[action='/enrollment/tokens'] input[name=label]",
        "Library Macs",
    )
    .await;
    fill(&c, "form[action='/enrollment/tokens'] input[name=days]", "14").await;
    fill(&c, "form[action='/enrollment/tokens'] input[name=max_uses]", "3").await;
    click(&c, "form[action='/enrollment/tokens'] button[type=submit]").await;
    let page = wait_for_text(&c, "Copy its link now").await;
    assert!(page.contains("Library Macs"), "{page}");

    let link = c
        .find(Locator::Css("#token-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("the token link");
    assert!(link.starts_with(&format!("{}/enroll?token=", app.base)), "{link}");
    let encoded = link.rsplit("token=").next().unwrap();
    let secret = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .unwrap()
        .to_string();
    assert!(
        app.state.enrollment.tokens().check_token(&secret).is_ok(),
        "the shown link enrolls"
    );

    // The QR code is drawn: an SVG with a real size in the page.
    let size = c
        .execute(
            "const r = document.querySelector('#token-qr svg').getBoundingClientRect(); return [r.width, r.height];",
            vec![],
        )
        .await
        .unwrap();
    let (w, h) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap());
    assert!(w >= 150.0 && h >= 150.0, "QR code drawn at {w}x{h}");
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-enrollment-token.png"),
        &png,
    )
    .unwrap();

    // Reloading the list does not show the secret again.
    c.goto(&app.url("/enrollment")).await.unwrap();
    let list = wait_for_text(&c, "Library Macs").await;
    assert!(!list.contains(&secret));
    assert!(list.contains("0 of 3"), "{list}");

    c.close().await.unwrap();
    app.stop().await;
    drop(driver);
}
