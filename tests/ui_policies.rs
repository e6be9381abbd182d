//! The Policies pages over real TLS: list, form, preview, save, edit, delete and the default
//! rings; bad input refused beside its field with nothing saved; viewers refused on every POST;
//! missing or forged CSRF tokens and oversized forms refused.

use crate::common::TestApp;
use crate::policy_ui_support::{MAC, PAD, PHONE, app_with_fleet, get};
use crate::ui_support::visible;

/// A rolling iOS policy assigned to Pilot, with `changes` applied (same key: replaced; new key:
/// added).
fn rolling<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", "ios-rolling"),
        ("label", "iPhones within a week"),
        ("priority", "5"),
        ("platforms", "iOS"),
        ("platforms", "iPadOS"),
        ("enforcement.mode", "rolling"),
        ("rolling.within", "1w"),
        ("rolling.at", "18:00"),
        ("majors.newest_major", "N"),
        ("bsi.mode", "none"),
        ("groups", "Pilot"),
    ];
    for (k, v) in changes {
        match fields.iter_mut().find(|(fk, _)| fk == k) {
            Some(slot) => slot.1 = v,
            None => fields.push((k, v)),
        }
    }
    fields
}

async fn policy_names(app: &TestApp) -> Vec<String> {
    app.state
        .policies
        .list_policies()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

#[tokio::test]
async fn a_rolling_policy_is_previewed_then_saved_listed_edited_and_deleted() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;

    let (status, html) = get(&manager, &app, "/policies").await;
    assert_eq!(status, 200);
    assert!(visible(&html).contains("No policy yet"));

    let res = app.post_form(&manager, "/policies/preview", &rolling(&[])).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let text = visible(&html);
    assert!(text.contains("Nothing has been saved"), "{text}");
    assert!(
        html.contains(&format!("/devices/{PHONE}")),
        "the iPhone is previewed"
    );
    assert!(
        !html.contains(&format!("/devices/{MAC}")),
        "the Mac is not an iOS device"
    );
    assert!(
        text.contains(&format!(
            "{PHONE} iOS 26.4.1 (23E254) 2026-04-08 2026-04-15 18:00 Policy iPhones within a week"
        )),
        "target, visible-from, deadline and why: {text}"
    );
    let svg = &html[html.find("<svg class=\"timeline\"").expect("a timeline is drawn")..];
    assert!(svg.contains("class=\"visible-part\"") && svg.contains("class=\"deadline-mark\""));
    assert!(
        html.contains("value=\"iPhones within a week\""),
        "the form is kept"
    );
    assert!(policy_names(&app).await.is_empty(), "a preview saves nothing");

    let res = app.post_form(&manager, "/policies/new", &rolling(&[])).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/policies/ios-rolling?done=saved");
    let (_, html) = get(&manager, &app, "/policies").await;
    let text = visible(&html);
    assert!(
        text.contains("iPhones within a week ios-rolling rolling enforcement iOS, iPadOS 5 Pilot (1)"),
        "{text}"
    );
    assert!(!text.contains("takes effect on no device"));

    // The device page explains the iPhone's target; the iPad, in no group, has no policy.
    let (_, html) = get(&manager, &app, &format!("/devices/{PHONE}")).await;
    let why = visible(&html[html.find("id=\"why-target\"").unwrap()..]);
    assert!(
        why.contains(
            "Policy iPhones within a week (ios-rolling); 26.4.1 (23E254) posted on 2026-04-08, \
             enforced within 1 week of its release: deadline 2026-04-15 18:00"
        ),
        "{why}"
    );
    assert!(why.contains("Target 26.4.1 (23E254)"), "{why}");
    assert!(why.contains("Groups Pilot"), "{why}");
    let (_, html) = get(&manager, &app, &format!("/devices/{PAD}")).await;
    let why = visible(&html[html.find("id=\"why-target\"").unwrap()..]);
    assert!(
        why.contains("no policy for iPadOS is assigned to this device"),
        "{why}"
    );

    let (status, html) = get(&manager, &app, "/policies/ios-rolling").await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"iPhones within a week\""));
    assert!(html.contains("value=\"rolling\" checked"));

    // Previewing a change of the stored policy: shown with the change, stored unchanged.
    let res = app
        .post_form(
            &manager,
            "/policies/ios-rolling/preview",
            &rolling(&[("rolling.within", "2w")]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let text = visible(&res.text().await.unwrap());
    assert!(
        text.contains("enforced within 2 weeks of its release: deadline 2026-04-22 18:00"),
        "{text}"
    );
    let stored = app
        .state
        .policies
        .get_policy("ios-rolling")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        stored.policy.enforcement,
        orchard::policy::Enforcement::Rolling {
            within: orchard::policy::RollingWindow::OneWeek,
            ..
        }
    ));

    let res = app
        .post_form(
            &manager,
            "/policies/ios-rolling/edit",
            &rolling(&[
                ("label", "Phones, two weeks"),
                ("rolling.within", "2w"),
                ("groups", ""),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = get(&manager, &app, "/policies").await;
    let text = visible(&html);
    assert!(text.contains("Phones, two weeks"), "{text}");
    assert!(text.contains("takes effect on no device"), "{text}");

    let res = app.post_form(&manager, "/policies/ios-rolling/delete", &[]).await;
    assert_eq!(res.status(), 303);
    assert!(policy_names(&app).await.is_empty());
    let (status, _) = get(&manager, &app, "/policies/ios-rolling").await;
    assert_eq!(status, 404);
}

/// (what, fields changed, the form key the reason is shown at, a part of the reason)
type BadInput = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn bad_input_is_refused_beside_its_field_and_nothing_is_saved() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    let auto = [
        ("enforcement.mode", "automatic-latest"),
        ("auto.combined", "7"),
        ("auto.grace_days", "30"),
        ("auto.at", "18:00"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = auto.to_vec();
        all.extend_from_slice(extra);
        all
    };
    let cases: Vec<BadInput> = vec![
        (
            "out-of-range deferral",
            with(&[("auto.combined", "91")]),
            "auto.combined",
            "between 1 and 90 days, not 91",
        ),
        (
            "out-of-range grace",
            with(&[("auto.grace_days", "400")]),
            "auto.grace_days",
            "between 0 and 365 days, not 400",
        ),
        (
            "a word for a number",
            with(&[("auto.grace_days", "thirty")]),
            "auto.grace_days",
            "enter a whole number of days, not \"thirty\"",
        ),
        (
            "out-of-range security SLA",
            vec![
                ("enforcement.mode", "security-sla"),
                ("sla.exploited_days", "0"),
                ("sla.cve_days", "21"),
                ("sla.other_days", "28"),
                ("sla.at", "18:00"),
            ],
            "sla.exploited_days",
            "between 1 and 365 days, not 0",
        ),
        (
            "out-of-range BSI",
            vec![("bsi.mode", "within"), ("bsi.days", "91"), ("bsi.at", "20:00")],
            "bsi.days",
            "within 0 to 90 days, not 91",
        ),
        (
            "a beta program required without enrollment always on",
            vec![
                ("settings.Beta.ProgramEnrollment", "Allowed"),
                ("settings.Beta.RequireProgram.Description", "Developer beta"),
                ("settings.Beta.RequireProgram.Token", "tok-dev"),
            ],
            "settings.Beta.RequireProgram",
            "can only be required when ProgramEnrollment is AlwaysOn",
        ),
        (
            "forced install, download up to the user",
            vec![
                ("settings.AutomaticActions.Download", "Allowed"),
                ("settings.AutomaticActions.InstallOSUpdates", "AlwaysOn"),
            ],
            "settings.AutomaticActions.InstallOSUpdates",
            "installation is forced, but downloading is not guaranteed",
        ),
        (
            "user install, download off",
            vec![
                ("settings.AutomaticActions.Download", "AlwaysOff"),
                ("settings.AutomaticActions.InstallOSUpdates", "Allowed"),
            ],
            "settings.AutomaticActions.InstallOSUpdates",
            "Download is AlwaysOff, InstallOSUpdates is Allowed",
        ),
        (
            "forced install, download off",
            vec![
                ("settings.AutomaticActions.Download", "AlwaysOff"),
                ("settings.AutomaticActions.InstallOSUpdates", "AlwaysOn"),
            ],
            "settings.AutomaticActions.InstallOSUpdates",
            "installation cannot be forced when downloading is disabled",
        ),
        (
            "details URL with another scheme",
            with(&[("auto.details_url", "ftp://it.example.org/updates")]),
            "auto.details_url",
            "must start with http:// or https://",
        ),
        (
            "version not in the catalog",
            vec![
                ("enforcement.mode", "minimum"),
                ("minimum.version", "99.1"),
                ("minimum.date", "2099-01-01"),
                ("minimum.time", "18:00"),
            ],
            "minimum.version",
            "99.1 does not exist in the catalog",
        ),
        (
            "deadline in the past",
            vec![
                ("enforcement.mode", "specific"),
                ("specific.version", "18.5"),
                ("specific.date", "2020-01-01"),
                ("specific.time", "18:00"),
            ],
            "specific.deadline",
            "is in the past",
        ),
    ];
    for (what, changes, field, message) in cases {
        for path in ["/policies/new", "/policies/preview"] {
            let res = app.post_form(&manager, path, &rolling(&changes)).await;
            assert_eq!(res.status(), 400, "{what} at {path}");
            let html = res.text().await.unwrap();
            assert!(visible(&html).contains("Nothing was saved"), "{what}");
            let input = html
                .find(&format!("name=\"{field}\""))
                .or_else(|| html.find(&format!("id=\"{field}\"")))
                .unwrap_or_else(|| panic!("{what}: no input {field}"));
            let after = &html[input..];
            let error = after
                .find("class=\"field-error\"")
                .unwrap_or_else(|| panic!("{what}: no error after {field}"));
            assert!(
                after[error..].starts_with("class=\"field-error\" role=\"alert\">")
                    && visible(&after[error..]).contains(message),
                "{what}: {}",
                visible(&after[error..error + 300])
            );
            assert!(
                !html.contains("<section class=\"card\" id=\"preview\">"),
                "{what}: no preview for a refused form"
            );
            assert!(
                html.contains("value=\"iPhones within a week\""),
                "{what}: kept as typed"
            );
        }
        assert!(policy_names(&app).await.is_empty(), "{what}: nothing saved");
    }
}

#[tokio::test]
async fn viewers_read_but_every_post_is_refused_and_csrf_and_size_are_checked() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    assert_eq!(
        app.post_form(&manager, "/policies/new", &rolling(&[]))
            .await
            .status(),
        303
    );
    let anonymous = crate::common::client_for(&app.state);
    let res = anonymous.get(app.url("/policies")).send().await.unwrap();
    assert_eq!(res.status(), 303, "strangers are sent to sign in");
    let viewer = app.signed_in("vic").await;
    let (status, html) = get(&viewer, &app, "/policies").await;
    assert_eq!(status, 200);
    assert!(visible(&html).contains("iPhones within a week"));
    assert!(
        !html.contains("Load default policies and groups"),
        "no button for viewers"
    );
    let (status, html) = get(&viewer, &app, "/policies/ios-rolling").await;
    assert_eq!(status, 200);
    assert!(html.contains("<fieldset disabled>"), "read-only for viewers");
    for path in [
        "/policies/new",
        "/policies/preview",
        "/policies/defaults",
        "/policies/ios-rolling/edit",
        "/policies/ios-rolling/preview",
        "/policies/ios-rolling/delete",
    ] {
        let res = app
            .post_form(&viewer, path, &rolling(&[("name", "viewer-made")]))
            .await;
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(policy_names(&app).await, ["ios-rolling"]);

    // No token, a forged token: refused before the handler, nothing saved.
    let fields = rolling(&[("name", "forged")]);
    let res = manager
        .post(app.url("/policies/new"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let mut forged = fields.clone();
    forged.push(("csrf_token", "0123456789abcdef0123456789abcdef"));
    let res = manager
        .post(app.url("/policies/new"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Oversized: a device list far beyond any form.
    let huge = "A".repeat(200 * 1024);
    let res = app
        .post_form(
            &manager,
            "/policies/new",
            &rolling(&[("name", "huge"), ("devices", &huge)]),
        )
        .await;
    assert_eq!(res.status(), 413);
    assert_eq!(policy_names(&app).await, ["ios-rolling"]);
}

#[tokio::test]
async fn loading_the_default_rings_twice_creates_them_once_and_says_so() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    let res = app.post_form(&manager, "/policies/defaults", &[]).await;
    assert_eq!(res.status(), 200);
    let text = visible(&res.text().await.unwrap());
    assert!(text.contains("Created"), "{text}");
    assert!(text.contains("Vanguard"), "{text}");
    assert_eq!(policy_names(&app).await.len(), 8);

    let res = app.post_form(&manager, "/policies/defaults", &[]).await;
    assert_eq!(res.status(), 200);
    let text = visible(&res.text().await.unwrap());
    assert!(text.contains("already existed"), "{text}");
    assert_eq!(policy_names(&app).await.len(), 8);
    let (_, html) = get(&manager, &app, "/groups").await;
    let text = visible(&html);
    for ring in ["Vanguard", "Early Adopter", "General Adoption", "Late Adoption"] {
        assert!(text.contains(ring), "{ring} in {text}");
    }
}

#[tokio::test]
async fn settings_a_platform_will_not_receive_are_marked_beside_them() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    // iPadOS (kept from the base form) and macOS (replacing iOS).
    let fields = rolling(&[
        ("name", "mixed"),
        ("platforms", "macOS"),
        ("enforcement.mode", "automatic-latest"),
        ("auto.combined", "7"),
        ("auto.minor", "5"),
        ("auto.grace_days", "10"),
        ("auto.at", "18:00"),
        ("settings.AllowStandardUserOSUpdates", "on"),
    ]);
    let res = app.post_form(&manager, "/policies/new", &fields).await;
    assert_eq!(res.status(), 303, "notes do not refuse a policy");
    let (_, html) = get(&manager, &app, "/policies/mixed").await;
    for (field, note) in [
        ("auto.combined", "applies to iOS, iPadOS, tvOS and visionOS only"),
        (
            "auto.minor",
            "applies to macOS only: iPadOS use the combined deferral",
        ),
        ("settings.AllowStandardUserOSUpdates", "does not apply to iPadOS"),
    ] {
        let at = html.find(&format!("name=\"{field}\"")).unwrap();
        let after = &html[at..];
        let next = after[1..].find("name=\"").unwrap();
        let marked = visible(&after[..next]);
        assert!(
            marked.contains(&format!("Not applicable: {note}")),
            "{field}: {marked}"
        );
    }
    let (_, html) = get(&manager, &app, "/policies").await;
    let text = visible(&html);
    assert!(
        text.contains("mixed automatic latest macOS, iPadOS 5 Pilot (1) 1 none"),
        "{text}"
    );
}

#[tokio::test]
async fn equal_priorities_reaching_one_device_are_shown_as_a_conflict() {
    let app = app_with_fleet().await;
    let manager = app.signed_in("max").await;
    assert_eq!(
        app.post_form(&manager, "/policies/new", &rolling(&[]))
            .await
            .status(),
        303
    );
    let other = rolling(&[
        ("name", "ios-monthly"),
        ("label", "iPhones within a month"),
        ("rolling.within", "1mo"),
        ("devices", PHONE),
        ("groups", ""),
    ]);
    assert_eq!(
        app.post_form(&manager, "/policies/new", &other).await.status(),
        303
    );
    let (_, html) = get(&manager, &app, "/policies").await;
    assert_eq!(
        html.matches("class=\"conflict\"").count(),
        2,
        "both policies show it"
    );
    let text = visible(&html);
    assert!(text.contains("1 device directly"), "{text}");
    let (_, html) = get(&manager, &app, &format!("/devices/{PHONE}")).await;
    let why = visible(&html[html.find("id=\"why-target\"").unwrap()..]);
    assert!(why.contains("Decision conflict between policies"), "{why}");
    assert!(why.contains("iPhones within a month"), "{why}");

    // A higher priority settles it.
    let settled = rolling(&[
        ("name", "ios-monthly"),
        ("label", "iPhones within a month"),
        ("priority", "9"),
        ("rolling.within", "1mo"),
        ("devices", PHONE),
        ("groups", ""),
    ]);
    let res = app
        .post_form(&manager, "/policies/ios-monthly/edit", &settled)
        .await;
    assert_eq!(res.status(), 303);
    let (_, html) = get(&manager, &app, "/policies").await;
    assert!(!html.contains("class=\"conflict\""));
    let text = visible(&html);
    assert!(
        text.contains("Pilot (1) 1 (in effect on 0) none"),
        "the lower priority yields: {text}"
    );
    let (_, html) = get(&manager, &app, &format!("/devices/{PHONE}")).await;
    let why = visible(&html[html.find("id=\"why-target\"").unwrap()..]);
    assert!(
        why.contains("Policy iPhones within a month (ios-monthly)"),
        "{why}"
    );
}
