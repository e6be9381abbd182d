//! Enrollment as a device does it: the signed profile, SCEP, check-ins, the command loop,
//! renewal and check-out; and the simulator's results against Apple's schemas.

use super::*;

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
        .tokens()
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

#[tokio::test]
async fn a_simulated_device_enrolls_runs_its_commands_and_fills_the_inventory() {
    let (app, apns) = rig().await;
    let mut phone = device_for(
        &app,
        DeviceProfile::iphone()
            .with_os("18.0.1", "22A3370")
            .with_product("iPhone17,3", "D47AP"),
    );
    phone.enroll(&app.base, None).await.unwrap();
    settled(&app).await;
    // The enrollment burst (DeviceInformation + DeclarativeManagement) woke it once.
    let pushes = pushes_to(&apns, &phone);
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0].status, 200);
    assert_eq!(pushes[0].topic.as_deref(), Some(TOPIC));
    assert_eq!(pushes[0].json().unwrap()["mdm"], phone.push.push_magic.as_str());

    let handled = phone.run_command_loop().await.unwrap();
    assert_eq!(
        types(&handled),
        [
            ("DeviceInformation", "Acknowledged"),
            ("DeclarativeManagement", "Acknowledged")
        ]
    );
    let device = stored(&app, phone.udid());
    assert_eq!(device.state, EnrollmentState::Enrolled);
    assert_eq!(device.push_token.as_deref(), Some(phone.push.token.as_slice()));
    let inventory = &device.inventory;
    assert_eq!(inventory.os_version.as_deref(), Some("18.0.1"));
    assert_eq!(inventory.build_version.as_deref(), Some("22A3370"));
    assert_eq!(inventory.product_name.as_deref(), Some("iPhone17,3"));
    assert_eq!(inventory.model.as_deref(), Some("MYE73LL/A"));
    assert_eq!(inventory.model_name.as_deref(), Some("iPhone"));
    assert_eq!(inventory.software_update_device_id.as_deref(), Some("D47AP"));
    assert_eq!(
        inventory.serial_number.as_deref(),
        Some(phone.profile.serial_number.as_str())
    );
    assert_eq!(inventory.is_supervised, Some(true));
    // Nothing more is queued: the next connection is empty.
    assert!(phone.run_command_loop().await.unwrap().is_empty());

    // An older Mac signing with SHA-1 digests enrolls the same way.
    let mut mac = device_for(&app, DeviceProfile::intel_mac()).with_signature_digest(SignatureDigest::Sha1);
    mac.enroll(&app.base, None).await.unwrap();
    mac.run_command_loop().await.unwrap();
    let inventory = stored(&app, mac.udid()).inventory;
    assert_eq!(inventory.product_name.as_deref(), Some("MacBookPro16,1"));
    assert_eq!(inventory.os_version.as_deref(), Some("14.7.1"));
    assert_eq!(inventory.software_update_device_id.as_deref(), Some("J152FAP"));
}

#[tokio::test]
async fn a_renewed_certificate_takes_over_and_check_out_unenrolls() {
    let (app, _apns) = rig().await;
    let mut pad = device_for(&app, DeviceProfile::ipad());
    pad.enroll(&app.base, None).await.unwrap();
    pad.run_command_loop().await.unwrap();
    let old = pad.enrollment().unwrap().identity.clone();

    pad.renew_identity().await.unwrap();
    let new = pad.enrollment().unwrap().identity.clone();
    assert_ne!(old.fingerprint(), new.fingerprint());
    assert_eq!(
        stored(&app, pad.udid()).identity_fingerprint.as_deref(),
        Some(new.fingerprint().as_str())
    );
    // The device goes on with its new certificate; the old one no longer speaks for it.
    assert!(pad.run_command_loop().await.unwrap().is_empty());
    let body = pad.idle_body();
    let signature = old.sign(&body, SignatureDigest::Sha256).unwrap();
    let res = app
        .client
        .put(app.url("/mdm/connect"))
        .header("Mdm-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    pad.check_out().await.unwrap();
    assert_eq!(stored(&app, pad.udid()).state, EnrollmentState::Unenrolled);
}

/// The `orchard-sim` binary against the appliance: one device, then a small load run.
#[tokio::test]
async fn orchard_sim_enrolls_a_device_and_runs_a_load() {
    let app = common::spawn_app().await;
    common::set_topic(&app, TOPIC);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &app.state.pki.ca_cert_pem).unwrap();
    // The server runs on this test's runtime: the binary is waited for on the blocking pool.
    let sim = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_orchard-sim"));
        command
            .args(["--url", &app.base, "--ca", ca.to_str().unwrap()])
            .args(args);
        async move {
            tokio::task::spawn_blocking(move || command.output())
                .await
                .unwrap()
        }
    };
    let out = sim(&[
        "enroll",
        "--platform",
        "mac",
        "--out",
        dir.path().to_str().unwrap(),
    ])
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let udid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("udid "))
        .expect("the UDID is printed")
        .to_string();
    assert!(dir.path().join(format!("{udid}.pem")).is_file());
    assert!(dir.path().join(format!("{udid}.key")).is_file());
    assert!(stdout.contains("answered DeviceInformation"), "{stdout}");
    let device = stored(&app, &udid);
    assert_eq!(device.inventory.product_name.as_deref(), Some("Mac15,12"));

    let out = sim(&[
        "load",
        "--devices",
        "3",
        "--concurrency",
        "2",
        "--rounds",
        "2",
        "--key-pool",
        "1",
    ])
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("enrolled 3 devices"), "{stdout}");
    assert!(stdout.contains("6 requests in"), "{stdout}");
    assert!(stdout.contains(", 0 errors"), "{stdout}");

    // A CA file that is not the appliance's: the TLS handshake fails, nothing enrolls.
    let other = common::spawn_app().await;
    std::fs::write(&ca, &other.state.pki.ca_cert_pem).unwrap();
    let out = sim(&["enroll"]).await.unwrap();
    assert!(!out.status.success());
}
