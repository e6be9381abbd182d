//! Which releases a device may install, answered from the [`CatalogIndex`]. Pure.
//!
//! A device is looked up by its `SoftwareUpdateDeviceID` (the identifier gdmf lists: a Mac board
//! id such as `J414sAP` or `Mac-…`, an iPhone model such as `iPhone14,2`), else by its model
//! identifier, else (Macs) through SOFA's model → board map. A device the catalog does not know is
//! [`Applicability::Unknown`], never "up to date".

use super::gdmf::{Audience, BackgroundSecurityImprovement, OsFamily, Release};
use super::index::{CatalogIndex, DeviceOffers};
use super::version::{Build, OsVersion};

/// What the appliance knows about one device, as reported by DeviceInformation or DDM status.
#[derive(Debug, Clone)]
pub struct DeviceQuery<'a> {
    pub family: OsFamily,
    /// `SoftwareUpdateDeviceID` / `softwareupdate.device-id`.
    pub device_id: Option<&'a str>,
    /// `ProductName` / `device.model.identifier`, e.g. `iPad13,18` or `Mac14,9`.
    pub model: Option<&'a str>,
    /// `OSVersion` with the supplemental letter if one is installed.
    pub version: OsVersion,
    /// `BuildVersion` (the base build, without supplemental letter).
    pub build: Option<&'a Build>,
    pub supervised: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownReason {
    /// No catalog has been loaded yet.
    NoCatalog,
    /// Neither the device id nor the model is in the catalog.
    UnknownModel,
}

#[derive(Debug)]
pub enum Applicability<'a> {
    Unknown(UnknownReason),
    Known(Answer<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStatus {
    UpToDate,
    UpdateAvailable,
    /// Known model, but nothing the device may be offered (e.g. supervised-only releases).
    NothingOffered,
}

#[derive(Debug)]
pub struct Answer<'a> {
    /// The gdmf identifier the device matched.
    pub catalog_id: &'a str,
    /// Releases newer than the current version, one per version (first of paired builds), newest first.
    pub installable: Vec<&'a Release>,
    /// The newest release offered to this device (may be the version it runs).
    pub latest: Option<&'a Release>,
    /// The newest release of the major line the device runs.
    pub latest_in_major: Option<&'a Release>,
    /// The newest release of the major line below `latest` (N-1).
    pub latest_previous_major: Option<&'a Release>,
    /// The Background Security Improvement the device may install now: it runs the
    /// prerequisite build and has not applied this one yet.
    pub bsi: Option<&'a BackgroundSecurityImprovement>,
    pub status: UpdateStatus,
}

impl CatalogIndex {
    pub(crate) fn offers_for<'s>(&'s self, q: &DeviceQuery<'_>) -> Option<(&'s str, &'s DeviceOffers)> {
        let direct = |id: &str| self.devices.get_key_value(id).map(|(k, v)| (&**k, v));
        if let Some(found) = q.device_id.and_then(direct) {
            return Some(found);
        }
        if let Some(found) = q.model.and_then(direct) {
            return Some(found);
        }
        let boards = self.models.get(q.model?)?;
        boards.iter().find_map(|b| direct(b))
    }

    /// Answers what `query` may install.
    pub fn applicability<'s>(&'s self, q: &DeviceQuery<'_>) -> Applicability<'s> {
        if self.releases().is_empty() {
            return Applicability::Unknown(UnknownReason::NoCatalog);
        }
        let Some((catalog_id, offers)) = self.offers_for(q) else {
            return Applicability::Unknown(UnknownReason::UnknownModel);
        };
        let current = q.version;
        let mut installable: Vec<&Release> = Vec::new();
        let mut latest = None;
        let mut latest_in_major = None;
        let mut latest_previous_major: Option<&Release> = None;
        let mut last_version = None;
        for &i in &offers.releases {
            let r = self.release(i);
            if r.audience == Audience::Supervised && !q.supervised {
                continue;
            }
            // Newest first: the first offer of each version is kept (paired builds, repeats).
            if last_version == Some(r.version) {
                continue;
            }
            last_version = Some(r.version);
            let top = *latest.get_or_insert(r);
            if latest_in_major.is_none() && r.version.major_line() == current.major_line() {
                latest_in_major = Some(r);
            }
            if latest_previous_major.is_none() && r.version.major_line() < top.version.major_line() {
                latest_previous_major = Some(r);
            }
            if r.version > current.base() {
                installable.push(r);
            }
        }
        let bsi = q.build.and_then(|build| {
            offers
                .bsis
                .iter()
                .map(|&i| self.bsi(i))
                .filter(|b| &b.prerequisite_build == build && b.version.base() == current.base())
                .filter(|b| {
                    current
                        .extra
                        .is_none_or(|applied| applied < b.version.extra.unwrap_or('a'))
                })
                .max_by_key(|b| b.version)
        });
        let status = match latest {
            None => UpdateStatus::NothingOffered,
            Some(l) if l.version.base() <= current.base() && bsi.is_none() => UpdateStatus::UpToDate,
            Some(_) => UpdateStatus::UpdateAvailable,
        };
        Applicability::Known(Answer {
            catalog_id,
            installable,
            latest,
            latest_in_major,
            latest_previous_major,
            bsi,
            status,
        })
    }
}
