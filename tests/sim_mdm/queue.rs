//! The command queue and pushes as devices see them: NotNow, re-enrollment, coalesced pushes,
//! APNs failures, and the load generator.

use super::*;

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
