//! End to end over the appliance's real TLS listener, with simulated devices: the signed
//! profile, SCEP, check-ins, the command loop, pushes to a fake APNs, and hostile input.

mod enrollment;
mod queue;
mod refusals;

use crate::common::{self, TestApp};

use std::time::Duration;

use orchard::protocol::Udid;
use orchard::protocol::commands::CommandRequest;
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
    let (app, apns) = common::spawn_app_with_fake_apns(|c| {
        c.apns.coalesce_millis = 200;
        c.apns.retry_base_millis = 10;
        c.apns.max_attempts = 3;
    })
    .await;
    common::import_push_certificate(&app, &apns, topic);
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
