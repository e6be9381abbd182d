//! The catalog in memory, indexed by device identifier so that a fleet can be answered fast.
//! Built from one gdmf catalog (the truth for which versions, builds and devices exist) and any
//! number of SOFA feeds (which only add dates, security notes, CVEs, installers and images).

use std::collections::HashMap;

use super::gdmf::{Audience, BackgroundSecurityImprovement, GdmfCatalog, OsFamily, Release};
use super::sofa::{Installer, RestoreImage, SofaBsi, SofaFeed, SofaRelease};
use super::version::OsVersion;

/// What one gdmf device identifier may be offered, newest first.
#[derive(Debug, Default)]
pub(crate) struct DeviceOffers {
    pub releases: Vec<u32>,
    pub bsis: Vec<u32>,
}

#[derive(Debug, Default)]
pub struct CatalogIndex {
    releases: Vec<Release>,
    bsis: Vec<BackgroundSecurityImprovement>,
    pub(crate) devices: HashMap<Box<str>, DeviceOffers>,
    /// Mac model identifier (`Mac14,9`) → gdmf board ids (`J414sAP`), from SOFA v2 `Devices`.
    pub(crate) models: HashMap<Box<str>, Vec<Box<str>>>,
    security: HashMap<(OsFamily, OsVersion), SofaRelease>,
    bsi_security: HashMap<(OsFamily, OsVersion), SofaBsi>,
    installers: Vec<Installer>,
    restore_images: Vec<RestoreImage>,
}

impl CatalogIndex {
    /// Indexes a gdmf catalog and the SOFA feeds that enrich it.
    pub fn build(gdmf: GdmfCatalog, feeds: &[SofaFeed], extra_installers: &[Installer]) -> CatalogIndex {
        let mut releases = gdmf.releases;
        // Newest first; public before supervised-only; then by build so paired builds are stable.
        releases.sort_by(|a, b| {
            (a.family, b.version, a.audience == Audience::Supervised, &a.build).cmp(&(
                b.family,
                a.version,
                b.audience == Audience::Supervised,
                &b.build,
            ))
        });
        let mut bsis = gdmf.bsis;
        bsis.sort_by(|a, b| (a.family, b.version, &a.build).cmp(&(b.family, a.version, &b.build)));

        let mut devices: HashMap<Box<str>, DeviceOffers> = HashMap::new();
        for (i, r) in releases.iter().enumerate() {
            for d in &r.devices {
                devices
                    .entry(d.as_str().into())
                    .or_default()
                    .releases
                    .push(i as u32);
            }
        }
        for (i, b) in bsis.iter().enumerate() {
            for d in &b.devices {
                devices.entry(d.as_str().into()).or_default().bsis.push(i as u32);
            }
        }
        let mut index = CatalogIndex {
            releases,
            bsis,
            devices,
            ..CatalogIndex::default()
        };
        for feed in feeds {
            index.add_feed(feed);
        }
        for i in extra_installers {
            index.add_installer(i.clone());
        }
        index.installers.sort_by_key(|i| std::cmp::Reverse(i.version));
        index
    }

    fn add_feed(&mut self, feed: &SofaFeed) {
        for r in &feed.releases {
            // A version listed twice (device-specific releases) keeps its first, fullest entry,
            // and gains the CVEs of the others.
            match self.security.get_mut(&(feed.family, r.version)) {
                Some(existing) => {
                    for cve in &r.cves {
                        if !existing.cves.iter().any(|c| c.id == cve.id) {
                            existing.cves.push(cve.clone());
                        }
                    }
                }
                None => {
                    self.security.insert((feed.family, r.version), r.clone());
                }
            }
        }
        for b in &feed.bsis {
            self.bsi_security
                .entry((feed.family, b.version))
                .or_insert_with(|| b.clone());
        }
        for i in &feed.installers {
            self.add_installer(i.clone());
        }
        for image in &feed.restore_images {
            if !self.restore_images.iter().any(|x| x.build == image.build) {
                self.restore_images.push(image.clone());
            }
        }
        for (board, model) in &feed.board_models {
            let boards = self.models.entry(model.as_str().into()).or_default();
            if !boards.iter().any(|b| **b == **board) {
                boards.push(board.as_str().into());
            }
        }
    }

    fn add_installer(&mut self, installer: Installer) {
        if !self.installers.iter().any(|x| x.build == installer.build) {
            self.installers.push(installer);
        }
    }

    pub fn releases(&self) -> &[Release] {
        &self.releases
    }

    pub fn bsis(&self) -> &[BackgroundSecurityImprovement] {
        &self.bsis
    }

    pub(crate) fn release(&self, i: u32) -> &Release {
        &self.releases[i as usize]
    }

    pub(crate) fn bsi(&self, i: u32) -> &BackgroundSecurityImprovement {
        &self.bsis[i as usize]
    }

    /// Number of distinct device identifiers the catalog knows.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// What SOFA says about a release: dates, security notes, CVEs.
    pub fn security(&self, family: OsFamily, version: OsVersion) -> Option<&SofaRelease> {
        self.security.get(&(family, version))
    }

    pub fn bsi_security(&self, family: OsFamily, version: OsVersion) -> Option<&SofaBsi> {
        self.bsi_security.get(&(family, version))
    }

    /// macOS full installers known to SOFA, newest first.
    pub fn installers(&self) -> &[Installer] {
        &self.installers
    }

    pub fn installer_for(&self, build: &str) -> Option<&Installer> {
        self.installers.iter().find(|i| i.build == build)
    }

    pub fn restore_images(&self) -> &[RestoreImage] {
        &self.restore_images
    }

    /// Release families present, in display order.
    pub fn families(&self) -> Vec<OsFamily> {
        let mut f: Vec<OsFamily> = self.releases.iter().map(|r| r.family).collect();
        f.dedup();
        f
    }
}
