//! Mac content caching against Apple's schemas (transcribed in tests/fixtures/apple/): the
//! `com.apple.AssetCache.managed` payload uses only Apple's keys, types and values, and a
//! `ContentCachingInformation` reply written with Apple's keys is read.

use std::path::PathBuf;

use orchard::protocol::content_caching::{
    CacheNeighbour, ContentCachingSettings, ContentCachingStatus, IpRange, PAYLOAD_TYPE,
    ParentSelectionPolicy,
};
use orchard::protocol::dict;
use plist::{Dictionary, Value};
use serde_yaml::Value as Yaml;

use crate::command_schemas::{check_dict, key_specs};

fn fixture(name: &str) -> Yaml {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apple")
        .join(name);
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn full_settings() -> ContentCachingSettings {
    ContentCachingSettings {
        cache_limit_bytes: 250_000_000_000,
        data_path: Some("/Volumes/Cache/Library/Application Support/Apple/AssetCache/Data".into()),
        port: 49_200,
        local_subnets_only: false,
        listen_ranges: vec![IpRange::parse("10.1.0.1-10.1.255.254").unwrap()],
        listen_ranges_only: true,
        peer_local_subnets_only: false,
        peer_listen_ranges: vec![IpRange::parse("10.1.0.1-10.1.0.254").unwrap()],
        peer_filter_ranges: vec![IpRange::parse("fd00::1-fd00::ff").unwrap()],
        parents: vec!["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()],
        parent_selection_policy: ParentSelectionPolicy::StickyAvailable,
        ..ContentCachingSettings::default()
    }
}

#[test]
fn the_payload_uses_only_apple_keys_types_and_values() {
    let schema = fixture("com.apple.AssetCache.managed.yaml");
    let specs = key_specs(&schema, "payloadkeys");
    for settings in [ContentCachingSettings::default(), full_settings()] {
        let mut errors = Vec::new();
        check_dict(&settings.payload_keys(), &specs, "payload", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let keys = full_settings().payload_keys();
    assert_eq!(
        keys.get("CacheLimit"),
        Some(&Value::Integer(250_000_000_000i64.into()))
    );
    assert_eq!(
        keys.get("ParentSelectionPolicy").and_then(Value::as_string),
        Some("sticky-available")
    );
    let range = keys.get("PeerFilterRanges").and_then(Value::as_array).unwrap()[0]
        .as_dictionary()
        .unwrap();
    assert_eq!(range.get("type").and_then(Value::as_string), Some("IPv6"));

    // The profile: one payload of Apple's type, inside a Configuration.
    let (xml, fingerprint) = full_settings().profile();
    let profile = dict::parse_dictionary(&xml).unwrap();
    assert_eq!(
        profile.get("PayloadType").and_then(Value::as_string),
        Some("Configuration")
    );
    let content = profile.get("PayloadContent").and_then(Value::as_array).unwrap();
    assert_eq!(content.len(), 1);
    let payload = content[0].as_dictionary().unwrap();
    assert_eq!(
        payload.get("PayloadType").and_then(Value::as_string),
        Some(PAYLOAD_TYPE)
    );
    assert_eq!(fingerprint.len(), 64);

    // The validator itself catches a wrong type and an unknown key.
    let mut bad = keys.clone();
    bad.insert("CacheLimit".into(), Value::String("big".into()));
    bad.insert("AllowEverything".into(), Value::Boolean(true));
    let mut errors = Vec::new();
    check_dict(&bad, &specs, "payload", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

/// A reply as a Mac sends it, written with the key names of Apple's schema (including keys
/// Orchard does not show).
pub(crate) fn mac_reply() -> Dictionary {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>StatusResponse</key><dict>
    <key>Activated</key><true/>
    <key>Active</key><true/>
    <key>ActualCacheUsed</key><integer>53687091200</integer>
    <key>CacheDetails</key><dict><key>iOS Software</key><integer>42949672960</integer></dict>
    <key>CacheFree</key><integer>196312908800</integer>
    <key>CacheLimit</key><integer>250000000000</integer>
    <key>CacheStatus</key><string>OK</string>
    <key>CacheUsed</key><integer>53687091200</integer>
    <key>MaxCachePressureLast1Hour</key><real>0.0</real>
    <key>Parents</key><array><dict>
      <key>address</key><string>10.0.0.2</string>
      <key>details</key><dict><key>ac-power</key><true/></dict>
      <key>guid</key><string>8C5A4F6E-1B2D-4E3F-9A0B-1C2D3E4F5A6B</string>
      <key>healthy</key><true/>
      <key>port</key><integer>49152</integer>
      <key>version</key><string>251</string>
    </dict></array>
    <key>Peers</key><array><dict>
      <key>address</key><string>10.1.0.7</string>
      <key>details</key><dict/>
      <key>friendly</key><true/>
      <key>guid</key><string>1F2E3D4C-5B6A-4978-8695-A4B3C2D1E0F9</string>
      <key>healthy</key><false/>
      <key>port</key><integer>49160</integer>
      <key>version</key><string>251</string>
    </dict></array>
    <key>Port</key><integer>49200</integer>
    <key>PrivateAddresses</key><array><string>10.1.0.5</string></array>
    <key>RegistrationStatus</key><integer>1</integer>
    <key>ServerGUID</key><string>C3D4E5F6-A7B8-4012-8DEF-012345678912</string>
    <key>StartupStatus</key><string>OK</string>
    <key>TotalBytesAreSince</key><date>2026-03-01T00:00:00Z</date>
    <key>TotalBytesReturnedToClients</key><integer>1099511627776</integer>
    <key>TotalBytesStoredFromOrigin</key><integer>53687091200</integer>
  </dict>
</dict></plist>"#;
    dict::parse_dictionary(xml.as_bytes()).unwrap()
}

#[test]
fn a_reply_with_apples_keys_is_read() {
    let reply = mac_reply();
    let schema = fixture("information.contentcaching.yaml");
    let mut errors = Vec::new();
    check_dict(&reply, &key_specs(&schema, "responsekeys"), "reply", &mut errors);
    assert!(
        errors.is_empty(),
        "the test's reply follows Apple's schema: {errors:#?}"
    );

    let status = ContentCachingStatus::from_result(&reply).unwrap();
    assert!(status.activated && status.active);
    assert_eq!(status.cache_used, Some(53_687_091_200));
    assert_eq!(status.cache_limit, Some(250_000_000_000));
    assert_eq!(status.parents[0].address, "10.0.0.2");
    assert_eq!(
        status.peers[0],
        CacheNeighbour {
            address: "10.1.0.7".into(),
            healthy: false,
            friendly: Some(true),
            alert: None
        }
    );
    let mut broken = reply.clone();
    let inner = broken
        .get_mut("StatusResponse")
        .and_then(Value::as_dictionary_mut)
        .unwrap();
    inner.insert("Active".into(), Value::String("yes".into()));
    assert!(
        ContentCachingStatus::from_result(&broken).is_err(),
        "a wrong type is not guessed at"
    );
}
