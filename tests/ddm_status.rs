//! Status reports: the real macOS 13 report, a software-update report, and bad input.

use crate::schema;

use orchard::protocol::ddm::status::{InstallReasonCode, InstallState, Validity};
use orchard::protocol::ddm::{DeclarationClass, StatusReport, StatusReportError};
use serde_json::json;

#[test]
fn the_real_macos_13_report_is_read() {
    let path = schema::reference_root().join("device-messages/ddm-status.macos13.json");
    let body = std::fs::read(&path).unwrap();
    let report = StatusReport::parse(&body).unwrap();

    assert!(!report.full_report, "FullReport absent means incremental");
    assert!(report.errors.is_empty());
    let os = &report.update.operating_system;
    assert_eq!(os.version.as_deref(), Some("13.3.1"));
    assert_eq!(os.build_version.as_deref(), Some("22E261"));
    assert_eq!(os.family.as_deref(), Some("macOS"));
    assert_eq!(os.supplemental_extra_version.as_deref(), Some("(a)"));
    assert_eq!(report.update.model.family.as_deref(), Some("Mac"));
    assert_eq!(
        report.item("device.identifier.serial-number"),
        Some(&json!("ZRMXJQTTFX"))
    );
    assert_eq!(
        report.item("device.identifier.udid"),
        Some(&json!("0000FE00-5FADE97DCBBBEDA5"))
    );
    assert!(
        report.update.install_state.is_none(),
        "macOS 13 has no software-update items"
    );
    assert!(report.declarations.is_empty());

    // Every leaf is there once, with its dotted name; the capabilities stay one dictionary item.
    let names: Vec<&str> = report.items.iter().map(|item| item.name.as_str()).collect();
    for expected in [
        "management.declarations.activations",
        "management.declarations.configurations",
        "management.declarations.assets",
        "management.declarations.management",
        "management.client-capabilities",
        "device.operating-system.supplemental.extra-version",
    ] {
        assert_eq!(
            names.iter().filter(|name| **name == expected).count(),
            1,
            "{expected} in {names:?}"
        );
    }
    assert_eq!(names.len(), 12, "{names:?}");
    let capabilities = report.item("management.client-capabilities").unwrap();
    assert_eq!(capabilities["supported-versions"], json!(["1.0.0"]));
    assert!(report.items.iter().all(|item| item.known.is_some()));
}

fn update_report() -> serde_json::Value {
    json!({
        "StatusItems": {
            "softwareupdate": {
                "install-state": "prepared",
                "pending-version": {"os-version": "18.4", "build-version": "22E240",
                                    "target-local-date-time": "2026-04-01T22:00:00"},
                "failure-reason": {"count": 1, "reason": "Not enough space", "timestamp": "2026-03-30T10:00:00Z"},
                "install-reason": {"reason": ["declaration", "overnight-magic"], "declaration-id": "orchard.enforce"},
                "beta-enrollment": "",
                "device-id": "J413AP",
                "brand-new-item": {"x": 1}
            },
            "device": {"operating-system": {"version": "18.3.2", "build-version": "22D82",
                                            "supplemental": {"build-version": "22D82", "extra-version": ""},
                                            "marketing-name": "iOS 18"},
                       "model": {"identifier": "iPhone15,2", "number": "MQ9T3", "marketing-name": "iPhone 14 Pro"}},
            "management": {"declarations": {
                "configurations": [
                    {"identifier": "orchard.enforce", "server-token": "abc", "active": true, "valid": "valid"},
                    {"identifier": "orchard.settings", "server-token": "def", "active": false, "valid": "invalid",
                     "reasons": [{"code": "Error.ConfigurationCannotBeApplied", "description": "no",
                                  "details": {"Error": "bad"}}]}
                ],
                "activations": [
                    {"identifier": "orchard.activation", "server-token": "ghi", "active": true, "valid": "unknown"}
                ]
            }}
        },
        "Errors": [{"StatusItem": "softwareupdate.beta-enrollment",
                    "Reasons": [{"Code": "Error.Unavailable", "Description": "not now", "Details": {"a": 1}}]}],
        "FullReport": true
    })
}

#[test]
fn software_update_items_are_typed_and_unknown_items_kept() {
    let report = StatusReport::parse(update_report().to_string().as_bytes()).unwrap();
    assert!(report.full_report);
    let update = &report.update;
    assert_eq!(update.install_state, Some(InstallState::Prepared));
    let pending = update.pending_version.as_ref().unwrap();
    assert_eq!(
        (pending.os_version.as_str(), pending.build_version.as_str()),
        ("18.4", "22E240")
    );
    assert_eq!(
        pending.target_local_date_time.as_deref(),
        Some("2026-04-01T22:00:00")
    );
    assert!(pending.is_pending());
    let failure = update.failure_reason.as_ref().unwrap();
    assert_eq!(
        (failure.count, failure.reason.as_deref()),
        (1, Some("Not enough space"))
    );
    let reason = update.install_reason.as_ref().unwrap();
    assert_eq!(reason.reason[0], InstallReasonCode::Declaration);
    assert_eq!(
        reason.reason[1],
        InstallReasonCode::Other("overnight-magic".into())
    );
    assert_eq!(reason.declaration_id.as_deref(), Some("orchard.enforce"));
    assert_eq!(update.beta_enrollment.as_deref(), Some(""));
    assert_eq!(update.device_id.as_deref(), Some("J413AP"));
    assert_eq!(
        update.operating_system.supplemental_build_version.as_deref(),
        Some("22D82")
    );
    assert_eq!(update.model.identifier.as_deref(), Some("iPhone15,2"));
    assert_eq!(update.model.number.as_deref(), Some("MQ9T3"));

    let unknown = report
        .items
        .iter()
        .find(|item| item.name == "softwareupdate.brand-new-item.x")
        .unwrap();
    assert!(unknown.known.is_none());
    assert_eq!(unknown.value, json!(1));

    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].status_item, "softwareupdate.beta-enrollment");
    assert_eq!(report.errors[0].reasons[0].code, "Error.Unavailable");
    assert_eq!(
        report.errors[0].reasons[0].details.as_ref().unwrap()["a"],
        json!(1)
    );

    assert_eq!(report.declarations.len(), 3);
    let settings = report
        .declarations
        .iter()
        .find(|d| d.identifier == "orchard.settings")
        .unwrap();
    assert_eq!(settings.class, DeclarationClass::Configuration);
    assert_eq!(
        (settings.active, &settings.valid, settings.server_token.as_str()),
        (false, &Validity::Invalid, "def")
    );
    assert_eq!(settings.reasons[0].code, "Error.ConfigurationCannotBeApplied");
    assert_eq!(
        settings.reasons[0].details.as_ref().unwrap()["Error"],
        json!("bad")
    );
    let activation = report
        .declarations
        .iter()
        .find(|d| d.class == DeclarationClass::Activation)
        .unwrap();
    assert_eq!(activation.valid, Validity::Unknown);
}

#[test]
fn an_incremental_report_with_one_item_is_read() {
    let body = br#"{"StatusItems":{"softwareupdate":{"install-state":"downloading"}},"Errors":[]}"#;
    let report = StatusReport::parse(body).unwrap();
    assert_eq!(report.items.len(), 1);
    assert_eq!(report.items[0].name, "softwareupdate.install-state");
    assert_eq!(report.update.install_state, Some(InstallState::Downloading));
    let later =
        StatusReport::parse(br#"{"StatusItems":{"softwareupdate":{"install-state":"paused"}},"Errors":[]}"#);
    assert_eq!(
        later.unwrap().update.install_state,
        Some(InstallState::Other("paused".into()))
    );
}

fn shape_error(body: serde_json::Value) -> StatusReportError {
    StatusReport::parse(body.to_string().as_bytes()).unwrap_err()
}

#[test]
fn malformed_and_wrongly_shaped_reports_are_refused_with_a_typed_error() {
    assert!(matches!(
        StatusReport::parse(b"{\"StatusItems\": {"),
        Err(StatusReportError::Json(_))
    ));
    assert!(matches!(
        StatusReport::parse(b""),
        Err(StatusReportError::Json(_))
    ));
    assert_eq!(
        StatusReport::parse(b"[]").unwrap_err(),
        StatusReportError::NotAnObject
    );
    assert_eq!(
        shape_error(json!({"Errors": []})),
        StatusReportError::Missing("StatusItems")
    );
    assert_eq!(
        shape_error(json!({"StatusItems": {}})),
        StatusReportError::Missing("Errors")
    );
    let wrong = |path: &str| StatusReportError::WrongShape {
        path: path.into(),
        expected: "",
    };
    let same_path = |error: StatusReportError, expected: StatusReportError| match (error, expected) {
        (StatusReportError::WrongShape { path: a, .. }, StatusReportError::WrongShape { path: b, .. }) => {
            a == b
        }
        _ => false,
    };
    let cases = [
        (json!({"StatusItems": [], "Errors": []}), "StatusItems"),
        (json!({"StatusItems": {}, "Errors": {}}), "Errors"),
        (
            json!({"StatusItems": {}, "Errors": [], "FullReport": "yes"}),
            "FullReport",
        ),
        (
            json!({"StatusItems": {"softwareupdate": {"install-state": 3}}, "Errors": []}),
            "softwareupdate.install-state",
        ),
        (
            json!({"StatusItems": {"softwareupdate": "x"}, "Errors": []}),
            "softwareupdate",
        ),
        (
            json!({"StatusItems": {"softwareupdate": {"pending-version": {"os-version": 18}}}, "Errors": []}),
            "softwareupdate.pending-version",
        ),
        (
            json!({"StatusItems": {"softwareupdate": {"failure-reason": {"count": "one"}}}, "Errors": []}),
            "softwareupdate.failure-reason",
        ),
        (
            json!({"StatusItems": {"management": {"declarations": {"configurations": [{"identifier": "x"}]}}},
                   "Errors": []}),
            "management.declarations.configurations",
        ),
        (
            json!({"StatusItems": {"device": {"model": {"family": ["Mac"]}}}, "Errors": []}),
            "device.model.family",
        ),
        (json!({"StatusItems": {}, "Errors": [{"Reasons": []}]}), "Errors"),
    ];
    for (body, path) in cases {
        let error = shape_error(body.clone());
        assert!(same_path(error.clone(), wrong(path)), "{body}: {error:?}");
    }
}

#[test]
fn a_report_with_absurdly_many_items_is_refused() {
    let mut items = serde_json::Map::new();
    for index in 0..10_001 {
        items.insert(format!("x{index}"), json!(index));
    }
    let body = json!({"StatusItems": {"vendor": items}, "Errors": []});
    assert_eq!(shape_error(body), StatusReportError::TooManyItems);
}
