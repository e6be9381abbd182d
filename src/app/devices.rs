//! The device channel, assembled: the MDM service answers check-ins and the command queue, the
//! DDM service answers declarative management through it, and the pusher wakes devices. Each
//! service only knows the others through a small trait; the adapters here implement those traits
//! over the real services and the store.
//!
//! Construction order breaks the one cycle (the MDM service pushes through the pusher, whose
//! outcomes go back to the MDM service): the push requester receives its pusher once built.

use std::sync::{Arc, OnceLock};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::ddm::{
    DdmError, DdmLimits, DdmResponse, DdmService, InventoryError, InventorySink, NotifyError,
    StatusInventory, SyncChange, SyncNotifier,
};
use crate::enrollment::RenewalObserver;
use crate::mdm::{
    CertFingerprint, DeclarativeError, DeclarativeHandler, DeclarativeResponse, MdmService, PushRequester,
};
use crate::protocol::Udid;
use crate::protocol::checkin::{DeclarativeEndpoint, DeclarativeManagementRequest};
use crate::protocol::ddm::{self as ddm_protocol, DeviceTarget, Enrollment, OsVersion, Platform};
use crate::push::{PushError, PushOutcome, PushOutcomeSink, PushReport, PushTarget, Pusher};
use crate::store::devices::{self, Inventory};
use crate::store::{Store, command_fanout};

/// The services that talk to devices. Cheap to clone.
#[derive(Clone)]
pub struct DeviceServices {
    pub mdm: MdmService,
    pub ddm: DdmService,
    pub pusher: Pusher,
}

impl DeviceServices {
    /// Builds and connects the services. Must run inside a Tokio runtime (pushes are sent as
    /// tasks on it, and DDM check-ins are answered on it).
    pub fn build(config: &Config, store: Store, clock: SharedClock) -> Result<DeviceServices, PushError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| PushError::Client("the device services need a Tokio runtime".into()))?;
        let requester = Arc::new(ApnsPushRequester {
            store: store.clone(),
            pusher: OnceLock::new(),
        });
        let queue = MdmService::new(
            store.clone(),
            clock.clone(),
            config.mdm.clone(),
            requester.clone(),
        );
        let ddm = DdmService::new(
            store.clone(),
            clock.clone(),
            Arc::new(PushNotifier {
                push: requester.clone(),
            }),
            Arc::new(DeviceInventory {
                store: store.clone(),
                clock: clock.clone(),
            }),
            DdmLimits::from(&config.ddm),
        );
        let mdm = queue.with_declarative_handler(Arc::new(DdmCheckins {
            ddm: ddm.clone(),
            store: store.clone(),
            runtime,
        }));
        let sink = Arc::new(DevicePushRecord {
            records: super::push_records::PushRecords::start(store.clone())?,
            mdm: mdm.clone(),
        });
        let pusher = Pusher::from_config(&config.apns, &config.storage.data_dir, sink, clock)?;
        // Set exactly once, here; a second set cannot happen.
        let _ = requester.pusher.set(pusher.clone());
        Ok(DeviceServices { mdm, ddm, pusher })
    }
}

/// Pushes through APNs, addressed from the device's `TokenUpdate`.
struct ApnsPushRequester {
    store: Store,
    pusher: OnceLock<Pusher>,
}

impl ApnsPushRequester {
    fn push_all(&self, udids: &[Udid]) {
        let Some(pusher) = self.pusher.get() else {
            return;
        };
        let ids: Vec<String> = udids.iter().map(|u| u.as_str().to_string()).collect();
        let found = self.store.read_blocking(move |conn| {
            let mut addresses = command_fanout::push_addresses_among(conn, &ids)?;
            let mut targets = Vec::with_capacity(ids.len());
            for udid in ids {
                if let Some(address) = addresses.remove(&udid) {
                    targets.push(PushTarget {
                        device_id: udid,
                        token: address.token,
                        push_magic: address.push_magic,
                        topic: address.topic,
                    });
                }
            }
            Ok(targets)
        });
        match found {
            Ok(targets) => targets.into_iter().for_each(|t| pusher.request(t)),
            Err(e) => {
                tracing::error!(error = %e, "cannot read push addresses; devices pick commands up on their next check-in")
            }
        }
    }
}

impl PushRequester for ApnsPushRequester {
    fn request_push(&self, udid: &Udid) {
        self.push_all(std::slice::from_ref(udid));
    }

    fn request_pushes(&self, udids: &[Udid]) {
        self.push_all(udids);
    }
}

/// Records how each push ended on the device; a delivered push releases the commands the
/// device answered `NotNow`.
struct DevicePushRecord {
    records: super::push_records::PushRecords,
    mdm: MdmService,
}

fn outcome_text(outcome: &PushOutcome) -> String {
    match outcome {
        PushOutcome::Delivered { .. } => "delivered".into(),
        PushOutcome::TokenInvalid { reason } => format!("token invalid: {reason}"),
        PushOutcome::CertificateRejected { reason } => format!("certificate rejected: {reason}"),
        PushOutcome::Rejected { reason } => format!("rejected: {reason}"),
        PushOutcome::GaveUp { reason } => format!("gave up: {reason}"),
        PushOutcome::NoCertificate => "no push certificate imported".into(),
    }
}

impl PushOutcomeSink for DevicePushRecord {
    fn record<'a>(&'a self, report: &'a PushReport) -> BoxFuture<'a, ()> {
        async move {
            let recorded = self
                .records
                .record(&report.device_id, outcome_text(&report.outcome), report.at)
                .await;
            if let Err(e) = recorded {
                tracing::error!(device = %report.device_id, error = %e, "cannot record the push outcome");
            }
            if matches!(report.outcome, PushOutcome::Delivered { .. })
                && let Ok(udid) = Udid::parse(&report.device_id)
            {
                let mdm = self.mdm.clone();
                match tokio::task::spawn_blocking(move || mdm.mark_pushed(&udid)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(device = %report.device_id, error = %e, "cannot release NotNow commands"),
                    Err(e) => tracing::error!(error = %e, "NotNow release task failed"),
                }
            }
        }
        .boxed()
    }
}

/// Answers `DeclarativeManagement` check-ins with the DDM service. The MDM service calls it on a
/// blocking thread, so it waits for the DDM service's future there.
struct DdmCheckins {
    ddm: DdmService,
    store: Store,
    runtime: tokio::runtime::Handle,
}

fn endpoint_path(endpoint: &DeclarativeEndpoint) -> String {
    match endpoint {
        DeclarativeEndpoint::Tokens => "tokens".into(),
        DeclarativeEndpoint::DeclarationItems => "declaration-items".into(),
        DeclarativeEndpoint::Status => "status".into(),
        DeclarativeEndpoint::Declaration { class, identifier } => format!("declaration/{class}/{identifier}"),
    }
}

/// Identifiers of the declarations every DDM device gets from enrollment on (built, with the
/// policy engine's, by [`crate::ddm::device_set::device_own_set`]).
pub use crate::ddm::device_set::{STATUS_ACTIVATION_ID, STATUS_SUBSCRIPTION_ID};

/// What the device told at enrollment about its DDM abilities.
enum DeclarativeAbility {
    /// Platform and OS known, with declarative management.
    Yes(DeviceTarget),
    /// Platform and OS known, too old.
    No,
    /// Not enough known: give it the benefit of the doubt (a device without DDM answers the
    /// command with an error), but without declarations built for its platform.
    Unknown,
}

impl DdmCheckins {
    fn ability(&self, udid: &Udid) -> DeclarativeAbility {
        let id = udid.as_str().to_string();
        let Ok(Some(device)) = self.store.read_blocking(move |c| devices::get(c, &id)) else {
            return DeclarativeAbility::Unknown;
        };
        let inventory = &device.inventory;
        let platform = inventory
            .product_name
            .as_deref()
            .and_then(Platform::of_model_identifier);
        let version = inventory
            .os_version
            .as_deref()
            .and_then(|v| v.parse::<OsVersion>().ok());
        let (Some(platform), Some(version)) = (platform, version) else {
            return DeclarativeAbility::Unknown;
        };
        if !ddm_protocol::supports(platform, version).declarative_management {
            return DeclarativeAbility::No;
        }
        let enrollment = match inventory.is_supervised {
            Some(true) => Enrollment::Supervised,
            _ => Enrollment::Device,
        };
        DeclarativeAbility::Yes(DeviceTarget::new(platform, version, enrollment))
    }
}

impl DeclarativeHandler for DdmCheckins {
    fn handle(
        &self,
        request: &DeclarativeManagementRequest,
    ) -> Result<DeclarativeResponse, DeclarativeError> {
        let endpoint = endpoint_path(&request.endpoint);
        let result = self.runtime.block_on(self.ddm.handle(
            request.udid.as_str(),
            &endpoint,
            request.data.as_deref(),
        ));
        match result {
            Ok(DdmResponse::Json(body)) => Ok(DeclarativeResponse::Json(body)),
            Ok(DdmResponse::NoContent) => Ok(DeclarativeResponse::NoContent),
            Err(DdmError::NotFound) => Ok(DeclarativeResponse::NotFound),
            Err(e) => {
                let status = e.http_status();
                if (400..500).contains(&status) {
                    Err(DeclarativeError::Refused {
                        status,
                        reason: e.to_string(),
                    })
                } else {
                    Err(DeclarativeError::Failed(e.to_string()))
                }
            }
        }
    }

    fn sync_due(&self, conn: &rusqlite::Connection, udid: &Udid) -> Result<bool, DeclarativeError> {
        self.ddm
            .sync_due(conn, udid.as_str())
            .map_err(|e| DeclarativeError::Failed(e.to_string()))
    }

    fn claim_sync(
        &self,
        tx: &rusqlite::Connection,
        udid: &Udid,
    ) -> Result<Option<Vec<u8>>, DeclarativeError> {
        self.ddm
            .claim_sync(tx, udid.as_str())
            .map_err(|e| DeclarativeError::Failed(e.to_string()))
    }

    fn enrolled(&self, udid: &Udid) -> bool {
        match self.ability(udid) {
            DeclarativeAbility::No => {
                tracing::info!(%udid, "OS too old for declarative management; managed by MDM commands only");
                return true;
            }
            DeclarativeAbility::Yes(target) => {
                // Its policy configurations follow from the policy engine, which re-delivers
                // the whole set after an enrollment.
                let assigned = crate::ddm::device_set::device_own_set(&target, Vec::new())
                    .map_err(|e| e.to_string())
                    .and_then(|declarations| {
                        self.runtime
                            .block_on(self.ddm.set_device_declarations(udid.as_str(), declarations))
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = assigned {
                    tracing::error!(%udid, error = %e, "status subscription not assigned");
                }
            }
            DeclarativeAbility::Unknown => {}
        }
        match self.runtime.block_on(self.ddm.on_enrollment(udid.as_str())) {
            Ok(()) => true,
            // Recorded as due: it gets its sync at its next connect; the periodic flush pushes again.
            Err(DdmError::Notify(e)) => {
                tracing::warn!(%udid, error = %e, "device due a sync not pushed yet; pushed by the next flush");
                true
            }
            Err(e) => {
                tracing::error!(%udid, error = %e, "DDM enrollment failed; queuing a plain DeclarativeManagement");
                false
            }
        }
    }
}

/// Tells devices their declarations changed: a push each. Nothing is queued: the MDM service
/// makes the `DeclarativeManagement` command, with the tokens current then, when the device
/// checks in ([`DdmCheckins::claim_sync`]).
struct PushNotifier {
    push: Arc<ApnsPushRequester>,
}

impl SyncNotifier for PushNotifier {
    fn declarations_changed<'a>(
        &'a self,
        changes: &'a [SyncChange],
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        async move {
            let mut udids = Vec::with_capacity(changes.len());
            for change in changes {
                match Udid::parse(&change.udid) {
                    Ok(udid) => udids.push(udid),
                    Err(e) => tracing::warn!(udid = %change.udid, error = %e, "not a UDID; not pushed"),
                }
            }
            let push = self.push.clone();
            // Reading the push addresses blocks on the store, and pushing is the pusher's work:
            // the change does not wait for either. A device that is not pushed stays due (the
            // hourly flush pushes it again) and gets its sync at its next check-in anyway.
            drop(tokio::task::spawn_blocking(move || push.request_pushes(&udids)));
            Ok(())
        }
        .boxed()
    }
}

/// Writes what status reports say about the device into its inventory.
struct DeviceInventory {
    store: Store,
    clock: SharedClock,
}

impl InventorySink for DeviceInventory {
    fn inventory_changed<'a>(
        &'a self,
        udid: &'a str,
        inventory: &'a StatusInventory,
    ) -> BoxFuture<'a, Result<(), InventoryError>> {
        async move {
            let update = Inventory {
                os_version: inventory.os_version.clone(),
                build_version: inventory.build_version.clone(),
                supplemental_build_version: inventory.supplemental_build_version.clone(),
                supplemental_os_version_extra: inventory.supplemental_extra_version.clone(),
                product_name: inventory.model_identifier.clone(),
                model_name: inventory.model_family.clone(),
                software_update_device_id: inventory.device_id.clone(),
                ..Inventory::default()
            };
            let udid = udid.to_string();
            let now = self.clock.now();
            self.store
                .write(move |conn| devices::update_inventory(conn, &udid, &update, now))
                .await
                .map_err(|e| InventoryError(e.to_string()))
        }
        .boxed()
    }
}

/// A renewed identity certificate (SCEP `RenewalReq`) takes over its predecessor's device.
impl RenewalObserver for MdmService {
    fn renewed(&self, old_fingerprint: &str, new_fingerprint: &str) {
        let (Some(old), Some(new)) = (
            CertFingerprint::parse(old_fingerprint),
            CertFingerprint::parse(new_fingerprint),
        ) else {
            tracing::error!("renewal with a malformed certificate fingerprint; binding unchanged");
            return;
        };
        match self.rebind(&old, &new) {
            Ok(Some(udid)) => tracing::info!(%udid, "identity certificate renewed; device rebound"),
            Ok(None) => tracing::info!("renewed certificate was bound to no device"),
            Err(e) => tracing::warn!(error = %e, "renewed certificate not rebound"),
        }
    }
}
