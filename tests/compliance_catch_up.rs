//! The minute catch-up re-assesses exactly the devices whose inputs changed since their last
//! assessment, so the stored states (and the devices list that filters on them) follow status
//! reports without the engine knowing about compliance.

use chrono::{Duration, SecondsFormat};
use orchard::store::ddm::status as status_rows;

use crate::api_support::one_device;
use crate::common;

#[tokio::test]
async fn a_status_report_after_the_last_assessment_brings_the_device_back_and_nothing_else() {
    let app = common::spawn_app().await;
    one_device(&app, "UDID-CATCH-1", "SCATCH1");
    one_device(&app, "UDID-CATCH-2", "SCATCH2");
    let compliance = app.state.compliance();

    assert_eq!(compliance.refresh_changed().await.unwrap(), 2, "never assessed");
    assert_eq!(
        compliance.refresh_changed().await.unwrap(),
        0,
        "nothing changed since"
    );
    let before = compliance.stored("UDID-CATCH-1").await.unwrap().unwrap();

    // A status report a minute later, stamped the way the DDM layer stamps it (milliseconds).
    app.clock.advance(Duration::minutes(1));
    let at = app.clock_now().to_rfc3339_opts(SecondsFormat::Millis, true);
    app.state
        .store
        .write_blocking(move |c| {
            status_rows::put_item(
                c,
                "UDID-CATCH-1",
                "softwareupdate.install-state",
                None,
                "\"downloading\"",
                &at,
            )
        })
        .unwrap();

    assert_eq!(
        compliance.refresh_changed().await.unwrap(),
        1,
        "only the reporting device"
    );
    let after = compliance.stored("UDID-CATCH-1").await.unwrap().unwrap();
    assert!(
        after.evaluated_at > before.evaluated_at,
        "{after:?} not newer than {before:?}"
    );
    assert_eq!(compliance.refresh_changed().await.unwrap(), 0, "caught up");
    app.stop().await;
}
