//! The Groups pages over real TLS: static groups and their members, rule groups and their
//! counts, rings and the ring schedule; bad input refused beside its field with nothing saved;
//! viewers refused on every POST.

use crate::common::TestApp;
use crate::policy_ui_support::{MAC, PAD, PHONE, app_with_fleet, get};
use crate::ui_support::visible;

async fn group_names(app: &TestApp) -> Vec<String> {
    app.state
        .policies
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect()
}

#[tokio::test]
async fn static_members_are_added_and_removed_and_counted() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    let (status, html) = get(&manager, &app, "/groups").await;
    assert_eq!(status, 200);
    let text = visible(&html);
    assert!(text.contains("Pilot static — 2"), "{text}");

    let (status, html) = get(&manager, &app, "/groups/Pilot").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<tr class=\"member\">").count(), 2);
    assert!(visible(&html).contains("Members (2 enrolled)"));

    let res = app
        .post_form(&manager, "/groups/Pilot/members/remove", &[("device", MAC)])
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = get(&manager, &app, "/groups/Pilot").await;
    assert_eq!(html.matches("<tr class=\"member\">").count(), 1);
    assert!(!html.contains(&format!("<code>{MAC}</code>")));

    // An unknown UDID: refused beside the field, nothing added (not even the known one).
    let typed = format!("{PAD}\nNOT-A-DEVICE");
    let res = app
        .post_form(&manager, "/groups/Pilot/members/add", &[("devices", &typed)])
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    let field = html.find("id=\"add-devices\"").unwrap();
    assert!(
        visible(&html[field..]).contains("no device NOT-A-DEVICE"),
        "{}",
        visible(&html)
    );
    assert!(html.contains("NOT-A-DEVICE</textarea>"), "kept as typed");
    let (_, html) = get(&manager, &app, "/groups/Pilot").await;
    assert_eq!(html.matches("<tr class=\"member\">").count(), 1);

    let res = app
        .post_form(&manager, "/groups/Pilot/members/add", &[("devices", PAD)])
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = get(&manager, &app, "/groups").await;
    assert!(visible(&html).contains("Pilot static — 2"));
}

#[tokio::test]
async fn rule_groups_count_matching_devices_and_are_edited_and_deleted() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    // Counting before saving: the typed rules come back with the count, nothing is stored.
    let res = app
        .post_form(
            &manager,
            "/groups/count",
            &[("name", "Macs"), ("kind", "rules"), ("rules.platforms", "macOS")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(visible(&html).contains("1 enrolled device matches these rules now. Nothing was saved."));
    assert!(html.contains("value=\"Macs\""));
    assert_eq!(group_names(&app).await, ["Pilot"]);
    let res = app
        .post_form(
            &manager,
            "/groups/new",
            &[
                ("name", "Mobile on 26"),
                ("kind", "rules"),
                ("rules.platforms", "iOS"),
                ("rules.platforms", "iPadOS"),
                ("rules.os_majors", "26"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/groups/Mobile%20on%2026?done=saved");
    let (_, html) = get(&manager, &app, "/groups/Mobile%20on%2026").await;
    assert!(
        visible(&html).contains("2 enrolled devices match now"),
        "{}",
        visible(&html)
    );

    let res = app
        .post_form(
            &manager,
            "/groups/Mobile%20on%2026/edit",
            &[
                ("name", "Mobile on 26"),
                ("kind", "rules"),
                ("ring_order", "1"),
                ("rules.model_families", "iPad"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = get(&manager, &app, "/groups").await;
    assert!(
        visible(&html).contains("Mobile on 26 rule-based ring 1 1"),
        "{}",
        visible(&html)
    );

    // A rule group without rules and a bad ring order: refused, the stored group unchanged.
    let res = app
        .post_form(
            &manager,
            "/groups/Mobile%20on%2026/edit",
            &[("name", "Mobile on 26"), ("kind", "rules"), ("ring_order", "0")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    let text = visible(&html);
    assert!(text.contains("Nothing was saved"), "{text}");
    assert!(text.contains("the ring order must be between 1 and"), "{text}");
    assert!(text.contains("needs at least one rule"), "{text}");
    let (_, html) = get(&manager, &app, "/groups").await;
    assert!(visible(&html).contains("Mobile on 26 rule-based ring 1 1"));

    let res = app
        .post_form(&manager, "/groups/Mobile%20on%2026/delete", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(group_names(&app).await, ["Pilot"]);
}

#[tokio::test]
async fn the_ring_schedule_is_saved_and_a_schedule_blocking_every_day_is_refused() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    assert_eq!(
        app.post_form(&manager, "/policies/defaults", &[]).await.status(),
        200
    );
    let res = app
        .post_form(
            &manager,
            "/groups/schedule",
            &[
                ("base_date", "2026-12-01"),
                ("offset_days.Vanguard", "0"),
                ("offset_days.Early Adopter", "3"),
                ("offset_days.General Adoption", "7"),
                ("offset_days.Late Adoption", "14"),
                ("blocked_weekdays", "Sat"),
                ("blocked_weekdays", "Sun"),
                ("blocked_dates", "2026-12-25\n2027-01-01"),
                ("window.start", "19:00"),
                ("window.end", "23:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let schedule = app.state.policies.ring_schedule().await.unwrap();
    assert_eq!(schedule.offset_days.get("Late Adoption"), Some(&14));
    assert_eq!(schedule.blocked_dates.len(), 2);
    let (_, html) = get(&manager, &app, "/groups").await;
    assert!(html.contains("name=\"offset_days.Early Adopter\" id=\"offset_days.Early Adopter\" value=\"3\""));
    assert!(html.contains("value=\"Sat\" checked"));

    let every_day: Vec<(&str, &str)> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .map(|d| ("blocked_weekdays", *d))
        .chain([("window.start", "23:00"), ("window.end", "19:00")])
        .collect();
    let res = app.post_form(&manager, "/groups/schedule", &every_day).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    let weekdays = html.find("id=\"blocked_weekdays\"").unwrap();
    let after = visible(&html[weekdays..]);
    assert!(after.contains("every weekday is blocked"), "{after}");
    assert!(after.contains("must start before it ends"), "{after}");
    assert_eq!(
        app.state.policies.ring_schedule().await.unwrap(),
        schedule,
        "unchanged"
    );
}

#[tokio::test]
async fn viewers_read_groups_but_every_post_is_refused() {
    let app = app_with_fleet().await;
    let viewer = app.signed_in("vic").await;
    let (status, html) = get(&viewer, &app, "/groups").await;
    assert_eq!(status, 200);
    assert!(visible(&html).contains("Pilot"));
    assert!(!html.contains("New static group"));
    let (status, html) = get(&viewer, &app, "/groups/Pilot").await;
    assert_eq!(status, 200);
    assert!(!html.contains("Remove</button>"));
    for path in [
        "/groups/new",
        "/groups/schedule",
        "/groups/count",
        "/groups/Pilot/edit",
        "/groups/Pilot/members/add",
        "/groups/Pilot/members/remove",
        "/groups/Pilot/delete",
    ] {
        let res = app
            .post_form(
                &viewer,
                path,
                &[
                    ("name", "Viewer group"),
                    ("kind", "static"),
                    ("device", PHONE),
                    ("devices", PHONE),
                ],
            )
            .await;
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(group_names(&app).await, ["Pilot"]);
    let manager = app.signed_in("max").await;
    // A manager's form without its CSRF token, or with a forged one: refused, nothing stored.
    for token in [None, Some("0123456789abcdef0123456789abcdef")] {
        let mut fields = vec![("name", "Forged"), ("kind", "static")];
        if let Some(t) = token {
            fields.push(("csrf_token", t));
        }
        let res = manager
            .post(app.url("/groups/new"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    assert_eq!(group_names(&app).await, ["Pilot"]);
    let (_, html) = get(&manager, &app, "/groups/Pilot").await;
    assert_eq!(html.matches("<tr class=\"member\">").count(), 2);
}
