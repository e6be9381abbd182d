//! The appliance CA as a signer: issues device identity certificates (from SCEP requests) and
//! the profile-signing certificate, and signs SCEP replies.

use chrono::{DateTime, Datelike, Duration, Utc};
use der::asn1::{BitString, GeneralizedTime, OctetString, UtcTime};
use der::oid::{AssociatedOid, ObjectIdentifier};
use der::{Decode, Encode};
use sha1::Digest as _;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::keys::{KeyError, RsaKey};
use super::signed::CmsError;

const OID_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error("the CA certificate or key is unusable: {0}")]
    Ca(String),
    #[error("cannot build the certificate: {0}")]
    Encode(#[from] der::Error),
    #[error("{0}")]
    Key(#[from] KeyError),
}

impl From<AuthorityError> for CmsError {
    fn from(e: AuthorityError) -> Self {
        CmsError::Malformed(e.to_string())
    }
}

/// What a leaf certificate is for; decides its key usage and extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafPurpose {
    /// A device's MDM identity: digitalSignature + keyEncipherment, clientAuth.
    DeviceIdentity,
    /// Signs enrollment profiles: digitalSignature only.
    ProfileSigning,
}

/// The CA certificate and its key, able to issue and sign.
pub struct Authority {
    pub cert: Certificate,
    pub cert_der: Vec<u8>,
    pub key: RsaKey,
}

/// A freshly issued certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert: Certificate,
    pub der: Vec<u8>,
    /// Serial as lower-case hex.
    pub serial: String,
}

impl Authority {
    /// `key_pkcs8` is the CA key as PKCS#8 DER.
    pub fn new(cert_der: &[u8], key_pkcs8: &[u8]) -> Result<Authority, AuthorityError> {
        let cert = Certificate::from_der(cert_der).map_err(|e| AuthorityError::Ca(e.to_string()))?;
        let key = RsaKey::from_pkcs8(key_pkcs8)?;
        if key.public_key_info()?.subject_public_key
            != cert.tbs_certificate.subject_public_key_info.subject_public_key
        {
            return Err(AuthorityError::Ca(
                "the key does not match the certificate".into(),
            ));
        }
        Ok(Authority {
            cert,
            cert_der: cert_der.to_vec(),
            key,
        })
    }

    /// Issues a leaf certificate for `public_key` with `subject`, valid from an hour before
    /// `now` (clock skew) for `days`.
    pub fn issue(
        &self,
        subject: Name,
        public_key: SubjectPublicKeyInfoOwned,
        purpose: LeafPurpose,
        now: DateTime<Utc>,
        days: u32,
    ) -> Result<Issued, AuthorityError> {
        let mut serial_bytes: [u8; 16] = rand::random();
        serial_bytes[0] = (serial_bytes[0] & 0x7f) | 0x01;
        let serial_number = SerialNumber::new(&serial_bytes)?;
        let usage = match purpose {
            LeafPurpose::DeviceIdentity => KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment,
            LeafPurpose::ProfileSigning => KeyUsages::DigitalSignature.into(),
        };
        let mut extensions = vec![
            extension(
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
                true,
            )?,
            extension(&KeyUsage(usage), true)?,
            extension(
                &SubjectKeyIdentifier(OctetString::new(key_id(&public_key))?),
                false,
            )?,
            extension(
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(self.key_identifier())?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
                false,
            )?,
        ];
        if purpose == LeafPurpose::DeviceIdentity {
            extensions.push(extension(&ExtendedKeyUsage(vec![OID_CLIENT_AUTH]), false)?);
        }
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: serial_number.clone(),
            signature: RsaKey::signature_algorithm(),
            issuer: self.cert.tbs_certificate.subject.clone(),
            validity: Validity {
                not_before: x509_time(now - Duration::hours(1))?,
                not_after: x509_time(now + Duration::days(i64::from(days)))?,
            },
            subject,
            subject_public_key_info: public_key,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let signature = self.key.sign_sha256(&tbs.to_der()?)?;
        let cert = Certificate {
            tbs_certificate: tbs,
            signature_algorithm: RsaKey::signature_algorithm(),
            signature: BitString::from_bytes(&signature)?,
        };
        let der = cert.to_der()?;
        Ok(Issued {
            cert,
            der,
            serial: hex::encode(serial_number.as_bytes()),
        })
    }

    /// The CA's subject key identifier (from its certificate, else computed).
    fn key_identifier(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == SubjectKeyIdentifier::OID)
            .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
            .map(|ski| ski.0.as_bytes().to_vec())
            .unwrap_or_else(|| key_id(&self.cert.tbs_certificate.subject_public_key_info))
    }
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
fn key_id(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    sha1::Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension, AuthorityError> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
fn x509_time(at: DateTime<Utc>) -> Result<Time, AuthorityError> {
    let since_epoch = std::time::Duration::from_secs(at.timestamp().max(0) as u64);
    Ok(if at.year() < 2050 {
        Time::UtcTime(UtcTime::from_unix_duration(since_epoch)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_unix_duration(since_epoch)?)
    })
}

/// Seconds since the epoch of an X.509 time, as a UTC date.
pub fn to_chrono(t: &Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.to_unix_duration().as_secs() as i64, 0).unwrap_or_default()
}
