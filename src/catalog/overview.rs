//! Read models for the catalog page (the UI shell will render them): releases per platform with
//! dates, CVE counts, actively exploited flags and how many fleet devices each applies to; the
//! Background Security Improvements; the documents loaded; the health.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::applicability::DeviceQuery;
use super::document::DocumentKind;
use super::gdmf::{Audience, OsFamily};
use super::index::CatalogIndex;
use super::service::{CatalogHealth, CatalogService};
use super::version::OsVersion;

#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRow {
    pub family: OsFamily,
    pub version: OsVersion,
    /// Every build of this version (paired builds, repeats).
    pub builds: Vec<String>,
    /// In `PublicAssetSets` (else only in `AssetSets`: supervised devices through MDM).
    pub public: bool,
    pub posting_date: NaiveDate,
    pub expiration_date: NaiveDate,
    /// Distinct device identifiers the release supports.
    pub supported_models: usize,
    /// From SOFA, when it knows the release.
    pub security_info: Option<String>,
    pub cve_count: Option<usize>,
    pub actively_exploited: Option<usize>,
    pub in_kev: Option<usize>,
    /// Fleet devices whose model this release supports.
    pub fleet_devices: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BsiRow {
    pub family: OsFamily,
    pub version: OsVersion,
    pub build: String,
    pub prerequisite_build: String,
    pub posting_date: NaiveDate,
    pub expiration_date: NaiveDate,
    pub supported_models: usize,
    pub cve_count: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentInfo {
    pub kind: DocumentKind,
    pub description: String,
    pub bytes: usize,
    pub source: String,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CatalogOverview {
    pub releases: Vec<ReleaseRow>,
    pub bsis: Vec<BsiRow>,
    pub documents: Vec<DocumentInfo>,
    pub health: CatalogHealth,
}

impl CatalogOverview {
    pub fn releases_of(&self, family: OsFamily) -> impl Iterator<Item = &ReleaseRow> {
        self.releases.iter().filter(move |r| r.family == family)
    }
}

/// One row per (family, version), newest first within each family.
pub fn release_rows(index: &CatalogIndex, fleet: &[DeviceQuery<'_>]) -> Vec<ReleaseRow> {
    let mut fleet_counts: HashMap<(OsFamily, OsVersion), usize> = HashMap::new();
    for device in fleet {
        if let Some((_, offers)) = index.offers_for(device) {
            let mut seen = BTreeSet::new();
            for &i in &offers.releases {
                let r = index.release(i);
                if seen.insert((r.family, r.version)) {
                    *fleet_counts.entry((r.family, r.version)).or_default() += 1;
                }
            }
        }
    }
    let mut rows: Vec<ReleaseRow> = Vec::new();
    let mut models: Vec<BTreeSet<&str>> = Vec::new();
    for r in index.releases() {
        let last = rows
            .last_mut()
            .filter(|row| row.family == r.family && row.version == r.version);
        let row = match last {
            Some(row) => row,
            None => {
                let sec = index.security(r.family, r.version);
                rows.push(ReleaseRow {
                    family: r.family,
                    version: r.version,
                    builds: Vec::new(),
                    public: false,
                    posting_date: r.posting_date,
                    expiration_date: r.expiration_date,
                    supported_models: 0,
                    security_info: sec.and_then(|s| s.security_info.clone()),
                    cve_count: sec.map(|s| s.cves.len()),
                    actively_exploited: sec.map(|s| s.actively_exploited_count()),
                    in_kev: sec.map(|s| s.cves.iter().filter(|c| c.in_kev == Some(true)).count()),
                    fleet_devices: fleet_counts.get(&(r.family, r.version)).copied().unwrap_or(0),
                });
                models.push(BTreeSet::new());
                let Some(row) = rows.last_mut() else { continue };
                row
            }
        };
        let build = r.build.to_string();
        if !row.builds.contains(&build) {
            row.builds.push(build);
        }
        row.public |= r.audience == Audience::Public;
        row.posting_date = row.posting_date.min(r.posting_date);
        row.expiration_date = row.expiration_date.max(r.expiration_date);
        if let Some(set) = models.last_mut() {
            set.extend(r.devices.iter().map(String::as_str));
            row.supported_models = set.len();
        }
    }
    rows
}

impl CatalogService {
    /// [`CatalogService::overview`] for the enrolled fleet, and how much of the fleet the catalog
    /// covers (the Catalog page and `GET /api/v1/catalog/releases`).
    pub async fn fleet_overview(
        &self,
    ) -> Result<(CatalogOverview, super::fleet::FleetCoverage), crate::store::StoreError> {
        let devices = self
            .store
            .read(crate::store::devices::enrolled_for_applicability)
            .await?;
        let snapshot = self.snapshot();
        let (entries, coverage) = super::fleet::survey(&devices, &snapshot.index);
        let queries: Vec<_> = entries.iter().map(|e| e.query()).collect();
        Ok((self.overview(&queries), coverage))
    }

    /// Everything the catalog page shows. `fleet` is the inventory's devices (may be empty).
    pub fn overview(&self, fleet: &[DeviceQuery<'_>]) -> CatalogOverview {
        let snapshot = self.snapshot();
        let index = &snapshot.index;
        let bsis = index
            .bsis()
            .iter()
            .map(|b| BsiRow {
                family: b.family,
                version: b.version,
                build: b.build.to_string(),
                prerequisite_build: b.prerequisite_build.to_string(),
                posting_date: b.posting_date,
                expiration_date: b.expiration_date,
                supported_models: b.devices.len(),
                cve_count: index.bsi_security(b.family, b.version).map(|s| s.cves.len()),
            })
            .collect();
        let documents = snapshot
            .documents
            .values()
            .map(|d| DocumentInfo {
                kind: d.kind,
                description: d.kind.describe(),
                bytes: d.body.len(),
                source: d.source.clone(),
                received_at: d.received_at,
            })
            .collect();
        CatalogOverview {
            releases: release_rows(index, fleet),
            bsis,
            documents,
            health: self.health(),
        }
    }
}
