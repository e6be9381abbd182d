//! The simulator's DDM client and software-update model against the real DDM service (real SQLite
//! file, virtual clock): syncs fetch only what changed, deferral hides an update, enforcement
//! installs at the local deadline (with and without a passcode), bad targets and injected
//! failures are reported, and the server's inventory follows. Every report the simulator sends
//! goes through `DdmService::handle("status", ...)` and is checked against Apple's status schemas.

mod harness;
mod status_schema;

use orchard::ddm::DeclarationCondition;
use orchard::protocol::ddm::Platform;
use orchard::sim::ddm::{DeviceProfile, OfferedUpdate};

use crate::ddm_fixture::enforcement;
use harness::{Sim, at, catalog_18_4, iphone, settings_deferring};
use status_schema::check_reports;

#[tokio::test]
async fn a_device_syncs_then_fetches_only_what_changed() {
    let own = vec![settings_deferring(1), enforcement("18.4", "2026-03-10T18:00:00")];
    let mut sim = Sim::new(iphone("18.3", "22D63"), catalog_18_4(), own).await;
    let first = sim.deliver().await;
    assert!(first.changed);
    let mut fetched = first.fetched.clone();
    fetched.sort();
    assert_eq!(
        fetched,
        [
            "declaration/activation/orchard.activation",
            "declaration/configuration/orchard.enforce",
            "declaration/configuration/orchard.settings",
            "declaration/configuration/orchard.status",
        ]
    );
    assert!(
        first.report.as_ref().unwrap().full,
        "the first report is a full one"
    );
    let on_device = sim.f.service.declarations_on_device(&sim.udid).await.unwrap();
    assert_eq!(on_device.len(), 4);
    for declaration in &on_device {
        assert_eq!(
            declaration.condition,
            DeclarationCondition::Active,
            "{declaration:?}"
        );
        assert!(declaration.holds_latest_token);
    }

    // The same token again: nothing fetched, nothing to report.
    let again = sim.client.sync().await.unwrap();
    assert!(!again.changed && again.fetched.is_empty() && again.report.is_none());

    // A new deadline: only the enforcement is fetched, and only its state is reported.
    sim.f
        .service
        .set_device_declarations(
            &sim.udid,
            vec![settings_deferring(1), enforcement("18.4", "2026-03-11T18:00:00")],
        )
        .await
        .unwrap();
    let second = sim.deliver().await;
    assert_eq!(second.fetched, ["declaration/configuration/orchard.enforce"]);
    let report = second.report.unwrap();
    assert!(!report.full);
    assert_eq!(report.item_names, ["management.declarations.configurations"]);

    // The settings go away: nothing fetched, the device drops them.
    sim.f
        .service
        .set_device_declarations(&sim.udid, vec![enforcement("18.4", "2026-03-11T18:00:00")])
        .await
        .unwrap();
    let third = sim.deliver().await;
    assert!(third.fetched.is_empty());
    assert_eq!(third.removed, ["orchard.settings"]);
    assert!(!sim.client.held().contains_key("orchard.settings"));
    let token = sim
        .f
        .service
        .sync_view(&sim.udid)
        .await
        .unwrap()
        .unwrap()
        .latest_token;
    assert_eq!(sim.client.declarations_token(), Some(token.as_str()));
    check_reports(&sim);
}

#[tokio::test]
async fn the_update_stays_hidden_during_the_deferral() {
    // 18.4 posted 28 Feb 09:00, deferred 7 days: hidden until 7 March 09:00, the deadline is 4 March.
    let own = vec![settings_deferring(7), enforcement("18.4", "2026-03-04T18:00:00")];
    let mut sim = Sim::new(iphone("18.3", "22D63"), catalog_18_4(), own).await;
    sim.deliver().await;
    sim.advance_to(at(5, 12, 0)).await;
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("none".into())
    );
    assert_eq!(
        sim.server("softwareupdate.pending-version").await.unwrap()["os-version"],
        ""
    );
    assert_eq!(sim.server_version().await.as_deref(), Some("18.3"));
    sim.advance_to(at(7, 9, 5)).await;
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("downloading".into())
    );
    assert_eq!(
        sim.server("softwareupdate.pending-version").await.unwrap()["os-version"],
        "18.4"
    );
    check_reports(&sim);
}

#[tokio::test]
async fn an_iphone_with_a_passcode_installs_at_the_local_deadline_once_the_user_enters_it() {
    let mut profile = iphone("18.3", "22D63");
    profile.utc_offset_minutes = -5 * 60;
    // 18:00 at UTC-5 is 23:00 UTC.
    let own = vec![enforcement("18.4", "2026-03-03T18:00:00")];
    let mut sim = Sim::new(profile, catalog_18_4(), own).await;
    sim.deliver().await;
    sim.advance_to(at(3, 22, 59)).await;
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("prepared".into())
    );
    assert_eq!(
        sim.server("softwareupdate.install-reason").await,
        Some(serde_json::json!({"reason": ["declaration"], "declaration-id": "orchard.enforce"}))
    );
    sim.advance_to(at(3, 23, 30)).await;
    assert!(sim.client.model().awaiting_passcode());
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("prepared".into())
    );
    assert_eq!(sim.server_version().await.as_deref(), Some("18.3"));
    sim.advance_to(at(3, 23, 50)).await;
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("installing".into())
    );
    sim.advance_to(at(4, 0, 30)).await;
    assert_eq!(sim.server_version().await.as_deref(), Some("18.4"));
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("none".into())
    );
    let sink = sim.f.inventory.updates.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sink.0, sim.udid);
    assert_eq!(sink.1.os_version.as_deref(), Some("18.4"));
    assert_eq!(sink.1.build_version.as_deref(), Some("22E240"));
    check_reports(&sim);
}

#[tokio::test]
async fn an_apple_tv_installs_at_the_deadline_without_anyone() {
    let mut profile = DeviceProfile::new(Platform::TvOs, "00008110-00AA00BB00CC00DD", "18.4", "22L572");
    profile.utc_offset_minutes = 60;
    let catalog = vec![OfferedUpdate::new("18.5", "22L580", at(1, 0, 0))];
    // 03:00 at UTC+1 is 02:00 UTC.
    let own = vec![enforcement("18.5", "2026-03-03T03:00:00")];
    let mut sim = Sim::new(profile, catalog, own).await;
    sim.deliver().await;
    sim.advance_to(at(3, 1, 59)).await;
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("prepared".into())
    );
    sim.advance_to(at(3, 2, 1)).await;
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("installing".into())
    );
    sim.advance_to(at(3, 3, 0)).await;
    assert_eq!(sim.server_version().await.as_deref(), Some("18.5"));
    check_reports(&sim);
}

#[tokio::test]
async fn a_target_below_the_installed_version_is_reported_invalid() {
    let own = vec![enforcement("18.3", "2026-03-03T18:00:00")];
    let mut sim = Sim::new(iphone("18.4", "22E240"), catalog_18_4(), own).await;
    sim.deliver().await;
    let on_device = sim.f.service.declarations_on_device(&sim.udid).await.unwrap();
    let enforce = on_device
        .iter()
        .find(|d| d.identifier == "orchard.enforce")
        .unwrap();
    assert_eq!(enforce.condition, DeclarationCondition::Failed);
    let state = enforce.on_device.as_ref().unwrap();
    assert_eq!(state.valid, "invalid");
    assert!(!state.active);
    assert_eq!(state.reasons[0].code, "Error.ConfigurationCannotBeApplied");
    assert!(
        state.reasons[0]
            .description
            .as_ref()
            .unwrap()
            .contains("not newer")
    );
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("none".into())
    );
    check_reports(&sim);
}

#[tokio::test]
async fn injected_failures_are_reported_and_retried() {
    let mut profile = iphone("18.3", "22D63");
    profile.free_space_bytes = 1024 * 1024;
    profile.has_passcode = false;
    let own = vec![enforcement("18.4", "2026-03-03T18:00:00")];
    let mut sim = Sim::new(profile, catalog_18_4(), own).await;
    sim.deliver().await;
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("failed".into())
    );
    let failure = sim.server("softwareupdate.failure-reason").await.unwrap();
    assert_eq!(failure["count"], 1);
    assert!(failure["reason"].as_str().unwrap().contains("space"), "{failure}");

    sim.client.model_mut().device_mut().free_space_bytes = 100 << 30;
    sim.client.model_mut().fail_downloads(1);
    sim.advance_to(at(1, 10, 30)).await;
    let failure = sim.server("softwareupdate.failure-reason").await.unwrap();
    assert_eq!(failure["count"], 2);
    assert!(
        failure["reason"].as_str().unwrap().contains("downloaded"),
        "{failure}"
    );

    sim.client.model_mut().postpone_installs(1);
    sim.advance_to(at(3, 18, 10)).await;
    let failure = sim.server("softwareupdate.failure-reason").await.unwrap();
    assert_eq!(failure["count"], 3);
    assert!(
        failure["reason"].as_str().unwrap().contains("postponed"),
        "{failure}"
    );
    assert_eq!(
        sim.server("softwareupdate.install-state").await,
        Some("prepared".into())
    );
    sim.advance_to(at(3, 20, 0)).await;
    assert_eq!(sim.server_version().await.as_deref(), Some("18.4"));
    assert_eq!(
        sim.server("softwareupdate.failure-reason").await,
        Some(serde_json::json!({"count": 0}))
    );
    check_reports(&sim);
}

#[tokio::test]
async fn reports_are_incremental_with_a_full_one_each_day() {
    let own = vec![enforcement("18.4", "2026-03-10T18:00:00")];
    let mut sim = Sim::new(iphone("18.3", "22D63"), catalog_18_4(), own).await;
    assert!(sim.deliver().await.report.unwrap().full);
    sim.f.clock.set(at(1, 10, 0));
    let prepared = sim.client.advance().await.unwrap().unwrap();
    assert!(!prepared.full);
    assert_eq!(prepared.item_names, ["softwareupdate.install-state"]);
    sim.f.clock.set(at(1, 12, 0));
    assert_eq!(sim.client.advance().await.unwrap(), None, "nothing changed");
    sim.f.clock.set(at(2, 9, 0));
    let daily = sim.client.advance().await.unwrap().unwrap();
    assert!(daily.full);
    assert!(daily.item_names.len() >= 6, "{:?}", daily.item_names);
    let reports = sim.transport.reports.lock().unwrap().clone();
    for report in &reports {
        let items = &report["StatusItems"];
        assert!(
            items["device"].get("model").is_none(),
            "device.model.* is not subscribed"
        );
        assert!(items["device"].get("identifier").is_none());
    }
    check_reports(&sim);
}
