//! The commands an administrator may send to a device, through the one service method
//! (`MdmService::queue_admin_command`) that the device page and the API both call: only query
//! commands, only to enrolled devices, each audited with its actor; a refusal names its reason
//! (not a query command, unknown UDID, not enrolled) and stores nothing.

use orchard::admin::{Actor, Role};
use orchard::mdm::MdmError;
use serde_json::json;

use crate::api_support::{FakeDevice, get, insert_devices, post, token};
use crate::common::{self, TestApp};
use crate::ui_devices::commands_of;

const ENROLLED: &str = "00008110-00000000000000E1";
const UNENROLLED: &str = "00008110-00000000000000A2";
/// Well formed, never seen.
const UNKNOWN: &str = "00008110-0000000000000FFF";

async fn app_with_devices() -> TestApp {
    let app = common::spawn_app().await;
    let device = |udid: &str, enrolled| FakeDevice {
        udid: udid.into(),
        serial: format!("S{}", &udid[udid.len() - 3..]),
        name: "Phone".into(),
        product: "iPhone15,2",
        os: "17.5".into(),
        seen: app.clock_now(),
        enrolled,
    };
    let fleet = vec![device(ENROLLED, true), device(UNENROLLED, false)];
    insert_devices(&app, fleet);
    app
}

#[tokio::test]
async fn the_service_refuses_each_case_by_name_and_stores_nothing() {
    let app = app_with_devices().await;
    let before = (app.audit_count().await, commands_of(&app, ENROLLED));
    let mdm = app.state.mdm.clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        let cli = Actor::cli();
        [
            (ENROLLED, "RestartDevice"),
            ("not a udid!", "SecurityInfo"),
            (UNKNOWN, "SecurityInfo"),
            (UNENROLLED, "SecurityInfo"),
        ]
        .map(|(udid, command)| mdm.queue_admin_command(udid, command, &cli))
    })
    .await
    .unwrap();
    let [not_query, malformed, unknown, unenrolled] = outcomes;
    assert!(
        matches!(&not_query, Err(MdmError::NotAQueryCommand(name)) if name == "RestartDevice"),
        "{not_query:?}"
    );
    assert!(
        not_query
            .unwrap_err()
            .to_string()
            .contains("DeviceInformation, SecurityInfo"),
        "the message lists what may be sent"
    );
    assert!(matches!(malformed, Err(MdmError::InvalidUdid)), "{malformed:?}");
    assert!(
        matches!(&unknown, Err(MdmError::NoSuchDevice(u)) if u == UNKNOWN),
        "{unknown:?}"
    );
    assert!(
        matches!(&unenrolled, Err(MdmError::NotEnrolled(u)) if u == UNENROLLED),
        "{unenrolled:?}"
    );
    assert_eq!(
        (app.audit_count().await, commands_of(&app, ENROLLED)),
        before,
        "nothing stored, nothing audited"
    );
    assert!(commands_of(&app, UNENROLLED).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_api_and_the_page_answer_each_refusal_their_own_way() {
    let app = app_with_devices().await;
    let manager = token(&app, "fleet-bot", Role::Manager).await;
    let admin = token(&app, "root-bot", Role::Admin).await;
    let send = |udid: &str| format!("/api/v1/devices/{udid}/commands");
    let body = json!({ "command": "ProfileList" });
    let before = app.audit_count().await;

    let (status, answer) = post(&app, &manager, &send(UNKNOWN), &body).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, answer) = post(&app, &manager, &send(UNENROLLED), &body).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, answer) = post(
        &app,
        &manager,
        &send(ENROLLED),
        &json!({ "command": "EraseDevice" }),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["fields"][0]["field"], "command");
    assert_eq!(app.audit_count().await, before, "refusals are not audited");

    let (status, answer) = post(&app, &manager, &send(ENROLLED), &body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(commands_of(&app, ENROLLED)[0], "ProfileList");
    let (_, audit) = get(&app, &admin, "/api/v1/audit?limit=1").await;
    let entry = &audit["entries"][0];
    assert_eq!(
        (&entry["actor"], &entry["action"], &entry["target"]),
        (
            &json!("token:fleet-bot"),
            &json!("device.command"),
            &json!(ENROLLED)
        )
    );
    assert_eq!(
        entry["after"],
        json!({ "command": "ProfileList", "uuid": answer["uuid"] }),
        "the audit entry names the queued command"
    );

    // The device page: an unknown device is a 404 page, an unenrolled one a 409 that says why.
    app.create_admin("max", Role::Manager).await;
    let browser = app.signed_in("max").await;
    let html = app.page(&browser, &format!("/devices/{ENROLLED}")).await;
    let csrf = common::csrf_in(&html);
    for (udid, status, says) in [
        (UNKNOWN, 404, "No device with this UDID."),
        (UNENROLLED, 409, "This device is not enrolled"),
    ] {
        let res = browser
            .post(app.url(&format!("/devices/{udid}/commands")))
            .form(&[("csrf_token", csrf.as_str()), ("command", "SecurityInfo")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{udid}");
        assert!(res.text().await.unwrap().contains(says), "{udid}");
    }
    assert!(commands_of(&app, UNENROLLED).is_empty());
    app.stop().await;
}
