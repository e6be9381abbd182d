//! Macs install a cached macOS full installer from the appliance: `InstallEnterpriseApplication`
//! with a `ManifestURL` on the appliance (`/cache/manifests/<sha256>.plist`) whose one
//! `software-package` asset is the payload's own `/cache/<sha256>/<file>` URL, and
//! `ManifestURLPinningCerts` = the appliance CA, so the Mac trusts the appliance's TLS
//! certificate for the manifest without the CA being in its trust store.
//!
//! Only what is safe to install is offered: a ready macOS installer (`.pkg`) that was checked
//! against Apple's chunklist. Quarantined, unverified, IPSW and catalog payloads are refused with
//! the reason, and so are devices that are not enrolled Macs; a request with any refusal queues
//! nothing.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{CacheError, CacheService, Digest, PayloadKind};
use crate::admin::Actor;
use crate::admin::audit;
use crate::clock::SharedClock;
use crate::mdm::{MdmError, MdmService};
use crate::protocol::Udid;
use crate::protocol::commands::app_manifest::PackageManifest;
use crate::protocol::commands::{CommandRequest, EnterpriseApplication};
use crate::protocol::ddm::platform::Platform;
use crate::store::cache::PayloadRow;
use crate::store::devices::{self, EnrollmentState};
use crate::store::{Store, StoreError};

/// Most devices one request may name.
pub const MAX_DEVICES: usize = 1000;

/// What `bundle-identifier` the manifest names (Orchard does not open the package to read the
/// installer app's own identifier; macOS checks the package's signature, not this text).
pub const INSTALLER_BUNDLE_ID: &str = "com.apple.InstallAssistant";

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no payload with this digest is cached")]
    NotCached,
    /// The payload may not be installed on a Mac; the reason says why.
    #[error("{0}")]
    NotDeliverable(String),
    #[error("name between 1 and {MAX_DEVICES} serial numbers")]
    DeviceCount,
    /// Devices that cannot get the installer, with the reason for each; nothing was queued.
    #[error("{} device(s) cannot get this installer", .0.len())]
    DevicesRefused(Vec<DeviceRefusal>),
    #[error("{0}")]
    Mdm(#[from] MdmError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Cache(#[from] CacheError),
}

/// A device named in a request that cannot get the installer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRefusal {
    pub serial: String,
    pub reason: String,
}

/// A command queued for a Mac.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedInstall {
    pub serial: String,
    pub udid: String,
    pub uuid: String,
}

/// Why a payload may not be installed on Macs, if it may not.
pub fn refusal_reason(row: &PayloadRow) -> Option<String> {
    if row.state == "quarantined" {
        return Some("this payload is quarantined: it failed verification and is never served".into());
    }
    if row.state != "ready" {
        return Some(format!("this payload is not ready ({})", row.state));
    }
    if PayloadKind::parse(&row.kind) != Some(PayloadKind::Installer)
        || !row.platform.eq_ignore_ascii_case("macOS")
        || !row.filename.ends_with(".pkg")
    {
        return Some(format!(
            "this payload is a {} {} ({}), not a macOS installer package: only InstallAssistant.pkg can be installed on a Mac",
            row.platform, row.kind, row.filename
        ));
    }
    if row.chunklist_sha256.is_none() {
        return Some(
            "this installer was not verified against Apple's chunklist (it was imported without its \
             .integrityDataV1 file): download it, or import it again with the chunklist beside it"
                .into(),
        );
    }
    None
}

/// Where the manifest of `digest` is served under `base_url` (the appliance's public URL).
pub fn manifest_url(base_url: &str, digest: &str) -> String {
    format!(
        "{}/cache/manifests/{digest}.plist",
        base_url.trim_end_matches('/')
    )
}

/// The manifest of a deliverable installer, pointing at its URL under `base_url`.
pub fn manifest_for(row: &PayloadRow, base_url: &str) -> PackageManifest {
    PackageManifest {
        package_url: format!(
            "{}/cache/{}/{}",
            base_url.trim_end_matches('/'),
            row.digest,
            row.filename
        ),
        size: row.size,
        sha256: row.digest.clone(),
        bundle_identifier: INSTALLER_BUNDLE_ID.into(),
        bundle_version: row.version.clone(),
        title: format!("macOS {} ({}) installer", row.version, row.build),
    }
}

/// The command: the manifest at `manifest_url`, trusted through the appliance CA `ca_der`
/// (a private CA publishes no revocation, so the revocation check is not required).
pub fn install_command(manifest_url: &str, ca_der: &[u8]) -> Result<CommandRequest, DeliveryError> {
    let mut app = EnterpriseApplication::from_manifest_url(manifest_url)
        .map_err(|e| DeliveryError::NotDeliverable(format!("the manifest URL: {e}")))?;
    app.pinning_certs = vec![ca_der.to_vec()];
    app.pinning_revocation_check_required = Some(false);
    Ok(CommandRequest::InstallEnterpriseApplication(app))
}

/// Installer delivery to Macs. Cheap to clone.
#[derive(Clone)]
pub struct InstallerDelivery {
    cache: CacheService,
    mdm: MdmService,
    store: Store,
    clock: SharedClock,
    ca_der: Vec<u8>,
}

impl InstallerDelivery {
    pub fn new(
        cache: CacheService,
        mdm: MdmService,
        store: Store,
        clock: SharedClock,
        ca_der: Vec<u8>,
    ) -> InstallerDelivery {
        InstallerDelivery {
            cache,
            mdm,
            store,
            clock,
            ca_der,
        }
    }

    /// The payload `digest` if it may be installed on Macs.
    pub async fn installer(&self, digest: &Digest) -> Result<PayloadRow, DeliveryError> {
        let row = self
            .cache
            .payload(digest)
            .await?
            .ok_or(DeliveryError::NotCached)?;
        match refusal_reason(&row) {
            Some(reason) => Err(DeliveryError::NotDeliverable(reason)),
            None => Ok(row),
        }
    }

    /// The manifest (XML property list) of installer `digest`, its package under `base_url`.
    pub async fn manifest(&self, digest: &Digest, base_url: &str) -> Result<Vec<u8>, DeliveryError> {
        let row = self.installer(digest).await?;
        manifest_for(&row, base_url)
            .to_xml()
            .map_err(|e| DeliveryError::NotDeliverable(e.to_string()))
    }

    /// Queues `InstallEnterpriseApplication` of installer `digest` for the Macs with these serial
    /// numbers, each with its audit record. All or nothing: if any device cannot get it, nothing
    /// is queued and every refusal is returned.
    pub async fn install_on(
        &self,
        actor: &Actor,
        digest: &Digest,
        serials: &[String],
        base_url: &str,
    ) -> Result<Vec<QueuedInstall>, DeliveryError> {
        let wanted: BTreeSet<String> = serials
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if wanted.is_empty() || wanted.len() > MAX_DEVICES {
            return Err(DeliveryError::DeviceCount);
        }
        let row = self.installer(digest).await?;
        let lookup = wanted.clone();
        let targets = self
            .store
            .read(move |c| {
                lookup
                    .into_iter()
                    .map(|serial| Ok((devices::by_serial(c, &serial)?, serial)))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        let mut refused = Vec::new();
        let mut macs = Vec::new();
        for (device, serial) in targets {
            match device_refusal(device.as_ref()) {
                Some(reason) => refused.push(DeviceRefusal { serial, reason }),
                None => {
                    if let Some(d) = device {
                        macs.push((serial, d.udid));
                    }
                }
            }
        }
        if !refused.is_empty() {
            return Err(DeliveryError::DevicesRefused(refused));
        }
        let url = manifest_url(base_url, &row.digest);
        let request = install_command(&url, &self.ca_der)?;
        let (mdm, clock, actor) = (self.mdm.clone(), self.clock.clone(), actor.clone());
        let queued = tokio::task::spawn_blocking(move || {
            let mut queued = Vec::new();
            for (serial, udid_text) in macs {
                let udid = Udid::parse(&udid_text).map_err(|_| MdmError::NotEnrolled(udid_text.clone()))?;
                let details = serde_json::json!({
                    "payload": row.digest, "version": row.version, "build": row.build,
                    "manifest_url": url, "udid": udid_text,
                });
                let uuid = mdm.enqueue_with(&udid, request.clone(), 0, |conn, uuid| {
                    let mut after = details.clone();
                    after["uuid"] = serde_json::Value::String(uuid.as_str().to_string());
                    audit::record(
                        conn,
                        &actor,
                        clock.now(),
                        "cache.install_on",
                        &serial,
                        None,
                        Some(after),
                    )
                    .map(|_| ())
                })?;
                queued.push(QueuedInstall {
                    serial,
                    udid: udid_text,
                    uuid: uuid.as_str().to_string(),
                });
            }
            Ok::<_, DeliveryError>(queued)
        })
        .await
        .map_err(|e| DeliveryError::NotDeliverable(format!("the queueing task failed: {e}")))??;
        Ok(queued)
    }
}

/// Why a device cannot get a macOS installer, if it cannot.
fn device_refusal(device: Option<&devices::Device>) -> Option<String> {
    let Some(device) = device else {
        return Some("no device with this serial number".into());
    };
    if device.state != EnrollmentState::Enrolled {
        return Some(format!("this device is not enrolled ({})", device.state.as_str()));
    }
    let product = device.inventory.product_name.as_deref().unwrap_or("");
    match Platform::of_model_identifier(product) {
        Some(Platform::MacOs) => None,
        _ => Some(format!(
            "not a Mac ({}): InstallEnterpriseApplication installs packages on macOS only",
            if product.is_empty() {
                "model unknown"
            } else {
                product
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> PayloadRow {
        PayloadRow {
            digest: "ab".repeat(32),
            kind: "installer".into(),
            platform: "macOS".into(),
            version: "26.6.2".into(),
            build: "25G83".into(),
            filename: "InstallAssistant.pkg".into(),
            size: 1000,
            chunklist_sha256: Some("cd".repeat(32)),
            source_url: None,
            fetched_at: "2026-09-01 12:00:00".into(),
            last_served_at: None,
            pinned: false,
            state: "ready".into(),
            problem: None,
        }
    }

    #[test]
    fn only_verified_ready_macos_installers_are_deliverable() {
        assert_eq!(refusal_reason(&row()), None);
        let quarantined = PayloadRow {
            state: "quarantined".into(),
            ..row()
        };
        assert!(refusal_reason(&quarantined).unwrap().contains("quarantined"));
        let unverified = PayloadRow {
            chunklist_sha256: None,
            ..row()
        };
        assert!(refusal_reason(&unverified).unwrap().contains("chunklist"));
        let ipsw = PayloadRow {
            kind: "ipsw".into(),
            platform: "iOS".into(),
            filename: "iPhone.ipsw".into(),
            ..row()
        };
        assert!(refusal_reason(&ipsw).unwrap().contains("not a macOS installer"));
    }

    #[test]
    fn the_manifest_points_at_the_payload_under_the_public_url() {
        let m = manifest_for(&row(), "https://orchard.example:8443/");
        assert_eq!(
            m.package_url,
            format!(
                "https://orchard.example:8443/cache/{}/InstallAssistant.pkg",
                "ab".repeat(32)
            )
        );
        assert_eq!((m.size, m.sha256.as_str()), (1000, "ab".repeat(32).as_str()));
        assert_eq!(
            manifest_url("https://o.example/", "ff"),
            "https://o.example/cache/manifests/ff.plist"
        );
    }
}
