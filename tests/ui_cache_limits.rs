//! Download windows and bandwidth set on the Cache page: a manager's change is stored, takes
//! precedence over the configuration and is followed by the running download worker at once
//! (virtual clock); viewers and requests without the CSRF token change nothing; bad input is
//! refused with the reason and nothing is saved.

use std::time::Duration;

use chrono::{DateTime, Utc};
use orchard::admin::Role;
use orchard::cache::limits::LimitsOrigin;
use reqwest::StatusCode;

use crate::cache_support::{Cdn, payload};
use crate::common::{TestApp, spawn_app_with};
use crate::ui_support::visible;

const MB: usize = 1024 * 1024;

fn noon() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// An appliance whose configuration allows downloads only at night (UTC), with its clock at noon.
async fn night_only_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(dir, |c| {
        c.cache.allowed_windows = vec!["18:00-06:00".into()];
        c.cache.window_time_zone = "UTC".into();
        c.cache.allow_plain_http = true;
    })
    .await;
    app.clock.set(noon());
    app.create_admin("max", Role::Manager).await;
    app.create_admin("vic", Role::Viewer).await;
    app
}

async fn job_state(app: &TestApp, id: i64, want: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let job = app.state.cache.download(id).await.unwrap().unwrap();
        if job.state == want || std::time::Instant::now() > deadline {
            return job.state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let res = app.post_form(client, path, form).await;
    let status = res.status();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn a_manager_opens_a_window_and_the_running_worker_starts_the_waiting_download() {
    let app = night_only_app().await;
    let cdn = Cdn::start(payload(MB)).await;
    let id = app.state.cache.enqueue(cdn.installer_request()).await.unwrap();
    assert_eq!(job_state(&app, id, "deferred").await, "deferred");
    assert!(
        cdn.requests().is_empty(),
        "nothing is fetched outside the configured window"
    );

    let max = app.signed_in("max").await;
    let text = visible(&app.page(&max, "/caches").await);
    assert!(
        text.contains("18:00-06:00 (UTC)") && text.contains("closed now"),
        "{text}"
    );
    let audits = app.audit_count().await;

    let form = [
        ("windows", "11:00-13:00, 22:00-02:00"),
        ("time_zone", "UTC"),
        ("bandwidth_mbps", "400"),
    ];
    let (status, _) = post(&app, &max, "/caches/limits", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        job_state(&app, id, "done").await,
        "done",
        "the worker followed the new window without a restart"
    );
    assert_eq!(cdn.requests().len(), 1);
    assert_eq!(app.state.cache.bandwidth_limit(), 50_000_000, "400 Mbit/s");

    let text = visible(&app.page(&max, "/caches?done=limits").await);
    assert!(
        text.contains("11:00-13:00, 22:00-02:00 (UTC)") && text.contains("open now"),
        "{text}"
    );
    assert!(
        text.contains("400 Mbit/s") && text.contains("set on this page by admin:max"),
        "{text}"
    );
    assert_eq!(app.audit_count().await, audits + 1, "the change is audited");

    // Back to the configuration's night window: the next download waits again.
    let (status, _) = post(&app, &max, "/caches/limits/reset", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.cache.download_limits().origin, LimitsOrigin::Config);
    assert!(!app.state.cache.window_open(app.clock_now()));
    assert_eq!(app.audit_count().await, audits + 2);
}

#[tokio::test]
async fn saved_limits_outlive_a_restart_and_beat_the_configuration() {
    let app = night_only_app().await;
    let max = app.signed_in("max").await;
    let form = [
        ("windows", "09:00-17:00"),
        ("time_zone", "+01:00"),
        ("bandwidth_mbps", "2.5"),
    ];
    assert_eq!(
        post(&app, &max, "/caches/limits", &form).await.0,
        StatusCode::SEE_OTHER
    );
    let dir = app.stop().await;

    let again = spawn_app_with(dir, |c| {
        c.cache.allowed_windows = vec!["18:00-06:00".into()];
        c.cache.window_time_zone = "UTC".into();
    })
    .await;
    again.clock.set(noon());
    let limits = again.state.cache.download_limits();
    assert_eq!(limits.windows, vec!["09:00-17:00"]);
    assert_eq!(limits.time_zone, "+01:00");
    assert_eq!(limits.bandwidth_bytes_per_second, 312_500);
    assert_eq!(again.state.cache.bandwidth_limit(), 312_500);
    assert!(
        again.state.cache.window_open(noon()),
        "13:00 at +01:00 is inside 09:00-17:00"
    );
}

#[tokio::test]
async fn viewers_and_forged_requests_change_nothing() {
    let app = night_only_app().await;
    let vic = app.signed_in("vic").await;
    let html = app.page(&vic, "/caches").await;
    assert!(!html.contains("action=\"/caches/limits\""), "viewers get no form");
    let form = [("windows", ""), ("time_zone", "UTC"), ("bandwidth_mbps", "0")];
    assert_eq!(
        post(&app, &vic, "/caches/limits", &form).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&app, &vic, "/caches/limits/reset", &[]).await.0,
        StatusCode::FORBIDDEN
    );

    let max = app.signed_in("max").await;
    let res = max
        .post(app.url("/caches/limits"))
        .form(&[
            ("windows", ""),
            ("time_zone", "UTC"),
            ("bandwidth_mbps", "0"),
            ("csrf_token", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let anonymous = app
        .client
        .post(app.url("/caches/limits"))
        .form(&[("windows", "")])
        .send()
        .await
        .unwrap();
    assert!(anonymous.status().is_redirection() || anonymous.status() == StatusCode::FORBIDDEN);

    let limits = app.state.cache.download_limits();
    assert_eq!(limits.origin, LimitsOrigin::Config);
    assert_eq!(limits.windows, vec!["18:00-06:00"]);
    assert!(!app.state.cache.window_open(app.clock_now()));
}

#[tokio::test]
async fn bad_times_zones_and_rates_are_refused_with_the_reason_and_nothing_is_saved() {
    let app = night_only_app().await;
    let max = app.signed_in("max").await;
    let audits = app.audit_count().await;
    let long = "1".repeat(5_000);
    let cases: [(&str, &str, &str, &str); 9] = [
        ("25:00-06:00", "UTC", "10", "is not a window"),
        ("18:00-6", "UTC", "10", "is not a window"),
        ("<script>-06:00", "UTC", "10", "is not a window"),
        ("18:00-06:00", "Europe/Nowhere", "10", "is not a time zone"),
        ("18:00-06:00", "UTC", "-5", "cannot be negative"),
        ("18:00-06:00", "UTC", "lots", "is not a bandwidth"),
        ("18:00-06:00", "UTC", "1000000", "more than any link"),
        ("18:00-06:00", "UTC", "0.01", "too slow"),
        ("18:00-06:00", "UTC", &long, "far longer"),
    ];
    for (windows, zone, rate, reason) in cases {
        let form = [
            ("windows", windows),
            ("time_zone", zone),
            ("bandwidth_mbps", rate),
        ];
        let (status, html) = post(&app, &max, "/caches/limits", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{windows} {zone} {rate}");
        let text = visible(&html);
        assert!(
            text.contains("Download limits not saved") && text.contains(reason),
            "{windows} {zone} {rate}: {text}"
        );
        assert!(!html.contains("<script>-06:00"), "what was typed is escaped");
    }
    let limits = app.state.cache.download_limits();
    assert_eq!(limits.origin, LimitsOrigin::Config, "nothing was saved");
    assert_eq!(limits.windows, vec!["18:00-06:00"]);
    assert_eq!(app.state.cache.bandwidth_limit(), 0);
    assert_eq!(app.audit_count().await, audits);
    assert!(
        app.state
            .store
            .read(orchard::store::cache_limits::get)
            .await
            .unwrap()
            .is_none()
    );
}
