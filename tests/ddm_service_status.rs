//! The DDM status channel: the real macOS report, incremental and full reports, history only on
//! change, errors, declaration states on the device, inventory, and refused input.

use crate::ddm_fixture;

use chrono::Duration;
use ddm_fixture::*;
use orchard::ddm::{DeclarationCondition, StatusInventory};
use serde_json::{Value, json};

const MAC: &str = "0000FE00-5FADE97DCBBBEDA5";

async fn item(f: &Fixture, udid: &str, name: &str) -> Option<Value> {
    f.service
        .status_items(udid)
        .await
        .unwrap()
        .into_iter()
        .find(|item| item.name == name)
        .map(|item| item.value)
}

#[tokio::test]
async fn the_real_macos_13_report_is_ingested_and_feeds_the_inventory() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    let body = device_message("ddm-status.macos13.json");
    let answer = f.service.handle(MAC, "status", Some(&body)).await.unwrap();
    assert_eq!(answer.http_status(), 204);

    assert_eq!(
        item(&f, MAC, "device.operating-system.version").await,
        Some(json!("13.3.1"))
    );
    assert_eq!(
        item(&f, MAC, "device.operating-system.build-version").await,
        Some(json!("22E261"))
    );
    assert_eq!(
        item(&f, MAC, "device.operating-system.supplemental.extra-version").await,
        Some(json!("(a)"))
    );
    assert_eq!(item(&f, MAC, "device.model.family").await, Some(json!("Mac")));
    assert_eq!(
        item(&f, MAC, "device.identifier.serial-number").await,
        Some(json!("ZRMXJQTTFX"))
    );
    let capabilities = item(&f, MAC, "management.client-capabilities").await.unwrap();
    assert_eq!(capabilities["supported-versions"], json!(["1.0.0"]));

    let expected = StatusInventory {
        os_version: Some("13.3.1".into()),
        build_version: Some("22E261".into()),
        supplemental_extra_version: Some("(a)".into()),
        model_family: Some("Mac".into()),
        ..StatusInventory::default()
    };
    assert_eq!(
        *f.inventory.updates.lock().unwrap(),
        vec![(MAC.to_string(), expected.clone())]
    );
    assert_eq!(f.service.inventory(MAC).await.unwrap(), expected);

    // Its management.declarations arrays are empty: the assigned settings are still pending.
    let declarations = f.service.declarations_on_device(MAC).await.unwrap();
    assert_eq!(declarations.len(), 1);
    assert_eq!(declarations[0].identifier, "orchard.settings");
    assert_eq!(declarations[0].condition, DeclarationCondition::Pending);
    assert!(declarations[0].on_device.is_none());
    assert!(f.service.status_errors(MAC).await.unwrap().is_empty());
}

#[tokio::test]
async fn declaration_states_show_active_failed_and_whether_the_device_holds_the_latest_token() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    let assigned = vec![
        settings(true),
        enforcement("26.3", "2026-03-10T18:00:00"),
        activation(&["orchard.settings", "orchard.enforce"]),
    ];
    let latest_settings = assigned[0].server_token().to_string();
    let latest_activation = assigned[2].server_token().to_string();
    f.service.set_device_declarations(MAC, assigned).await.unwrap();
    let report = json!({
        "StatusItems": {"management": {"declarations": {
            "activations": [{"identifier": "orchard.activation", "server-token": latest_activation,
                             "active": true, "valid": "valid"}],
            "configurations": [
                {"identifier": "orchard.settings", "server-token": latest_settings,
                 "active": true, "valid": "valid"},
                {"identifier": "orchard.enforce", "server-token": "an-older-token",
                 "active": false, "valid": "invalid",
                 "reasons": [{"code": "Error.ConfigurationCannotBeApplied",
                              "description": "The target version is not newer than the installed one."}]},
                {"identifier": "orchard.gone", "server-token": "t", "active": true, "valid": "valid"}
            ],
            "assets": [], "management": []}}},
        "Errors": []
    });
    f.status(MAC, &report).await;
    let rows = f.service.declarations_on_device(MAC).await.unwrap();
    let row = |identifier: &str| rows.iter().find(|r| r.identifier == identifier).unwrap();
    assert_eq!(row("orchard.settings").condition, DeclarationCondition::Active);
    assert!(row("orchard.settings").holds_latest_token);
    assert_eq!(row("orchard.activation").condition, DeclarationCondition::Active);
    let enforce = row("orchard.enforce");
    assert_eq!(enforce.condition, DeclarationCondition::Failed);
    assert!(!enforce.holds_latest_token);
    let state = enforce.on_device.as_ref().unwrap();
    assert_eq!(state.valid, "invalid");
    assert_eq!(state.reasons[0].code, "Error.ConfigurationCannotBeApplied");
    assert_eq!(row("orchard.gone").condition, DeclarationCondition::Unassigned);

    // An incremental report carries only the changed element; the others keep their state.
    let latest_enforce = row("orchard.enforce").latest_server_token.clone().unwrap();
    let fixed = json!({
        "StatusItems": {"management": {"declarations": {"configurations": [
            {"identifier": "orchard.enforce", "server-token": latest_enforce, "active": true, "valid": "valid"}
        ]}}},
        "Errors": []
    });
    f.status(MAC, &fixed).await;
    let rows = f.service.declarations_on_device(MAC).await.unwrap();
    let row = |identifier: &str| rows.iter().find(|r| r.identifier == identifier).unwrap();
    assert_eq!(row("orchard.enforce").condition, DeclarationCondition::Active);
    assert!(row("orchard.enforce").holds_latest_token);
    assert_eq!(row("orchard.settings").condition, DeclarationCondition::Active);
    assert!(rows.iter().any(|r| r.identifier == "orchard.gone"));

    // A full report replaces them wholesale: orchard.gone is no longer on the device.
    let mut full = report.clone();
    full["FullReport"] = json!(true);
    full["StatusItems"]["management"]["declarations"]["configurations"]
        .as_array_mut()
        .unwrap()
        .pop();
    f.status(MAC, &full).await;
    let rows = f.service.declarations_on_device(MAC).await.unwrap();
    assert!(!rows.iter().any(|r| r.identifier == "orchard.gone"));
}

fn update_report(state: &str, full: bool) -> Value {
    json!({
        "StatusItems": {
            "device": {"operating-system": {"version": "26.2", "build-version": "25C56"}},
            "softwareupdate": {
                "install-state": state,
                "pending-version": {"os-version": "26.3", "build-version": "25D125"}
            }
        },
        "Errors": [],
        "FullReport": full
    })
}

#[tokio::test]
async fn incremental_reports_add_to_the_state_and_full_reports_replace_it() {
    let f = Fixture::new();
    f.status(MAC, &update_report("downloading", true)).await;
    f.clock.advance(Duration::minutes(10));
    let incremental = json!({
        "StatusItems": {"softwareupdate": {"install-state": "prepared"}},
        "Errors": [{"StatusItem": "softwareupdate.device-id",
                    "Reasons": [{"Code": "Error.NotSupported", "Description": "not on this device"}]}]
    });
    f.status(MAC, &incremental).await;
    assert_eq!(
        item(&f, MAC, "softwareupdate.install-state").await,
        Some(json!("prepared"))
    );
    assert_eq!(
        item(&f, MAC, "softwareupdate.pending-version").await,
        Some(json!({"os-version": "26.3", "build-version": "25D125"})),
        "an incremental report leaves other items alone"
    );
    let errors = f.service.status_errors(MAC).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].status_item, "softwareupdate.device-id");
    assert_eq!(errors[0].reasons[0].code, "Error.NotSupported");

    // The update installed: the full report has the new version and no softwareupdate items.
    f.clock.advance(Duration::hours(1));
    let full = json!({
        "StatusItems": {"device": {"operating-system": {"version": "26.3", "build-version": "25D125"}}},
        "Errors": [],
        "FullReport": true
    });
    f.status(MAC, &full).await;
    assert_eq!(item(&f, MAC, "softwareupdate.install-state").await, None);
    assert_eq!(item(&f, MAC, "softwareupdate.pending-version").await, None);
    assert!(f.service.status_errors(MAC).await.unwrap().is_empty());

    let installs = f.service.install_state_history(MAC, 100).await.unwrap();
    let states: Vec<(Option<Value>, Option<Value>)> = installs
        .iter()
        .filter(|c| c.name == "softwareupdate.install-state")
        .map(|c| (c.old.clone(), c.new.clone()))
        .collect();
    assert_eq!(
        states,
        vec![
            (None, Some(json!("downloading"))),
            (Some(json!("downloading")), Some(json!("prepared"))),
            (Some(json!("prepared")), None),
        ]
    );
    let versions: Vec<(Option<Value>, Option<Value>)> = f
        .service
        .os_version_history(MAC, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.name == "device.operating-system.version")
        .map(|c| (c.old, c.new))
        .collect();
    assert_eq!(
        versions,
        vec![
            (None, Some(json!("26.2"))),
            (Some(json!("26.2")), Some(json!("26.3")))
        ]
    );
    let inventory = f.inventory.updates.lock().unwrap().last().cloned().unwrap();
    assert_eq!(inventory.1.os_version.as_deref(), Some("26.3"));
    assert_eq!(inventory.1.build_version.as_deref(), Some("25D125"));
}

#[tokio::test]
async fn history_grows_only_when_a_value_changes() {
    let f = Fixture::new();
    f.status(MAC, &update_report("downloading", false)).await;
    let first = f.service.status_history(MAC, &[], 1000).await.unwrap();
    assert_eq!(first.len(), 4, "{first:?}");
    assert_eq!(f.inventory.updates.lock().unwrap().len(), 1);

    // The same values again, with the keys in another order: nothing new.
    f.clock.advance(Duration::hours(1));
    let reordered = json!({
        "FullReport": false,
        "Errors": [],
        "StatusItems": {
            "softwareupdate": {
                "pending-version": {"build-version": "25D125", "os-version": "26.3"},
                "install-state": "downloading"
            },
            "device": {"operating-system": {"build-version": "25C56", "version": "26.2"}}
        }
    });
    f.status(MAC, &reordered).await;
    f.status(MAC, &update_report("downloading", true)).await;
    assert_eq!(f.service.status_history(MAC, &[], 1000).await.unwrap(), first);
    assert_eq!(
        f.inventory.updates.lock().unwrap().len(),
        1,
        "the inventory did not change"
    );

    f.status(MAC, &update_report("prepared", false)).await;
    let after = f.service.status_history(MAC, &[], 1000).await.unwrap();
    assert_eq!(after.len(), 5);
    let last = after.last().unwrap();
    assert_eq!(last.name, "softwareupdate.install-state");
    assert_eq!(last.changed_at, f.clock_now());
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for Fixture {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use orchard::clock::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_a_4xx_and_stores_nothing() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    f.status(MAC, &update_report("downloading", true)).await;
    let before = f.dump();

    let mut oversized = br#"{"StatusItems": {}, "Errors": []}"#.to_vec();
    oversized.resize(1024 * 1024 + 1, b' ');
    let cases: Vec<(&str, &str, Option<Vec<u8>>, u16)> = vec![
        (
            "malformed status JSON",
            "status",
            Some(b"{\"StatusItems\": {".to_vec()),
            400,
        ),
        (
            "status that is not an object",
            "status",
            Some(b"[1, 2]".to_vec()),
            400,
        ),
        (
            "status without Errors",
            "status",
            Some(br#"{"StatusItems": {}}"#.to_vec()),
            400,
        ),
        (
            "status with a wrongly shaped item",
            "status",
            Some(br#"{"StatusItems": {"softwareupdate": {"install-state": 3}}, "Errors": []}"#.to_vec()),
            400,
        ),
        ("status without a body", "status", None, 400),
        ("status with an empty body", "status", Some(Vec::new()), 400),
        ("status over 1 MiB", "status", Some(oversized), 413),
        (
            "declaration path with ..",
            "declaration/configuration/..",
            None,
            400,
        ),
        (
            "declaration path climbing",
            "declaration/../orchard.settings",
            None,
            400,
        ),
        (
            "unknown declaration class",
            "declaration/profile/orchard.settings",
            None,
            400,
        ),
        (
            "declaration path with extra segments",
            "declaration/configuration/a/b",
            None,
            400,
        ),
        ("unknown endpoint", "configuration-items", None, 400),
        ("empty endpoint", "", None, 400),
    ];
    for udid in [MAC, "NEW-DEVICE-0001"] {
        for (what, endpoint, data, status) in &cases {
            let error = f
                .service
                .handle(udid, endpoint, data.as_deref())
                .await
                .expect_err(what);
            assert_eq!(error.http_status(), *status, "{what}: {error}");
            assert_eq!(f.dump(), before, "{what} stored something");
        }
    }
    let error = f.service.handle("", "tokens", None).await.unwrap_err();
    assert_eq!(error.http_status(), 400);
    assert_eq!(f.dump(), before);
}
