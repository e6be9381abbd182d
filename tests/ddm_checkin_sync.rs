//! The declarative sync made at check-in, over the real listener: a declaration change queues no
//! command, it pushes; when the device connects it is sent `DeclarativeManagement` with the
//! tokens current then, recorded as a sent command whose result is kept like any other's.

use crate::common::{EnrolledDevice, TestApp};
use crate::device_channel::{TOPIC, UDID, acknowledged, command, enroll_running, idle, put, rig};
use crate::mdm_support::{plist, s};

use std::time::Duration;

use orchard::mdm::ENROLLMENT_PRIORITY;
use orchard::protocol::Udid;
use orchard::protocol::commands::CommandRequest;
use orchard::protocol::ddm::management::{ManagementProperties, PropertyValue};
use orchard::protocol::ddm::{Declaration, DeclarationIdentifier};
use orchard::store::commands::{self as command_store, CommandRecord, CommandStatus};
use orchard::store::ddm as ddm_store;

const WAIT: Duration = Duration::from_secs(10);

fn site(value: &str) -> Declaration {
    Declaration::new(
        DeclarationIdentifier::parse("com.example.properties").unwrap(),
        &ManagementProperties([("site".to_string(), PropertyValue::Text(value.into()))].into()),
    )
    .unwrap()
}

async fn change(app: &TestApp, value: &str) {
    app.state
        .ddm
        .set_shared_declarations(vec![site(value)])
        .await
        .unwrap();
}

/// The command history of the device, newest first.
fn history(app: &TestApp, udid: &str) -> Vec<CommandRecord> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| command_store::history(c, &udid, 50))
        .unwrap()
}

fn syncs(app: &TestApp, udid: &str) -> Vec<CommandRecord> {
    history(app, udid)
        .into_iter()
        .filter(|c| c.request_type == "DeclarativeManagement")
        .collect()
}

/// The device's latest `DeclarationsToken` as the DDM store holds it.
fn latest_token(app: &TestApp, udid: &str) -> String {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| ddm_store::device(c, &udid))
        .unwrap()
        .unwrap()
        .latest_set
}

/// The `DeclarationsToken` in a `DeclarativeManagement` command's `Data`.
fn token_in(cmd: &plist::Dictionary) -> String {
    assert_eq!(cmd["RequestType"].as_string(), Some("DeclarativeManagement"));
    let data = cmd["Data"]
        .as_data()
        .expect("the command carries the sync tokens");
    let json: serde_json::Value = serde_json::from_slice(data).unwrap();
    json["SyncTokens"]["DeclarationsToken"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Connects with `Idle` and acknowledges every command until none is left; returns them as
/// (request type, the sync token for `DeclarativeManagement`). The policy engine first finishes
/// evaluating the enrollment (its worker would otherwise give the device its own set, a new
/// sync, at any moment of the test).
async fn drain(app: &TestApp, device: &EnrolledDevice) -> Vec<(String, Option<String>)> {
    app.state.policy_engine.run_queue().await.unwrap();
    let mut seen = Vec::new();
    let (status, mut body) = put(app, device, "/mdm/connect", idle(UDID)).await;
    assert_eq!(status, 200);
    while !body.is_empty() {
        let (uuid, cmd) = command(&body);
        let kind = cmd["RequestType"].as_string().unwrap().to_string();
        let token = (kind == "DeclarativeManagement").then(|| token_in(&cmd));
        seen.push((kind, token));
        body = put(app, device, "/mdm/connect", acknowledged(UDID, &uuid, vec![]))
            .await
            .1;
    }
    seen
}

#[tokio::test]
async fn a_due_device_is_sent_its_sync_with_the_current_tokens_once() {
    let rig = rig().await;
    let app = &rig.app;
    let device = enroll_running(app, UDID, &[1; 32], "18.6").await;
    rig.apns.wait_for(1, WAIT).await.unwrap();
    // Enrollment queued the inventory query only: the sync is made when the device connects.
    let queued: Vec<_> = history(app, UDID).into_iter().map(|c| c.request_type).collect();
    assert_eq!(queued, ["DeviceInformation"]);

    let (_, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    let (uuid, cmd) = command(&body);
    assert_eq!(cmd["RequestType"].as_string(), Some("DeviceInformation"));
    let (_, body) = put(app, &device, "/mdm/connect", acknowledged(UDID, &uuid, vec![])).await;
    let (sync_uuid, cmd) = command(&body);
    assert_eq!(token_in(&cmd), latest_token(app, UDID));
    let rows = syncs(app, UDID);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].uuid, sync_uuid);
    assert_eq!(rows[0].status, CommandStatus::Sent);
    assert_eq!(rows[0].priority, ENROLLMENT_PRIORITY);
    assert!(rows[0].sent_at.is_some());

    let (status, body) = put(
        app,
        &device,
        "/mdm/connect",
        acknowledged(UDID, &sync_uuid, vec![]),
    )
    .await;
    assert_eq!((status, body.len()), (200, 0), "nothing more after Acknowledged");
    assert_eq!(syncs(app, UDID)[0].status, CommandStatus::Acknowledged);
    assert!(drain(app, &device).await.is_empty());
    assert_eq!(syncs(app, UDID).len(), 1);
}

#[tokio::test]
async fn two_changes_before_a_check_in_give_one_command_with_the_latest_tokens() {
    let rig = rig().await;
    let app = &rig.app;
    let device = enroll_running(app, UDID, &[2; 32], "18.6").await;
    drain(app, &device).await;
    let pushed = rig.apns.wait_for(1, WAIT).await.unwrap().len();

    change(app, "north").await;
    let first = latest_token(app, UDID);
    change(app, "south").await;
    let latest = latest_token(app, UDID);
    assert_ne!(first, latest);
    rig.apns.wait_for(pushed + 1, WAIT).await.unwrap();
    assert_eq!(syncs(app, UDID).len(), 1, "a change queues no command");

    let seen = drain(app, &device).await;
    assert_eq!(
        seen,
        [("DeclarativeManagement".to_string(), Some(latest))],
        "one command, with the latest tokens"
    );
    assert_eq!(syncs(app, UDID).len(), 2);
}

#[tokio::test]
async fn a_sync_without_a_result_is_sent_again_and_not_now_holds_it_until_a_push() {
    let rig = rig().await;
    let app = &rig.app;
    let device = enroll_running(app, UDID, &[3; 32], "18.6").await;
    drain(app, &device).await;
    change(app, "north").await;

    let (_, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    let (uuid, cmd) = command(&body);
    let token = token_in(&cmd);
    // The answer never came (the connection dropped): the same command comes again.
    let (_, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    let (again, cmd) = command(&body);
    assert_eq!((again.as_str(), token_in(&cmd)), (uuid.as_str(), token.clone()));

    // NotNow: held (not sent in this connection), recorded, and sent again after a push.
    let not_now = plist(&[
        ("UDID", s(UDID)),
        ("Status", s("NotNow")),
        ("CommandUUID", s(&uuid)),
    ]);
    let (status, body) = put(app, &device, "/mdm/connect", not_now).await;
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(syncs(app, UDID)[0].status, CommandStatus::NotNow);
    app.state.mdm.mark_pushed(&Udid::parse(UDID).unwrap()).unwrap();
    let (_, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    assert_eq!(command(&body).0, uuid);
    assert_eq!(syncs(app, UDID).len(), 2, "the enrollment sync and this one");
}

#[tokio::test]
async fn a_device_not_enrolled_is_sent_nothing() {
    let rig = rig().await;
    let app = &rig.app;
    let device = enroll_running(app, UDID, &[4; 32], "18.6").await;
    drain(app, &device).await;
    // A new enrollment begins (Authenticate) but has no TokenUpdate yet; a change makes the
    // device's set move meanwhile.
    let authenticate = plist(&[
        ("MessageType", s("Authenticate")),
        ("UDID", s(UDID)),
        ("Topic", s(TOPIC)),
    ]);
    assert_eq!(put(app, &device, "/mdm/checkin", authenticate).await.0, 200);
    change(app, "north").await;
    let before = syncs(app, UDID).len();
    let (status, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    assert_eq!((status, body.len()), (200, 0), "not enrolled: nothing is sent");
    assert_eq!(syncs(app, UDID).len(), before, "no command made");

    // Checked out: nothing either.
    let checkout = plist(&[("MessageType", s("CheckOut")), ("UDID", s(UDID))]);
    assert_eq!(put(app, &device, "/mdm/checkin", checkout).await.0, 200);
    change(app, "south").await;
    let (_, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    assert!(body.is_empty());
    assert_eq!(syncs(app, UDID).len(), before, "no command made");
}

#[tokio::test]
async fn a_higher_priority_command_goes_first_and_the_sync_wins_a_tie() {
    let rig = rig().await;
    let app = &rig.app;
    let device = enroll_running(app, UDID, &[5; 32], "18.6").await;
    drain(app, &device).await;
    let udid = Udid::parse(UDID).unwrap();
    let mdm = app.state.mdm.clone();
    let enqueue = |priority: i64| {
        mdm.enqueue(&udid, CommandRequest::device_information_for_updates(), priority)
            .unwrap()
    };

    enqueue(ENROLLMENT_PRIORITY + 10);
    change(app, "north").await;
    let kinds: Vec<String> = drain(app, &device).await.into_iter().map(|k| k.0).collect();
    assert_eq!(kinds, ["DeviceInformation", "DeclarativeManagement"]);

    enqueue(ENROLLMENT_PRIORITY);
    change(app, "south").await;
    let kinds: Vec<String> = drain(app, &device).await.into_iter().map(|k| k.0).collect();
    assert_eq!(kinds, ["DeclarativeManagement", "DeviceInformation"]);
}

#[tokio::test]
async fn an_idle_device_seen_a_moment_ago_is_sent_its_due_sync() {
    let rig = rig().await;
    let app = &rig.app;
    let device = enroll_running(app, UDID, &[6; 32], "18.6").await;
    drain(app, &device).await;
    // Seen within the minute and nothing queued: the idle fast path answers.
    let (status, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    assert_eq!((status, body.len()), (200, 0));
    change(app, "north").await;
    let (_, body) = put(app, &device, "/mdm/connect", idle(UDID)).await;
    assert!(!body.is_empty(), "the due sync is news to the idle path");
    assert_eq!(token_in(&command(&body).1), latest_token(app, UDID));
}

#[tokio::test]
async fn a_re_enrolled_device_gets_its_sync_again_though_its_set_did_not_change() {
    let rig = rig().await;
    let app = &rig.app;
    let device = enroll_running(app, UDID, &[7; 32], "18.6").await;
    let first = drain(app, &device).await;
    let token = first
        .iter()
        .find_map(|(_, t)| t.clone())
        .expect("synced at enrollment");

    let device = enroll_running(app, UDID, &[7; 32], "18.6").await;
    assert_eq!(latest_token(app, UDID), token, "the same set");
    let again = drain(app, &device).await;
    assert_eq!(
        again,
        [
            ("DeviceInformation".to_string(), None),
            ("DeclarativeManagement".to_string(), Some(token))
        ]
    );
}
