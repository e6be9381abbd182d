//! The command queue through the MDM service, against a real SQLite file and a virtual clock.

use crate::mdm_support;

use chrono::Duration;
use mdm_support::*;
use orchard::mdm::MdmError;
use orchard::protocol::commands::{CommandRequest, RestartOptions};
use orchard::store::commands::{self as command_store, CommandStatus};
use orchard::store::devices;
use plist::{Dictionary, Value};

fn query_responses(pairs: &[(&str, Value)]) -> Value {
    let mut d = Dictionary::new();
    for (k, v) in pairs {
        d.insert((*k).to_string(), v.clone());
    }
    Value::Dictionary(d)
}

#[test]
fn enrollment_queues_device_information_whose_result_fills_the_inventory() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);

    let body = f.mdm.connect(&id, &idle("PHONE-1")).unwrap().expect("a command");
    let (uuid, request_type, command) = command_of(&body);
    assert_eq!(request_type, "DeviceInformation");
    let queries: Vec<_> = command["Queries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_string)
        .collect();
    for wanted in [
        "OSVersion",
        "BuildVersion",
        "SoftwareUpdateDeviceID",
        "IsSupervised",
        "SupplementalOSVersionExtra",
    ] {
        assert!(queries.contains(&wanted), "{wanted} missing from {queries:?}");
    }

    f.clock.advance(Duration::seconds(3));
    let answer = result(
        "PHONE-1",
        &uuid,
        "Acknowledged",
        &[(
            "QueryResponses",
            query_responses(&[
                ("OSVersion", s("17.5.1")),
                ("BuildVersion", s("21F90")),
                ("SupplementalBuildVersion", s("21F90")),
                ("SupplementalOSVersionExtra", s("")),
                ("ProductName", s("iPhone15,2")),
                ("Model", s("MQ9T3")),
                ("ModelName", s("iPhone")),
                ("DeviceName", s("Ada's iPhone")),
                ("SerialNumber", s("F2LXQ0001")),
                ("IsSupervised", Value::Boolean(true)),
                ("SoftwareUpdateDeviceID", s("D73AP")),
                ("UnknownFutureKey", s("ignored")),
            ]),
        )],
    );
    let next = f.mdm.connect(&id, &answer).unwrap().expect("the next command");
    assert_eq!(command_of(&next).1, "DeclarativeManagement");

    let d = f
        .store
        .read_blocking(|c| devices::get(c, "PHONE-1"))
        .unwrap()
        .unwrap();
    assert_eq!(d.inventory.os_version.as_deref(), Some("17.5.1"));
    assert_eq!(d.inventory.build_version.as_deref(), Some("21F90"));
    assert_eq!(d.inventory.software_update_device_id.as_deref(), Some("D73AP"));
    assert_eq!(d.inventory.is_supervised, Some(true));
    assert_eq!(d.inventory.device_name.as_deref(), Some("Ada's iPhone"));
    assert_eq!(d.inventory.serial_number.as_deref(), Some("F2LXQ0001"));
    assert_eq!(d.last_seen_at, "2026-03-02T09:00:03.000Z");

    let (ddm_uuid, _, _) = command_of(&next);
    assert_eq!(
        f.mdm
            .connect(&id, &result("PHONE-1", &ddm_uuid, "Acknowledged", &[]))
            .unwrap(),
        None
    );
    assert_eq!(
        f.mdm.connect(&id, &idle("PHONE-1")).unwrap(),
        None,
        "empty body when nothing is pending"
    );
}

#[test]
fn commands_go_by_priority_then_age_and_unanswered_ones_are_resent() {
    let f = fixture();
    let id = identity("mac");
    enroll(&f, "MAC-1", &id);
    // Drain the two enrollment commands.
    for _ in 0..2 {
        let (uuid, _, _) = command_of(&f.mdm.connect(&id, &idle("MAC-1")).unwrap().unwrap());
        f.mdm
            .connect(
                &id,
                &result(
                    "MAC-1",
                    &uuid,
                    "Acknowledged",
                    &[("QueryResponses", query_responses(&[]))],
                ),
            )
            .unwrap();
    }
    let dev = udid("MAC-1");
    let old_low = f.mdm.enqueue(&dev, CommandRequest::SecurityInfo, 0).unwrap();
    f.clock.advance(Duration::seconds(1));
    let new_low = f
        .mdm
        .enqueue(
            &dev,
            CommandRequest::ProfileList {
                managed_only: Some(true),
            },
            0,
        )
        .unwrap();
    let high = f
        .mdm
        .enqueue(&dev, CommandRequest::AvailableOsUpdates, 5)
        .unwrap();

    let first = command_of(&f.mdm.connect(&id, &idle("MAC-1")).unwrap().unwrap()).0;
    assert_eq!(first, high.as_str());
    // No answer came (the connection dropped): the same command is sent again.
    let again = command_of(&f.mdm.connect(&id, &idle("MAC-1")).unwrap().unwrap()).0;
    assert_eq!(again, high.as_str());
    let second = command_of(
        &f.mdm
            .connect(&id, &result("MAC-1", &again, "Acknowledged", &[]))
            .unwrap()
            .unwrap(),
    )
    .0;
    assert_eq!(second, old_low.as_str());
    let third = command_of(
        &f.mdm
            .connect(&id, &result("MAC-1", &second, "Acknowledged", &[]))
            .unwrap()
            .unwrap(),
    )
    .0;
    assert_eq!(third, new_low.as_str());
    assert_eq!(
        f.push.count_for(&dev),
        4,
        "one push at enrollment, one per queued command"
    );
}

#[test]
fn not_now_is_held_until_the_next_push() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);
    for _ in 0..2 {
        let (uuid, _, _) = command_of(&f.mdm.connect(&id, &idle("PHONE-1")).unwrap().unwrap());
        f.mdm
            .connect(
                &id,
                &result(
                    "PHONE-1",
                    &uuid,
                    "Acknowledged",
                    &[("QueryResponses", query_responses(&[]))],
                ),
            )
            .unwrap();
    }
    let dev = udid("PHONE-1");
    let restart = f
        .mdm
        .enqueue(&dev, CommandRequest::RestartDevice(RestartOptions::default()), 1)
        .unwrap();
    let info = f.mdm.enqueue(&dev, CommandRequest::SecurityInfo, 0).unwrap();

    let sent = command_of(&f.mdm.connect(&id, &idle("PHONE-1")).unwrap().unwrap()).0;
    assert_eq!(sent, restart.as_str());
    // NotNow: the next command comes instead, and the restart is not sent again...
    let next = f
        .mdm
        .connect(&id, &result("PHONE-1", &sent, "NotNow", &[]))
        .unwrap()
        .unwrap();
    assert_eq!(command_of(&next).0, info.as_str());
    assert_eq!(
        f.mdm
            .connect(&id, &result("PHONE-1", info.as_str(), "Acknowledged", &[]))
            .unwrap(),
        None
    );
    assert_eq!(f.mdm.connect(&id, &idle("PHONE-1")).unwrap(), None);
    // ...until the next push.
    assert_eq!(f.mdm.mark_pushed(&dev).unwrap(), 1);
    let resent = command_of(&f.mdm.connect(&id, &idle("PHONE-1")).unwrap().unwrap()).0;
    assert_eq!(resent, restart.as_str());
    assert_eq!(
        f.mdm
            .connect(&id, &result("PHONE-1", &resent, "Acknowledged", &[]))
            .unwrap(),
        None
    );
    assert_eq!(f.mdm.mark_pushed(&dev).unwrap(), 0);
}

#[test]
fn errors_keep_the_raw_result_and_the_parsed_error_chain() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);
    let (uuid, _, _) = command_of(&f.mdm.connect(&id, &idle("PHONE-1")).unwrap().unwrap());
    let mut item = Dictionary::new();
    item.insert("ErrorCode".into(), Value::Integer(12021.into()));
    item.insert("ErrorDomain".into(), s("MCMDMErrorDomain"));
    item.insert("LocalizedDescription".into(), s("Unsupported query"));
    let body = result(
        "PHONE-1",
        &uuid,
        "Error",
        &[("ErrorChain", Value::Array(vec![Value::Dictionary(item)]))],
    );
    f.mdm.connect(&id, &body).unwrap();
    let rows = f
        .store
        .read_blocking(|c| command_store::history(c, "PHONE-1", 10))
        .unwrap();
    let row = rows.iter().find(|r| r.uuid == uuid).unwrap();
    assert_eq!(row.status, CommandStatus::Error);
    assert_eq!(row.result.as_deref(), Some(body.as_slice()));
    let chain: serde_json::Value = serde_json::from_str(row.error_chain.as_deref().unwrap()).unwrap();
    assert_eq!(chain[0]["error_code"], 12021);
    assert_eq!(chain[0]["error_domain"], "MCMDMErrorDomain");
    // The failed DeviceInformation left the inventory as Authenticate had it.
    let d = f
        .store
        .read_blocking(|c| devices::get(c, "PHONE-1"))
        .unwrap()
        .unwrap();
    assert_eq!(d.inventory.os_version.as_deref(), Some("17.4"));
    assert_eq!(d.inventory_updated_at, None);
}

#[test]
fn results_for_unknown_commands_and_bad_bodies_change_nothing() {
    let f = fixture();
    let (a, b) = (identity("a"), identity("b"));
    enroll(&f, "DEVICE-A", &a);
    enroll(&f, "DEVICE-B", &b);
    let (uuid_b, _, _) = command_of(&f.mdm.connect(&b, &idle("DEVICE-B")).unwrap().unwrap());
    let before = dump(&f.store);
    f.clock.advance(Duration::minutes(5));

    let unknown = f
        .mdm
        .connect(&a, &result("DEVICE-A", "NO-SUCH-COMMAND", "Acknowledged", &[]))
        .unwrap_err();
    assert!(matches!(unknown, MdmError::UnknownCommand { .. }), "{unknown}");
    // Another device's command is unknown to this one.
    let foreign = f
        .mdm
        .connect(&a, &result("DEVICE-A", &uuid_b, "Acknowledged", &[]))
        .unwrap_err();
    assert!(matches!(foreign, MdmError::UnknownCommand { .. }));
    assert!(matches!(
        f.mdm.connect(&a, b"\x00\x01garbage"),
        Err(MdmError::BadMessage(_))
    ));
    assert!(matches!(
        f.mdm
            .connect(&a, &plist(&[("UDID", s("DEVICE-A")), ("Status", s("Sideways"))])),
        Err(MdmError::BadMessage(_))
    ));
    assert!(matches!(
        f.mdm.connect(&a, &plist(&[("Status", s("Idle"))])),
        Err(MdmError::BadMessage(_))
    ));
    let mut huge = idle("DEVICE-A");
    huge.resize(f.mdm.config().max_message_bytes + 1, b' ');
    assert!(matches!(f.mdm.connect(&a, &huge), Err(MdmError::TooLarge { .. })));
    assert_eq!(dump(&f.store), before, "not even last_seen moved");
}

#[test]
fn pruning_removes_only_commands_completed_before_the_retention() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-1", &id);
    let (first, _, _) = command_of(&f.mdm.connect(&id, &idle("PHONE-1")).unwrap().unwrap());
    f.mdm
        .connect(
            &id,
            &result(
                "PHONE-1",
                &first,
                "Acknowledged",
                &[("QueryResponses", query_responses(&[]))],
            ),
        )
        .unwrap();
    // The DeclarativeManagement command stays pending (never answered).
    f.clock.advance(Duration::days(29));
    let (recent, _, _) = command_of(&f.mdm.connect(&id, &idle("PHONE-1")).unwrap().unwrap());
    let late = f
        .mdm
        .enqueue(&udid("PHONE-1"), CommandRequest::SecurityInfo, 0)
        .unwrap();
    f.mdm
        .connect(&id, &result("PHONE-1", &recent, "Acknowledged", &[]))
        .unwrap();

    assert_eq!(
        f.mdm.prune_completed().unwrap(),
        0,
        "29 days is within the 30-day retention"
    );
    f.clock.advance(Duration::days(2));
    assert_eq!(f.mdm.prune_completed().unwrap(), 1);
    let left: Vec<_> = f
        .store
        .read_blocking(|c| command_store::history(c, "PHONE-1", 10))
        .unwrap()
        .into_iter()
        .map(|r| r.uuid)
        .collect();
    assert!(!left.contains(&first));
    assert!(left.contains(&recent) && left.contains(&late.as_str().to_string()));
}

#[test]
fn an_idle_with_nothing_queued_writes_nothing_unless_last_seen_is_a_minute_old() {
    let f = fixture();
    let id = identity("phone");
    enroll(&f, "PHONE-9", &id);
    // Drain the enrollment commands.
    while let Some(body) = f.mdm.connect(&id, &idle("PHONE-9")).unwrap() {
        let (uuid, _, _) = command_of(&body);
        f.mdm
            .connect(&id, &result("PHONE-9", &uuid, "Acknowledged", &[]))
            .unwrap();
    }
    let before = dump(&f.store);
    f.clock.advance(Duration::seconds(30));
    assert_eq!(f.mdm.connect(&id, &idle("PHONE-9")).unwrap(), None);
    assert_eq!(dump(&f.store), before, "a quiet Idle within the minute is a read");

    // Another identity is still refused on the read path.
    assert!(matches!(
        f.mdm.connect(&identity("intruder"), &idle("PHONE-9")),
        Err(MdmError::Forbidden(_))
    ));

    f.clock.advance(Duration::seconds(45));
    assert_eq!(f.mdm.connect(&id, &idle("PHONE-9")).unwrap(), None);
    assert_ne!(
        dump(&f.store),
        before,
        "last_seen_at moves once it is a minute old"
    );

    // Something queued is delivered at once, whatever the time.
    let before = dump(&f.store);
    f.mdm
        .enqueue(&udid("PHONE-9"), CommandRequest::SecurityInfo, 0)
        .unwrap();
    assert_ne!(dump(&f.store), before);
    let body = f
        .mdm
        .connect(&id, &idle("PHONE-9"))
        .unwrap()
        .expect("the queued command");
    assert_eq!(command_of(&body).1, "SecurityInfo");
}
