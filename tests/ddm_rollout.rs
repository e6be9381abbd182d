//! End to end with the virtual clock, over the real listener: a simulated iPhone enrolls by SCEP,
//! runs its command loop, syncs its declarations through signed `DeclarativeManagement` check-ins,
//! is given an enforcement declaration, installs at the deadline, and its new OS version shows in
//! the inventory.

use crate::device_channel::{self as channel, Rig};

use std::sync::Arc;

use chrono::Duration;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use orchard::protocol::ddm::management::SimpleActivation;
use orchard::protocol::ddm::{
    Declaration, DeclarationIdentifier, EnforcementSpecific, Platform, TargetLocalDateTime,
};
use orchard::sim::ddm::{DdmClient, DdmTransport, DeviceProfile, OfferedUpdate, SoftwareUpdateModel};

/// `DeclarativeManagement` check-ins over HTTPS, signed with the device's SCEP identity.
pub(crate) struct SignedCheckins {
    pub udid: String,
    pub client: reqwest::Client,
    pub url: String,
    pub device: Arc<crate::common::EnrolledDevice>,
}

impl DdmTransport for SignedCheckins {
    fn declarative(
        &self,
        endpoint: &str,
        data: Option<Vec<u8>>,
    ) -> BoxFuture<'_, Result<(u16, Vec<u8>), String>> {
        let body = channel::declarative(&self.udid, endpoint, data.as_deref());
        async move {
            let signature =
                orchard::pki::scep_client::mdm_signature(&body, &self.device.cert, &self.device.key)
                    .map_err(|e| e.to_string())?;
            let res = self
                .client
                .put(&self.url)
                .header("Mdm-Signature", signature)
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let body = res.bytes().await.map_err(|e| e.to_string())?;
            Ok((status, body.to_vec()))
        }
        .boxed()
    }
}

fn id(text: &str) -> DeclarationIdentifier {
    DeclarationIdentifier::parse(text).unwrap()
}

/// Answers commands until the queue is empty; a `DeclarativeManagement` command makes the
/// simulated device sync. Returns the request types seen.
pub(crate) async fn run_command_loop(
    rig: &Rig,
    device: &crate::common::EnrolledDevice,
    ddm: &mut DdmClient,
) -> Vec<String> {
    answer_commands(&rig.app, channel::UDID, device, ddm).await
}

/// [`run_command_loop`] for the device `udid` of `app`.
pub(crate) async fn answer_commands(
    app: &crate::common::TestApp,
    udid: &str,
    device: &crate::common::EnrolledDevice,
    ddm: &mut DdmClient,
) -> Vec<String> {
    let mut seen = Vec::new();
    let (mut status, mut body) = channel::put(app, device, "/mdm/connect", channel::idle(udid)).await;
    while status == 200 && !body.is_empty() {
        let (uuid, cmd) = channel::command(&body);
        let kind = cmd["RequestType"].as_string().unwrap().to_string();
        if kind == "DeclarativeManagement" {
            let data = cmd.get("Data").and_then(|d| d.as_data()).map(<[u8]>::to_vec);
            ddm.on_declarative_management(data.as_deref()).await.unwrap();
        }
        seen.push(kind);
        let answer = channel::acknowledged(udid, &uuid, vec![]);
        (status, body) = channel::put(app, device, "/mdm/connect", answer).await;
    }
    assert_eq!(status, 200);
    seen
}

async fn inventory_version(rig: &Rig) -> Option<String> {
    rig.app
        .state
        .store
        .read(|c| orchard::store::devices::get(c, channel::UDID))
        .await
        .unwrap()
        .and_then(|d| d.inventory.os_version)
}

#[tokio::test]
async fn a_simulated_iphone_is_told_to_update_installs_at_the_deadline_and_reports_its_new_version() {
    let rig = channel::rig().await;
    let device = Arc::new(channel::enroll_running(&rig.app, channel::UDID, &[7; 32], "18.6").await);
    let clock: orchard::clock::SharedClock = Arc::new(rig.app.clock.clone());
    let now = clock.now();

    let mut profile = DeviceProfile::new(Platform::Ios, channel::UDID, "18.6", "22G86");
    profile.model_identifier = "iPhone17,3".into();
    let offered = vec![OfferedUpdate::new("18.7", "22H20", now - Duration::days(1))];
    let model = SoftwareUpdateModel::new(clock.clone(), profile, offered);
    let transport = Arc::new(SignedCheckins {
        udid: channel::UDID.into(),
        client: rig.app.client.clone(),
        url: rig.app.url("/mdm/checkin"),
        device: device.clone(),
    });
    let mut ddm = DdmClient::new(transport, clock.clone(), model);
    // The enrollment push (a later change within its coalescing window would ride on it).
    rig.apns
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();

    // Enrollment: inventory, then the first sync, which brings the status subscription; the
    // device's first report reaches the inventory.
    let seen = run_command_loop(&rig, &device, &mut ddm).await;
    assert_eq!(seen, ["DeviceInformation", "DeclarativeManagement"]);
    assert!(
        ddm.subscriptions().contains("softwareupdate.install-state"),
        "{:?}",
        ddm.subscriptions()
    );
    assert_eq!(inventory_version(&rig).await.as_deref(), Some("18.6"));

    // The administrator enforces 18.7 by a deadline two days ahead (device local time = UTC).
    let deadline = (now + Duration::days(2))
        .date_naive()
        .and_hms_opt(18, 0, 0)
        .unwrap();
    let enforcement = Declaration::new(
        id("com.example.enforce"),
        &EnforcementSpecific {
            target_os_version: "18.7".into(),
            target_build_version: None,
            target_local_date_time: TargetLocalDateTime::parse(
                &deadline.format("%Y-%m-%dT%H:%M:%S").to_string(),
            )
            .unwrap(),
            details_url: None,
        },
    )
    .unwrap();
    let activation = Declaration::new(
        id("com.example.activation.enforce"),
        &SimpleActivation::new(vec![id("com.example.enforce")]).unwrap(),
    )
    .unwrap();
    rig.app
        .state
        .ddm
        .set_shared_declarations(vec![enforcement, activation])
        .await
        .unwrap();
    rig.apns
        .wait_for(2, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let seen = run_command_loop(&rig, &device, &mut ddm).await;
    assert_eq!(
        seen,
        ["DeclarativeManagement"],
        "the change reaches the device as one command"
    );
    assert!(ddm.held().contains_key("com.example.enforce"));

    // Before the deadline nothing is installed; after it (and the user's passcode), it is.
    rig.app.clock.set(now + Duration::days(1));
    ddm.advance().await.unwrap();
    assert_eq!(inventory_version(&rig).await.as_deref(), Some("18.6"));
    let mut at = deadline.and_utc();
    for _ in 0..48 {
        at += Duration::minutes(15);
        rig.app.clock.set(at);
        ddm.advance().await.unwrap();
        if inventory_version(&rig).await.as_deref() == Some("18.7") {
            break;
        }
    }
    assert_eq!(
        inventory_version(&rig).await.as_deref(),
        Some("18.7"),
        "installed and reported within 12 hours of the deadline"
    );
    let on_server = rig.app.state.ddm.status_items(channel::UDID).await.unwrap();
    let version = on_server
        .iter()
        .find(|i| i.name == "device.operating-system.version")
        .map(|i| i.value.clone());
    assert_eq!(version, Some(serde_json::json!("18.7")));

    // The device page tells the story: the enforcement active on the device, the version history
    // and the install states it went through.
    rig.app.create_admin("vic", orchard::admin::Role::Viewer).await;
    let viewer = rig.app.signed_in("vic").await;
    let page = viewer
        .get(rig.app.url(&format!("/devices/{}", channel::UDID)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let install = &page[page
        .find("Update install history")
        .expect("install history section")..];
    assert!(
        install.contains("softwareupdate.install-state") && install.contains("installing"),
        "{install}"
    );
    let versions =
        &page[page.find("OS version history").unwrap()..page.find("Update install history").unwrap()];
    assert!(
        versions.contains("18.6") && versions.contains("18.7"),
        "{versions}"
    );
    assert!(page.contains("com.example.enforce"));
}
