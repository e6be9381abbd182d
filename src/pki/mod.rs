//! The appliance's own certificate authority and TLS identity, and the CMS/SCEP messages built
//! on them: signing and verifying, envelopes, certificate issuance, device identity.

pub mod authority;
pub mod ca;
pub mod envelope;
pub mod identity;
pub mod keys;
pub mod scep;
pub mod scep_client;
pub mod signed;

pub use ca::{Pki, PkiError};

/// PEM text of DER bytes (`label`: `CERTIFICATE`, `PRIVATE KEY`, ...), LF line endings.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}
