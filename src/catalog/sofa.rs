//! The SOFA feeds (macadmins' "Simple Organized Feed for Apple software updates"). Pure parsing.
//!
//! v1 feeds (`/v1/macos_data_feed.json`, `/v1/ios_data_feed.json`) have no schema version: their
//! shape is pinned by the keys they must carry and the absence of `SchemaVersion`. v2 feeds carry
//! `SchemaVersion`; only the versions in [`SUPPORTED_V2_SCHEMAS`] are accepted (the 2026-04-11
//! layout: `SupportedDevices` as string lists, a top-level `Devices` map, PascalCase names).
//! SOFA only adds to gdmf: release dates, security notes, CVEs, installers and restore images.

use chrono::NaiveDate;
use serde_json::Value;

use super::CatalogError;
use super::gdmf::OsFamily;
use super::version::{OsVersion, parse_extra};

/// v2 schema versions this parser was written against (see SOFA's `v2/schema_changelog.json`).
pub const SUPPORTED_V2_SCHEMAS: &[&str] = &["2026.04.11.1", "2026.04.11.2"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SofaFormat {
    V1,
    V2 { schema: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cve {
    pub id: String,
    pub actively_exploited: bool,
    /// In CISA's Known Exploited Vulnerabilities catalog (v2 feeds only).
    pub in_kev: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SofaRelease {
    pub version: OsVersion,
    pub name: Option<String>,
    pub builds: Vec<String>,
    pub release_date: Option<NaiveDate>,
    pub security_info: Option<String>,
    pub cves: Vec<Cve>,
    pub days_since_previous: Option<i64>,
}

impl SofaRelease {
    pub fn actively_exploited_count(&self) -> usize {
        self.cves.iter().filter(|c| c.actively_exploited).count()
    }
}

/// A macOS full installer (`InstallAssistant.pkg`, "UMA").
#[derive(Debug, Clone, PartialEq)]
pub struct Installer {
    pub version: OsVersion,
    pub build: String,
    pub url: String,
    pub size: Option<u64>,
    pub posting_date: Option<NaiveDate>,
}

/// A restore image (IPSW).
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreImage {
    pub version: OsVersion,
    pub build: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SofaBsi {
    pub version: OsVersion,
    pub build: String,
    pub security_info: Option<String>,
    pub cves: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SofaFeed {
    pub format: SofaFormat,
    pub family: OsFamily,
    pub update_hash: String,
    pub releases: Vec<SofaRelease>,
    pub bsis: Vec<SofaBsi>,
    pub installers: Vec<Installer>,
    pub restore_images: Vec<RestoreImage>,
    /// gdmf identifier (a Mac board id such as `J314sAP`) → model identifier (`Mac14,9`).
    pub board_models: Vec<(String, String)>,
}

pub fn looks_like_sofa(value: &Value) -> bool {
    value.get("OSVersions").is_some() && value.get("UpdateHash").is_some()
}

fn wrong(message: impl Into<String>) -> CatalogError {
    CatalogError::WrongShape(message.into())
}

fn text<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str))
}

fn day(text: Option<&str>) -> Option<NaiveDate> {
    let t = text?;
    NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok()
}

/// Parses a SOFA v1 or v2 OS feed.
pub fn parse(value: &Value) -> Result<SofaFeed, CatalogError> {
    let format = match value.get("SchemaVersion") {
        None => SofaFormat::V1,
        Some(Value::String(s)) if SUPPORTED_V2_SCHEMAS.contains(&s.as_str()) => {
            SofaFormat::V2 { schema: s.clone() }
        }
        Some(other) => {
            return Err(CatalogError::UnsupportedSchema(format!(
                "SOFA feed schema version {other} is not supported (this Orchard reads v1 feeds and v2 schemas {})",
                SUPPORTED_V2_SCHEMAS.join(", ")
            )));
        }
    };
    let update_hash = text(value, &["UpdateHash"])
        .ok_or_else(|| wrong("SOFA feed without a string `UpdateHash`"))?
        .to_string();
    let os_versions = value
        .get("OSVersions")
        .and_then(Value::as_array)
        .ok_or_else(|| wrong("SOFA feed without an `OSVersions` list"))?;
    let mut releases = Vec::new();
    let mut family = None;
    for (i, os) in os_versions.iter().enumerate() {
        let list = os
            .get("SecurityReleases")
            .and_then(Value::as_array)
            .ok_or_else(|| wrong(format!("`OSVersions[{i}]` has no `SecurityReleases` list")))?;
        for (j, r) in list.iter().enumerate() {
            if family.is_none() {
                family = text(r, &["ProductName"]).and_then(family_of_product);
            }
            releases.push(
                release(r).map_err(|e| wrong(format!("`OSVersions[{i}].SecurityReleases[{j}]`: {e}")))?,
            );
        }
    }
    if releases.is_empty() {
        return Err(CatalogError::Empty("the SOFA feed lists no releases".into()));
    }
    let family = family.ok_or_else(|| wrong("SOFA feed whose releases name no known product"))?;
    Ok(SofaFeed {
        format,
        family,
        update_hash,
        releases,
        bsis: bsis(value),
        installers: installers(value),
        restore_images: restore_images(value),
        board_models: board_models(value),
    })
}

fn family_of_product(name: &str) -> Option<OsFamily> {
    let n = name.to_ascii_lowercase();
    [
        ("macos", OsFamily::MacOs),
        ("ipados", OsFamily::Ios),
        ("ios", OsFamily::Ios),
        ("tvos", OsFamily::TvOs),
        ("watchos", OsFamily::WatchOs),
        ("visionos", OsFamily::VisionOs),
    ]
    .into_iter()
    .find(|(k, _)| n.contains(k))
    .map(|(_, f)| f)
}

fn release(r: &Value) -> Result<SofaRelease, String> {
    let version_text = text(r, &["ProductVersion"]).ok_or("no `ProductVersion`")?;
    let version: OsVersion = version_text.parse().map_err(|e| format!("{e}"))?;
    let mut builds: Vec<String> = r
        .get("AllBuilds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(b) = text(r, &["Build"]).filter(|b| !b.is_empty() && !builds.iter().any(|x| x == b)) {
        builds.insert(0, b.to_string());
    }
    let exploited_list: Vec<&str> = r
        .get("ActivelyExploitedCVEs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut cves = Vec::new();
    if let Some(map) = r.get("CVEs").and_then(Value::as_object) {
        for (id, detail) in map {
            let (exploited, in_kev) = match detail {
                // v1: the value says whether the CVE is actively exploited.
                Value::Bool(b) => (*b, None),
                Value::Object(_) => (
                    detail
                        .get("ActivelyExploited")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    detail.get("InKEV").and_then(Value::as_bool),
                ),
                _ => return Err(format!("CVE `{id}` has an unexpected value")),
            };
            cves.push(Cve {
                id: id.clone(),
                actively_exploited: exploited || exploited_list.contains(&id.as_str()),
                in_kev,
            });
        }
    }
    Ok(SofaRelease {
        version,
        name: text(r, &["UpdateName"]).map(str::to_string),
        builds,
        release_date: day(text(r, &["ReleaseDate"])),
        security_info: text(r, &["SecurityInfo"]).map(str::to_string),
        cves,
        days_since_previous: r.get("DaysSincePreviousRelease").and_then(Value::as_i64),
    })
}

fn bsis(value: &Value) -> Vec<SofaBsi> {
    let mut out = Vec::new();
    let Some(groups) = value
        .get("BackgroundSecurityImprovements")
        .and_then(Value::as_object)
    else {
        return out;
    };
    for entries in groups.values().filter_map(Value::as_array) {
        for e in entries {
            let Some(Ok(base)) = text(e, &["Version"]).map(str::parse::<OsVersion>) else {
                continue;
            };
            let extra = text(e, &["VersionExtra"]).and_then(|x| parse_extra(x).ok().flatten());
            out.push(SofaBsi {
                version: base.with_extra(extra),
                build: text(e, &["Build"]).unwrap_or_default().to_string(),
                security_info: text(e, &["SecurityInfo"]).map(str::to_string),
                cves: e
                    .get("CVEs")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// Reads one UMA entry in either spelling (v1 snake_case, v2 PascalCase, SOFA's uma_catalog).
pub(crate) fn installer(e: &Value) -> Option<Installer> {
    Some(Installer {
        version: text(e, &["Version", "version"])?.parse().ok()?,
        build: text(e, &["Build", "build"])?.to_string(),
        url: text(e, &["URL", "url", "download_url"])?.to_string(),
        size: ["Size", "size"]
            .iter()
            .find_map(|k| e.get(*k).and_then(Value::as_u64)),
        posting_date: day(text(e, &["PostingDate", "posting_date"])),
    })
}

fn installers(value: &Value) -> Vec<Installer> {
    let Some(apps) = value.get("InstallationApps") else {
        return Vec::new();
    };
    let mut out: Vec<Installer> = apps.get("LatestUMA").and_then(installer).into_iter().collect();
    if let Some(list) = apps.get("AllPreviousUMA").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(installer));
    }
    out
}

fn restore_images(value: &Value) -> Vec<RestoreImage> {
    let Some(ipsw) = value.get("InstallationApps").and_then(|a| a.get("LatestMacIPSW")) else {
        return Vec::new();
    };
    let image = || -> Option<RestoreImage> {
        Some(RestoreImage {
            version: text(ipsw, &["MacOSIPSWVersion", "macos_ipsw_version"])?
                .parse()
                .ok()?,
            build: text(ipsw, &["MacOSIPSWBuild", "macos_ipsw_build"])?.to_string(),
            url: text(ipsw, &["MacOSIPSWURL", "macos_ipsw_url"])?.to_string(),
        })
    };
    image().into_iter().collect()
}

fn board_models(value: &Value) -> Vec<(String, String)> {
    let Some(devices) = value.get("Devices").and_then(Value::as_object) else {
        return Vec::new();
    };
    devices
        .iter()
        .filter_map(|(board, d)| Some((board.clone(), text(d, &["DeviceID"])?.to_string())))
        .collect()
}
