//! Mac content caches: the settings of the `com.apple.AssetCache.managed` profile, installing it
//! on chosen Macs (`InstallProfile` through the MDM queue), and asking those Macs for their
//! cache's status (`ContentCachingInformation`, macOS 10.15.4+), whose answers the MDM queue
//! stores as they arrive (`mdm::queue` → `store::content_caching::record_status`).
//!
//! Protocol facts and their sources: `protocol::content_caching`.

use std::collections::HashSet;

use crate::admin::Actor;
use crate::clock::SharedClock;
use crate::mdm::{MdmError, MdmService};
use crate::protocol::Udid;
use crate::protocol::commands::CommandRequest;
use crate::protocol::content_caching::{ContentCachingSettings, PROFILE_IDENTIFIER, SettingsError};
use crate::protocol::ddm::Platform;
use crate::store::content_caching::{self as sql, MacRow, SettingsRow};
use crate::store::{Store, StoreError, devices, sql_time};

/// Queue priority of the profile and the status queries (below update commands' defaults).
const PRIORITY: i64 = 0;
/// Most Macs one request may name.
pub const MAX_MACS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ContentCachingError {
    #[error("{0}")]
    Invalid(#[from] SettingsError),
    #[error("the saved content-caching settings cannot be read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Mdm(#[from] MdmError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What happened for one Mac asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallOutcome {
    /// The profile is queued (command UUID).
    Queued(String),
    /// Not sent, and why.
    Refused(String),
}

/// The saved settings and who saved them (`None`: never saved; the defaults are shown).
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSettings {
    pub settings: ContentCachingSettings,
    pub saved: Option<(String, String)>,
}

/// The content-caching service. Cheap to clone.
#[derive(Clone)]
pub struct ContentCachingService {
    store: Store,
    clock: SharedClock,
    mdm: MdmService,
}

/// Why a device cannot take the profile, or `None` when it can. `Com.apple.AssetCache.managed`
/// is a macOS payload (10.13.4+; `iOS`, `tvOS`, `visionOS`, `watchOS`: n/a in Apple's schema).
pub fn refusal(device: Option<&devices::Device>) -> Option<String> {
    let Some(device) = device else {
        return Some("no such device is enrolled here".into());
    };
    if device.state != devices::EnrollmentState::Enrolled {
        return Some("this device is not enrolled".into());
    }
    let model = device.inventory.product_name.as_deref();
    match model.and_then(Platform::of_model_identifier) {
        Some(Platform::MacOs) => {}
        Some(other) => {
            return Some(format!(
                "this is a {} device ({}): content caching is a macOS service",
                other.display_name(),
                model.unwrap_or_default()
            ));
        }
        None => return Some("its model is not known yet, so it cannot be confirmed to be a Mac".into()),
    }
    let version = device.inventory.os_version.as_deref().unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    if major != 0 && (major, minor, patch) < (10, 13, 4) {
        return Some(format!(
            "macOS {version} predates the content-caching payload (10.13.4)"
        ));
    }
    None
}

impl ContentCachingService {
    pub fn new(store: Store, clock: SharedClock, mdm: MdmService) -> ContentCachingService {
        ContentCachingService { store, clock, mdm }
    }

    pub async fn settings(&self) -> Result<SavedSettings, ContentCachingError> {
        let row = self.store.read(sql::settings).await?;
        match row {
            None => Ok(SavedSettings {
                settings: ContentCachingSettings::default(),
                saved: None,
            }),
            Some(r) => Ok(SavedSettings {
                settings: serde_json::from_str(&r.settings)
                    .map_err(|e| ContentCachingError::Corrupt(e.to_string()))?,
                saved: Some((r.updated_at, r.updated_by)),
            }),
        }
    }

    /// Validates and saves the settings (audited). Macs get them when the profile is installed.
    pub async fn save_settings(
        &self,
        settings: ContentCachingSettings,
        actor: &Actor,
    ) -> Result<(), ContentCachingError> {
        settings.validate()?;
        let now = self.clock.now();
        let json =
            serde_json::to_string(&settings).map_err(|e| ContentCachingError::Corrupt(e.to_string()))?;
        let after = serde_json::to_value(&settings).ok();
        let row = SettingsRow {
            settings: json,
            updated_at: sql_time(now),
            updated_by: actor.name.clone(),
        };
        let actor = actor.clone();
        self.store
            .write(move |c| {
                let tx = c.transaction()?;
                sql::save_settings(&tx, &row)?;
                crate::admin::audit::record(
                    &tx,
                    &actor,
                    now,
                    "content_caching.settings",
                    "cache",
                    None,
                    after,
                )?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Queues the profile of the saved settings for each Mac in `udids` (each audited with the
    /// command). Devices that are not enrolled Macs are refused with the reason.
    pub async fn install(
        &self,
        udids: &[Udid],
        actor: &Actor,
    ) -> Result<Vec<(Udid, InstallOutcome)>, ContentCachingError> {
        if udids.is_empty() || udids.len() > MAX_MACS {
            return Err(ContentCachingError::BadInput(format!(
                "Choose between 1 and {MAX_MACS} Macs."
            )));
        }
        let settings = self.settings().await?.settings;
        settings.validate()?;
        let (profile, fingerprint) = settings.profile();
        let (service, udids, actor) = (self.clone(), udids.to_vec(), actor.clone());
        tokio::task::spawn_blocking(move || service.install_blocking(&udids, &profile, &fingerprint, &actor))
            .await
            .map_err(|e| ContentCachingError::Store(StoreError::Task(e.to_string())))?
    }

    fn install_blocking(
        &self,
        udids: &[Udid],
        profile: &[u8],
        fingerprint: &str,
        actor: &Actor,
    ) -> Result<Vec<(Udid, InstallOutcome)>, ContentCachingError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for udid in udids {
            if !seen.insert(udid.clone()) {
                continue;
            }
            let u = udid.as_str().to_string();
            let device = self.store.read_blocking(move |c| devices::get(c, &u))?;
            if let Some(why) = refusal(device.as_ref()) {
                out.push((udid.clone(), InstallOutcome::Refused(why)));
                continue;
            }
            let now = self.clock.now();
            let request = CommandRequest::InstallProfile {
                payload: profile.to_vec(),
            };
            let queued = self.mdm.enqueue_with(udid, request, PRIORITY, |tx, uuid| {
                sql::record_install(tx, udid.as_str(), fingerprint, uuid.as_str(), &sql_time(now))?;
                let after = serde_json::json!({
                    "udid": udid.as_str(),
                    "command": uuid.as_str(),
                    "profile_sha256": fingerprint,
                });
                crate::admin::audit::record(
                    tx,
                    actor,
                    now,
                    "content_caching.install",
                    "device",
                    None,
                    Some(after),
                )?;
                Ok(())
            });
            match queued {
                Ok(uuid) => out.push((udid.clone(), InstallOutcome::Queued(uuid.to_string()))),
                Err(MdmError::NotEnrolled(_)) => out.push((
                    udid.clone(),
                    InstallOutcome::Refused("this device is not enrolled".into()),
                )),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Queues the removal of Orchard's content-caching profile (`RemoveProfile`) from a Mac it
    /// was sent to, and forgets the Mac's record and status (audited with the command). Apple:
    /// removing a profile that set `AutoActivation` does not turn the cache off.
    pub async fn remove(&self, udid: &Udid, actor: &Actor) -> Result<String, ContentCachingError> {
        let (service, udid, actor) = (self.clone(), udid.clone(), actor.clone());
        tokio::task::spawn_blocking(move || {
            let now = service.clock.now();
            let request = CommandRequest::RemoveProfile {
                identifier: PROFILE_IDENTIFIER.into(),
            };
            let uuid = service.mdm.enqueue_with(&udid, request, PRIORITY, |tx, uuid| {
                if !sql::forget_mac(tx, udid.as_str())? {
                    return Err(StoreError::NotFound);
                }
                let after = serde_json::json!({ "udid": udid.as_str(), "command": uuid.as_str() });
                crate::admin::audit::record(
                    tx,
                    &actor,
                    now,
                    "content_caching.remove",
                    "device",
                    None,
                    Some(after),
                )?;
                Ok(())
            });
            match uuid {
                Ok(uuid) => Ok(uuid.to_string()),
                Err(MdmError::Store(StoreError::NotFound)) => Err(ContentCachingError::BadInput(
                    "That Mac was not sent the content-caching profile.".into(),
                )),
                Err(MdmError::NotEnrolled(_)) => Err(ContentCachingError::BadInput(
                    "That Mac is not enrolled: a profile cannot be removed from it.".into(),
                )),
                Err(e) => Err(e.into()),
            }
        })
        .await
        .map_err(|e| ContentCachingError::Store(StoreError::Task(e.to_string())))?
    }

    /// Asks every enrolled Mac the profile was sent to for its cache's status
    /// (`ContentCachingInformation`; a query not yet sent is replaced, not repeated). The
    /// answers are stored as they arrive. Returns how many Macs were asked.
    pub async fn request_status(&self) -> Result<usize, ContentCachingError> {
        let udids = self.store.read(sql::enrolled_udids).await?;
        let requests: Vec<(Udid, CommandRequest)> = udids
            .iter()
            .filter_map(|u| Udid::parse(u).ok())
            .map(|u| (u, CommandRequest::ContentCachingInformation))
            .collect();
        let asked = requests.len();
        let mdm = self.mdm.clone();
        tokio::task::spawn_blocking(move || mdm.enqueue_superseding(&requests, PRIORITY))
            .await
            .map_err(|e| ContentCachingError::Store(StoreError::Task(e.to_string())))??;
        Ok(asked)
    }

    /// The Macs the profile was sent to, with their latest status.
    pub async fn macs(&self) -> Result<Vec<MacRow>, ContentCachingError> {
        Ok(self.store.read(sql::macs).await?)
    }
}
