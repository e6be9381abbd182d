//! The simulated device's answers, read back with the server's own parsers.

use plist::{Dictionary, Value};

use super::commands::{Answer, DeviceState, NotNowPolicy, ReceivedCommand};
use super::profile::DeviceProfile;
use crate::protocol::commands::{
    self, Command, CommandRequest, ConnectReport, DeviceInformation, InstallAction, ReportStatus,
    ScheduledUpdate,
};

fn received(request: CommandRequest) -> ReceivedCommand {
    ReceivedCommand::parse(&Command::new(request).to_plist()).unwrap()
}

/// The device's answer as the server parses it from `/mdm/connect`.
fn report(device: &DeviceProfile, state: &mut DeviceState, request: CommandRequest) -> ConnectReport {
    let command = received(request);
    let answer = state.answer(device, &command);
    let report = ConnectReport::parse(&answer.result_body(&device.udid, &command.uuid)).unwrap();
    assert_eq!(report.udid.as_str(), device.udid);
    assert_eq!(report.command_uuid.as_ref().unwrap().as_str(), command.uuid);
    report
}

#[test]
fn device_information_answers_exactly_the_queries_asked() {
    let device = DeviceProfile::ipad().with_os("17.6.1", "21G93");
    let mut state = DeviceState::for_profile(&device);
    let asked = [
        "OSVersion",
        "ProductName",
        "SoftwareUpdateDeviceID",
        "IMEI",
        "NoSuchQuery",
    ];
    let r = report(
        &device,
        &mut state,
        CommandRequest::DeviceInformation {
            queries: asked.iter().map(|q| q.to_string()).collect(),
        },
    );
    assert_eq!(r.status, ReportStatus::Acknowledged);
    let responses = r.body["QueryResponses"].as_dictionary().unwrap();
    let keys: Vec<&str> = responses.keys().map(String::as_str).collect();
    // An iPad has no IMEI, and nobody knows `NoSuchQuery`.
    assert_eq!(keys, ["OSVersion", "ProductName", "SoftwareUpdateDeviceID"]);
    let info = DeviceInformation::from_result(&r.body).unwrap();
    assert_eq!(info.os_version.as_deref(), Some("17.6.1"));
    assert_eq!(info.product_name.as_deref(), Some("iPad16,3"));
    assert_eq!(info.software_update_device_id.as_deref(), Some("J717AP"));
}

#[test]
fn the_update_queries_come_back_with_the_profile_values() {
    let device = DeviceProfile::intel_mac();
    let mut state = DeviceState::for_profile(&device);
    let r = report(
        &device,
        &mut state,
        CommandRequest::device_information_for_updates(),
    );
    let info = DeviceInformation::from_result(&r.body).unwrap();
    assert_eq!(info.udid.as_deref(), Some(device.udid.as_str()));
    assert_eq!(info.build_version.as_deref(), Some("23H222"));
    assert_eq!(info.model_name.as_deref(), Some("MacBook Pro"));
    assert_eq!(info.is_supervised, Some(true));
    assert_eq!(info.is_apple_silicon, Some(false));
    assert_eq!(info.software_update_device_id.as_deref(), Some("J152FAP"));
}

#[test]
fn not_now_for_the_next_commands_and_for_chosen_types() {
    let device = DeviceProfile::iphone();
    let mut state = DeviceState::for_profile(&device);
    state.not_now = NotNowPolicy {
        next: 1,
        request_types: ["RestartDevice".to_string()].into(),
    };
    let first = report(&device, &mut state, CommandRequest::SecurityInfo);
    assert_eq!(first.status, ReportStatus::NotNow);
    let second = report(&device, &mut state, CommandRequest::SecurityInfo);
    assert_eq!(second.status, ReportStatus::Acknowledged);
    let restart = CommandRequest::RestartDevice(Default::default());
    assert_eq!(
        report(&device, &mut state, restart.clone()).status,
        ReportStatus::NotNow
    );
    assert_eq!(report(&device, &mut state, restart).status, ReportStatus::NotNow);
    assert_eq!(state.restarts, 0);
}

#[test]
fn an_unknown_command_gets_an_error_chain() {
    let device = DeviceProfile::iphone();
    let mut state = DeviceState::for_profile(&device);
    let mut inner = Dictionary::new();
    inner.insert("RequestType".into(), Value::String("EraseEverything".into()));
    let mut envelope = Dictionary::new();
    envelope.insert("CommandUUID".into(), Value::String("c-1".into()));
    envelope.insert("Command".into(), Value::Dictionary(inner));
    let command = ReceivedCommand::parse(&crate::protocol::dict::to_xml(envelope)).unwrap();
    let answer = state.answer(&device, &command);
    let r = ConnectReport::parse(&answer.result_body(&device.udid, "c-1")).unwrap();
    assert_eq!(r.status, ReportStatus::Error);
    assert_eq!(r.error_chain.len(), 1);
    assert_eq!(r.error_chain[0].error_domain, "MCMDMErrorDomain");
    assert!(r.error_chain[0].localized_description.contains("EraseEverything"));
}

fn profile_xml(identifier: &str) -> Vec<u8> {
    let mut payload = Dictionary::new();
    payload.insert(
        "PayloadType".into(),
        Value::String("com.apple.wifi.managed".into()),
    );
    let mut d = Dictionary::new();
    d.insert("PayloadIdentifier".into(), Value::String(identifier.into()));
    d.insert(
        "PayloadUUID".into(),
        Value::String("0D3C6C5E-1111-4D7C-9E63-7A36E1F1B3C1".into()),
    );
    d.insert("PayloadDisplayName".into(), Value::String("Wi-Fi".into()));
    d.insert("PayloadVersion".into(), Value::Integer(1.into()));
    d.insert("PayloadType".into(), Value::String("Configuration".into()));
    d.insert(
        "PayloadContent".into(),
        Value::Array(vec![Value::Dictionary(payload)]),
    );
    crate::protocol::dict::to_xml(d)
}

#[test]
fn profiles_install_list_and_remove() {
    let device = DeviceProfile::mac();
    let mut state = DeviceState::for_profile(&device);
    let install = CommandRequest::InstallProfile {
        payload: profile_xml("com.example.wifi"),
    };
    assert_eq!(
        report(&device, &mut state, install).status,
        ReportStatus::Acknowledged
    );
    let list = report(
        &device,
        &mut state,
        CommandRequest::ProfileList { managed_only: None },
    );
    let profiles = commands::information::parse_profile_list(&list.body).unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].payload_identifier, "com.example.wifi");
    assert_eq!(profiles[0].payload_types, ["com.apple.wifi.managed"]);
    let remove = CommandRequest::RemoveProfile {
        identifier: "com.example.wifi".into(),
    };
    assert_eq!(
        report(&device, &mut state, remove.clone()).status,
        ReportStatus::Acknowledged
    );
    let again = report(&device, &mut state, remove);
    assert_eq!(again.status, ReportStatus::Error);
    assert_eq!(again.error_chain[0].error_domain, "MCProfileErrorDomain");
    let garbage = CommandRequest::InstallProfile {
        payload: b"not a profile".to_vec(),
    };
    assert_eq!(report(&device, &mut state, garbage).status, ReportStatus::Error);
}

#[test]
fn os_update_commands_answer_with_parsable_results() {
    let device = DeviceProfile::iphone();
    let mut state = DeviceState::for_profile(&device);
    let available = report(&device, &mut state, CommandRequest::AvailableOsUpdates);
    let offered = commands::os_update::parse_available_os_updates(&available.body).unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].version.as_deref(), Some("18.1.1"));
    assert_eq!(offered[0].build.as_deref(), Some("22B91"));

    let scan = report(
        &device,
        &mut state,
        CommandRequest::ScheduleOsUpdateScan { force: Some(true) },
    );
    assert_eq!(scan.body["ScanInitiated"], Value::Boolean(true));

    let schedule = CommandRequest::ScheduleOsUpdate {
        updates: vec![ScheduledUpdate::by_version("18.1.1", InstallAction::InstallAsap)],
    };
    let scheduled = report(&device, &mut state, schedule);
    let results = commands::os_update::parse_update_results(&scheduled.body).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].product_key, offered[0].product_key);
    assert_eq!(results[0].install_action, "InstallASAP");

    let status = report(&device, &mut state, CommandRequest::OsUpdateStatus);
    let items = commands::os_update::parse_os_update_status(&status.body).unwrap();
    assert_eq!(items[0].product_key, offered[0].product_key);
}

#[test]
fn declarative_management_hands_over_the_data() {
    let device = DeviceProfile::iphone();
    let mut state = DeviceState::for_profile(&device);
    let json = br#"{"SyncTokens":{"DeclarationsToken":"t"}}"#;
    let command = received(CommandRequest::declarative_management(Some(json)));
    assert_eq!(
        state.answer(&device, &command),
        Answer::Declarative(Some(json.to_vec()))
    );
    let security = report(&device, &mut state, CommandRequest::SecurityInfo);
    let info = commands::SecurityInfo::from_result(&security.body).unwrap();
    assert_eq!(info.passcode_present, Some(true));
}
