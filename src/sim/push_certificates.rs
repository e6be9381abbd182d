//! Push certificates for tests and benchmarks: shaped like Apple's (RSA 2048, subject
//! `UID=<topic>, CN=APSP:<uuid>, C=US`, client-auth), issued by a test CA or self-signed.

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};

/// OID of the X.500 `UID` attribute (0.9.2342.19200300.100.1.1) that carries the push topic.
pub const UID_OID: [u64; 7] = [0, 9, 2342, 19200300, 100, 1, 1];

/// A certificate and its key, both PEM.
#[derive(Clone)]
pub struct PemPair {
    pub certificate: String,
    pub key: String,
}

fn to_time(t: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn push_params(topic: &str, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CustomDnType(UID_OID.to_vec()), topic);
    dn.push(
        DnType::CommonName,
        format!("APSP:{}", topic.rsplit('.').next().unwrap_or(topic)),
    );
    dn.push(DnType::CountryName, "US");
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = to_time(not_before);
    params.not_after = to_time(not_after);
    params
}

/// A certification authority that issues push (client) and server certificates.
pub struct TestCa {
    key: KeyPair,
    pub certificate_pem: String,
    pub certificate_der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> Result<TestCa, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let now = Utc::now();
        params.not_before = to_time(now - chrono::Duration::days(1));
        params.not_after = to_time(now + chrono::Duration::days(3650));
        let cert = params.self_signed(&key)?;
        Ok(TestCa {
            certificate_pem: cert.pem(),
            certificate_der: cert.der().to_vec(),
            key,
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, rcgen::Error> {
        Issuer::from_ca_cert_der(&self.certificate_der.clone().into(), &self.key)
    }

    /// A push certificate for `topic`, valid until `not_after`, with a fresh RSA 2048 key.
    pub fn issue_push_certificate(
        &self,
        topic: &str,
        not_after: DateTime<Utc>,
    ) -> Result<PemPair, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_RSA_SHA256)?;
        let params = push_params(topic, Utc::now() - chrono::Duration::days(1), not_after);
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(PemPair {
            certificate: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// A TLS server certificate for `names`.
    pub fn issue_server_certificate(&self, names: &[&str]) -> Result<PemPair, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = Utc::now();
        params.not_before = to_time(now - chrono::Duration::days(1));
        params.not_after = to_time(now + chrono::Duration::days(365));
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(PemPair {
            certificate: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// A self-signed push certificate (no CA trusts it), with an RSA 2048 key.
pub fn self_signed_push_certificate(topic: &str, not_after: DateTime<Utc>) -> Result<PemPair, rcgen::Error> {
    let key = KeyPair::generate_for(&PKCS_RSA_SHA256)?;
    let cert = push_params(topic, Utc::now() - chrono::Duration::days(1), not_after).self_signed(&key)?;
    Ok(PemPair {
        certificate: cert.pem(),
        key: key.serialize_pem(),
    })
}
