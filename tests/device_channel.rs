//! The assembled device channel over the real listener: a device enrolled by SCEP signs its
//! check-ins, the appliance pushes it through a fake APNs (real HTTP/2 over TLS), the command
//! queue hands it DeviceInformation, then DeclarativeManagement with its sync tokens (made at its
//! check-in), the DDM endpoints answer through the check-in, and a status report updates the
//! inventory.

use crate::common::{self, EnrolledDevice, TestApp};
use crate::mdm_support::{plist, s};

use std::time::Duration;

use orchard::protocol::ddm::management::{ManagementProperties, PropertyValue};
use orchard::protocol::ddm::{Declaration, DeclarationIdentifier};
use orchard::sim::fake_apns::FakeApns;
use plist::{Dictionary, Value};

const SITE: &str = "device-channel-challenge";
pub(crate) const TOPIC: &str = "com.apple.mgmt.External.5b1a2e3c-7d0f-4c55-9a9e-0f1d2c3b4a59";
pub(crate) const UDID: &str = "0000FE00-3C1B4A2D5E6F7081";
const WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Rig {
    pub app: TestApp,
    pub apns: FakeApns,
}

pub(crate) async fn rig() -> Rig {
    let (app, apns) = common::spawn_app_with_fake_apns(|c| {
        c.security.scep_challenge = orchard::config::Secret::new(SITE);
        c.apns.coalesce_millis = 200;
        c.apns.retry_base_millis = 10;
    })
    .await;
    common::import_push_certificate(&app, &apns, TOPIC);
    Rig { app, apns }
}

/// Sends `body` to `path`, signed by `device` as a real device does (`Mdm-Signature`).
pub(crate) async fn put(app: &TestApp, device: &EnrolledDevice, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let signature = orchard::pki::scep_client::mdm_signature(&body, &device.cert, &device.key).unwrap();
    let res = app
        .client
        .put(app.url(path))
        .header("Mdm-Signature", signature)
        .header("content-type", "application/x-apple-aspen-mdm-checkin")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

async fn enroll(app: &TestApp, udid: &str, token: &[u8]) -> EnrolledDevice {
    enroll_running(app, udid, token, "18.6").await
}

pub(crate) async fn enroll_running(
    app: &TestApp,
    udid: &str,
    token: &[u8],
    os_version: &str,
) -> EnrolledDevice {
    let device = common::scep_enroll(app, SITE)
        .await
        .1
        .expect("SCEP issued a certificate");
    let auth = plist(&[
        ("MessageType", s("Authenticate")),
        ("UDID", s(udid)),
        ("Topic", s(TOPIC)),
        ("OSVersion", s(os_version)),
        ("BuildVersion", s("22G86")),
        ("ProductName", s("iPhone17,3")),
        ("SerialNumber", s("F2LZK0EXAMPLE")),
    ]);
    assert_eq!(put(app, &device, "/mdm/checkin", auth).await.0, 200);
    let token_update = plist(&[
        ("MessageType", s("TokenUpdate")),
        ("UDID", s(udid)),
        ("Topic", s(TOPIC)),
        ("Token", Value::Data(token.to_vec())),
        ("PushMagic", s("7C3E5B2A-0D4F-4E61-8A9B-1C2D3E4F5A6B")),
        ("AwaitingConfiguration", Value::Boolean(false)),
    ]);
    assert_eq!(put(app, &device, "/mdm/checkin", token_update).await.0, 200);
    device
}

pub(crate) fn command(body: &[u8]) -> (String, Dictionary) {
    let v = Value::from_reader_xml(body).unwrap();
    let d = v.as_dictionary().unwrap();
    let uuid = d["CommandUUID"].as_string().unwrap().to_string();
    (uuid, d["Command"].as_dictionary().unwrap().clone())
}

pub(crate) fn idle(udid: &str) -> Vec<u8> {
    plist(&[("UDID", s(udid)), ("Status", s("Idle"))])
}

pub(crate) fn acknowledged(udid: &str, uuid: &str, extra: Vec<(&str, Value)>) -> Vec<u8> {
    let mut pairs = vec![
        ("UDID", s(udid)),
        ("Status", s("Acknowledged")),
        ("CommandUUID", s(uuid)),
    ];
    pairs.extend(extra);
    plist(&pairs)
}

pub(crate) fn declarative(udid: &str, endpoint: &str, data: Option<&[u8]>) -> Vec<u8> {
    let mut pairs = vec![
        ("MessageType", s("DeclarativeManagement")),
        ("UDID", s(udid)),
        ("Endpoint", s(endpoint)),
    ];
    if let Some(data) = data {
        pairs.push(("Data", Value::Data(data.to_vec())));
    }
    plist(&pairs)
}

pub(crate) fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn an_enrolled_device_is_pushed_runs_its_commands_and_syncs_its_declarations() {
    let Rig { app, apns } = rig().await;
    let token = [0xA5u8; 32];
    let device = enroll(&app, UDID, &token).await;

    // One push for the enrollment burst (DeviceInformation + DeclarativeManagement), to the
    // device's token, with its PushMagic.
    let pushes = apns.wait_for(1, WAIT).await.unwrap();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].token, hex::encode(token));
    assert_eq!(pushes[0].topic.as_deref(), Some(TOPIC));
    assert_eq!(pushes[0].status, 200);
    let body = pushes[0].json().unwrap();
    assert_eq!(body["mdm"], "7C3E5B2A-0D4F-4E61-8A9B-1C2D3E4F5A6B");

    // DeviceInformation first; its result fills the inventory.
    let (status, body) = put(&app, &device, "/mdm/connect", idle(UDID)).await;
    assert_eq!(status, 200);
    let (uuid, cmd) = command(&body);
    assert_eq!(cmd["RequestType"].as_string(), Some("DeviceInformation"));
    let mut answers = Dictionary::new();
    answers.insert("OSVersion".into(), s("18.6"));
    answers.insert("SoftwareUpdateDeviceID".into(), s("iPhone17,3"));
    answers.insert("IsSupervised".into(), Value::Boolean(true));
    let result = acknowledged(UDID, &uuid, vec![("QueryResponses", Value::Dictionary(answers))]);
    let (status, body) = put(&app, &device, "/mdm/connect", result).await;
    assert_eq!(status, 200);

    // Then DeclarativeManagement carrying the device's sync tokens.
    let (uuid, cmd) = command(&body);
    assert_eq!(cmd["RequestType"].as_string(), Some("DeclarativeManagement"));
    let data = cmd["Data"]
        .as_data()
        .expect("the command carries the sync tokens");
    let announced = json(data)["SyncTokens"]["DeclarationsToken"].clone();
    let (status, body) = put(&app, &device, "/mdm/connect", acknowledged(UDID, &uuid, vec![])).await;
    assert_eq!((status, body.len()), (200, 0), "nothing else is queued");

    // The DDM endpoints through the check-in.
    let (status, body) = put(&app, &device, "/mdm/checkin", declarative(UDID, "tokens", None)).await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["SyncTokens"]["DeclarationsToken"], announced);
    let (status, body) = put(
        &app,
        &device,
        "/mdm/checkin",
        declarative(UDID, "declaration-items", None),
    )
    .await;
    assert_eq!(status, 200);
    let items = json(&body);
    assert_eq!(items["DeclarationsToken"], announced);
    // From enrollment on, the device is subscribed to the status update management reads.
    let listed = |class: &str| -> Vec<String> {
        items["Declarations"][class]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["Identifier"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        listed("Configurations"),
        vec![orchard::app::devices::STATUS_SUBSCRIPTION_ID]
    );
    assert_eq!(
        listed("Activations"),
        vec![orchard::app::devices::STATUS_ACTIVATION_ID]
    );
    let path = format!(
        "declaration/configuration/{}",
        orchard::app::devices::STATUS_SUBSCRIPTION_ID
    );
    let (status, body) = put(&app, &device, "/mdm/checkin", declarative(UDID, &path, None)).await;
    assert_eq!(status, 200);
    let subscription = json(&body);
    assert_eq!(
        subscription["Type"],
        "com.apple.configuration.management.status-subscriptions"
    );
    let names: Vec<&str> = subscription["Payload"]["StatusItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Name"].as_str().unwrap())
        .collect();
    for wanted in [
        "softwareupdate.install-state",
        "device.operating-system.version",
        "management.declarations",
    ] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }

    // A status report moves the inventory.
    let report = serde_json::json!({
        "StatusItems": {"device": {"operating-system": {"version": "18.7", "build-version": "22H20"}}},
        "Errors": []
    });
    let report = serde_json::to_vec(&report).unwrap();
    let (status, _) = put(
        &app,
        &device,
        "/mdm/checkin",
        declarative(UDID, "status", Some(&report)),
    )
    .await;
    assert_eq!(status, 204);
    let stored = app
        .state
        .store
        .read_blocking(|c| orchard::store::devices::get(c, UDID))
        .unwrap()
        .unwrap();
    assert_eq!(stored.inventory.os_version.as_deref(), Some("18.7"));
    assert_eq!(stored.inventory.build_version.as_deref(), Some("22H20"));
    assert_eq!(
        stored.inventory.software_update_device_id.as_deref(),
        Some("iPhone17,3")
    );
    assert_eq!(stored.inventory.is_supervised, Some(true));
    assert_eq!(stored.last_push_result.as_deref(), Some("delivered"));
}

#[tokio::test]
async fn a_declaration_change_pushes_each_device_once_and_it_is_sent_one_sync() {
    let Rig { app, apns } = rig().await;
    let phone = enroll(&app, UDID, &[1; 32]).await;
    let _pad = enroll(&app, "00008120-0011223344556677", &[2; 32]).await;
    apns.wait_for(2, WAIT).await.unwrap();

    let properties = Declaration::new(
        DeclarationIdentifier::parse("com.example.properties").unwrap(),
        &ManagementProperties([("site".to_string(), PropertyValue::Text("north".into()))].into()),
    )
    .unwrap();
    app.state
        .ddm
        .set_shared_declarations(vec![properties])
        .await
        .unwrap();
    let pushes = apns.wait_for(4, WAIT).await.unwrap();
    assert_eq!(pushes.len(), 4, "one more push per device");

    // The phone's queue: DeviceInformation, then one DeclarativeManagement with the newest
    // tokens (the sync due since enrollment and the change are one command, made now).
    let (_, body) = put(&app, &phone, "/mdm/connect", idle(UDID)).await;
    let (uuid, cmd) = command(&body);
    assert_eq!(cmd["RequestType"].as_string(), Some("DeviceInformation"));
    let (_, body) = put(&app, &phone, "/mdm/connect", acknowledged(UDID, &uuid, vec![])).await;
    let (uuid, cmd) = command(&body);
    assert_eq!(cmd["RequestType"].as_string(), Some("DeclarativeManagement"));
    let token = json(cmd["Data"].as_data().unwrap())["SyncTokens"]["DeclarationsToken"].clone();
    let (_, body) = put(&app, &phone, "/mdm/connect", acknowledged(UDID, &uuid, vec![])).await;
    assert!(body.is_empty(), "no second sync: the enrollment's was never made");
    let (_, body) = put(
        &app,
        &phone,
        "/mdm/checkin",
        declarative(UDID, "declaration-items", None),
    )
    .await;
    let items = json(&body);
    assert_eq!(items["DeclarationsToken"], token);
    assert!(
        items["Declarations"]["Management"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["Identifier"] == "com.example.properties"),
        "{items}"
    );
    let (status, body) = put(
        &app,
        &phone,
        "/mdm/checkin",
        declarative(UDID, "declaration/management/com.example.properties", None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["Payload"]["site"], "north");
}

#[tokio::test]
async fn bad_declarative_requests_are_refused_and_store_nothing() {
    let Rig { app, apns: _apns } = rig().await;
    let device = enroll(&app, UDID, &[3; 32]).await;
    let snapshot = |app: &TestApp| {
        app.state
            .store
            .read_blocking(|c| {
                let count =
                    |t: &str| c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0));
                Ok((count("ddm_status_items")?, count("ddm_status_history")?))
            })
            .unwrap()
    };
    let before = snapshot(&app);
    let huge = vec![b' '; 2 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "malformed status",
            declarative(UDID, "status", Some(b"{not json")),
            400,
        ),
        (
            "status over the limit",
            declarative(UDID, "status", Some(&huge)),
            413,
        ),
        (
            "dot-dot path",
            declarative(UDID, "declaration/configuration/../x", None),
            400,
        ),
        (
            "unknown class",
            declarative(UDID, "declaration/gadget/x", None),
            400,
        ),
        ("unknown endpoint", declarative(UDID, "everything", None), 400),
    ];
    for (what, body, want) in cases {
        let (status, reason) = put(&app, &device, "/mdm/checkin", body).await;
        assert_eq!(status, want, "{what}: {}", String::from_utf8_lossy(&reason));
    }
    assert_eq!(snapshot(&app), before);

    // A declaration this device does not have: 404, as Apple documents.
    let (status, _) = put(
        &app,
        &device,
        "/mdm/checkin",
        declarative(UDID, "declaration/configuration/com.example.absent", None),
    )
    .await;
    assert_eq!(status, 404);

    // Checked out: its DDM check-ins are refused.
    let checkout = plist(&[("MessageType", s("CheckOut")), ("UDID", s(UDID))]);
    assert_eq!(put(&app, &device, "/mdm/checkin", checkout).await.0, 200);
    let (status, _) = put(&app, &device, "/mdm/checkin", declarative(UDID, "tokens", None)).await;
    assert_eq!(status, 403);

    // Unsigned: no identity, nothing reaches the service.
    let res = app
        .client
        .put(app.url("/mdm/checkin"))
        .body(declarative(UDID, "tokens", None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_device_too_old_for_declarative_management_is_not_sent_the_command() {
    let Rig { app, apns: _apns } = rig().await;
    let device = enroll_running(&app, UDID, &[4; 32], "14.8").await;
    let (_, body) = put(&app, &device, "/mdm/connect", idle(UDID)).await;
    let (uuid, cmd) = command(&body);
    assert_eq!(cmd["RequestType"].as_string(), Some("DeviceInformation"));
    let (status, body) = put(&app, &device, "/mdm/connect", acknowledged(UDID, &uuid, vec![])).await;
    assert_eq!(
        (status, body.len()),
        (200, 0),
        "iOS 14 has no declarative management"
    );
}
