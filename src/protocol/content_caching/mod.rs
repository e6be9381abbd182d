//! Mac content caching: the `com.apple.AssetCache.managed` profile payload ([`settings`]) and
//! the `ContentCachingInformation` command's answer ([`status`]).
//!
//! Sources (Apple, MIT-licensed schemas of github.com/apple/device-management, the same text
//! as developer.apple.com/documentation/devicemanagement/contentcachingservice and
//! .../content-caching-information-command):
//! - `mdm/profiles/com.apple.AssetCache.managed.yaml`: macOS 10.13.4+, device channel only,
//!   one payload per profile; every key, type and allowed value used in [`settings`].
//! - `mdm/commands/information.contentcaching.yaml`: `RequestType` `ContentCachingInformation`,
//!   macOS 10.15.4+, device channel, access right `AllowQueryNetworkInformation`; the answer is
//!   one `StatusResponse` dictionary, read by [`status`]. The schema says `supervised: false`;
//!   Apple's current web page for the command lists it as requiring supervision on macOS, so
//!   an unsupervised Mac may answer with an error (kept as the command's result).
//!
//! Apple offers no command to fill ("pre-warm") a content cache; see `docs/cache.md`.

pub mod settings;
pub mod status;

pub use settings::{ContentCachingSettings, IpRange, ParentSelectionPolicy, SettingsError};
pub use status::{CacheNeighbour, ContentCachingStatus};

/// `payloadtype` of the schema.
pub const PAYLOAD_TYPE: &str = "com.apple.AssetCache.managed";
/// `requesttype` of the command's schema.
pub const REQUEST_TYPE: &str = "ContentCachingInformation";
/// The `PayloadIdentifier` of the profile Orchard installs (one per Mac: a new one replaces it).
pub const PROFILE_IDENTIFIER: &str = "orchard.content-caching";
