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
