//! SCEP `PKIOperation`: decide whether a request earns a certificate, issue it, record it.
//!
//! `PKCSReq` needs a challenge: the site-wide secret, or an unused one-time challenge whose
//! token is still usable. `RenewalReq` needs no challenge but must be signed with a valid
//! certificate issued by this CA. Anything refused gets a signed CertRep FAILURE and no
//! certificate; a message that is not a readable SCEP request is an error (HTTP 400).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Enrollment, EnrollmentError, secret_hash};
use crate::config::secrets_equal;
use crate::pki::authority::{Issued, LeafPurpose, to_chrono};
use crate::pki::identity;
use crate::pki::scep::{self, FailInfo, MessageType, PkiRequest, Reply};
use crate::store::StoreError;
use crate::store::enrollment::{self as rows, Consume, IssuedRow};

/// What paid for an issuance.
enum Grant {
    SiteChallenge,
    OneTime {
        challenge_hash: String,
        token_id: i64,
    },
    Renewal {
        renewed_from: String,
        token_id: Option<i64>,
    },
}

impl Enrollment {
    /// Handles one pkiMessage and returns the DER CertRep. Blocking (crypto and SQLite): call
    /// from a blocking context.
    pub fn pki_operation(&self, message: &[u8]) -> Result<Vec<u8>, EnrollmentError> {
        let now = self.now();
        let request = scep::parse_request(message, &self.authority)
            .map_err(|e| EnrollmentError::BadScepRequest(e.to_string()))?;
        let grant = match self.decide(&request, now)? {
            Ok(grant) => grant,
            Err(fail) => {
                tracing::info!(
                    transaction = %request.transaction_id,
                    message_type = request.message_type.code(),
                    fail_info = fail.code(),
                    "SCEP request refused"
                );
                return self.reply(&request, Reply::Failed(fail), now);
            }
        };
        let issued = self.authority.issue(
            request.csr.subject.clone(),
            request.csr.public_key.clone(),
            LeafPurpose::DeviceIdentity,
            now,
            self.config.identity_validity_days,
        )?;
        let fingerprint = hex::encode(Sha256::digest(&issued.der));
        match self.record(&request, &issued, &fingerprint, &grant, now) {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return self.reply(&request, Reply::Failed(FailInfo::BadRequest), now);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            transaction = %request.transaction_id,
            message_type = request.message_type.code(),
            serial = %issued.serial,
            "issued a device identity certificate"
        );
        if let (Grant::Renewal { renewed_from, .. }, Some(observer)) = (&grant, self.renewals.get()) {
            observer.renewed(renewed_from, &fingerprint);
        }
        self.reply(&request, Reply::Issued(&issued.cert), now)
    }

    fn reply(
        &self,
        request: &PkiRequest,
        reply: Reply<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, EnrollmentError> {
        scep::cert_rep(&self.authority, request, reply, now)
            .map_err(|e| EnrollmentError::Internal(e.to_string()))
    }

    fn decide(
        &self,
        request: &PkiRequest,
        now: DateTime<Utc>,
    ) -> Result<Result<Grant, FailInfo>, EnrollmentError> {
        if request.message_type == MessageType::RenewalReq {
            let Ok(current) = identity::from_certificate(&request.signer_der, &self.authority.cert_der, now)
            else {
                return Ok(Err(FailInfo::BadMessageCheck));
            };
            let fingerprint = current.fingerprint.clone();
            let previous = self
                .store
                .read_blocking(move |c| rows::issued_by_fingerprint(c, &fingerprint))?;
            return Ok(Ok(Grant::Renewal {
                renewed_from: current.fingerprint,
                token_id: previous.and_then(|p| p.token_id),
            }));
        }
        let Some(challenge) = request.csr.challenge.as_deref() else {
            return Ok(Err(FailInfo::BadRequest));
        };
        if secrets_equal(challenge, self.site_challenge.expose()) {
            return Ok(Ok(Grant::SiteChallenge));
        }
        let hash = secret_hash(challenge);
        let lookup = hash.clone();
        let Some(row) = self.store.read_blocking(move |c| rows::challenge(c, &lookup))? else {
            return Ok(Err(FailInfo::BadRequest));
        };
        let expired = DateTime::parse_from_rfc3339(&row.expires_at).map_or(true, |e| e.to_utc() <= now);
        if row.used_at.is_some() || expired {
            return Ok(Err(FailInfo::BadRequest));
        }
        // The token may have been revoked, expired or used up since the profile was handed out.
        let token_id = row.token_id;
        let token = self
            .store
            .read_blocking(move |c| rows::token_by_id(c, token_id))?;
        match token.map(|t| super::tokens::token_info(t, now).state) {
            Some(super::TokenState::Active) => Ok(Ok(Grant::OneTime {
                challenge_hash: hash,
                token_id,
            })),
            _ => Ok(Err(FailInfo::BadRequest)),
        }
    }

    fn record(
        &self,
        request: &PkiRequest,
        issued: &Issued,
        fingerprint: &str,
        grant: &Grant,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let validity = &issued.cert.tbs_certificate.validity;
        let (token_id, renewed_from) = match grant {
            Grant::SiteChallenge => (None, None),
            Grant::OneTime { token_id, .. } => (Some(*token_id), None),
            Grant::Renewal {
                renewed_from,
                token_id,
            } => (*token_id, Some(renewed_from.clone())),
        };
        let row = IssuedRow {
            serial: issued.serial.clone(),
            fingerprint: fingerprint.to_string(),
            subject: issued.cert.tbs_certificate.subject.to_string(),
            not_before: to_chrono(&validity.not_before).to_rfc3339(),
            not_after: to_chrono(&validity.not_after).to_rfc3339(),
            issued_at: now.to_rfc3339(),
            request_type: match request.message_type {
                MessageType::RenewalReq => "RenewalReq",
                _ => "PKCSReq",
            }
            .into(),
            token_id,
            renewed_from,
        };
        let consume_hash = match grant {
            Grant::OneTime {
                challenge_hash,
                token_id,
            } => Some((challenge_hash.clone(), *token_id)),
            _ => None,
        };
        let at = now.to_rfc3339();
        self.store.write_blocking(move |c| {
            let consume = match &consume_hash {
                Some((hash, token_id)) => Consume::Challenge {
                    hash,
                    token_id: *token_id,
                    now: &at,
                },
                None => Consume::Nothing,
            };
            rows::record_issued(c, &row, consume)
        })
    }
}
