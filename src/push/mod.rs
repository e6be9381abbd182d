//! APNs push for MDM: the push certificate (import, storage, expiry warnings) and the push
//! queue that wakes devices when commands are queued for them.
//!
//! Sending goes through Orchard's own small HTTP/2 client ([`apns`]), not `a2`: see the module
//! documentation of [`apns`] for why. Tests run the same client against the in-repo fake APNs
//! (`crate::sim::fake_apns`) over real TLS with client-certificate authentication.
//!
//! Wiring: build a [`Pusher`] with [`Pusher::from_config`], hand it a [`PushOutcomeSink`] that
//! records outcomes on the device, and call [`Pusher::request`] with a [`PushTarget`] whenever a
//! command is queued. After a certificate import, call [`Pusher::reload`].

pub mod apns;
pub mod backoff;
pub mod certificate;
pub mod expiry;
pub mod import;
pub mod outcome;
pub mod pusher;
pub mod report;
pub mod timer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use apns::{ApnsClient, ApnsEndpoint, TrustRoots};
pub use backoff::Backoff;
pub use certificate::{CertificateError, CertificateInfo, PushCertificate};
pub use expiry::{ExpiryLevel, ExpiryStatus, expiry_level};
pub use import::{ImportReport, ImportSource};
pub use outcome::{ApnsResponse, TransportError, TransportErrorKind, Verdict, classify};
pub use pusher::{PushHealth, PushOutcome, PushOutcomeSink, PushReport, PushTarget, Pusher, PusherSettings};
pub use timer::{ManualTimer, Timer, TokioTimer};

use crate::clock::SharedClock;
use crate::config::ApnsConfig;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Certificate(#[from] CertificateError),
    #[error(
        "the new certificate is for topic `{new}`, but devices are enrolled with `{current}`: \
         replacing it would orphan every enrolled device (they only accept pushes for their \
         topic and would have to be re-enrolled). Renew the existing certificate at \
         identity.apple.com instead, which keeps the topic, or force the replacement"
    )]
    TopicChanged { current: String, new: String },
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("stored push certificate data is unreadable: {0}")]
    Stored(String),
    #[error("APNs client: {0}")]
    Client(String),
}

impl ApnsEndpoint {
    /// The endpoint described by `[apns]`.
    pub fn from_config(config: &ApnsConfig) -> Result<ApnsEndpoint, PushError> {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let roots = match &config.ca_file {
            None => TrustRoots::Public,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|source| PushError::Io {
                    path: path.clone(),
                    source,
                })?;
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<_, _>>()
                    .map_err(|e| PushError::Client(format!("{}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(PushError::Client(format!(
                        "{} holds no certificate",
                        path.display()
                    )));
                }
                TrustRoots::Custom(certs)
            }
        };
        Ok(ApnsEndpoint {
            base_url: config.url.trim_end_matches('/').to_string(),
            roots,
            connect_timeout: Duration::from_secs(config.connect_timeout_seconds.max(1)),
            request_timeout: Duration::from_secs(config.request_timeout_seconds.max(1)),
        })
    }
}

impl PusherSettings {
    pub fn from_config(config: &ApnsConfig) -> PusherSettings {
        PusherSettings {
            window: Duration::from_millis(config.coalesce_millis),
            concurrency: config.concurrency.max(1),
            backoff: Backoff {
                base: Duration::from_millis(config.retry_base_millis.max(1)),
                max: Duration::from_secs(config.retry_max_seconds.max(1)),
                max_attempts: config.max_attempts.max(1),
            },
        }
    }
}

impl Pusher {
    /// The production pusher: settings from `[apns]`, the certificate from `<data>/pki/` (none
    /// imported yet: it reports `NoCertificate` until [`Pusher::reload`]), real time.
    pub fn from_config(
        config: &ApnsConfig,
        data_dir: &Path,
        sink: Arc<dyn PushOutcomeSink>,
        clock: SharedClock,
    ) -> Result<Pusher, PushError> {
        let endpoint = ApnsEndpoint::from_config(config)?;
        let client = match import::load(data_dir)? {
            Some(cert) => Some(ApnsClient::new(&endpoint, &cert)?),
            None => None,
        };
        Pusher::new(
            PusherSettings::from_config(config),
            client,
            sink,
            clock,
            Arc::new(TokioTimer),
        )
    }

    /// Re-reads the certificate from `<data>/pki/` (after an import from the UI).
    pub fn reload(&self, config: &ApnsConfig, data_dir: &Path) -> Result<(), PushError> {
        let endpoint = ApnsEndpoint::from_config(config)?;
        let client = match import::load(data_dir)? {
            Some(cert) => Some(ApnsClient::new(&endpoint, &cert)?),
            None => None,
        };
        self.set_client(client);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Layer, resolve};

    #[test]
    fn the_apns_section_comes_from_the_environment_and_names_a_missing_ca_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let env = Layer::from_env([
            (
                "ORCHARD_APNS_URL".to_string(),
                "https://apns.example:2197/".to_string(),
            ),
            ("ORCHARD_APNS_COALESCE_MILLIS".to_string(), "250".to_string()),
            ("ORCHARD_APNS_CA_FILE".to_string(), missing.display().to_string()),
        ])
        .unwrap();
        let config = resolve(&[env]).unwrap();
        assert_eq!(
            PusherSettings::from_config(&config.apns).window,
            Duration::from_millis(250)
        );
        let err = ApnsEndpoint::from_config(&config.apns).unwrap_err().to_string();
        assert!(err.contains("nope.pem"), "{err}");

        let defaults = resolve(&[]).unwrap().apns;
        let endpoint = ApnsEndpoint::from_config(&defaults).unwrap();
        assert_eq!(endpoint.base_url, apns::APPLE_PRODUCTION_URL);
        assert!(matches!(endpoint.roots, TrustRoots::Public));
        let mut custom = config.apns.clone();
        custom.ca_file = None;
        assert_eq!(
            ApnsEndpoint::from_config(&custom).unwrap().base_url,
            "https://apns.example:2197"
        );
    }
}
