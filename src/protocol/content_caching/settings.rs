//! The `com.apple.AssetCache.managed` payload: the keys an administrator needs, validated
//! against Apple's schema (`mdm/profiles/com.apple.AssetCache.managed.yaml`) so the Mac does not
//! silently ignore any of them. Every boolean is written explicitly (Apple's defaults differ
//! from key to key); optional lists are left out when empty, because an empty
//! `PeerListenRanges` or `PeerFilterRanges` array has a meaning of its own (no peers at all).

use std::net::IpAddr;

use plist::{Dictionary, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{PAYLOAD_TYPE, PROFILE_IDENTIFIER};

/// `DataPath` "must be (or end with)" this, per Apple's schema.
pub const DATA_PATH_SUFFIX: &str = "/Library/Application Support/Apple/AssetCache/Data";
/// Most ranges in one list, and most parents (a typing accident beyond that).
pub const MAX_LIST: usize = 64;

/// `ParentSelectionPolicy`: the schema's `rangelist`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentSelectionPolicy {
    FirstAvailable,
    UrlPathHash,
    Random,
    RoundRobin,
    StickyAvailable,
}

impl ParentSelectionPolicy {
    pub const ALL: [ParentSelectionPolicy; 5] = [
        ParentSelectionPolicy::FirstAvailable,
        ParentSelectionPolicy::UrlPathHash,
        ParentSelectionPolicy::Random,
        ParentSelectionPolicy::RoundRobin,
        ParentSelectionPolicy::StickyAvailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParentSelectionPolicy::FirstAvailable => "first-available",
            ParentSelectionPolicy::UrlPathHash => "url-path-hash",
            ParentSelectionPolicy::Random => "random",
            ParentSelectionPolicy::RoundRobin => "round-robin",
            ParentSelectionPolicy::StickyAvailable => "sticky-available",
        }
    }

    pub fn parse(text: &str) -> Option<ParentSelectionPolicy> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// A range of IP addresses (a `RangesItem`: `type`, `first`, `last`), both of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl IpRange {
    /// `192.168.0.1-192.168.0.254`, or one address.
    pub fn parse(text: &str) -> Result<IpRange, SettingsError> {
        let bad = || SettingsError::Range(text.to_string());
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        let first: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let last: IpAddr = b.trim().parse().map_err(|_| bad())?;
        if first.is_ipv4() != last.is_ipv4() || first > last {
            return Err(bad());
        }
        Ok(IpRange { first, last })
    }

    fn to_value(self) -> Value {
        let mut d = Dictionary::new();
        let family = if self.first.is_ipv4() { "IPv4" } else { "IPv6" };
        d.insert("type".into(), Value::String(family.into()));
        d.insert("first".into(), Value::String(self.first.to_string()));
        d.insert("last".into(), Value::String(self.last.to_string()));
        Value::Dictionary(d)
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("Allow shared caching, personal caching or both: Apple requires at least one of them.")]
    NothingCached,
    #[error(
        "“{0}” is not a data path. It must be an absolute path that is, or ends with, \
         {DATA_PATH_SUFFIX} (Apple's rule), or empty for the default."
    )]
    DataPath(String),
    #[error(
        "“{0}” is not an address range. Write one address or FIRST-LAST of the same family, \
         with FIRST not after LAST, for example 10.0.0.1-10.0.255.254."
    )]
    Range(String),
    #[error("“{0}” is not an IP address of a parent content cache.")]
    Parent(String),
    #[error("At most {MAX_LIST} entries may be given in one list.")]
    TooMany,
    #[error("“{0}” is not a cache size. Give gigabytes as a number (0: no limit).")]
    CacheLimit(String),
    #[error("“{0}” is not a TCP port. Give 1–65535, or 0 to let the Mac pick one.")]
    Port(String),
    #[error("“{0}” is not one of Apple's parent selection policies.")]
    Policy(String),
}

/// What an administrator chooses for the Macs' content caches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentCachingSettings {
    /// `AllowSharedCaching`: apps, software updates and other non-iCloud content.
    pub allow_shared_caching: bool,
    /// `AllowPersonalCaching`: users' iCloud data.
    pub allow_personal_caching: bool,
    /// `AutoActivation`: turn the cache on when possible, and keep it on.
    pub auto_activation: bool,
    /// `CacheLimit`, bytes; 0: unlimited.
    pub cache_limit_bytes: u64,
    /// `AllowCacheDelete` (macOS 10.15+): let the system purge the cache when the disk is low.
    pub allow_cache_delete: bool,
    /// `KeepAwake` (macOS 10.15+).
    pub keep_awake: bool,
    /// `DisplayAlerts` (macOS 10.15+).
    pub display_alerts: bool,
    /// `DataPath`; `None`: Apple's default.
    pub data_path: Option<String>,
    /// `Port`; 0: a random free port.
    pub port: u16,
    /// `LocalSubnetsOnly`: serve only clients on the same subnet (then `ListenRanges` is ignored).
    pub local_subnets_only: bool,
    /// `ListenRanges`: client addresses to serve.
    pub listen_ranges: Vec<IpRange>,
    /// `ListenRangesOnly`: serve only the clients in `ListenRanges`.
    pub listen_ranges_only: bool,
    /// `PeerLocalSubnetsOnly`: peer only on the same subnet (overrides the peer ranges).
    pub peer_local_subnets_only: bool,
    /// `PeerListenRanges`: peers this cache answers.
    pub peer_listen_ranges: Vec<IpRange>,
    /// `PeerFilterRanges`: peers this cache asks.
    pub peer_filter_ranges: Vec<IpRange>,
    /// `Parents`: local IP addresses of parent caches to fetch through instead of Apple.
    pub parents: Vec<IpAddr>,
    /// `ParentSelectionPolicy` (written only with parents).
    pub parent_selection_policy: ParentSelectionPolicy,
}

impl Default for ContentCachingSettings {
    /// Apple's defaults, except that the cache turns itself on (`AutoActivation`) and is not
    /// purged for other apps' space (`AllowCacheDelete` false, as Apple advises for caches).
    fn default() -> Self {
        ContentCachingSettings {
            allow_shared_caching: true,
            allow_personal_caching: true,
            auto_activation: true,
            cache_limit_bytes: 0,
            allow_cache_delete: false,
            keep_awake: false,
            display_alerts: false,
            data_path: None,
            port: 0,
            local_subnets_only: true,
            listen_ranges: Vec::new(),
            listen_ranges_only: false,
            peer_local_subnets_only: true,
            peer_listen_ranges: Vec::new(),
            peer_filter_ranges: Vec::new(),
            parents: Vec::new(),
            parent_selection_policy: ParentSelectionPolicy::RoundRobin,
        }
    }
}

impl ContentCachingSettings {
    /// Apple's rules that a type cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !self.allow_shared_caching && !self.allow_personal_caching {
            return Err(SettingsError::NothingCached);
        }
        if let Some(path) = &self.data_path {
            let ok = path.starts_with('/')
                && path.ends_with(DATA_PATH_SUFFIX)
                && !path.contains('\0')
                && path.len() <= 1024;
            if !ok {
                return Err(SettingsError::DataPath(path.clone()));
            }
        }
        let lists = [
            self.listen_ranges.len(),
            self.peer_listen_ranges.len(),
            self.peer_filter_ranges.len(),
            self.parents.len(),
        ];
        if lists.iter().any(|n| *n > MAX_LIST) {
            return Err(SettingsError::TooMany);
        }
        if i64::try_from(self.cache_limit_bytes).is_err() {
            return Err(SettingsError::CacheLimit(self.cache_limit_bytes.to_string()));
        }
        Ok(())
    }

    /// The payload dictionary (without the common `Payload*` keys).
    pub fn payload_keys(&self) -> Dictionary {
        let mut d = Dictionary::new();
        let mut flag = |key: &str, value: bool| {
            d.insert(key.into(), Value::Boolean(value));
        };
        flag("AllowSharedCaching", self.allow_shared_caching);
        flag("AllowPersonalCaching", self.allow_personal_caching);
        flag("AutoActivation", self.auto_activation);
        flag("AllowCacheDelete", self.allow_cache_delete);
        flag("KeepAwake", self.keep_awake);
        flag("DisplayAlerts", self.display_alerts);
        flag("LocalSubnetsOnly", self.local_subnets_only);
        flag("PeerLocalSubnetsOnly", self.peer_local_subnets_only);
        flag("ListenRangesOnly", self.listen_ranges_only);
        let limit = i64::try_from(self.cache_limit_bytes).unwrap_or(i64::MAX);
        d.insert("CacheLimit".into(), Value::Integer(limit.into()));
        d.insert("Port".into(), Value::Integer(i64::from(self.port).into()));
        if let Some(path) = &self.data_path {
            d.insert("DataPath".into(), Value::String(path.clone()));
        }
        let ranges = |list: &[IpRange]| Value::Array(list.iter().map(|r| r.to_value()).collect());
        for (key, list) in [
            ("ListenRanges", &self.listen_ranges),
            ("PeerListenRanges", &self.peer_listen_ranges),
            ("PeerFilterRanges", &self.peer_filter_ranges),
        ] {
            if !list.is_empty() {
                d.insert(key.into(), ranges(list));
            }
        }
        if !self.parents.is_empty() {
            let parents = self
                .parents
                .iter()
                .map(|p| Value::String(p.to_string()))
                .collect();
            d.insert("Parents".into(), Value::Array(parents));
            d.insert(
                "ParentSelectionPolicy".into(),
                Value::String(self.parent_selection_policy.as_str().into()),
            );
        }
        d
    }

    /// The whole profile (XML plist, sent unsigned over the authenticated MDM channel) and its
    /// SHA-256. UUIDs derive from the content, so the same settings give the same bytes.
    pub fn profile(&self) -> (Vec<u8>, String) {
        let mut payload = self.payload_keys();
        let seed = hex::encode(Sha256::digest(format!("{:?}", self).as_bytes()));
        payload.insert("PayloadType".into(), PAYLOAD_TYPE.into());
        payload.insert(
            "PayloadIdentifier".into(),
            format!("{PROFILE_IDENTIFIER}.assetcache").into(),
        );
        payload.insert(
            "PayloadUUID".into(),
            crate::protocol::profile::stable_uuid(&format!("payload {seed}")).into(),
        );
        payload.insert("PayloadVersion".into(), Value::Integer(1.into()));
        payload.insert("PayloadDisplayName".into(), "Content Caching".into());
        let mut profile = Dictionary::new();
        profile.insert(
            "PayloadContent".into(),
            Value::Array(vec![Value::Dictionary(payload)]),
        );
        profile.insert("PayloadType".into(), "Configuration".into());
        profile.insert("PayloadIdentifier".into(), PROFILE_IDENTIFIER.into());
        profile.insert(
            "PayloadUUID".into(),
            crate::protocol::profile::stable_uuid(&format!("profile {seed}")).into(),
        );
        profile.insert("PayloadVersion".into(), Value::Integer(1.into()));
        profile.insert("PayloadDisplayName".into(), "Orchard content caching".into());
        profile.insert("PayloadScope".into(), "System".into());
        let mut xml = Vec::new();
        // Writing plain values into memory cannot fail.
        let _ = plist::to_writer_xml(&mut xml, &Value::Dictionary(profile));
        let fingerprint = hex::encode(Sha256::digest(&xml));
        (xml, fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_one_family_in_order() {
        let r = IpRange::parse("10.0.0.1-10.0.255.254").unwrap();
        assert_eq!(r.to_string(), "10.0.0.1-10.0.255.254");
        assert_eq!(IpRange::parse("fd00::1").unwrap().to_string(), "fd00::1");
        for bad in ["10.0.0.9-10.0.0.1", "10.0.0.1-fd00::1", "10.0.0.300", "x-y", ""] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apple_rules_are_enforced() {
        let mut s = ContentCachingSettings::default();
        assert_eq!(s.validate(), Ok(()));
        s.allow_personal_caching = false;
        s.allow_shared_caching = false;
        assert_eq!(s.validate(), Err(SettingsError::NothingCached));
        let mut s = ContentCachingSettings {
            data_path: Some("/Volumes/Cache/Library/Application Support/Apple/AssetCache/Data".into()),
            ..ContentCachingSettings::default()
        };
        assert_eq!(s.validate(), Ok(()));
        s.data_path = Some("/tmp/cache".into());
        assert!(matches!(s.validate(), Err(SettingsError::DataPath(_))));
    }

    #[test]
    fn empty_peer_lists_are_left_out_and_the_profile_is_stable() {
        let s = ContentCachingSettings::default();
        let keys = s.payload_keys();
        assert!(keys.get("PeerListenRanges").is_none() && keys.get("Parents").is_none());
        assert_eq!(keys.get("AutoActivation"), Some(&Value::Boolean(true)));
        assert_eq!(s.profile(), s.profile());
        let mut other = s.clone();
        other.cache_limit_bytes = 1 << 40;
        assert_ne!(s.profile().1, other.profile().1);
    }
}
