//! A real headless Chromium: a manager signs in, fills the policy form for a rolling policy
//! assigned to a group, previews it (table and timeline, nothing saved), then saves it.

use crate::browser_admin::{browser, click, fill, sign_in, start_driver, wait_for_text};
use crate::common::TEST_PASSWORD;
use crate::policy_ui_support::{PHONE, app_with_fleet};

use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_previews_then_saves_a_rolling_policy_in_a_real_browser() {
    let driver = start_driver();
    let app = app_with_fleet().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    sign_in(&c, &app, "max", TEST_PASSWORD).await;
    wait_for_text(&c, "Signed in as max").await;
    c.goto(&app.url("/policies")).await.unwrap();
    wait_for_text(&c, "No policy yet").await;
    click(&c, "a[href='/policies/new']").await;
    wait_for_text(&c, "New policy").await;

    fill(&c, "input[name=name]", "ios-weekly").await;
    fill(&c, "input[name=label]", "iPhones within a week").await;
    // Rolling enforcement within a week at 18:00 on iOS and iPadOS is the new form's default.
    let rolling = c
        .find(Locator::Css("input[name='enforcement.mode'][value=rolling]"))
        .await
        .unwrap();
    assert_eq!(rolling.prop("checked").await.unwrap().as_deref(), Some("true"));
    click(&c, "input[name=groups][value=Pilot]").await;
    click(&c, "button[value=preview]").await;
    let page = wait_for_text(&c, "Nothing has been saved").await;
    assert!(page.contains(PHONE), "the iPhone of Pilot is previewed: {page}");
    assert!(page.contains("26.4.1 (23E254)"), "{page}");
    assert!(page.contains("2026-04-15 18:00"), "{page}");
    let bars = c
        .execute(
            "return document.querySelectorAll('svg.timeline .visible-part').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bars, serde_json::json!(1), "one bar in the timeline");
    assert!(app.state.policies.list_policies().await.unwrap().is_empty());
    assert_eq!(
        c.current_url().await.unwrap().fragment(),
        Some("preview"),
        "lands on the preview"
    );
    let shot = c.screenshot().await.unwrap();
    std::fs::write(
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-policy-preview.png"),
        shot,
    )
    .unwrap();

    // The previewed form kept what was typed: save it as it is.
    click(&c, "button[value=save]").await;
    wait_for_text(&c, "Saved.").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/policies/ios-weekly");
    c.goto(&app.url("/policies")).await.unwrap();
    let list = wait_for_text(&c, "iPhones within a week").await;
    assert!(list.contains("Pilot (1)"), "{list}");

    c.close().await.unwrap();
    app.stop().await;
}
