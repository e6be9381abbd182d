//! The real samples (tests/data/catalog-samples, see SOURCES.md there) through the parsers, the
//! index and applicability.

use super::CatalogError;
use super::applicability::{Applicability, DeviceQuery, UnknownReason, UpdateStatus};
use super::document::{DEFAULT_MAX_DOCUMENT_BYTES, DocumentKind, ParsedDocument, parse_document};
use super::gdmf::{Audience, GdmfCatalog, OsFamily};
use super::index::CatalogIndex;
use super::sofa::SofaFeed;
use super::version::Build;

macro_rules! sample {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/data/catalog-samples/", $name)).as_slice()
    };
}

pub(crate) const GDMF_RAW: &[u8] = sample!("gdmf-pmv-raw-2026-04-12.json");
pub(crate) const GDMF_WRAPPED: &[u8] = sample!("gdmf-pmv-2024-07-01-sofa-cache-wrapper.json");
pub(crate) const SOFA_V1_MACOS: &[u8] = sample!("sofa-v1-macos_data_feed.json");
pub(crate) const SOFA_V1_IOS: &[u8] = sample!("sofa-v1-ios_data_feed.json");
pub(crate) const SOFA_V2_MACOS: &[u8] = sample!("sofa-v2-macos_data_feed.json");
pub(crate) const SOFA_V2_IOS: &[u8] = sample!("sofa-v2-ios_data_feed.json");
const SOFA_DMS: &[u8] = sample!("sofa-v2-dms_consumers.json");
const SOFA_UMA: &[u8] = sample!("sofa-uma_catalog.json");

fn parse(bytes: &[u8]) -> ParsedDocument {
    parse_document(bytes, DEFAULT_MAX_DOCUMENT_BYTES).unwrap()
}

fn gdmf(bytes: &[u8]) -> GdmfCatalog {
    match parse(bytes) {
        ParsedDocument::Gdmf(g) => g,
        other => panic!("not gdmf: {:?}", other.kind()),
    }
}

fn sofa(bytes: &[u8]) -> SofaFeed {
    match parse(bytes) {
        ParsedDocument::Sofa(f) => f,
        other => panic!("not SOFA: {:?}", other.kind()),
    }
}

fn b(s: &str) -> Build {
    s.parse().unwrap()
}

#[test]
fn every_catalog_sample_parses_as_its_kind() {
    let table: [(&[u8], DocumentKind); 8] = [
        (GDMF_RAW, DocumentKind::Gdmf),
        (GDMF_WRAPPED, DocumentKind::Gdmf),
        (SOFA_V1_MACOS, DocumentKind::SofaV1(OsFamily::MacOs)),
        (SOFA_V1_IOS, DocumentKind::SofaV1(OsFamily::Ios)),
        (SOFA_V2_MACOS, DocumentKind::SofaV2(OsFamily::MacOs)),
        (SOFA_V2_IOS, DocumentKind::SofaV2(OsFamily::Ios)),
        (SOFA_DMS, DocumentKind::SofaDmsConsumers),
        (SOFA_UMA, DocumentKind::SofaUmaCatalog),
    ];
    for (bytes, kind) in table {
        assert_eq!(parse(bytes).kind(), kind);
    }
    // The JSON Schemas and the changelog are not catalog documents and are refused as such.
    for bytes in [
        sample!("sofa-v2-macos_data_feed.schema.json"),
        sample!("sofa-v1-macos_data_feed.schema.json"),
        sample!("sofa-v2-schema_changelog.json"),
    ] {
        let err = parse_document(bytes, DEFAULT_MAX_DOCUMENT_BYTES).unwrap_err();
        assert!(matches!(err, CatalogError::WrongShape(_)), "{err}");
    }
}

#[test]
fn raw_gdmf_holds_all_sets_and_the_background_security_improvements() {
    let g = gdmf(GDMF_RAW);
    let public = g
        .releases
        .iter()
        .filter(|r| r.audience == Audience::Public)
        .count();
    let supervised = g
        .releases
        .iter()
        .filter(|r| r.audience == Audience::Supervised)
        .count();
    assert_eq!((public, supervised), (29 + 2 + 6, 86 + 17 + 8));
    assert!(!g.legacy_shape);
    let bsis: Vec<(String, String, String, OsFamily)> = g
        .bsis
        .iter()
        .map(|x| {
            (
                x.version.to_string(),
                x.build.to_string(),
                x.prerequisite_build.to_string(),
                x.family,
            )
        })
        .collect();
    assert!(bsis.contains(&(
        "26.3.1 (a)".into(),
        "23D771330a".into(),
        "23D8133".into(),
        OsFamily::Ios
    )));
    assert!(bsis.contains(&(
        "26.3.2 (a)".into(),
        "25D771400a".into(),
        "25D2140".into(),
        OsFamily::MacOs
    )));
    assert!(bsis.contains(&(
        "26.3.1 (a)".into(),
        "25D771280a".into(),
        "25D2128".into(),
        OsFamily::MacOs
    )));
    let mac_bsi = g.bsis.iter().find(|x| x.build == b("25D771400a")).unwrap();
    assert_eq!(mac_bsi.devices, vec!["J700AP".to_string()]);
    assert_eq!(mac_bsi.posting_date.to_string(), "2026-03-17");
    assert_eq!(mac_bsi.expiration_date.to_string(), "2026-07-11");
}

#[test]
fn ios_list_entries_are_classified_by_their_devices() {
    let g = gdmf(GDMF_RAW);
    let family = |build: &str| g.releases.iter().find(|r| r.build == b(build)).unwrap().family;
    assert_eq!(family("20U512"), OsFamily::WatchOs);
    assert_eq!(family("23L243"), OsFamily::TvOs); // Apple TV and HomePod share the entry
    assert_eq!(family("23E254"), OsFamily::Ios);
    assert_eq!(family("23O247"), OsFamily::VisionOs);
    assert_eq!(family("25E253"), OsFamily::MacOs);
    // Repeated version and build with different device sets and posting dates.
    let repeats: Vec<_> = g
        .releases
        .iter()
        .filter(|r| r.build == b("22H340") && r.audience == Audience::Public)
        .map(|r| (r.posting_date.to_string(), r.devices.len()))
        .collect();
    assert_eq!(repeats.len(), 2);
    assert!(repeats.contains(&("2026-04-08".into(), 6)) && repeats.contains(&("2026-04-01".into(), 82)));
}

#[test]
fn wrapped_legacy_gdmf_maps_xros_to_visionos() {
    let g = gdmf(GDMF_WRAPPED);
    assert!(g.legacy_shape);
    assert!(g.bsis.is_empty());
    let xr: Vec<_> = g.releases.iter().filter(|r| r.build == b("21N333")).collect();
    assert_eq!(xr.len(), 2);
    assert!(xr.iter().all(|r| r.family == OsFamily::VisionOs));
}

#[test]
fn sofa_feeds_carry_security_content_installers_and_images() {
    let v2 = sofa(SOFA_V2_MACOS);
    let r = v2
        .releases
        .iter()
        .find(|r| r.version.to_string() == "26.6.1")
        .unwrap();
    assert_eq!(
        r.security_info.as_deref(),
        Some("https://support.apple.com/en-us/148170")
    );
    assert_eq!(r.actively_exploited_count(), 1);
    let cve = r.cves.iter().find(|c| c.id == "CVE-2026-65400").unwrap();
    assert_eq!((cve.actively_exploited, cve.in_kev), (true, Some(true)));
    assert_eq!(r.days_since_previous, Some(10));
    assert_eq!(r.release_date.unwrap().to_string(), "2026-08-06");
    let latest = &v2.installers[0];
    assert_eq!(
        (latest.version.to_string(), latest.size),
        ("26.6.2".into(), Some(18391902710))
    );
    assert!(latest.url.ends_with("InstallAssistant.pkg"));
    assert!(
        v2.restore_images[0]
            .url
            .ends_with("UniversalMac_26.6.2_25G83_Restore.ipsw")
    );
    assert!(v2.board_models.contains(&("J414sAP".into(), "Mac14,9".into())));
    assert!(
        v2.bsis
            .iter()
            .any(|x| x.build == "25D771280a" && x.cves == ["CVE-2026-20643"])
    );

    let v1 = sofa(SOFA_V1_MACOS);
    assert_eq!(v1.installers[0].size, Some(18391902710));
    assert_eq!(v1.restore_images[0].build, "25G83");
    let ios = sofa(SOFA_V1_IOS);
    let r = ios
        .releases
        .iter()
        .find(|r| r.version.to_string() == "26.3")
        .unwrap();
    assert!(r.cves.iter().filter(|c| c.actively_exploited).count() >= 1);
    assert_eq!(
        r.cves.iter().find(|c| c.in_kev.is_some()),
        None,
        "v1 has no KEV flags"
    );
}

#[test]
fn sofa_v2_of_an_unknown_schema_is_refused_by_name() {
    let mut value: serde_json::Value = serde_json::from_slice(SOFA_V2_IOS).unwrap();
    value["SchemaVersion"] = "2027.01.01.1".into();
    let bytes = serde_json::to_vec(&value).unwrap();
    let err = parse_document(&bytes, DEFAULT_MAX_DOCUMENT_BYTES).unwrap_err();
    assert!(matches!(err, CatalogError::UnsupportedSchema(_)), "{err}");
    assert!(err.to_string().contains("2027.01.01.1"), "{err}");
}

pub(crate) fn sample_index() -> CatalogIndex {
    let feeds = [sofa(SOFA_V2_MACOS), sofa(SOFA_V2_IOS)];
    CatalogIndex::build(gdmf(GDMF_RAW), &feeds, &[])
}

fn query<'a>(
    family: OsFamily,
    id: &'a str,
    version: &str,
    build: Option<&'a Build>,
    supervised: bool,
) -> DeviceQuery<'a> {
    DeviceQuery {
        family,
        device_id: Some(id),
        model: None,
        version: version.parse().unwrap(),
        build,
        supervised,
    }
}

fn versions(list: &[&super::gdmf::Release]) -> Vec<String> {
    list.iter().map(|r| r.version.to_string()).collect()
}

fn known<'a>(a: Applicability<'a>) -> super::applicability::Answer<'a> {
    match a {
        Applicability::Known(answer) => answer,
        Applicability::Unknown(r) => panic!("unknown: {r:?}"),
    }
}

#[test]
fn iphone_on_18_sees_26_and_the_latest_18() {
    let index = sample_index();
    let a = known(index.applicability(&query(OsFamily::Ios, "iPhone14,2", "18.7.6", None, false)));
    assert_eq!(a.latest.unwrap().version.to_string(), "26.4.1");
    assert_eq!(a.latest.unwrap().build, b("23E254"), "first of the paired builds");
    assert_eq!(a.latest_in_major.unwrap().version.to_string(), "18.7.7");
    assert_eq!(a.latest_previous_major.unwrap().version.to_string(), "18.7.7");
    assert_eq!(versions(&a.installable), ["26.4.1", "18.7.7"]);
    assert_eq!(a.status, UpdateStatus::UpdateAvailable);
    // Supervised, the MDM-only releases are offered too.
    let s = known(index.applicability(&query(OsFamily::Ios, "iPhone14,2", "18.7.6", None, true)));
    assert_eq!(
        versions(&s.installable),
        ["26.4.1", "26.4", "26.3.1", "26.3", "26.2.1", "26.2", "18.7.7"]
    );
}

#[test]
fn iphone_on_the_bsi_prerequisite_gets_the_bsi_once() {
    let index = sample_index();
    let base = b("23D8133");
    let a = known(index.applicability(&query(OsFamily::Ios, "iPhone14,2", "26.3.1", Some(&base), true)));
    let bsi = a.bsi.unwrap();
    assert_eq!(
        (bsi.version.to_string(), bsi.build.to_string()),
        ("26.3.1 (a)".into(), "23D771330a".into())
    );
    let applied = known(index.applicability(&query(
        OsFamily::Ios,
        "iPhone14,2",
        "26.3.1 (a)",
        Some(&base),
        true,
    )));
    assert!(applied.bsi.is_none());
    let other_build = b("23D9133");
    let other = known(index.applicability(&query(
        OsFamily::Ios,
        "iPhone14,2",
        "26.3.1",
        Some(&other_build),
        true,
    )));
    assert!(other.bsi.is_none(), "only on the prerequisite build");
}

#[test]
fn old_ipad_tops_out_at_18() {
    let index = sample_index();
    let a = known(index.applicability(&query(OsFamily::Ios, "iPad7,11", "18.7.7", None, false)));
    assert_eq!(a.latest.unwrap().version.to_string(), "18.7.7");
    assert!(a.installable.is_empty());
    assert!(a.latest_previous_major.is_none());
    assert_eq!(a.status, UpdateStatus::UpToDate);
}

#[test]
fn apple_tv_gets_tvos() {
    let index = sample_index();
    let a = known(index.applicability(&query(OsFamily::TvOs, "AppleTV14,1", "26.3", None, false)));
    let latest = a.latest.unwrap();
    assert_eq!(
        (latest.family, latest.version.to_string()),
        (OsFamily::TvOs, "26.4".into())
    );
    assert_eq!(a.status, UpdateStatus::UpdateAvailable);
}

#[test]
fn apple_silicon_mac_by_board_id_and_by_model() {
    let index = sample_index();
    let base = b("25D2128");
    let a = known(index.applicability(&query(OsFamily::MacOs, "J414sAP", "26.3.1", Some(&base), false)));
    assert_eq!(a.catalog_id, "J414sAP");
    assert_eq!(a.latest.unwrap().version.to_string(), "26.4.1");
    assert_eq!(a.latest_previous_major.unwrap().version.to_string(), "15.7.5");
    assert_eq!(a.bsi.unwrap().build, b("25D771280a"));
    // Only the model identifier known: found through SOFA's board map.
    let by_model = DeviceQuery {
        device_id: None,
        model: Some("Mac14,9"),
        ..query(OsFamily::MacOs, "", "15.7.4", None, false)
    };
    let m = known(index.applicability(&by_model));
    assert_eq!(m.catalog_id, "J414sAP");
    assert_eq!(m.latest_in_major.unwrap().version.to_string(), "15.7.5");
}

#[test]
fn intel_macs_stop_at_their_last_supported_major() {
    let index = sample_index();
    let t2 = known(index.applicability(&query(OsFamily::MacOs, "J132AP", "14.8.4", None, false)));
    assert_eq!(t2.latest.unwrap().version.to_string(), "15.7.5");
    assert_eq!(t2.latest_in_major.unwrap().version.to_string(), "14.8.5");
    assert_eq!(t2.latest_previous_major.unwrap().version.to_string(), "14.8.5");
    let old = known(index.applicability(&query(
        OsFamily::MacOs,
        "Mac-827FAC58A8FDFA22",
        "11.7.11",
        None,
        false,
    )));
    assert_eq!(old.latest.unwrap().version.to_string(), "11.7.11");
    assert_eq!(old.status, UpdateStatus::UpToDate);
}

#[test]
fn unknown_model_is_unknown_never_up_to_date() {
    let index = sample_index();
    let a = index.applicability(&query(OsFamily::Ios, "iPhone99,9", "26.4.1", None, false));
    assert!(matches!(a, Applicability::Unknown(UnknownReason::UnknownModel)));
    let empty = CatalogIndex::default();
    let a = empty.applicability(&query(OsFamily::Ios, "iPhone14,2", "26.4.1", None, false));
    assert!(matches!(a, Applicability::Unknown(UnknownReason::NoCatalog)));
}

#[test]
fn sofa_enriches_gdmf_releases() {
    let index = sample_index();
    let sec = index.security(OsFamily::Ios, "26.3".parse().unwrap()).unwrap();
    assert!(sec.actively_exploited_count() >= 1);
    assert!(index.installer_for("25G83").is_some());
}

#[test]
fn overview_rows_merge_builds_and_count_the_fleet() {
    let index = sample_index();
    let fleet = [
        query(OsFamily::Ios, "iPhone14,2", "18.7.6", None, false),
        query(OsFamily::Ios, "iPad7,11", "18.7.7", None, false),
        query(OsFamily::Ios, "iPhone99,9", "18.7.7", None, false),
    ];
    let rows = super::overview::release_rows(&index, &fleet);
    let row = |family, v: &str| {
        rows.iter()
            .find(|r| r.family == family && r.version.to_string() == v)
            .unwrap()
            .clone()
    };
    let ios = row(OsFamily::Ios, "26.4.1");
    assert_eq!(ios.builds, ["23E254", "23E6254"]);
    assert!(ios.public);
    assert_eq!(ios.fleet_devices, 1);
    let eighteen = row(OsFamily::Ios, "18.7.7");
    assert_eq!(
        eighteen.fleet_devices, 2,
        "iPhone and old iPad; unknown model not counted"
    );
    assert_eq!(eighteen.supported_models, 88);
    let exploited = row(OsFamily::Ios, "26.3");
    assert!(!exploited.public, "26.3 is only in AssetSets by 2026-04-12");
    assert!(exploited.actively_exploited.unwrap() >= 1);
    assert!(exploited.security_info.is_some());
    assert!(
        row(OsFamily::WatchOs, "26.4").cve_count.is_none(),
        "no watchOS SOFA feed loaded"
    );
}
