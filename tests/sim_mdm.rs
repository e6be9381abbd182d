//! End to end over the appliance's real TLS listener, with simulated devices: the signed
//! profile, SCEP, check-ins, the command loop, pushes to a fake APNs, and hostile input.

use crate::common::{self, TestApp};

use orchard::sim::device::{DeviceProfile, SimDevice, SimError};

const TOPIC: &str = "com.apple.mgmt.External.2b0c1a4e-5d6f-4e7a-9b8c-1d2e3f405162";

fn device_for(app: &TestApp, profile: DeviceProfile) -> SimDevice {
    SimDevice::new(profile, app.client.clone(), app.state.pki.ca_cert_der.clone())
}

#[tokio::test]
async fn a_device_opens_the_signed_profile_and_refuses_one_from_another_ca() {
    let app = common::spawn_app().await;
    common::set_topic(&app, TOPIC);
    let device = device_for(&app, DeviceProfile::iphone());
    let profile = device.fetch_enrollment_profile(&app.base, None).await.unwrap();
    assert_eq!(profile.mdm.server_url, app.url("/mdm/connect"));
    assert_eq!(profile.mdm.check_in_url, app.url("/mdm/checkin"));
    assert_eq!(profile.mdm.topic, TOPIC);
    assert!(profile.mdm.sign_message);
    assert_eq!(profile.scep.url, app.url("/scep"));
    assert_eq!(profile.scep.key_size, 2048);

    // A device that trusts another appliance's CA does not accept this profile.
    let other = common::spawn_app().await;
    let stranger = SimDevice::new(
        DeviceProfile::iphone(),
        app.client.clone(),
        other.state.pki.ca_cert_der.clone(),
    );
    let refused = stranger.fetch_enrollment_profile(&app.base, None).await;
    assert!(
        matches!(refused, Err(SimError::UntrustedProfile(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_profile_behind_a_token_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::spawn_app_with(dir, |c| c.enrollment.require_token = true).await;
    common::set_topic(&app, TOPIC);
    let device = device_for(&app, DeviceProfile::ipad());
    let refused = device.fetch_enrollment_profile(&app.base, None).await;
    assert!(
        matches!(refused, Err(SimError::Status { status, .. }) if (400..500).contains(&status)),
        "{refused:?}"
    );
    let (_, secret) = app
        .state
        .enrollment
        .create_token(orchard::enrollment::NewTokenRequest {
            label: "cart 3".into(),
            valid_for: None,
            max_uses: Some(5),
        })
        .unwrap();
    let profile = device
        .fetch_enrollment_profile(&app.base, Some(&secret))
        .await
        .unwrap();
    // A token's profile carries a one-time challenge, not the site-wide one.
    assert_ne!(
        profile.scep.challenge,
        app.state.enrollment.site_challenge().expose()
    );
}

/// Every result the simulator gives, checked against the `responsekeys` of Apple's schema for
/// the command (names, types, allowed values, required keys), for each platform. `ProfileList`
/// is left out: the reference snapshot has no response keys for it.
#[test]
fn simulated_results_match_apples_response_schemas() {
    use crate::command_schemas::{check_dict, key_specs, load_schema};
    use orchard::protocol::commands::{Command, CommandRequest, InstallAction, ScheduledUpdate};
    use orchard::sim::device::{Answer, DeviceState, ReceivedCommand};

    let requests = [
        CommandRequest::device_information_for_updates(),
        CommandRequest::SecurityInfo,
        CommandRequest::AvailableOsUpdates,
        CommandRequest::ScheduleOsUpdateScan { force: None },
        CommandRequest::ScheduleOsUpdate {
            updates: vec![ScheduledUpdate::by_version("18.1.1", InstallAction::Default)],
        },
        CommandRequest::OsUpdateStatus,
    ];
    let platforms = [
        DeviceProfile::iphone(),
        DeviceProfile::ipad(),
        DeviceProfile::apple_tv(),
        DeviceProfile::mac(),
        DeviceProfile::intel_mac(),
    ];
    let mut errors = Vec::new();
    for device in &platforms {
        let mut state = DeviceState::for_profile(device);
        for request in &requests {
            let command = ReceivedCommand::parse(&Command::new(request.clone()).to_plist()).unwrap();
            let Answer::Acknowledged(keys) = state.answer(device, &command) else {
                panic!("{} not acknowledged", command.request_type);
            };
            let schema = load_schema(&command.request_type);
            let path = format!("{} {}", device.product_name, command.request_type);
            check_dict(&keys, &key_specs(&schema, "responsekeys"), &path, &mut errors);
            if command.request_type == "DeviceInformation" {
                let asked = keys["QueryResponses"].as_dictionary().unwrap();
                assert!(asked.len() >= 15, "{path}: {asked:?}");
            }
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
}
