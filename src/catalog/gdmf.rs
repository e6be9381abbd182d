//! Apple's public version catalog, `https://gdmf.apple.com/v2/pmv`. Pure parsing.
//!
//! Two shapes are accepted: the raw response, and the older copy SOFA cached as
//! `{"etag": ..., "data": <response>}`. Traps the samples show, handled here:
//! - the `iOS` list also holds watchOS, tvOS and HomePod entries: the family of an entry is taken
//!   from its `SupportedDevices`, not from the list it sits in;
//! - paired builds: the same version appears with two builds (`23E254` and `23E6254`);
//! - repeated versions: the same version and build appear twice with different device sets and
//!   posting dates (iOS 18.7.7 for older and newer devices);
//! - `xrOS` is the old name of `visionOS`, `PublicRapidSecurityResponses` the old name of
//!   `PublicBackgroundSecurityImprovements`.

use chrono::NaiveDate;
use serde::Deserialize;

use super::CatalogError;
use super::version::{Build, OsVersion, parse_extra};

/// The operating system an offer is for, derived from its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OsFamily {
    /// iPhone, iPad, iPod touch.
    Ios,
    MacOs,
    TvOs,
    /// HomePod.
    AudioOs,
    WatchOs,
    VisionOs,
    Other,
}

impl OsFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Ios => "iOS",
            OsFamily::MacOs => "macOS",
            OsFamily::TvOs => "tvOS",
            OsFamily::AudioOs => "audioOS",
            OsFamily::WatchOs => "watchOS",
            OsFamily::VisionOs => "visionOS",
            OsFamily::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<OsFamily> {
        let lower = text.to_ascii_lowercase();
        Some(match lower.as_str() {
            "ios" | "ipados" => OsFamily::Ios,
            "macos" => OsFamily::MacOs,
            "tvos" => OsFamily::TvOs,
            "audioos" => OsFamily::AudioOs,
            "watchos" => OsFamily::WatchOs,
            "visionos" | "xros" => OsFamily::VisionOs,
            _ => return None,
        })
    }

    /// The family of one device identifier as gdmf lists it: by its model prefix, else by the
    /// list it is in (macOS board ids such as `J413AP` have no telling prefix).
    fn of_device(list: &str, device: &str) -> OsFamily {
        match super::fleet::family_of_model(device) {
            OsFamily::Other => OsFamily::parse(list).unwrap_or(OsFamily::Other),
            family => family,
        }
    }

    /// The family of an entry: tvOS wins over audioOS when Apple TV and HomePod share an entry.
    fn of_entry(list: &str, devices: &[String]) -> OsFamily {
        let mut found = None;
        for d in devices {
            let f = OsFamily::of_device(list, d);
            match (found, f) {
                (None, _) | (Some(OsFamily::AudioOs), OsFamily::TvOs) => found = Some(f),
                _ => {}
            }
        }
        found.unwrap_or_else(|| OsFamily::parse(list).unwrap_or(OsFamily::Other))
    }
}

/// Who may be offered a release: everyone (`PublicAssetSets`) or, through MDM, supervised
/// devices only (`AssetSets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    Public,
    Supervised,
}

/// One entry of `PublicAssetSets` or `AssetSets`.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub family: OsFamily,
    pub audience: Audience,
    pub version: OsVersion,
    pub build: Build,
    pub posting_date: NaiveDate,
    pub expiration_date: NaiveDate,
    pub devices: Vec<String>,
}

/// One entry of `PublicBackgroundSecurityImprovements` (formerly `PublicRapidSecurityResponses`).
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundSecurityImprovement {
    pub family: OsFamily,
    /// The version with its letter, e.g. `26.3.1 (a)`.
    pub version: OsVersion,
    /// The supplemental build, e.g. `25D771280a`.
    pub build: Build,
    /// The base build the device must run, e.g. `25D2128`.
    pub prerequisite_build: Build,
    pub posting_date: NaiveDate,
    pub expiration_date: NaiveDate,
    pub devices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GdmfCatalog {
    pub releases: Vec<Release>,
    pub bsis: Vec<BackgroundSecurityImprovement>,
    /// The document used the older names (`xrOS`, `PublicRapidSecurityResponses`) or the SOFA wrapper.
    pub legacy_shape: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEntry {
    product_version: String,
    build: String,
    posting_date: String,
    expiration_date: String,
    supported_devices: Vec<String>,
    product_version_extra: Option<String>,
    prerequisite_build: Option<String>,
}

/// True when the JSON value looks like a gdmf document (raw or wrapped).
pub fn looks_like_gdmf(value: &serde_json::Value) -> bool {
    let is_doc = |v: &serde_json::Value| v.get("PublicAssetSets").is_some() || v.get("AssetSets").is_some();
    is_doc(value) || value.get("data").is_some_and(is_doc)
}

/// Parses a gdmf document. Every entry must be well formed; the catalog must not be empty.
pub fn parse(value: &serde_json::Value) -> Result<GdmfCatalog, CatalogError> {
    let (doc, wrapped) = match value.get("data") {
        Some(inner) if value.get("PublicAssetSets").is_none() => (inner, true),
        _ => (value, false),
    };
    if !doc.is_object() || (doc.get("PublicAssetSets").is_none() && doc.get("AssetSets").is_none()) {
        return Err(CatalogError::WrongShape(
            "not an Apple gdmf catalog: no `PublicAssetSets` or `AssetSets`".into(),
        ));
    }
    let mut catalog = GdmfCatalog {
        releases: Vec::new(),
        bsis: Vec::new(),
        legacy_shape: wrapped,
    };
    for (key, audience) in [
        ("PublicAssetSets", Audience::Public),
        ("AssetSets", Audience::Supervised),
    ] {
        for (list, entry, index) in entries(doc, key)? {
            catalog.legacy_shape |= list == "xrOS";
            catalog
                .releases
                .push(release(&list, audience, entry, key, index)?);
        }
    }
    for key in [
        "PublicBackgroundSecurityImprovements",
        "PublicRapidSecurityResponses",
    ] {
        for (list, entry, index) in entries(doc, key)? {
            catalog.legacy_shape |= key == "PublicRapidSecurityResponses";
            catalog.bsis.push(bsi(&list, entry, key, index)?);
        }
    }
    if catalog.releases.is_empty() {
        return Err(CatalogError::Empty("the gdmf catalog lists no releases".into()));
    }
    Ok(catalog)
}

fn entries(doc: &serde_json::Value, key: &str) -> Result<Vec<(String, RawEntry, usize)>, CatalogError> {
    let Some(sets) = doc.get(key) else {
        return Ok(Vec::new());
    };
    let sets = sets
        .as_object()
        .ok_or_else(|| CatalogError::WrongShape(format!("`{key}` must map platform names to lists")))?;
    let mut out = Vec::new();
    for (list, items) in sets {
        let items = items
            .as_array()
            .ok_or_else(|| CatalogError::WrongShape(format!("`{key}.{list}` must be a list")))?;
        for (index, item) in items.iter().enumerate() {
            let entry = RawEntry::deserialize(item).map_err(|e| field_error(key, list, index, e))?;
            out.push((list.clone(), entry, index));
        }
    }
    Ok(out)
}

fn field_error(key: &str, list: &str, index: usize, e: impl std::fmt::Display) -> CatalogError {
    CatalogError::WrongShape(format!("`{key}.{list}[{index}]`: {e}"))
}

fn date(text: &str, key: &str, list: &str, index: usize) -> Result<NaiveDate, CatalogError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| field_error(key, list, index, format!("`{text}` is not a date (YYYY-MM-DD)")))
}

fn common(
    list: &str,
    e: &RawEntry,
    key: &str,
    index: usize,
) -> Result<(OsVersion, Build, NaiveDate, NaiveDate), CatalogError> {
    let version: OsVersion = e
        .product_version
        .parse()
        .map_err(|err| field_error(key, list, index, err))?;
    let build: Build = e
        .build
        .parse()
        .map_err(|err| field_error(key, list, index, err))?;
    let posting = date(&e.posting_date, key, list, index)?;
    let expiry = date(&e.expiration_date, key, list, index)?;
    if e.supported_devices.is_empty() {
        return Err(field_error(key, list, index, "`SupportedDevices` is empty"));
    }
    Ok((version, build, posting, expiry))
}

fn release(
    list: &str,
    audience: Audience,
    e: RawEntry,
    key: &str,
    index: usize,
) -> Result<Release, CatalogError> {
    let (version, build, posting_date, expiration_date) = common(list, &e, key, index)?;
    Ok(Release {
        family: OsFamily::of_entry(list, &e.supported_devices),
        audience,
        version,
        build,
        posting_date,
        expiration_date,
        devices: e.supported_devices,
    })
}

fn bsi(
    list: &str,
    e: RawEntry,
    key: &str,
    index: usize,
) -> Result<BackgroundSecurityImprovement, CatalogError> {
    let (version, build, posting_date, expiration_date) = common(list, &e, key, index)?;
    let extra_text = e
        .product_version_extra
        .as_deref()
        .ok_or_else(|| field_error(key, list, index, "missing `ProductVersionExtra`"))?;
    let extra = parse_extra(extra_text)
        .map_err(|err| field_error(key, list, index, err))?
        .ok_or_else(|| field_error(key, list, index, "empty `ProductVersionExtra`"))?;
    let prerequisite_build: Build = e
        .prerequisite_build
        .as_deref()
        .ok_or_else(|| field_error(key, list, index, "missing `PrerequisiteBuild`"))?
        .parse()
        .map_err(|err| field_error(key, list, index, err))?;
    Ok(BackgroundSecurityImprovement {
        family: OsFamily::of_entry(list, &e.supported_devices),
        version: version.with_extra(Some(extra)),
        build,
        prerequisite_build,
        posting_date,
        expiration_date,
        devices: e.supported_devices,
    })
}
