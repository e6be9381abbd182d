//! Enrollment: tokens, SCEP challenges, certificate issuance and the enrollment profile.
//! The rules live here; `web/` and the CLI call this service, `store::enrollment` keeps the data.

mod profile;
mod scep;
mod tokens;

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::config::{Config, EnrollmentConfig, Secret};
use crate::pki::Pki;
use crate::pki::authority::{Authority, AuthorityError};
use crate::pki::keys::RsaKey;
use crate::store::{Store, StoreError, settings};

pub use profile::PROFILE_SIGNER_DAYS;
pub use tokens::{EnrollmentTokens, NewTokenRequest, TokenInfo, TokenRefusal, TokenState};

/// Settings key of the site-wide SCEP challenge generated on first start.
pub const SCEP_CHALLENGE_SETTING: &str = "scep.challenge";
/// Settings key of the APNs topic, written when the push certificate is imported.
pub const APNS_TOPIC_SETTING: &str = "apns.topic";

#[derive(Debug, thiserror::Error)]
pub enum EnrollmentError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("an enrollment token is required: ask your IT department for an enrollment link")]
    TokenRequired,
    #[error("this enrollment token cannot be used: {0}")]
    TokenRefused(TokenRefusal),
    #[error("no APNs push certificate has been imported yet: import the push certificate first")]
    PushCertificateMissing,
    #[error("not a valid SCEP request: {0}")]
    BadScepRequest(String),
    #[error("{0}")]
    Invalid(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<AuthorityError> for EnrollmentError {
    fn from(e: AuthorityError) -> Self {
        EnrollmentError::Internal(e.to_string())
    }
}

/// Told when a device renews its identity certificate (SCEP `RenewalReq`), so that the new
/// certificate speaks for the device the old one was bound to. Fingerprints are SHA-256 of the
/// DER certificates, lower-case hex. Called on a blocking thread after the issuance is recorded.
pub trait RenewalObserver: Send + Sync {
    fn renewed(&self, old_fingerprint: &str, new_fingerprint: &str);
}

/// The certificate and key that sign enrollment profiles.
struct ProfileSigner {
    cert: x509_cert::Certificate,
    key: RsaKey,
}

/// The enrollment service. Cheap to share behind an `Arc`.
pub struct Enrollment {
    store: Store,
    clock: SharedClock,
    config: EnrollmentConfig,
    authority: Arc<Authority>,
    profile_signer: ProfileSigner,
    site_challenge: Secret,
    tokens: EnrollmentTokens,
    renewals: OnceLock<Arc<dyn RenewalObserver>>,
}

impl Enrollment {
    /// Builds the service at start-up: loads the CA as a signer, makes sure a site-wide SCEP
    /// challenge exists (from the configuration, else generated once and kept in `settings`),
    /// and issues the profile-signing certificate.
    pub fn start(
        config: &Config,
        store: Store,
        clock: SharedClock,
        pki: &Pki,
    ) -> Result<Enrollment, EnrollmentError> {
        let authority = Arc::new(Authority::new(&pki.ca_cert_der, &pki.ca_key.serialize_der())?);
        let now = clock.now();
        let site_challenge = if config.security.scep_challenge.is_empty() {
            Secret::new(ensure_generated_challenge(&store, now)?)
        } else {
            config.security.scep_challenge.clone()
        };
        let profile_signer = profile::new_signer(&authority, &config.enrollment.organization, now)?;
        Ok(Enrollment {
            tokens: EnrollmentTokens::new(store.clone(), clock.clone()),
            store,
            clock,
            config: config.enrollment.clone(),
            authority,
            profile_signer,
            site_challenge,
            renewals: OnceLock::new(),
        })
    }

    /// Sets who is told of certificate renewals (the MDM service); only the first call counts.
    pub fn observe_renewals(&self, observer: Arc<dyn RenewalObserver>) {
        let _ = self.renewals.set(observer);
    }

    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    /// The site-wide SCEP challenge (for operators and tools; never logged).
    pub fn site_challenge(&self) -> &Secret {
        &self.site_challenge
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

fn ensure_generated_challenge(store: &Store, now: DateTime<Utc>) -> Result<String, EnrollmentError> {
    let at = now.to_rfc3339();
    Ok(store.write_blocking(move |c| {
        if let Some(existing) = settings::get(c, SCEP_CHALLENGE_SETTING)? {
            return Ok(existing);
        }
        let generated = random_secret();
        settings::set(c, SCEP_CHALLENGE_SETTING, &generated, &at)?;
        tracing::info!("generated the site-wide SCEP challenge");
        Ok(generated)
    })?)
}

/// 192 random bits, URL-safe.
pub(crate) fn random_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

/// How secrets (tokens, challenges) are looked up: by SHA-256, never stored in clear.
pub(crate) fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
