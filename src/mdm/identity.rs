//! The device identity a request was made with, as the MDM service sees it: the SHA-256
//! fingerprint of the identity certificate, already verified by the identity layer
//! (`Mdm-Signature` or TLS client certificate).

use std::fmt;

use sha2::{Digest, Sha256};

/// SHA-256 of an identity certificate's DER, as 64 lower-case hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CertFingerprint(String);

impl CertFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_certificate_der(der: &[u8]) -> CertFingerprint {
        CertFingerprint(hex::encode(Sha256::digest(der)))
    }

    /// Accepts 64 hex digits in either case; stores lower case.
    pub fn parse(value: &str) -> Option<CertFingerprint> {
        (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| CertFingerprint(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertFingerprint({})", self.0)
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_64_hex_digits_in_lower_case() {
        let fp = CertFingerprint::of_certificate_der(b"not really DER");
        assert_eq!(fp.as_str().len(), 64);
        assert_eq!(
            CertFingerprint::parse(&fp.as_str().to_ascii_uppercase()),
            Some(fp)
        );
        assert_eq!(CertFingerprint::parse("abc"), None);
        assert_eq!(CertFingerprint::parse(&"g".repeat(64)), None);
    }
}
