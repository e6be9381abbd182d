//! A DDM service over a real SQLite file in a temporary directory, a virtual clock, and recording
//! implementations of the two traits the MDM layer provides (command queue + push, inventory).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use futures_util::future::BoxFuture;
use orchard::clock::VirtualClock;
use orchard::ddm::{
    DdmLimits, DdmResponse, DdmService, InventoryError, InventorySink, NotifyError, StatusInventory,
    SyncChange, SyncNotifier,
};
use orchard::protocol::ddm::management::StatusItemName;
use orchard::protocol::ddm::{
    Declaration, DeclarationIdentifier, EnforcementSpecific, SimpleActivation, SoftwareUpdateSettings,
    StatusSubscriptions, TargetLocalDateTime,
};
use orchard::store::Store;
use serde_json::Value;

/// Records every notification; can be told to fail.
#[derive(Default)]
pub struct RecordingNotifier {
    pub changes: Mutex<Vec<SyncChange>>,
    pub fail: Mutex<bool>,
}

impl SyncNotifier for RecordingNotifier {
    fn declarations_changed<'a>(
        &'a self,
        changes: &'a [SyncChange],
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            if *self.fail.lock().unwrap() {
                return Err(NotifyError {
                    message: "push service unavailable".into(),
                    failed: changes.iter().map(|c| c.udid.clone()).collect(),
                });
            }
            self.changes.lock().unwrap().extend_from_slice(changes);
            Ok(())
        })
    }
}

#[derive(Default)]
pub struct RecordingInventory {
    pub updates: Mutex<Vec<(String, StatusInventory)>>,
}

impl InventorySink for RecordingInventory {
    fn inventory_changed<'a>(
        &'a self,
        udid: &'a str,
        inventory: &'a StatusInventory,
    ) -> BoxFuture<'a, Result<(), InventoryError>> {
        Box::pin(async move {
            self.updates
                .lock()
                .unwrap()
                .push((udid.to_string(), inventory.clone()));
            Ok(())
        })
    }
}

pub struct Fixture {
    pub service: DdmService,
    pub notifier: Arc<RecordingNotifier>,
    pub inventory: Arc<RecordingInventory>,
    pub clock: VirtualClock,
    pub store: Store,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = VirtualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap());
        let store = Store::open(&dir.path().join("orchard.db"), "2026-03-01T09:00:00Z").unwrap();
        let notifier = Arc::new(RecordingNotifier::default());
        let inventory = Arc::new(RecordingInventory::default());
        let service = DdmService::new(
            store.clone(),
            Arc::new(clock.clone()),
            notifier.clone(),
            inventory.clone(),
            DdmLimits::default(),
        );
        Fixture {
            service,
            notifier,
            inventory,
            clock,
            store,
            dir,
        }
    }

    /// The notifications sent so far, as (udid, DeclarationsToken); clears the record.
    pub fn take_notifications(&self) -> Vec<(String, String)> {
        let changes = std::mem::take(&mut *self.notifier.changes.lock().unwrap());
        changes
            .into_iter()
            .map(|change| (change.udid, change.declarations_token))
            .collect()
    }

    /// What the MDM service does when a device due a sync connects: claims the sync (in a
    /// transaction, through the same seam) and returns the sync tokens the command carries.
    pub async fn send_sync(&self, udid: &str) -> Option<Vec<u8>> {
        let service = self.service.clone();
        let udid = udid.to_string();
        self.store
            .write(move |conn| {
                let tx = conn.transaction()?;
                let tokens = service.claim_sync(&tx, &udid).unwrap();
                tx.commit()?;
                Ok(tokens)
            })
            .await
            .unwrap()
    }

    /// [`Fixture::send_sync`], as the `DeclarationsToken` the command carries.
    pub async fn send_sync_token(&self, udid: &str) -> Option<String> {
        let tokens = self.send_sync(udid).await?;
        let json: Value = serde_json::from_slice(&tokens).unwrap();
        Some(
            json["SyncTokens"]["DeclarationsToken"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    pub async fn get(&self, udid: &str, endpoint: &str) -> Value {
        match self.service.handle(udid, endpoint, None).await.unwrap() {
            DdmResponse::Json(body) => serde_json::from_slice(&body).unwrap(),
            DdmResponse::NoContent => panic!("{endpoint} answered 204"),
        }
    }

    pub async fn token(&self, udid: &str) -> String {
        self.get(udid, "tokens").await["SyncTokens"]["DeclarationsToken"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn status(&self, udid: &str, report: &Value) {
        let body = serde_json::to_vec(report).unwrap();
        let answer = self.service.handle(udid, "status", Some(&body)).await.unwrap();
        assert_eq!(answer, DdmResponse::NoContent);
    }

    /// Every row of every DDM table, to prove that refused input stored nothing.
    pub fn dump(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.dir.path().join("orchard.db")).unwrap();
        let mut rows = Vec::new();
        for table in [
            "ddm_declarations",
            "ddm_groups",
            "ddm_group_members",
            "ddm_shared",
            "ddm_sets",
            "ddm_devices",
            "ddm_status_items",
            "ddm_status_history",
            "ddm_status_errors",
            "ddm_declaration_states",
        ] {
            let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
            let columns = stmt.column_count();
            let mut query = stmt.query([]).unwrap();
            while let Some(row) = query.next().unwrap() {
                let values: Vec<String> = (0..columns)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                rows.push(format!("{table}: {}", values.join("|")));
            }
        }
        rows
    }
}

/// A real device message from the shared reference folder (next to the worktree or its parent).
pub fn device_message(name: &str) -> Vec<u8> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../shared/reference/device-messages").join(name),
        manifest.join("../../shared/reference/device-messages").join(name),
    ];
    let path = candidates
        .iter()
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is missing; looked at {candidates:?}"));
    std::fs::read(path).unwrap()
}

pub fn id(text: &str) -> DeclarationIdentifier {
    DeclarationIdentifier::parse(text).unwrap()
}

pub fn enforcement(version: &str, deadline: &str) -> Declaration {
    let payload = EnforcementSpecific {
        target_os_version: version.into(),
        target_build_version: None,
        target_local_date_time: TargetLocalDateTime::parse(deadline).unwrap(),
        details_url: None,
    };
    Declaration::new(id("orchard.enforce"), &payload).unwrap()
}

pub fn settings(notifications: bool) -> Declaration {
    let payload = SoftwareUpdateSettings {
        notifications: Some(notifications),
        ..SoftwareUpdateSettings::default()
    };
    Declaration::new(id("orchard.settings"), &payload).unwrap()
}

pub fn activation(configurations: &[&str]) -> Declaration {
    let payload = SimpleActivation::new(configurations.iter().map(|c| id(c)).collect()).unwrap();
    Declaration::new(id("orchard.activation"), &payload).unwrap()
}

pub fn subscription(items: &[&str]) -> Declaration {
    let payload = StatusSubscriptions {
        status_items: items
            .iter()
            .map(|name| StatusItemName {
                name: name.to_string(),
            })
            .collect(),
    };
    Declaration::new(id("orchard.status"), &payload).unwrap()
}
