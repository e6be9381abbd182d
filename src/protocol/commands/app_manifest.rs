//! The app manifest a Mac reads from `ManifestURL` when it gets `InstallEnterpriseApplication`:
//! one item with one `software-package` asset (the package's https URL and its SHA-256
//! digests) and the item's `metadata`.
//!
//! Sources for the keys:
//! - Apple, Device Management, "ManifestURL" (<https://developer.apple.com/documentation/devicemanagement/manifesturl>):
//!   `items` → `assets` (`kind` `software-package`, `url`) and `metadata` (`bundle-identifier`,
//!   `bundle-version`, `kind` `software`, `title`); "Use SHA-256 hashes instead of MD5 … If both
//!   SHA-256 and MD5 hash properties are present, the device uses only the SHA-256 hashes".
//! - Apple's schema `mdm/commands/application.install.enterprise.yaml` (in
//!   `reference/apple-device-management`): the manifest "is backward-compatible with the manifest
//!   for the InstallApplication command; however, it also allows you to specify `sha256s` and
//!   `sha256-size`" — `sha256-size` is the size of each hashed chunk in bytes and `sha256s` the
//!   hex digest of each chunk, in order (the same shape as the older `md5-size` / `md5s`).
//!
//! Orchard hashes the package as one chunk: `sha256-size` is the file size and `sha256s` holds
//! the file's SHA-256, which is also its address in the cache (`/cache/<sha256>/<file>`), so no
//! second pass over a 15 GB installer is needed.

use plist::{Dictionary, Value};

use crate::protocol::ProtocolError;

/// A manifest for one installer package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageManifest {
    /// Where the Mac downloads the package (https).
    pub package_url: String,
    /// The package's size in bytes (one chunk: `sha256-size`).
    pub size: u64,
    /// The package's SHA-256, lower-case hex (`sha256s`).
    pub sha256: String,
    pub bundle_identifier: String,
    pub bundle_version: String,
    pub title: String,
}

impl PackageManifest {
    /// The manifest as a property-list dictionary (what `Manifest` would carry inline).
    pub fn to_dictionary(&self) -> Dictionary {
        let mut asset = Dictionary::new();
        asset.insert("kind".into(), Value::String("software-package".into()));
        asset.insert("url".into(), Value::String(self.package_url.clone()));
        asset.insert("sha256-size".into(), Value::Integer(self.size.into()));
        asset.insert(
            "sha256s".into(),
            Value::Array(vec![Value::String(self.sha256.clone())]),
        );
        let mut metadata = Dictionary::new();
        metadata.insert(
            "bundle-identifier".into(),
            Value::String(self.bundle_identifier.clone()),
        );
        metadata.insert(
            "bundle-version".into(),
            Value::String(self.bundle_version.clone()),
        );
        metadata.insert("kind".into(), Value::String("software".into()));
        metadata.insert("title".into(), Value::String(self.title.clone()));
        let mut item = Dictionary::new();
        item.insert("assets".into(), Value::Array(vec![Value::Dictionary(asset)]));
        item.insert("metadata".into(), Value::Dictionary(metadata));
        let mut manifest = Dictionary::new();
        manifest.insert("items".into(), Value::Array(vec![Value::Dictionary(item)]));
        manifest
    }

    /// The manifest as the XML property list served at its URL.
    pub fn to_xml(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::new();
        Value::Dictionary(self.to_dictionary())
            .to_writer_xml(&mut out)
            .map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        Ok(out)
    }

    /// Reads a manifest with one `software-package` asset (what a Mac looks for in it).
    pub fn parse(xml: &[u8]) -> Result<PackageManifest, ProtocolError> {
        let root = Value::from_reader(std::io::Cursor::new(xml))
            .map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        let item = root
            .as_dictionary()
            .and_then(|d| d.get("items"))
            .and_then(Value::as_array)
            .and_then(|items| items.first())
            .and_then(Value::as_dictionary)
            .ok_or(ProtocolError::MissingKey("items"))?;
        let asset = item
            .get("assets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_dictionary)
            .find(|a| a.get("kind").and_then(Value::as_string) == Some("software-package"))
            .ok_or(ProtocolError::MissingKey("assets"))?;
        let metadata = item
            .get("metadata")
            .and_then(Value::as_dictionary)
            .ok_or(ProtocolError::MissingKey("metadata"))?;
        let text = |d: &Dictionary, key: &'static str| {
            d.get(key)
                .and_then(Value::as_string)
                .map(str::to_string)
                .ok_or(ProtocolError::MissingKey(key))
        };
        let sha256 = asset
            .get("sha256s")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_string)
            .ok_or(ProtocolError::MissingKey("sha256s"))?;
        let size = asset
            .get("sha256-size")
            .and_then(Value::as_unsigned_integer)
            .ok_or(ProtocolError::MissingKey("sha256-size"))?;
        Ok(PackageManifest {
            package_url: text(asset, "url")?,
            size,
            sha256: sha256.to_string(),
            bundle_identifier: text(metadata, "bundle-identifier")?,
            bundle_version: text(metadata, "bundle-version")?,
            title: text(metadata, "title")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PackageManifest {
        PackageManifest {
            package_url: "https://orchard.example/cache/ab/InstallAssistant.pkg".into(),
            size: 15_000_000_000,
            sha256: "ab".repeat(32),
            bundle_identifier: "com.apple.InstallAssistant".into(),
            bundle_version: "26.6.2".into(),
            title: "macOS 26.6.2 (25G83)".into(),
        }
    }

    #[test]
    fn the_manifest_has_apples_keys_and_reads_back() {
        let m = sample();
        let xml = m.to_xml().unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        for key in [
            "items",
            "assets",
            "software-package",
            "sha256-size",
            "sha256s",
            "bundle-identifier",
            "software",
        ] {
            assert!(text.contains(key), "{key} missing from {text}");
        }
        assert_eq!(PackageManifest::parse(&xml).unwrap(), m);
    }

    #[test]
    fn a_manifest_without_a_package_is_refused() {
        let mut d = sample().to_dictionary();
        d.insert("items".into(), Value::Array(vec![]));
        let mut xml = Vec::new();
        Value::Dictionary(d).to_writer_xml(&mut xml).unwrap();
        assert!(PackageManifest::parse(&xml).is_err());
        assert!(PackageManifest::parse(b"not a plist").is_err());
    }
}
