//! Root CA and server TLS certificate: generated once on first start, kept as PEM files in
//! `<data>/pki/`, and checked on every later start.
//!
//! The CA key is RSA because SCEP clients encrypt their requests to the CA certificate with RSA
//! key transport. The TLS server key is ECDSA P-256 (fast handshakes), issued by the CA.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, SerialNumber,
};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid PEM {what}: {message}")]
    Invalid {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("the CA key in {key} does not belong to the CA certificate in {cert}")]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The CA key pair and certificate, plus the TLS server identity it issued.
pub struct Pki {
    pub ca_key: KeyPair,
    pub ca_cert_pem: String,
    pub ca_cert_der: Vec<u8>,
    pub tls_key_pem: String,
    pub tls_cert_pem: String,
    /// True when the CA was created by this call (first start).
    pub created: bool,
}

const CA_KEY: &str = "ca.key.pem";
const CA_CERT: &str = "ca.crt.pem";
const TLS_KEY: &str = "tls.key.pem";
const TLS_CERT: &str = "tls.crt.pem";
/// Server certificates last a little under the 398 days that Apple platforms accept.
const TLS_VALIDITY_DAYS: i64 = 397;
/// A server certificate this close to its end is renewed at start.
const TLS_RENEW_BEFORE_DAYS: i64 = 30;
const CA_VALIDITY_DAYS: i64 = 20 * 365;

pub fn pki_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pki")
}

fn to_time(t: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    SerialNumber::from_slice(&bytes)
}

fn write_private(path: &Path, content: &str) -> Result<(), PkiError> {
    let err = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(content.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

fn write_public(path: &Path, content: &str) -> Result<(), PkiError> {
    write_private(path, content)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).map_err(|source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// SHA-256 of a DER certificate as colon-separated upper-case hex, as browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn pem_to_der(pem_text: &str, path: &Path) -> Result<Vec<u8>, PkiError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::from_pem_slice(pem_text.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| PkiError::Invalid {
            path: path.to_path_buf(),
            what: "certificate",
            message: e.to_string(),
        })
}

impl Pki {
    /// Loads the PKI from `dir`, creating what is missing. The CA is created only when neither
    /// its key nor its certificate exists; the TLS certificate is (re)issued when missing, near
    /// its end, or not covering `tls_names`.
    pub fn load_or_create(dir: &Path, tls_names: &[String], now: DateTime<Utc>) -> Result<Pki, PkiError> {
        fs::create_dir_all(dir).map_err(|source| PkiError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let (ca_key_path, ca_cert_path) = (dir.join(CA_KEY), dir.join(CA_CERT));
        let created = !ca_key_path.exists() && !ca_cert_path.exists();
        let (ca_key, ca_cert_pem) = if created {
            let (key, pem) = generate_ca(now)?;
            write_private(&ca_key_path, &key.serialize_pem())?;
            write_public(&ca_cert_path, &pem)?;
            (key, pem)
        } else {
            let key_pem = read(&ca_key_path)?;
            let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::Invalid {
                path: ca_key_path.clone(),
                what: "private key",
                message: e.to_string(),
            })?;
            (key, read(&ca_cert_path)?)
        };
        let ca_cert_der = pem_to_der(&ca_cert_pem, &ca_cert_path)?;
        if !key_matches_cert(&ca_key, &ca_cert_der) {
            return Err(PkiError::KeyMismatch {
                key: ca_key_path,
                cert: ca_cert_path,
            });
        }

        let (tls_key_path, tls_cert_path) = (dir.join(TLS_KEY), dir.join(TLS_CERT));
        let current = if tls_key_path.exists() && tls_cert_path.exists() {
            let key_pem = read(&tls_key_path)?;
            let cert_pem = read(&tls_cert_path)?;
            let der = pem_to_der(&cert_pem, &tls_cert_path)?;
            let usable = KeyPair::from_pem(&key_pem).is_ok_and(|k| key_matches_cert(&k, &der))
                && tls_cert_usable(&der, &ca_cert_der, tls_names, now);
            usable.then_some((key_pem, cert_pem))
        } else {
            None
        };
        let (tls_key_pem, tls_cert_pem) = match current {
            Some(pair) => pair,
            None => {
                let issuer = Issuer::from_ca_cert_der(&ca_cert_der.clone().into(), &ca_key)?;
                let (key, cert) = issue_tls(&issuer, tls_names, now)?;
                write_private(&tls_key_path, &key)?;
                write_public(&tls_cert_path, &cert)?;
                tracing::info!(names = ?tls_names, "issued server TLS certificate");
                (key, cert)
            }
        };
        Ok(Pki {
            ca_key,
            ca_cert_pem,
            ca_cert_der,
            tls_key_pem,
            tls_cert_pem,
            created,
        })
    }

    pub fn ca_fingerprint(&self) -> String {
        fingerprint(&self.ca_cert_der)
    }

    /// SHA-256 of the CA public key: recorded in the database, so a replaced key is noticed.
    pub fn ca_key_id(&self) -> String {
        hex::encode(Sha256::digest(self.ca_key.public_key_raw()))
    }

    /// An issuer for certificates signed by the appliance CA.
    pub fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, PkiError> {
        Ok(Issuer::from_ca_cert_der(
            &self.ca_cert_der.clone().into(),
            &self.ca_key,
        )?)
    }

    /// rustls server configuration for the HTTPS listener (chain: server cert, CA).
    pub fn rustls_server_config(&self) -> Result<rustls::ServerConfig, PkiError> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
        let invalid = |what: &'static str, e: String| PkiError::Invalid {
            path: PathBuf::from(TLS_CERT),
            what,
            message: e,
        };
        let mut chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.tls_cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid("certificate", e.to_string()))?;
        chain.push(CertificateDer::from(self.ca_cert_der.clone()));
        let key = PrivateKeyDer::from_pem_slice(self.tls_key_pem.as_bytes())
            .map_err(|e| invalid("private key", e.to_string()))?;
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        // Devices may present their identity certificate at the TLS layer: ask for one issued
        // by the appliance CA, but let every other client (browsers, devices that sign their
        // messages instead) in without one.
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_cert_der.clone()))
            .map_err(|e| invalid("CA certificate", e.to_string()))?;
        let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| invalid("client verifier", e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("configuration", e.to_string()))?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain, key)
            .map_err(|e| invalid("certificate", e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn generate_ca(now: DateTime<Utc>) -> Result<(KeyPair, String), PkiError> {
    let key = KeyPair::generate_for(&PKCS_RSA_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Orchard Root CA");
    dn.push(DnType::OrganizationName, "Orchard");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.not_before = to_time(now - Duration::hours(1));
    params.not_after = to_time(now + Duration::days(CA_VALIDITY_DAYS));
    params.serial_number = Some(random_serial());
    let cert = params.self_signed(&key)?;
    Ok((key, cert.pem()))
}

fn issue_tls(
    issuer: &Issuer<'_, &KeyPair>,
    names: &[String],
    now: DateTime<Utc>,
) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().map(String::as_str).unwrap_or("orchard"),
    );
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = to_time(now - Duration::hours(1));
    params.not_after = to_time(now + Duration::days(TLS_VALIDITY_DAYS));
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer)?;
    Ok((key.serialize_pem(), cert.pem()))
}

/// Whether a key pair's public key is the one in the certificate.
pub fn key_matches_cert(key: &KeyPair, cert_der: &[u8]) -> bool {
    match x509_parser::parse_x509_certificate(cert_der) {
        Ok((_, cert)) => cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw(),
        Err(_) => false,
    }
}

fn tls_cert_usable(der: &[u8], ca_der: &[u8], names: &[String], now: DateTime<Utc>) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    let Ok((_, ca)) = x509_parser::parse_x509_certificate(ca_der) else {
        return false;
    };
    if cert.verify_signature(Some(ca.public_key())).is_err() {
        return false;
    }
    let not_after = cert.validity().not_after.timestamp();
    if not_after - now.timestamp() < TLS_RENEW_BEFORE_DAYS * 86_400 {
        return false;
    }
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    let covered: Vec<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
            x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                4 => Some(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                16 => <[u8; 16]>::try_from(*ip)
                    .ok()
                    .map(|b| std::net::Ipv6Addr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    names.iter().all(|n| covered.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn creates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let first = Pki::load_or_create(dir.path(), &names, now()).unwrap();
        assert!(first.created);
        let second = Pki::load_or_create(dir.path(), &names, now()).unwrap();
        assert!(!second.created);
        assert_eq!(first.ca_fingerprint(), second.ca_fingerprint());
        assert_eq!(first.tls_cert_pem, second.tls_cert_pem);
        let mode = fs::metadata(dir.path().join(CA_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        second.rustls_server_config().unwrap();
    }

    #[test]
    fn new_names_reissue_the_tls_certificate_but_keep_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path(), &["localhost".to_string()], now()).unwrap();
        let second = Pki::load_or_create(dir.path(), &["mdm.example.org".to_string()], now()).unwrap();
        assert_eq!(first.ca_fingerprint(), second.ca_fingerprint());
        assert_ne!(first.tls_cert_pem, second.tls_cert_pem);
    }

    #[test]
    fn replaced_ca_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Pki::load_or_create(dir.path(), &["localhost".to_string()], now()).unwrap();
        let other = KeyPair::generate_for(&PKCS_RSA_SHA256).unwrap();
        fs::write(dir.path().join(CA_KEY), other.serialize_pem()).unwrap();
        let err = Pki::load_or_create(dir.path(), &["localhost".to_string()], now())
            .err()
            .unwrap();
        assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err}");
    }
}
