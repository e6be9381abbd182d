//! Device identity: who sent an MDM request. The proof is either the `Mdm-Signature` header
//! (base64 detached CMS SignedData over the body, SHA-1 or SHA-256) or a certificate presented
//! at the TLS layer (or by a trusted proxy). Either way the certificate must be issued by the
//! appliance CA and be valid at the given time.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::signed::{self, CmsError};

/// The largest `Mdm-Signature` header accepted (real ones are 2–4 KB).
pub const MAX_SIGNATURE_HEADER: usize = 16 * 1024;

/// A device certificate that chains to the appliance CA and is in validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub certificate_der: Vec<u8>,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
    /// Serial number, lower-case hex.
    pub serial: String,
    pub not_after: DateTime<Utc>,
    /// Subject in RFC 4514 form, for logs and display.
    pub subject: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("no device identity: neither an Mdm-Signature header nor a client certificate")]
    Missing,
    #[error("the Mdm-Signature header is not valid base64")]
    BadBase64,
    #[error("the Mdm-Signature header is too large")]
    TooLarge,
    #[error("the Mdm-Signature is not a valid CMS signature: {0}")]
    Malformed(String),
    #[error("the Mdm-Signature does not match the request body")]
    DigestMismatch,
    #[error("the Mdm-Signature signature does not verify")]
    BadSignature,
    #[error("the certificate is not a valid X.509 certificate")]
    BadCertificate,
    #[error("the certificate was not issued by this appliance's CA")]
    UntrustedIssuer,
    #[error("the certificate expired on {0}")]
    Expired(DateTime<Utc>),
    #[error("the certificate is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
}

impl IdentityError {
    /// True when the request itself is malformed (a 400), as opposed to carrying credentials
    /// that do not authenticate it.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            IdentityError::BadBase64
                | IdentityError::TooLarge
                | IdentityError::Malformed(_)
                | IdentityError::BadCertificate
        )
    }
}

/// Verifies an `Mdm-Signature` header over `body` and the signer's certificate.
pub fn from_mdm_signature(
    header: &str,
    body: &[u8],
    ca_der: &[u8],
    now: DateTime<Utc>,
) -> Result<DeviceIdentity, IdentityError> {
    if header.len() > MAX_SIGNATURE_HEADER {
        return Err(IdentityError::TooLarge);
    }
    let compact: String = header.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| IdentityError::BadBase64)?;
    let verified = signed::verify(&der, Some(body)).map_err(|e| match e {
        CmsError::DigestMismatch => IdentityError::DigestMismatch,
        CmsError::Key(super::keys::KeyError::BadSignature) => IdentityError::BadSignature,
        other => IdentityError::Malformed(other.to_string()),
    })?;
    from_certificate(&verified.signer_der, ca_der, now)
}

/// Checks that `cert_der` was issued by the CA in `ca_der` and is valid at `now`.
pub fn from_certificate(
    cert_der: &[u8],
    ca_der: &[u8],
    now: DateTime<Utc>,
) -> Result<DeviceIdentity, IdentityError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|_| IdentityError::BadCertificate)?;
    let (_, ca) = x509_parser::parse_x509_certificate(ca_der).map_err(|_| IdentityError::BadCertificate)?;
    if cert.issuer().as_raw() != ca.subject().as_raw()
        || cert.verify_signature(Some(ca.public_key())).is_err()
    {
        return Err(IdentityError::UntrustedIssuer);
    }
    let at = |t: x509_parser::time::ASN1Time| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or_default();
    let (not_before, not_after) = (at(cert.validity().not_before), at(cert.validity().not_after));
    if now < not_before {
        return Err(IdentityError::NotYetValid(not_before));
    }
    if now > not_after {
        return Err(IdentityError::Expired(not_after));
    }
    Ok(DeviceIdentity {
        certificate_der: cert_der.to_vec(),
        fingerprint: hex::encode(Sha256::digest(cert_der)),
        serial: hex::encode(cert.raw_serial()),
        not_after,
        subject: cert.subject().to_string(),
    })
}
