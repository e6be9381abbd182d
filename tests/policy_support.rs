//! Shared builders for the policy tests: the real catalog samples (as they stood on a given date),
//! devices, policies and a one-line summary of a plan for table tests.

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use orchard::catalog::CatalogIndex;
use orchard::catalog::document::{DEFAULT_MAX_DOCUMENT_BYTES, ParsedDocument, parse_document};
use orchard::catalog::gdmf::GdmfCatalog;
use orchard::catalog::sofa::SofaFeed;
use orchard::policy::{BsiPolicy, DeviceView, Enforcement, MajorPolicy, Plan, Target};
use orchard::protocol::ddm::{Enrollment, Platform, SoftwareUpdateSettings};

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const SOFA_MAC: &[u8] = include_bytes!("data/catalog-samples/sofa-v2-macos_data_feed.json");
const SOFA_IOS: &[u8] = include_bytes!("data/catalog-samples/sofa-v2-ios_data_feed.json");

fn gdmf() -> GdmfCatalog {
    match parse_document(GDMF, DEFAULT_MAX_DOCUMENT_BYTES) {
        Ok(ParsedDocument::Gdmf(g)) => g,
        _ => panic!("the gdmf sample does not parse"),
    }
}

fn feeds() -> Vec<SofaFeed> {
    [SOFA_MAC, SOFA_IOS]
        .iter()
        .map(|b| match parse_document(b, DEFAULT_MAX_DOCUMENT_BYTES) {
            Ok(ParsedDocument::Sofa(f)) => f,
            _ => panic!("a SOFA sample does not parse"),
        })
        .collect()
}

/// The real catalog of 2026-04-12 (gdmf) with the SOFA v2 macOS and iOS feeds.
pub fn catalog() -> &'static CatalogIndex {
    static INDEX: OnceLock<CatalogIndex> = OnceLock::new();
    INDEX.get_or_init(|| CatalogIndex::build(gdmf(), &feeds(), &[]))
}

/// The same catalog as it stood on `date`: only what had been posted by then.
pub fn catalog_as_of(date: NaiveDate) -> CatalogIndex {
    let mut g = gdmf();
    g.releases.retain(|r| r.posting_date <= date);
    g.bsis.retain(|b| b.posting_date <= date);
    CatalogIndex::build(g, &feeds(), &[])
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

pub fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    day(y, m, d).and_time(time(h, min))
}

/// An instant, given as UTC.
pub fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&local(y, m, d, h, 0))
}

/// A device with DDM on, in UTC, found in the catalog by its model identifier.
pub fn device(model: &str, version: &str, build: &str, enrollment: Enrollment) -> DeviceView {
    DeviceView {
        platform: None,
        model: Some(model.to_string()),
        software_update_device_id: None,
        os_version: version.parse().unwrap(),
        build: Some(build.parse().unwrap()),
        supplemental_extra: None,
        enrollment,
        ddm_active: true,
        utc_offset: FixedOffset::east_opt(0).unwrap(),
    }
}

pub fn supervised(model: &str, version: &str, build: &str) -> DeviceView {
    device(model, version, build, Enrollment::Supervised)
}

pub fn unsupervised(model: &str, version: &str, build: &str) -> DeviceView {
    device(model, version, build, Enrollment::Device)
}

pub fn policy(name: &str, platforms: &[Platform], enforcement: Enforcement) -> orchard::policy::Policy {
    orchard::policy::Policy {
        name: name.to_string(),
        label: name.to_string(),
        platforms: platforms.to_vec(),
        priority: 0,
        enforcement,
        bsi: BsiPolicy::None,
        settings: SoftwareUpdateSettings::default(),
        majors: MajorPolicy::default(),
    }
}

pub const IOS: &[Platform] = &[Platform::Ios, Platform::IpadOs];
pub const MAC: &[Platform] = &[Platform::MacOs];

/// One line per plan, for table tests: what a person would read first on the device page.
pub fn summary(p: &Plan) -> String {
    match &p.target {
        Target::Enforce(e) => format!(
            "enforce {} ({}) by {} visible {} {:?}",
            e.version, e.build, e.deadline.local, e.visible_from, e.path
        ),
        Target::NoAction { reason } => format!("no action: {reason}"),
        Target::Unknown { reason } => format!("unknown: {reason}"),
    }
}
