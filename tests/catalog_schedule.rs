//! The housekeeping scheduler and cross-process catalog changes.

use crate::common;

use common::*;

#[tokio::test]
async fn a_bad_refresh_schedule_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.catalog.refresh_schedule = "every day at noon".into();
    let state = orchard::app::prepare(config, std::sync::Arc::new(orchard::clock::SystemClock)).unwrap();
    let err = orchard::app::start(state)
        .err()
        .expect("start refuses")
        .to_string();
    assert!(
        err.contains("every day at noon") && err.contains("catalog refresh"),
        "{err}"
    );
}

#[tokio::test]
async fn an_import_by_another_process_is_picked_up_by_the_running_service() {
    let app = spawn_app().await;
    assert!(!app.state.catalog.health().has_catalog);
    // A second service on the same database stands in for `orchard catalog import`.
    let other = orchard::catalog::CatalogService::load(
        app.state.store.clone(),
        app.state.clock.clone(),
        app.state.config.catalog.clone(),
    )
    .unwrap();
    let gdmf = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json").to_vec();
    let catalog = app.state.catalog.clone();
    tokio::task::spawn_blocking(move || {
        other
            .import_documents(vec![("pmv.json".into(), gdmf)], &mut |_| {})
            .unwrap();
        assert!(catalog.reload_if_changed().unwrap());
        assert!(
            !catalog.reload_if_changed().unwrap(),
            "nothing changed the second time"
        );
    })
    .await
    .unwrap();
    assert!(app.state.catalog.health().has_catalog);
    app.stop().await;
}
