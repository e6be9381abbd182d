//! The cache follows the policies: the macOS release a policy enforces on a Mac is kept from
//! eviction as long as a plan needs it, and its installer is queued for download once the
//! deadline is within `cache.prefetch_days_ahead` days; iPhone targets have nothing to host.

use crate::cache_support::{payload, sha256_hex};
use crate::common::{self, TestApp};
use crate::policy_support::policy;
use crate::policy_ui_support::{MAC, PHONE, enroll_device};

use chrono::{NaiveTime, TimeZone, Utc};
use orchard::admin::Actor;
use orchard::app::prefetch::prefetch_policy_targets;
use orchard::cache::{Digest, PayloadKind, Target};
use orchard::catalog::index::CatalogIndex;
use orchard::policy::service::Assignments;
use orchard::policy::{Enforcement, RollingWindow};
use orchard::protocol::ddm::Platform;

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const SOFA_MAC: &[u8] = include_bytes!("data/catalog-samples/sofa-v2-macos_data_feed.json");

/// A Mac and an iPhone on 26.1 under a policy enforcing each release within a week, the
/// catalog of 2026-04-12 (macOS 26.4.1, build 25E253, posted 2026-04-09), on 2026-04-14.
async fn app() -> TestApp {
    let app = common::spawn_app_with(tempfile::tempdir().unwrap(), |c| {
        // Downloads may run only at night: nothing reaches Apple's CDN from a test.
        c.cache.allowed_windows = vec!["02:00-03:00".into()];
        c.cache.window_time_zone = "UTC".into();
        c.cache.prefetch_days_ahead = 1;
        c.cache.quota_bytes = 3000;
    })
    .await;
    app.clock.set(Utc.with_ymd_and_hms(2026, 4, 14, 8, 0, 0).unwrap());
    app.state
        .catalog
        .import_documents(
            vec![
                ("pmv.json".into(), GDMF.to_vec()),
                ("macos.json".into(), SOFA_MAC.to_vec()),
            ],
            &mut |_| {},
        )
        .unwrap();
    enroll_device(&app, MAC, "Mac14,9", "26.1", "MAC1");
    enroll_device(&app, PHONE, "iPhone14,2", "26.1", "PHONE1");
    let weekly = policy(
        "weekly",
        &[Platform::MacOs, Platform::Ios],
        Enforcement::Rolling {
            within: RollingWindow::OneWeek,
            at: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        },
    );
    let assignments = Assignments {
        groups: Vec::new(),
        devices: vec![MAC.into(), PHONE.into()],
    };
    app.state
        .policies
        .save_policy(None, weekly, assignments, &Actor::cli())
        .await
        .unwrap();
    evaluate(&app).await;
    app
}

async fn evaluate(app: &TestApp) {
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
}

/// Imports a file of `len` bytes (first byte `seed`) as a payload of `target`.
async fn import(app: &TestApp, target: Target, len: usize, seed: u8) -> Digest {
    let file = app.dir.path().join(format!("{}-{seed}.bin", target.build));
    let mut data = payload(len);
    data[0] = seed;
    std::fs::write(&file, &data).unwrap();
    app.clock.advance(chrono::Duration::minutes(1));
    app.state
        .cache
        .import_file(&file, &CatalogIndex::default(), Some(target))
        .await
        .unwrap();
    Digest::parse(&sha256_hex(&data)).unwrap()
}

fn mac_target(kind: PayloadKind, version: &str, build: &str) -> Target {
    Target {
        kind,
        platform: "macOS".into(),
        version: version.into(),
        build: build.into(),
        filename: format!("{build}.pkg"),
    }
}

#[tokio::test]
async fn the_macs_target_installer_is_queued_when_its_deadline_is_near_and_only_once() {
    let app = app().await;
    // The deadline (2026-04-16 18:00) is more than a day away: known, not fetched yet.
    let report = prefetch_policy_targets(&app.state).await.unwrap();
    assert_eq!((report.targets, report.due, report.queued), (1, 0, 0));
    let targets = app.state.cache.policy_targets().await.unwrap();
    assert_eq!(
        targets.len(),
        1,
        "the iPhone's target has nothing to host: {targets:?}"
    );
    assert_eq!(
        (
            targets[0].version.as_str(),
            targets[0].build.as_str(),
            targets[0].devices
        ),
        ("26.4.1", "25E253", 1)
    );
    assert_eq!(
        targets[0].earliest_deadline.as_deref(),
        Some("2026-04-16T18:00:00.000000Z")
    );
    assert!(app.state.cache.downloads(10).await.unwrap().is_empty());

    app.clock
        .set(Utc.with_ymd_and_hms(2026, 4, 15, 20, 0, 0).unwrap());
    let report = prefetch_policy_targets(&app.state).await.unwrap();
    assert_eq!((report.due, report.queued), (1, 1));
    let again = prefetch_policy_targets(&app.state).await.unwrap();
    assert_eq!(again.queued, 1, "the pending download is found again");
    let downloads = app.state.cache.downloads(10).await.unwrap();
    assert_eq!(downloads.len(), 1, "queued once: {downloads:?}");
    let d = &downloads[0];
    assert_eq!(
        (d.kind.as_str(), d.version.as_str(), d.build.as_str()),
        ("installer", "26.4.1", "25E253")
    );
    assert!(d.url.ends_with("/InstallAssistant.pkg"), "{}", d.url);
    assert_ne!(d.state, "done", "the download window is closed at 20:00");
    app.stop().await;
}

#[tokio::test]
async fn a_payload_a_plan_needs_is_not_evicted_until_no_plan_needs_it() {
    let app = app().await;
    prefetch_policy_targets(&app.state).await.unwrap();
    let needed = import(
        &app,
        mac_target(PayloadKind::Installer, "26.4.1", "25E253"),
        1000,
        1,
    )
    .await;
    let other = import(&app, mac_target(PayloadKind::Ipsw, "26.0", "25A354"), 1000, 2).await;
    let present = |d: &Digest| app.state.cache.files().exists(d);

    // 2,000 more bytes in a 3,000-byte quota: the least recently used payload the policies do
    // not need goes, although the needed one is older.
    let newer = import(&app, mac_target(PayloadKind::Ipsw, "26.1", "25B78"), 2000, 3).await;
    assert!(present(&needed), "the policy target survives");
    assert!(!present(&other), "the unneeded payload is evicted");
    assert!(present(&newer));
    app.create_admin("vic", orchard::admin::Role::Viewer).await;
    let viewer = app.signed_in("vic").await;
    let page = crate::ui_support::visible(&app.page(&viewer, "/caches").await);
    assert!(
        page.contains("macOS 26.4.1 (25E253) 1 2026-04-16 18:00 cached, kept from eviction"),
        "{page}"
    );

    // The policy goes: the next run forgets the target, and the payload may be evicted again.
    app.state
        .policies
        .delete_policy("weekly", &Actor::cli())
        .await
        .unwrap();
    evaluate(&app).await;
    let report = prefetch_policy_targets(&app.state).await.unwrap();
    assert_eq!(report.targets, 0);
    assert!(app.state.cache.policy_targets().await.unwrap().is_empty());
    let page = crate::ui_support::visible(&app.page(&viewer, "/caches").await);
    assert!(
        page.contains("No policy enforces a macOS release on any Mac."),
        "{page}"
    );
    let last = import(&app, mac_target(PayloadKind::Ipsw, "26.2", "25C56"), 2000, 4).await;
    assert!(
        !present(&needed),
        "no longer needed: evicted as the least recently used"
    );
    assert!(present(&last));
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_prefetch_kind_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.cache.prefetch_kinds = vec!["installer".into(), "ota".into()];
    let err = orchard::app::prepare(config, std::sync::Arc::new(orchard::clock::SystemClock))
        .err()
        .expect("prepare refuses")
        .to_string();
    assert!(
        err.contains("cache.prefetch_kinds") && err.contains("`ota`"),
        "{err}"
    );
}
