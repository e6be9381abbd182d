//! The harness: the real DDM service (fixture) with one enrolled device, and the simulated device
//! talking to it in-process, with every status report it sends recorded.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures_util::future::BoxFuture;
use orchard::protocol::ddm::{Declaration, DeferralDays, Deferrals, Platform, SoftwareUpdateSettings};
use orchard::sim::ddm::{
    DdmClient, DdmTransport, DeviceProfile, InProcessTransport, ModelTiming, OfferedUpdate,
    SoftwareUpdateModel, SyncOutcome,
};
use serde_json::Value;

use crate::ddm_fixture::{Fixture, activation, id, subscription};

pub(super) const SUBSCRIBED: &[&str] = &[
    "softwareupdate.install-state",
    "softwareupdate.pending-version",
    "softwareupdate.install-reason",
    "softwareupdate.failure-reason",
    "device.operating-system.version",
    "device.operating-system.build-version",
    "management.declarations",
];

/// Passes calls to the service and keeps every status report sent.
pub(super) struct Recording {
    inner: InProcessTransport,
    pub reports: Mutex<Vec<Value>>,
}

impl DdmTransport for Recording {
    fn declarative(
        &self,
        endpoint: &str,
        data: Option<Vec<u8>>,
    ) -> BoxFuture<'_, Result<(u16, Vec<u8>), String>> {
        if endpoint == "status"
            && let Some(body) = &data
        {
            self.reports
                .lock()
                .unwrap()
                .push(serde_json::from_slice(body).unwrap());
        }
        self.inner.declarative(endpoint, data)
    }
}

pub(super) fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap()
}

pub(super) fn settings_deferring(days: i64) -> Declaration {
    let payload = SoftwareUpdateSettings {
        deferrals: Some(Deferrals {
            combined_period_in_days: Some(DeferralDays::new(days, "Deferrals").unwrap()),
            ..Deferrals::default()
        }),
        ..SoftwareUpdateSettings::default()
    };
    Declaration::new(id("orchard.settings"), &payload).unwrap()
}

pub(super) struct Sim {
    pub f: Fixture,
    pub client: DdmClient,
    pub transport: Arc<Recording>,
    pub udid: String,
}

impl Sim {
    /// A server with the shared subscription and activation, one device with `own` declarations,
    /// enrolled; the simulated device is `profile` and Apple offers `catalog`.
    pub async fn new(profile: DeviceProfile, catalog: Vec<OfferedUpdate>, own: Vec<Declaration>) -> Sim {
        let f = Fixture::new();
        let activated = ["orchard.settings", "orchard.enforce", "orchard.status"];
        let shared = vec![subscription(SUBSCRIBED), activation(&activated)];
        f.service.set_shared_declarations(shared).await.unwrap();
        let udid = profile.udid.clone();
        f.service.set_device_declarations(&udid, own).await.unwrap();
        f.service.on_enrollment(&udid).await.unwrap();
        let transport = Arc::new(Recording {
            inner: InProcessTransport::new(f.service.clone(), &udid),
            reports: Mutex::new(Vec::new()),
        });
        let timing = ModelTiming {
            passcode_entry: Duration::minutes(45),
            ..ModelTiming::default()
        };
        let model = SoftwareUpdateModel::new(Arc::new(f.clock.clone()), profile, catalog).with_timing(timing);
        let client = DdmClient::new(transport.clone(), Arc::new(f.clock.clone()), model);
        Sim {
            f,
            client,
            transport,
            udid,
        }
    }

    /// The device was pushed for a change; it checks in and is sent its `DeclarativeManagement`
    /// command (its `Data`, made then), which it runs.
    pub async fn deliver(&mut self) -> SyncOutcome {
        let change = self
            .f
            .notifier
            .changes
            .lock()
            .unwrap()
            .pop()
            .expect("a push for a declaration change");
        self.f.notifier.changes.lock().unwrap().clear();
        assert_eq!(change.udid, self.udid);
        let tokens = self
            .f
            .send_sync(&self.udid)
            .await
            .expect("a DeclarativeManagement command");
        self.client
            .on_declarative_management(Some(&tokens))
            .await
            .unwrap()
    }

    pub async fn advance_to(&mut self, time: DateTime<Utc>) {
        self.f.clock.set(time);
        self.client.advance().await.unwrap();
    }

    /// The latest value the server stored for a status item.
    pub async fn server(&self, name: &str) -> Option<Value> {
        let items = self.f.service.status_items(&self.udid).await.unwrap();
        items
            .into_iter()
            .find(|item| item.name == name)
            .map(|item| item.value)
    }

    pub async fn server_version(&self) -> Option<String> {
        self.f.service.inventory(&self.udid).await.unwrap().os_version
    }
}

pub(super) fn iphone(version: &str, build: &str) -> DeviceProfile {
    DeviceProfile::new(Platform::Ios, "00008110-000A1B2C3D4E5F60", version, build)
}

pub(super) fn catalog_18_4() -> Vec<OfferedUpdate> {
    vec![OfferedUpdate::new(
        "18.4",
        "22E240",
        at(1, 9, 0) - Duration::days(1),
    )]
}
