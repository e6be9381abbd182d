//! Configuration in layers: built-in defaults → TOML file → `ORCHARD_*` environment → flags.
//!
//! Every layer is a TOML table; they are merged key by key and the result is deserialized once
//! with unknown keys refused, so a typo in any layer is an error that names the key and its source.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the TOML file is looked for when `--config` is not given.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/orchard/orchard.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration in {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("cannot read secret file {path} (for `{key}`): {source}")]
    SecretFile {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A value that must never be printed or logged.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Whether `presented` is this secret, compared without leaking where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        secrets_equal(&self.0, presented)
    }
}

/// Compares secrets (tokens, challenges) in time that depends neither on where they differ nor
/// on their lengths: the SHA-256 digests are compared, all 32 bytes.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.iter().zip(hb.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() {
            s.serialize_str("")
        } else {
            s.serialize_str("<redacted>")
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub log: LogConfig,
    pub security: SecurityConfig,
    pub enrollment: EnrollmentConfig,
    pub identity: IdentityConfig,
    pub apns: ApnsConfig,
    pub catalog: CatalogConfig,
    pub mdm: MdmConfig,
    pub ddm: DdmConfig,
    pub compliance: ComplianceConfig,
    pub api: ApiConfig,
    pub policy: PolicyConfig,
    pub cache: CacheConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// Days without contact after which a device is flagged stale (and its state is unknown).
    pub stale_after_days: u32,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        ComplianceConfig { stale_after_days: 14 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Largest JSON body the API accepts, in bytes (larger ones get 413). Catalog imports through
    /// the API may be as large as `catalog.max_document_bytes` per document.
    pub max_body_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 256 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The site's offset from UTC (`+01:00`, `-05:00`, `Z`): policy deadlines are local times,
    /// and devices that do not report their zone are planned in this one.
    pub utc_offset: String,
    /// Devices re-evaluated per batch by the policy worker (a few transactions each: plans,
    /// declaration sets and commands, delivery records).
    pub evaluation_batch: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            utc_offset: "+00:00".into(),
            evaluation_batch: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Where cached payloads live. Empty: `<data_dir>/cache`.
    pub dir: PathBuf,
    /// Most bytes the ready payloads may take; least recently used unpinned ones are evicted to
    /// make room. 0: no limit (the disk is the limit).
    pub quota_bytes: u64,
    /// Downloads running at once.
    pub max_concurrent_downloads: usize,
    /// Bandwidth all downloads share, in bytes per second. 0: unlimited.
    pub bandwidth_bytes_per_second: u64,
    /// When downloads may run, as `HH:MM-HH:MM` ranges (may cross midnight, e.g. `18:00-06:00`).
    /// Empty: always.
    pub allowed_windows: Vec<String>,
    /// Time zone of `allowed_windows`: `local` (the system's), `UTC`, or a fixed offset `+02:00`.
    pub window_time_zone: String,
    /// Fetches of a payload that failed verification before the download is given up.
    pub max_attempts: u32,
    /// Allow `http://` download URLs (a local mirror). Off: HTTPS only, as Apple's CDN serves.
    pub allow_plain_http: bool,
    /// Days before a policy deadline from which the macOS release it enforces is downloaded
    /// ahead (hourly job). 0: nothing is fetched ahead (targets are still kept from eviction).
    pub prefetch_days_ahead: u32,
    /// What is fetched ahead for a macOS target: `installer` (InstallAssistant.pkg, about
    /// 18 GB), `ipsw` (the Mac restore image). Empty: nothing.
    pub prefetch_kinds: Vec<String>,
    /// Bytes read from disk at once when serving `/cache/...` (64 KiB to 16 MiB; BENCHMARKS.md
    /// "Payload cache serving" shows how the size was chosen).
    pub serve_chunk_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            dir: PathBuf::new(),
            quota_bytes: 0,
            max_concurrent_downloads: 2,
            bandwidth_bytes_per_second: 0,
            allowed_windows: Vec::new(),
            window_time_zone: "local".into(),
            max_attempts: 3,
            allow_plain_http: false,
            prefetch_days_ahead: 14,
            prefetch_kinds: vec!["installer".into()],
            serve_chunk_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DdmConfig {
    /// Largest DDM status report accepted, in bytes (larger ones are refused with 413).
    pub status_max_bytes: usize,
}

impl Default for DdmConfig {
    fn default() -> Self {
        DdmConfig {
            status_max_bytes: crate::ddm::DEFAULT_STATUS_MAX_BYTES,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the HTTPS listener.
    pub listen: String,
    /// Optional plain-HTTP listener, only for use behind a TLS-terminating reverse proxy.
    pub http_listen: Option<String>,
    /// The URL devices and browsers use to reach the appliance. Derived from the first TLS
    /// name and the listen port when empty.
    pub public_url: Option<String>,
    /// Names (DNS or IP) the server certificate is issued for. Empty: hostname, localhost, 127.0.0.1.
    pub tls_names: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Worker threads for the HTTP server (0 = one per core).
    pub workers: usize,
    /// On stop, how long open connections may finish their requests before they are closed.
    pub shutdown_timeout_seconds: u64,
    /// Runs the timed housekeeping jobs (catalog refresh and reload, policy triggers and sweep,
    /// compliance refreshes and snapshots, pruning, certificate warnings). Work that follows a
    /// request (a saved policy, a device report) does not depend on it.
    pub scheduled_jobs: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Where the database, keys and cache live. Defaults to `$STATE_DIRECTORY` under systemd,
    /// else `./orchard-data`.
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `orchard=debug,actix_web=info`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Hours an admin session lasts without activity.
    pub session_idle_hours: u32,
    /// Failed logins allowed per account or per address in `login_window_minutes`.
    pub login_max_failures: u32,
    pub login_window_minutes: u32,
    /// Site-wide SCEP challenge (may be given as `scep_challenge_file`). Empty: generated on first start.
    pub scep_challenge: Secret,
    /// Bearer token `/metrics` requires (may be given as `metrics_token_file`). Empty: open to
    /// anyone who can reach the port.
    pub metrics_token: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrollmentConfig {
    /// Days a device identity certificate issued by SCEP stays valid.
    pub identity_validity_days: u32,
    /// When true, `/enroll/profile` requires `?token=` (an enrollment token).
    pub require_token: bool,
    /// Hours a one-time SCEP challenge (handed out in a token-bound profile) stays usable.
    pub challenge_ttl_hours: u32,
    /// Organisation shown in profiles and put in identity certificate subjects.
    pub organization: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Behind a TLS-terminating reverse proxy: the request header carrying the client
    /// certificate (URL-encoded PEM as nginx's `$ssl_client_escaped_cert`, or base64 DER).
    /// Empty: not used.
    pub proxy_cert_header: String,
    /// Addresses of the proxies whose `proxy_cert_header` is believed; from any other peer the
    /// header is ignored.
    pub trusted_proxies: Vec<String>,
}

impl Default for EnrollmentConfig {
    fn default() -> Self {
        EnrollmentConfig {
            identity_validity_days: 365,
            require_token: false,
            challenge_ttl_hours: 24,
            organization: "Orchard".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApnsConfig {
    /// APNs base URL. Apple's production service unless pointed at a proxy or a test fake.
    pub url: String,
    /// PEM file of the roots that authenticate `url`. Unset: the public web roots (Mozilla's set).
    pub ca_file: Option<PathBuf>,
    pub connect_timeout_seconds: u64,
    pub request_timeout_seconds: u64,
    /// Requests to APNs in flight at once.
    pub concurrency: usize,
    /// Push requests for one device within this window become one push.
    pub coalesce_millis: u64,
    /// Attempts per push (first included) on 429, 5xx and network errors.
    pub max_attempts: u32,
    /// First retry delay; it doubles per attempt, with jitter, up to `retry_max_seconds`.
    pub retry_base_millis: u64,
    pub retry_max_seconds: u64,
}

impl Default for ApnsConfig {
    fn default() -> Self {
        ApnsConfig {
            url: "https://api.push.apple.com".into(),
            ca_file: None,
            connect_timeout_seconds: 10,
            request_timeout_seconds: 30,
            concurrency: 32,
            coalesce_millis: 1000,
            max_attempts: 8,
            retry_base_millis: 1000,
            retry_max_seconds: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// Apple's version catalog. Its TLS chain must end at Apple's root CA (shipped in the binary).
    pub gdmf_url: String,
    /// Base of the SOFA feeds (public web PKI). Empty: SOFA is not fetched.
    pub sofa_base_url: String,
    /// SOFA feeds fetched under `sofa_base_url`, by their SOFA path.
    pub sofa_feeds: Vec<String>,
    /// Fetch on a schedule. Off for sites without internet (they use `orchard catalog import`).
    pub auto_refresh: bool,
    /// When to refresh: a cron expression with seconds, in UTC. Apple asks for no more than daily.
    pub refresh_schedule: String,
    /// Seconds before a fetch is abandoned.
    pub fetch_timeout_seconds: u64,
    /// Largest catalog document accepted (fetched, imported or uploaded), in bytes.
    pub max_document_bytes: u64,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            gdmf_url: "https://gdmf.apple.com/v2/pmv".into(),
            sofa_base_url: "https://sofafeed.macadmins.io".into(),
            sofa_feeds: vec![
                "v1/macos_data_feed.json".into(),
                "v1/ios_data_feed.json".into(),
                "v2/macos_data_feed.json".into(),
                "v2/ios_data_feed.json".into(),
            ],
            auto_refresh: true,
            refresh_schedule: "0 17 4 * * *".into(),
            fetch_timeout_seconds: 60,
            max_document_bytes: 32 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdmConfig {
    /// Days a completed command (and its result) is kept before pruning.
    pub command_retention_days: u32,
    /// Largest check-in or command-result message accepted, in bytes.
    pub max_message_bytes: usize,
}

impl Default for MdmConfig {
    fn default() -> Self {
        MdmConfig {
            command_retention_days: 30,
            max_message_bytes: 2 * 1024 * 1024,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "0.0.0.0:8443".into(),
            http_listen: None,
            public_url: None,
            tls_names: Vec::new(),
            max_body_bytes: 4 * 1024 * 1024,
            workers: 0,
            shutdown_timeout_seconds: 10,
            scheduled_jobs: true,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        let data_dir = std::env::var_os("STATE_DIRECTORY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("./orchard-data"));
        StorageConfig { data_dir }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            session_idle_hours: 12,
            login_max_failures: 5,
            login_window_minutes: 15,
            scep_challenge: Secret::default(),
            metrics_token: Secret::default(),
        }
    }
}

/// One source of settings, with a name used in error messages.
#[derive(Debug, Clone)]
pub struct Layer {
    pub origin: String,
    pub table: toml::Table,
}

impl Layer {
    /// Parses a TOML file. A missing optional file is `Ok(None)`.
    pub fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Invalid {
            origin: path.display().to_string(),
            message: e.message().to_string(),
        })?;
        let origin = path.display().to_string();
        check_known_keys(&table, &origin)?;
        Ok(Layer { origin, table })
    }

    /// Reads `ORCHARD_<SECTION>_<KEY>` variables, e.g. `ORCHARD_SERVER_LISTEN`.
    /// Values are read as TOML literals when they parse as such (numbers, arrays, booleans),
    /// else as strings.
    pub fn from_env<I: IntoIterator<Item = (String, String)>>(vars: I) -> Result<Layer, ConfigError> {
        let known = known_keys();
        let mut table = toml::Table::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("ORCHARD_") else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            let found = known.iter().find(|(section, key)| {
                rest == format!("{section}_{key}") || rest == format!("{section}_{key}_file")
            });
            let Some((section, _)) = found else {
                // Variables such as ORCHARD_CONFIG are flags, not settings.
                if rest == "config" {
                    continue;
                }
                return Err(ConfigError::Invalid {
                    origin: "the environment".into(),
                    message: format!("unknown variable `{name}`"),
                });
            };
            let key = rest[section.len() + 1..].to_string();
            let section_table = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = section_table {
                t.insert(key, parse_env_value(&value));
            }
        }
        Ok(Layer {
            origin: "the environment".into(),
            table,
        })
    }

    /// Builds a layer from `section.key=value` pairs (command-line `--set`).
    pub fn from_pairs(origin: &str, pairs: &[(String, toml::Value)]) -> Result<Layer, ConfigError> {
        let mut table = toml::Table::new();
        for (path, value) in pairs {
            let Some((section, key)) = path.split_once('.') else {
                return Err(ConfigError::Invalid {
                    origin: origin.into(),
                    message: format!("`{path}` is not of the form section.key"),
                });
            };
            let section_table = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = section_table {
                t.insert(key.to_string(), value.clone());
            }
        }
        check_known_keys(&table, origin)?;
        Ok(Layer {
            origin: origin.into(),
            table,
        })
    }
}

fn parse_env_value(value: &str) -> toml::Value {
    let probe = format!("v = {value}");
    match probe.parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(value.into())),
        Err(_) => toml::Value::String(value.into()),
    }
}

/// Every (section, key) the configuration knows, read from the defaults.
pub fn known_keys() -> Vec<(String, String)> {
    let mut keys = Vec::new();
    if let Ok(toml::Value::Table(root)) = toml::Value::try_from(Config::default()) {
        for (section, value) in root {
            if let toml::Value::Table(t) = value {
                keys.extend(t.keys().map(|k| (section.clone(), k.clone())));
            }
        }
    }
    // Optional keys are absent from the serialized defaults.
    keys.push(("server".into(), "http_listen".into()));
    keys.push(("server".into(), "public_url".into()));
    keys.push(("apns".into(), "ca_file".into()));
    keys
}

fn check_known_keys(table: &toml::Table, origin: &str) -> Result<(), ConfigError> {
    let known = known_keys();
    for (section, value) in table {
        let toml::Value::Table(t) = value else {
            return Err(ConfigError::Invalid {
                origin: origin.into(),
                message: format!("`{section}` must be a section ([{section}])"),
            });
        };
        if !known.iter().any(|(s, _)| s == section) {
            return Err(ConfigError::Invalid {
                origin: origin.into(),
                message: format!("unknown section `[{section}]`"),
            });
        }
        for key in t.keys() {
            let base = key.strip_suffix("_file").unwrap_or(key);
            let is_secret_file = key.ends_with("_file") && is_secret_key(section, base);
            if !known.iter().any(|(s, k)| s == section && k == key) && !is_secret_file {
                return Err(ConfigError::Invalid {
                    origin: origin.into(),
                    message: format!("unknown key `{section}.{key}`"),
                });
            }
        }
    }
    Ok(())
}

/// Keys whose value is a [`Secret`] and may be given as a `*_file` path instead.
fn is_secret_key(section: &str, key: &str) -> bool {
    matches!(
        (section, key),
        ("security", "scep_challenge") | ("security", "metrics_token")
    )
}

/// Merges layers in order (later wins), resolves `*_file` secrets and deserializes.
pub fn resolve(layers: &[Layer]) -> Result<Config, ConfigError> {
    let mut merged: BTreeMap<String, toml::Table> = BTreeMap::new();
    let mut origin_of: BTreeMap<(String, String), String> = BTreeMap::new();
    for layer in layers {
        for (section, value) in &layer.table {
            if let toml::Value::Table(t) = value {
                let target = merged.entry(section.clone()).or_default();
                for (k, v) in t {
                    target.insert(k.clone(), v.clone());
                    origin_of.insert((section.clone(), k.clone()), layer.origin.clone());
                }
            }
        }
    }
    // Secrets given as files.
    for (section, table) in merged.iter_mut() {
        let file_keys: Vec<String> = table.keys().filter(|k| k.ends_with("_file")).cloned().collect();
        for file_key in file_keys {
            let base = file_key.trim_end_matches("_file").to_string();
            if !is_secret_key(section, &base) {
                continue;
            }
            let Some(toml::Value::String(path)) = table.remove(&file_key) else {
                return Err(ConfigError::Invalid {
                    origin: origin_of
                        .get(&(section.clone(), file_key.clone()))
                        .cloned()
                        .unwrap_or_default(),
                    message: format!("`{section}.{file_key}` must be a path"),
                });
            };
            let content = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                key: format!("{section}.{base}"),
                path: PathBuf::from(&path),
                source,
            })?;
            table.insert(base, toml::Value::String(content.trim_end().to_string()));
        }
    }
    let mut root = toml::Table::new();
    for (section, t) in merged {
        root.insert(section, toml::Value::Table(t));
    }
    let origins: Vec<&str> = layers.iter().map(|l| l.origin.as_str()).collect();
    Config::deserialize(toml::Value::Table(root)).map_err(|e| ConfigError::Invalid {
        origin: if origins.is_empty() {
            "defaults".into()
        } else {
            origins.join(", ")
        },
        message: e.message().to_string(),
    })
}

impl Config {
    /// Effective configuration as TOML, with secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// The names the TLS certificate covers.
    pub fn tls_names(&self) -> Vec<String> {
        if !self.server.tls_names.is_empty() {
            return self.server.tls_names.clone();
        }
        let mut names = Vec::new();
        if let Some(host) = hostname() {
            names.push(host);
        }
        names.push("localhost".into());
        names.push("127.0.0.1".into());
        names.dedup();
        names
    }

    /// Where cached payloads live (`cache.dir`, else `<data_dir>/cache`).
    pub fn cache_dir(&self) -> PathBuf {
        if self.cache.dir.as_os_str().is_empty() {
            self.storage.data_dir.join("cache")
        } else {
            self.cache.dir.clone()
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.storage.data_dir.join("orchard.db")
    }
}

fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()?
        .trim()
        .to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(origin: &str, text: &str) -> Layer {
        let table: toml::Table = text.parse().unwrap();
        check_known_keys(&table, origin)
            .map(|_| Layer {
                origin: origin.into(),
                table,
            })
            .unwrap()
    }

    #[test]
    fn later_layers_win_key_by_key() {
        let file = layer("file.toml", "[server]\nlisten = \"127.0.0.1:1\"\nworkers = 3\n");
        let env = Layer::from_env([("ORCHARD_SERVER_WORKERS".to_string(), "5".to_string())]).unwrap();
        let cfg = resolve(&[file, env]).unwrap();
        assert_eq!(cfg.server.listen, "127.0.0.1:1");
        assert_eq!(cfg.server.workers, 5);
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let table: toml::Table = "[server]\nlisten_port = 1\n".parse().unwrap();
        let err = check_known_keys(&table, "/etc/orchard/orchard.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listen_port"), "{err}");
        assert!(err.contains("/etc/orchard/orchard.toml"), "{err}");
    }

    #[test]
    fn unknown_env_variable_is_refused() {
        let err = Layer::from_env([("ORCHARD_SERVER_LISTN".to_string(), "x".to_string())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ORCHARD_SERVER_LISTN"), "{err}");
    }

    #[test]
    fn secrets_from_files_are_read_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("challenge");
        std::fs::write(&path, "s3cret\n").unwrap();
        let text = format!(
            "[security]\nscep_challenge_file = {:?}\n",
            path.display().to_string()
        );
        let cfg = resolve(&[layer("f", &text)]).unwrap();
        assert_eq!(cfg.security.scep_challenge.expose(), "s3cret");
        let shown = cfg.to_redacted_toml();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert_eq!(format!("{:?}", cfg.security.scep_challenge), "<redacted>");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = resolve(&[layer("f.toml", "[server]\nworkers = \"many\"\n")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("f.toml"), "{err}");
    }
}
