//! End to end over the appliance's real TLS listener, with simulated devices: the signed
//! profile, SCEP, check-ins, the command loop, pushes to a fake APNs, and hostile input.

use crate::common::{self, TestApp};

use std::time::Duration;

use orchard::protocol::Udid;
use orchard::protocol::commands::CommandRequest;
use orchard::push::import::{self, ImportSource};
use orchard::sim::device::{DeviceProfile, HandledCommand, SignatureDigest, SimDevice, SimError};
use orchard::sim::fake_apns::FakeApns;
use orchard::store::commands::{self as command_store, CommandStatus};
use orchard::store::devices::{self, Device, EnrollmentState};

const TOPIC: &str = "com.apple.mgmt.External.2b0c1a4e-5d6f-4e7a-9b8c-1d2e3f405162";
const WAIT: Duration = Duration::from_secs(15);

fn device_for(app: &TestApp, profile: DeviceProfile) -> SimDevice {
    SimDevice::new(profile, app.client.clone(), app.state.pki.ca_cert_der.clone())
}

/// The appliance with a fake APNs as its push endpoint and a push certificate for `topic`
/// issued by the fake's CA, imported as an operator would.
async fn rig_for(topic: &str) -> (TestApp, FakeApns) {
    let apns = FakeApns::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("fake-apns-ca.pem");
    std::fs::write(&ca_file, apns.ca_pem()).unwrap();
    let url = apns.url().to_string();
    let app = common::spawn_app_with(dir, |c| {
        c.apns.url = url;
        c.apns.ca_file = Some(ca_file);
        c.apns.coalesce_millis = 200;
        c.apns.retry_base_millis = 10;
        c.apns.max_attempts = 3;
    })
    .await;
    let pair = apns
        .issue_push_certificate(topic, chrono::Utc::now() + chrono::Duration::days(365))
        .unwrap();
    let source = ImportSource::Pem {
        certificate: pair.certificate,
        key: pair.key,
    };
    import::import_blocking(
        &app.state.store,
        &app.state.config.storage.data_dir,
        &source,
        chrono::Utc::now(),
        false,
    )
    .unwrap();
    app.state.reload_push_certificate().unwrap();
    (app, apns)
}

async fn rig() -> (TestApp, FakeApns) {
    rig_for(TOPIC).await
}

fn stored(app: &TestApp, udid: &str) -> Device {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| devices::get(c, &udid))
        .unwrap()
        .expect("the device is stored")
}

fn command_status(app: &TestApp, uuid: &str) -> CommandStatus {
    let uuid = uuid.to_string();
    app.state
        .store
        .read_blocking(move |c| command_store::find(c, &uuid))
        .unwrap()
        .expect("the command is stored")
        .status
}

fn enqueue(app: &TestApp, device: &SimDevice, request: CommandRequest) -> String {
    app.state
        .mdm
        .enqueue(&Udid::parse(device.udid()).unwrap(), request, 0)
        .unwrap()
        .to_string()
}

/// Pushes the fake received for `device` (by its token), failed ones included.
fn pushes_to(apns: &FakeApns, device: &SimDevice) -> Vec<orchard::sim::fake_apns::RecordedPush> {
    let token = hex::encode(&device.push.token);
    apns.pushes().into_iter().filter(|p| p.token == token).collect()
}

/// Waits until the pusher has nothing in flight or waiting.
async fn settled(app: &TestApp) {
    tokio::time::timeout(WAIT, app.state.pusher.settled())
        .await
        .expect("the pusher settles");
}

fn types(handled: &[HandledCommand]) -> Vec<(&str, &str)> {
    handled
        .iter()
        .map(|h| (h.request_type.as_str(), h.status.as_str()))
        .collect()
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

#[tokio::test]
async fn not_now_is_not_resent_in_the_connection_and_is_sent_after_the_next_push() {
    let (app, apns) = rig().await;
    let mut phone = device_for(&app, DeviceProfile::iphone());
    phone.enroll(&app.base, None).await.unwrap();
    phone.run_command_loop().await.unwrap();
    settled(&app).await;

    phone.state.not_now.request_types.insert("SecurityInfo".into());
    let security = enqueue(&app, &phone, CommandRequest::SecurityInfo);
    settled(&app).await;
    // `run_command_loop` fails if the server sends a command again after NotNow.
    let handled = phone.run_command_loop().await.unwrap();
    assert_eq!(types(&handled), [("SecurityInfo", "NotNow")]);
    assert_eq!(command_status(&app, &security), CommandStatus::NotNow);
    // Without a push, another connection does not get it either.
    assert!(phone.run_command_loop().await.unwrap().is_empty());

    // Something new is queued: the push releases the held command.
    phone.state.not_now.request_types.clear();
    let pushes_before = pushes_to(&apns, &phone).len();
    let list = enqueue(&app, &phone, CommandRequest::ProfileList { managed_only: None });
    settled(&app).await;
    assert_eq!(pushes_to(&apns, &phone).len(), pushes_before + 1);
    let mut handled = phone.run_command_loop().await.unwrap();
    handled.sort_by(|a, b| a.request_type.cmp(&b.request_type));
    assert_eq!(
        types(&handled),
        [("ProfileList", "Acknowledged"), ("SecurityInfo", "Acknowledged")]
    );
    assert_eq!(command_status(&app, &security), CommandStatus::Acknowledged);
    assert_eq!(command_status(&app, &list), CommandStatus::Acknowledged);
}

#[tokio::test]
async fn reenrollment_cancels_stale_commands_and_keeps_their_history() {
    let (app, _apns) = rig().await;
    let mut mac = device_for(&app, DeviceProfile::mac());
    mac.enroll(&app.base, None).await.unwrap();
    mac.run_command_loop().await.unwrap();
    let stale = enqueue(&app, &mac, CommandRequest::RestartDevice(Default::default()));
    let first_identity = mac.enrollment().unwrap().identity.fingerprint();

    // The same Mac enrolls again (wiped, or the profile reinstalled): same UDID, new certificate.
    mac.reenroll(&app.base, None).await.unwrap();
    assert_ne!(mac.enrollment().unwrap().identity.fingerprint(), first_identity);
    assert_eq!(command_status(&app, &stale), CommandStatus::Cancelled);
    let handled = mac.run_command_loop().await.unwrap();
    assert_eq!(
        types(&handled),
        [
            ("DeviceInformation", "Acknowledged"),
            ("DeclarativeManagement", "Acknowledged")
        ],
        "the restart from before the re-enrollment is not sent"
    );
    assert_eq!(mac.state.restarts, 0);
    let udid = mac.udid().to_string();
    let history = app
        .state
        .store
        .read_blocking(move |c| command_store::history(c, &udid, 50))
        .unwrap();
    let acknowledged_information = history
        .iter()
        .filter(|c| c.request_type == "DeviceInformation" && c.status == CommandStatus::Acknowledged)
        .count();
    assert_eq!(acknowledged_information, 2, "both enrollments' results are kept");
    assert!(history.iter().any(|c| c.uuid == stale));
    assert_eq!(stored(&app, mac.udid()).enrollment_count, 2);
}

#[tokio::test]
async fn one_push_per_burst_410_marks_the_device_and_500_is_retried() {
    let (app, apns) = rig().await;
    let mut phone = device_for(&app, DeviceProfile::iphone());
    let mut pad = device_for(&app, DeviceProfile::ipad());
    phone.enroll(&app.base, None).await.unwrap();
    pad.enroll(&app.base, None).await.unwrap();
    phone.run_command_loop().await.unwrap();
    pad.run_command_loop().await.unwrap();
    settled(&app).await;
    let phone_before = pushes_to(&apns, &phone).len();
    let pad_before = pushes_to(&apns, &pad).len();

    // A burst of three commands: one push.
    enqueue(&app, &phone, CommandRequest::SecurityInfo);
    enqueue(&app, &phone, CommandRequest::AvailableOsUpdates);
    enqueue(&app, &phone, CommandRequest::OsUpdateStatus);
    settled(&app).await;
    assert_eq!(pushes_to(&apns, &phone).len(), phone_before + 1);
    assert_eq!(pushes_to(&apns, &pad).len(), pad_before);
    assert_eq!(phone.run_command_loop().await.unwrap().len(), 3);

    // APNs says the iPad's token is gone: the device shows it.
    apns.fail_token(&pad.push.token, 410, "Unregistered");
    enqueue(&app, &pad, CommandRequest::SecurityInfo);
    settled(&app).await;
    let result = stored(&app, pad.udid()).last_push_result.unwrap_or_default();
    assert!(result.contains("Unregistered"), "{result}");
    assert_eq!(
        pushes_to(&apns, &pad).len(),
        pad_before + 1,
        "a 410 is not retried"
    );

    // A 500 is retried, and the retry gets through.
    apns.fail_next(1, 500, "InternalServerError");
    enqueue(&app, &phone, CommandRequest::SecurityInfo);
    settled(&app).await;
    let statuses: Vec<u16> = pushes_to(&apns, &phone)[phone_before + 1..]
        .iter()
        .map(|p| p.status)
        .collect();
    assert_eq!(statuses, [500, 200]);
    assert_eq!(
        stored(&app, phone.udid()).last_push_result.as_deref(),
        Some("delivered")
    );
}

#[tokio::test]
async fn the_load_generator_enrolls_a_fleet_and_measures_idle_connects() {
    use orchard::sim::device::load::{self, FleetSpec, LoadStop};
    let (app, _apns) = rig().await;
    let client = orchard::sim::device::https_client(app.state.pki.ca_cert_pem.as_bytes(), true).unwrap();
    let spec = FleetSpec {
        base_url: app.base.clone(),
        ca_der: app.state.pki.ca_cert_der.clone(),
        token: None,
        devices: 6,
        concurrency: 3,
        key_pool: 2,
    };
    let mut fleet = load::enroll_fleet(&client, &spec).await.unwrap();
    assert_eq!(fleet.devices.len(), 6);
    assert_eq!(
        fleet.drain(3).await.unwrap(),
        12,
        "DeviceInformation + DeclarativeManagement each"
    );
    let report = load::run_load(&client, fleet.prepared_idles().unwrap(), 3, LoadStop::Rounds(4)).await;
    assert_eq!(report.requests, 24);
    assert_eq!((report.errors, report.with_body), (0, 0));
    assert_eq!(report.latencies.len(), 24);
    assert!(report.percentile(99.0) >= report.percentile(50.0));
}
