//! The signed enrollment profile.
//!
//! Profiles are signed by a profile-signing certificate issued by the appliance CA at start,
//! not by the CA itself: the CA key then only signs certificates and SCEP replies (which SCEP
//! requires), and the profile signer is a short-lived leaf whose key never leaves memory. The
//! SignedData carries the leaf and the CA, so a device that trusts the CA shows it verified.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use x509_cert::name::Name;

use super::{Enrollment, EnrollmentError, ProfileSigner, random_secret, secret_hash};
use crate::pki::authority::{Authority, LeafPurpose};
use crate::pki::keys::RsaKey;
use crate::pki::signed::{self, OID_DATA, SignRequest};
use crate::protocol::profile::{EnrollmentProfileSpec, enrollment_profile};
use crate::store::enrollment as rows;
use crate::store::settings;

/// Validity of the in-memory profile-signing certificate (re-issued at every start).
pub const PROFILE_SIGNER_DAYS: u32 = 397;

pub(super) fn new_signer(
    authority: &Authority,
    organization: &str,
    now: DateTime<Utc>,
) -> Result<ProfileSigner, EnrollmentError> {
    let key = RsaKey::generate_2048().map_err(|e| EnrollmentError::Internal(e.to_string()))?;
    let subject = subject_name(&[
        ("O", organization),
        ("CN", &format!("{organization} Profile Signing")),
    ])?;
    let public_key = key
        .public_key_info()
        .map_err(|e| EnrollmentError::Internal(e.to_string()))?;
    let issued = authority.issue(
        subject,
        public_key,
        LeafPurpose::ProfileSigning,
        now,
        PROFILE_SIGNER_DAYS,
    )?;
    Ok(ProfileSigner {
        cert: issued.cert,
        key,
    })
}

/// An X.500 name from (attribute, value) pairs, escaping values per RFC 4514.
fn subject_name(parts: &[(&str, &str)]) -> Result<Name, EnrollmentError> {
    let escaped: Vec<String> = parts
        .iter()
        .rev() // RFC 4514 strings list the most specific RDN first
        .map(|(k, v)| {
            let mut value = String::new();
            for (i, ch) in v.chars().enumerate() {
                let special = matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
                    || (i == 0 && matches!(ch, '#' | ' '));
                if special {
                    value.push('\\');
                }
                value.push(ch);
            }
            format!("{k}={value}")
        })
        .collect();
    Name::from_str(&escaped.join(",")).map_err(|e| EnrollmentError::Invalid(format!("bad name: {e}")))
}

impl Enrollment {
    /// The signed `.mobileconfig` for a device. With `enrollment.require_token`, `token` must
    /// name a usable token; a profile for a token carries a one-time challenge bound to it, any
    /// other profile the site-wide challenge.
    pub fn profile(&self, public_url: &str, token: Option<&str>) -> Result<Vec<u8>, EnrollmentError> {
        let now = self.now();
        let topic = self
            .store
            .read_blocking(|c| settings::get(c, super::APNS_TOPIC_SETTING))?
            .filter(|t| !t.trim().is_empty())
            .ok_or(EnrollmentError::PushCertificateMissing)?;
        let token = match (token.filter(|t| !t.is_empty()), self.config.require_token) {
            (Some(secret), _) => Some(self.tokens.check_token(secret)?),
            (None, true) => return Err(EnrollmentError::TokenRequired),
            (None, false) => None,
        };
        let challenge = match &token {
            Some(info) => self.one_time_challenge(info.id, info.expires_at, now)?,
            None => self.site_challenge.expose().to_string(),
        };
        let device_label = format!(
            "Orchard device {}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let profile = enrollment_profile(&EnrollmentProfileSpec {
            public_url,
            topic: &topic,
            challenge: &challenge,
            ca_der: &self.authority.cert_der,
            organization: &self.config.organization,
            device_label: &device_label,
        });
        let mut xml = Vec::new();
        plist::to_writer_xml(&mut xml, &profile).map_err(|e| EnrollmentError::Internal(e.to_string()))?;
        signed::sign(SignRequest {
            content_type: OID_DATA,
            content: &xml,
            attached: true,
            signer_cert: &self.profile_signer.cert,
            key: &self.profile_signer.key,
            extra_attributes: Vec::new(),
            chain: vec![self.authority.cert.clone()],
            signing_time: Some(now),
        })
        .map_err(|e| EnrollmentError::Internal(e.to_string()))
    }

    /// A fresh challenge usable once, until the configured lifetime or the token's expiry.
    fn one_time_challenge(
        &self,
        token_id: i64,
        token_expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<String, EnrollmentError> {
        let challenge = random_secret();
        let hash = secret_hash(&challenge);
        let mut expires = now + Duration::hours(i64::from(self.config.challenge_ttl_hours.max(1)));
        if let Some(limit) = token_expires {
            expires = expires.min(limit);
        }
        let (created, expires, prune_before) = (now.to_rfc3339(), expires.to_rfc3339(), now.to_rfc3339());
        self.store.write_blocking(move |c| {
            rows::prune_challenges(c, &prune_before)?;
            rows::insert_challenge(c, &hash, token_id, &created, &expires)
        })?;
        Ok(challenge)
    }
}
