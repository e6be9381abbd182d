//! The MDM push certificate: read from PKCS#12 or PEM, checked, and described.
//!
//! Apple issues one push certificate per MDM vendor account (identity.apple.com). Its subject
//! carries the APNs topic in the `UID` attribute (`com.apple.mgmt.External.<uuid>`); devices
//! enroll with that topic, and APNs only accepts pushes for it over a TLS connection
//! authenticated with this certificate.

use chrono::{DateTime, Utc};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde::{Deserialize, Serialize};

/// Every MDM push topic starts with this.
pub const MDM_TOPIC_PREFIX: &str = "com.apple.mgmt.";

/// Why a certificate (or its key) cannot be used for MDM pushes. Each message tells the operator
/// what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("the password is wrong, or the .p12 file is damaged")]
    WrongPassword,
    #[error("the file is not a readable PKCS#12 (.p12) file: {0}")]
    Pkcs12(String),
    #[error("the .p12 file holds no private key; export the certificate together with its key")]
    NoKey,
    #[error("no certificate found: {0}")]
    NoCertificate(String),
    #[error("the certificate is not valid PEM/DER: {0}")]
    Certificate(String),
    #[error("the private key is not a readable PEM key: {0}")]
    Key(String),
    #[error("the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")]
    EncryptedKey,
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error(
        "the certificate has no UID attribute in its subject, so it names no push topic; \
         is it the MDM push certificate from identity.apple.com?"
    )]
    NoTopic,
    #[error(
        "the certificate's topic `{0}` is not an MDM topic (it must start with `com.apple.mgmt.`); \
         an app push certificate cannot wake devices for MDM"
    )]
    NotMdmTopic(String),
    #[error("the certificate expired on {0}; renew it at identity.apple.com and import the renewal")]
    Expired(DateTime<Utc>),
    #[error("the upload is {0} bytes; a push certificate with its key is a few kilobytes")]
    TooLarge(usize),
}

/// Largest input accepted for an import (a real push certificate and key are ~5 KB).
pub const MAX_IMPORT_BYTES: usize = 64 * 1024;

/// What Orchard records and shows about the push certificate (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// The APNs topic devices enroll with: the subject's UID.
    pub topic: String,
    pub subject: String,
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the certificate, colon-separated hex.
    pub fingerprint: String,
}

/// A push certificate with its private key, checked to belong together.
pub struct PushCertificate {
    /// Leaf first, then any intermediates that came with it.
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pub info: CertificateInfo,
}

impl std::fmt::Debug for PushCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushCertificate")
            .field("info", &self.info)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl PushCertificate {
    /// Reads a PKCS#12 file: legacy (RC2-40 / 3DES with SHA-1 MAC, as macOS Keychain exports)
    /// and modern (PBES2 / AES with SHA-256 MAC) files alike.
    pub fn from_pkcs12(data: &[u8], password: &str) -> Result<PushCertificate, CertificateError> {
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(data, password).map_err(|e| match e {
            p12_keystore::error::Error::MacError(_) | p12_keystore::error::Error::UnpadError => {
                CertificateError::WrongPassword
            }
            other => CertificateError::Pkcs12(other.to_string()),
        })?;
        if archive.keys.is_empty() {
            return Err(CertificateError::NoKey);
        }
        if archive.certs.is_empty() {
            return Err(CertificateError::NoCertificate(
                "the .p12 file holds a key but no certificate".into(),
            ));
        }
        // The leaf is the certificate whose public key matches one of the keys.
        for key_bag in &archive.keys {
            let key = PrivateKeyDer::Pkcs8(key_bag.key.as_der().to_vec().into());
            let Some(leaf) = archive
                .certs
                .iter()
                .find(|c| key_matches(&key, c.cert.as_der()).unwrap_or(false))
            else {
                continue;
            };
            let mut chain = vec![CertificateDer::from(leaf.cert.as_der().to_vec())];
            chain.extend(
                archive
                    .certs
                    .iter()
                    .filter(|c| c.cert.as_der() != leaf.cert.as_der())
                    .filter(|c| c.cert.subject() != c.cert.issuer())
                    .map(|c| CertificateDer::from(c.cert.as_der().to_vec())),
            );
            return PushCertificate::new(chain, key);
        }
        Err(CertificateError::KeyMismatch)
    }

    /// Reads a PEM certificate (optionally followed by intermediates) and a PEM private key
    /// (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub fn from_pem(certificate: &str, key: &str) -> Result<PushCertificate, CertificateError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(certificate.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| CertificateError::Certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(CertificateError::NoCertificate(
                "the certificate file holds no `BEGIN CERTIFICATE` block".into(),
            ));
        }
        if key.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            return Err(CertificateError::EncryptedKey);
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|e| CertificateError::Key(e.to_string()))?;
        PushCertificate::new(chain, key)
    }

    /// Checks the key against the leaf and reads the topic. Validity is not checked here: see
    /// [`PushCertificate::check_usable`].
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<PushCertificate, CertificateError> {
        let leaf = chain
            .first()
            .ok_or_else(|| CertificateError::NoCertificate("empty certificate chain".into()))?;
        if !key_matches(&key, leaf)? {
            return Err(CertificateError::KeyMismatch);
        }
        let info = describe(leaf)?;
        Ok(PushCertificate { chain, key, info })
    }

    /// Refuses a certificate that cannot push at `now`.
    pub fn check_usable(&self, now: DateTime<Utc>) -> Result<(), CertificateError> {
        if self.info.not_after <= now {
            return Err(CertificateError::Expired(self.info.not_after));
        }
        Ok(())
    }

    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// The certificate chain as PEM, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .map(|c| crate::pki::pem_encode("CERTIFICATE", c))
            .collect()
    }

    /// The private key as PEM, in the form it came in (PKCS#8, PKCS#1 or SEC1).
    pub fn key_pem(&self) -> String {
        let label = match &self.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        crate::pki::pem_encode(label, self.key.secret_der())
    }
}

/// Whether `key`'s public half is the one in the certificate `cert_der`.
fn key_matches(key: &PrivateKeyDer<'_>, cert_der: &[u8]) -> Result<bool, CertificateError> {
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(key)
        .map_err(|e| CertificateError::Key(e.to_string()))?;
    let public = signing
        .public_key()
        .ok_or_else(|| CertificateError::Key("unsupported key type".into()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| CertificateError::Certificate(e.to_string()))?;
    Ok(cert.tbs_certificate.subject_pki.raw == public.as_ref())
}

fn describe(der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    use sha2::{Digest, Sha256};
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| CertificateError::Certificate(e.to_string()))?;
    let topic = uid_of(&cert).ok_or(CertificateError::NoTopic)?;
    if !topic.starts_with(MDM_TOPIC_PREFIX) || topic.len() == MDM_TOPIC_PREFIX.len() {
        return Err(CertificateError::NotMdmTopic(topic));
    }
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| CertificateError::Certificate("validity date out of range".into()))
    };
    Ok(CertificateInfo {
        topic,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex::encode(cert.raw_serial()),
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
        fingerprint: Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    })
}

fn uid_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_by_oid(&x509_parser::oid_registry::OID_USERID)
        .next()
        .and_then(|attr| attr.as_str().ok())
        .map(str::to_string)
}

/// The subject UID (the push topic) of a DER certificate, if it has one.
pub fn subject_uid(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    uid_of(&cert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

    fn cert_with_subject(uid: Option<&str>) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        if let Some(uid) = uid {
            dn.push(DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 1]), uid);
        }
        dn.push(DnType::CommonName, "APSP:test");
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn topic_is_read_from_the_subject_uid_and_pem_round_trips() {
        let (cert, key) = cert_with_subject(Some("com.apple.mgmt.External.0f1e2d3c"));
        let push = PushCertificate::from_pem(&cert, &key).unwrap();
        assert_eq!(push.info.topic, "com.apple.mgmt.External.0f1e2d3c");
        let again = PushCertificate::from_pem(&push.chain_pem(), &push.key_pem()).unwrap();
        assert_eq!(again.info, push.info);
    }

    #[test]
    fn app_topics_and_missing_uid_are_refused() {
        let (cert, key) = cert_with_subject(Some("com.example.app"));
        let err = PushCertificate::from_pem(&cert, &key).unwrap_err();
        assert_eq!(err, CertificateError::NotMdmTopic("com.example.app".into()));
        let (cert, key) = cert_with_subject(None);
        assert_eq!(
            PushCertificate::from_pem(&cert, &key).unwrap_err(),
            CertificateError::NoTopic
        );
    }

    #[test]
    fn a_foreign_key_is_refused() {
        let (cert, _) = cert_with_subject(Some("com.apple.mgmt.External.1"));
        let (_, other_key) = cert_with_subject(Some("com.apple.mgmt.External.1"));
        assert_eq!(
            PushCertificate::from_pem(&cert, &other_key).unwrap_err(),
            CertificateError::KeyMismatch
        );
    }

    #[test]
    fn debug_output_hides_the_key() {
        let (cert, key) = cert_with_subject(Some("com.apple.mgmt.External.1"));
        let shown = format!("{:?}", PushCertificate::from_pem(&cert, &key).unwrap());
        assert!(!shown.contains("PRIVATE"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
