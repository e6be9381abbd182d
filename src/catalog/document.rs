//! Catalog documents: what kind a file is, judged by its content, and its validation. Pure.

use serde_json::Value;

use super::CatalogError;
use super::gdmf::{self, GdmfCatalog, OsFamily};
use super::sofa::{self, Installer, SofaFeed};

/// The largest document accepted by default (the largest SOFA feed is about 0.5 MB).
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 32 * 1024 * 1024;

/// Where a document belongs in the snapshot; one current document per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentKind {
    Gdmf,
    SofaV1(OsFamily),
    SofaV2(OsFamily),
    /// SOFA's `v2/dms_consumers.json`: kept and mirrored, not used for answers.
    SofaDmsConsumers,
    /// SOFA's extract of macOS full installers from Apple's software update catalog.
    SofaUmaCatalog,
}

fn family_slug(f: OsFamily) -> &'static str {
    match f {
        OsFamily::Ios => "ios",
        OsFamily::MacOs => "macos",
        OsFamily::TvOs => "tvos",
        OsFamily::AudioOs => "audioos",
        OsFamily::WatchOs => "watchos",
        OsFamily::VisionOs => "visionos",
        OsFamily::Other => "other",
    }
}

impl DocumentKind {
    /// The stable name of the slot, also the path under `/feeds/` and the file name on export:
    /// `gdmf/v2/pmv`, `v1/macos_data_feed.json`, `v2/ios_data_feed.json`, ...
    pub fn slot(self) -> String {
        match self {
            DocumentKind::Gdmf => "gdmf/v2/pmv".into(),
            DocumentKind::SofaV1(f) => format!("v1/{}_data_feed.json", family_slug(f)),
            DocumentKind::SofaV2(f) => format!("v2/{}_data_feed.json", family_slug(f)),
            DocumentKind::SofaDmsConsumers => "v2/dms_consumers.json".into(),
            DocumentKind::SofaUmaCatalog => "resources/uma_catalog.json".into(),
        }
    }

    pub fn from_slot(slot: &str) -> Option<DocumentKind> {
        let families = [
            OsFamily::Ios,
            OsFamily::MacOs,
            OsFamily::TvOs,
            OsFamily::WatchOs,
            OsFamily::VisionOs,
        ];
        let mut all = vec![
            DocumentKind::Gdmf,
            DocumentKind::SofaDmsConsumers,
            DocumentKind::SofaUmaCatalog,
        ];
        for f in families {
            all.push(DocumentKind::SofaV1(f));
            all.push(DocumentKind::SofaV2(f));
        }
        all.into_iter().find(|k| k.slot() == slot)
    }

    pub fn describe(self) -> String {
        match self {
            DocumentKind::Gdmf => "Apple gdmf catalog".into(),
            DocumentKind::SofaV1(f) => format!("SOFA v1 {} feed", f.as_str()),
            DocumentKind::SofaV2(f) => format!("SOFA v2 {} feed", f.as_str()),
            DocumentKind::SofaDmsConsumers => "SOFA DMS consumers feed".into(),
            DocumentKind::SofaUmaCatalog => "SOFA macOS installer catalog".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum ParsedDocument {
    Gdmf(GdmfCatalog),
    Sofa(SofaFeed),
    DmsConsumers { schema: String },
    UmaCatalog(Vec<Installer>),
}

impl ParsedDocument {
    pub fn kind(&self) -> DocumentKind {
        match self {
            ParsedDocument::Gdmf(_) => DocumentKind::Gdmf,
            ParsedDocument::Sofa(f) => match f.format {
                sofa::SofaFormat::V1 => DocumentKind::SofaV1(f.family),
                sofa::SofaFormat::V2 { .. } => DocumentKind::SofaV2(f.family),
            },
            ParsedDocument::DmsConsumers { .. } => DocumentKind::SofaDmsConsumers,
            ParsedDocument::UmaCatalog(_) => DocumentKind::SofaUmaCatalog,
        }
    }
}

/// Parses and validates any catalog document, recognising its kind from its content.
pub fn parse_document(bytes: &[u8], max_bytes: u64) -> Result<ParsedDocument, CatalogError> {
    if bytes.len() as u64 > max_bytes {
        return Err(CatalogError::TooLarge {
            size: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CatalogError::Empty("the document is empty".into()));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| CatalogError::InvalidJson(e.to_string()))?;
    parse_value(&value)
}

pub fn parse_value(value: &Value) -> Result<ParsedDocument, CatalogError> {
    if !value.is_object() {
        return Err(CatalogError::WrongShape(
            "expected a JSON object (an Apple gdmf catalog or a SOFA feed)".into(),
        ));
    }
    if gdmf::looks_like_gdmf(value) {
        return gdmf::parse(value).map(ParsedDocument::Gdmf);
    }
    if sofa::looks_like_sofa(value) {
        return sofa::parse(value).map(ParsedDocument::Sofa);
    }
    if let (Some(meta), Some(platforms)) = (value.get("Metadata"), value.get("Platforms")) {
        return dms_consumers(meta, platforms);
    }
    if let (Some(products), Some(_)) = (value.get("products"), value.get("catalog_url")) {
        return uma_catalog(products);
    }
    Err(CatalogError::WrongShape(
        "not a catalog document: expected Apple's gdmf catalog (`PublicAssetSets`) or a SOFA feed (`OSVersions`)".into(),
    ))
}

fn dms_consumers(meta: &Value, platforms: &Value) -> Result<ParsedDocument, CatalogError> {
    let schema = meta
        .get("SchemaVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !sofa::SUPPORTED_V2_SCHEMAS.contains(&schema) {
        return Err(CatalogError::UnsupportedSchema(format!(
            "SOFA DMS consumers feed schema version `{schema}` is not supported (supported: {})",
            sofa::SUPPORTED_V2_SCHEMAS.join(", ")
        )));
    }
    match platforms.as_array() {
        Some(list) if !list.is_empty() => Ok(ParsedDocument::DmsConsumers {
            schema: schema.to_string(),
        }),
        Some(_) => Err(CatalogError::Empty(
            "the SOFA DMS consumers feed lists no platforms".into(),
        )),
        None => Err(CatalogError::WrongShape("`Platforms` must be a list".into())),
    }
}

fn uma_catalog(products: &Value) -> Result<ParsedDocument, CatalogError> {
    let list = products
        .as_array()
        .ok_or_else(|| CatalogError::WrongShape("`products` must be a list".into()))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        out.push(
            sofa::installer(p).ok_or_else(|| {
                CatalogError::WrongShape(format!("`products[{i}]` is not an installer entry"))
            })?,
        );
    }
    if out.is_empty() {
        return Err(CatalogError::Empty(
            "the installer catalog lists no installers".into(),
        ));
    }
    Ok(ParsedDocument::UmaCatalog(out))
}
