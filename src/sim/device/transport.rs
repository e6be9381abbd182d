//! How a simulated device talks to the server: an HTTPS client that trusts only the appliance
//! CA, and request bodies signed with the device's identity (`Mdm-Signature`).

use std::sync::Arc;

use base64::Engine as _;
use x509_cert::Certificate;

use super::SimError;
use crate::pki::keys::{DigestAlg, RsaKey};
use crate::pki::signed::{self, OID_DATA, SignRequest};

pub const CHECKIN_CONTENT_TYPE: &str = "application/x-apple-aspen-mdm-checkin";
pub const CONNECT_CONTENT_TYPE: &str = "application/x-apple-aspen-mdm";

/// An HTTPS client for devices: real TLS, trusting the appliance CA (PEM) and nothing else.
/// `http1_only` makes every concurrent request use its own kept-alive connection, as a fleet of
/// devices does, instead of multiplexing them over one HTTP/2 connection.
pub fn https_client(ca_pem: &[u8], http1_only: bool) -> Result<reqwest::Client, SimError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(ca_pem)?;
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .timeout(std::time::Duration::from_secs(60));
    if http1_only {
        builder = builder.http1_only();
    }
    Ok(builder.build()?)
}

/// The digest a device uses in its `Mdm-Signature`: current devices SHA-256, older ones SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureDigest {
    #[default]
    Sha256,
    Sha1,
}

/// The identity certificate a device got by SCEP, with its private key.
#[derive(Debug, Clone)]
pub struct IdentityCertificate {
    pub certificate: Certificate,
    pub certificate_der: Vec<u8>,
    pub key: Arc<RsaKey>,
}

impl IdentityCertificate {
    /// The `Mdm-Signature` header value for `body`: base64 of a detached CMS SignedData.
    pub fn sign(&self, body: &[u8], digest: SignatureDigest) -> Result<String, SimError> {
        let digest = match digest {
            SignatureDigest::Sha256 => DigestAlg::Sha256,
            SignatureDigest::Sha1 => DigestAlg::Sha1,
        };
        let der = signed::sign_with_digest(
            SignRequest {
                content_type: OID_DATA,
                content: body,
                attached: false,
                signer_cert: &self.certificate,
                key: &self.key,
                extra_attributes: Vec::new(),
                chain: Vec::new(),
                signing_time: None,
            },
            digest,
        )?;
        Ok(base64::engine::general_purpose::STANDARD.encode(der))
    }

    /// SHA-256 of the DER certificate, lower-case hex (how the server names identities).
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&self.certificate_der))
    }
}

/// What the server answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The reply as an error unless it is a 2xx.
    pub fn success(self, url: &str) -> Result<Reply, SimError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(SimError::Status {
                url: url.to_string(),
                status: self.status,
                body: String::from_utf8_lossy(&self.body).chars().take(300).collect(),
            })
        }
    }
}

/// `PUT`s `body` to `url` with the given content type and `Mdm-Signature` header (if any).
pub async fn put(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    signature: Option<&str>,
) -> Result<Reply, SimError> {
    let mut request = client
        .put(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body);
    if let Some(signature) = signature {
        request = request.header("Mdm-Signature", signature);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?.to_vec();
    Ok(Reply { status, body })
}
