//! HTTPS fetching of catalog documents: conditional requests, a timeout, a body-size limit, and
//! trust roots chosen per source.
//!
//! gdmf.apple.com chains to Apple's own root CA, which common trust stores do not carry, so
//! Orchard ships that root and trusts only it for gdmf ([`apple_root_store`]). SOFA is on the
//! public web PKI ([`web_pki_root_store`]). Tests pass their own roots and base URLs.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// "Apple Root CA" (Apple Inc., Apple Certification Authority; valid 2006-04-25 to 2035-02-09).
///
/// PEM copied from a public source found with the search tool: a Python App Store receipt
/// verifier on GitHub that embeds it as `APPLE_ROOT_CA_CERT` (search index file id 48763259354).
/// Its SHA-256 fingerprint, checked with `openssl x509 -fingerprint -sha256` and by the test
/// below, is B0:B1:73:0E:CB:C7:FF:45:05:14:2C:49:F1:29:5E:6E:DA:6B:CA:ED:7E:2C:68:C5:BE:91:B5:A1:10:01:F0:24,
/// the value Apple publishes for "Apple Inc. Root" at https://www.apple.com/certificateauthority/
/// (found with the search tool quoted from that page in public notes, search index file id
/// 19193492204, and identical in macOS `pkgutil --check-signature` output for "Apple Root CA").
pub const APPLE_ROOT_CA_PEM: &str = include_str!("apple_root_ca.pem");
pub const APPLE_ROOT_CA_SHA256: &str = "b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the HTTP client cannot be set up: {0}")]
    Setup(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect (TLS or network): {0}")]
    Connect(String),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the response is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("the response body was cut short or unreadable: {0}")]
    Body(String),
}

/// Apple's root as the only trust anchor (for gdmf).
pub fn apple_root_store() -> Result<RootCertStore, FetchError> {
    root_store_from_pem(APPLE_ROOT_CA_PEM.as_bytes())
}

/// The Mozilla-derived public roots (for SOFA).
pub fn web_pki_root_store() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

pub fn root_store_from_pem(pem: &[u8]) -> Result<RootCertStore, FetchError> {
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| FetchError::Setup(format!("bad PEM certificate: {e}")))?;
        store
            .add(cert)
            .map_err(|e| FetchError::Setup(format!("unusable root certificate: {e}")))?;
    }
    if store.is_empty() {
        return Err(FetchError::Setup("no root certificate given".into()));
    }
    Ok(store)
}

/// Validators from the last good copy, sent as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// An HTTPS client bound to one set of trust roots.
#[derive(Clone)]
pub struct FeedFetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: u64,
}

impl FeedFetcher {
    pub fn new(roots: RootCertStore, timeout: Duration, max_bytes: u64) -> Result<FeedFetcher, FetchError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Setup(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("orchard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Setup(error_chain(&e)))?;
        Ok(FeedFetcher {
            client,
            timeout,
            max_bytes,
        })
    }

    /// GETs `url`, conditionally when validators are known. The body is read in chunks and
    /// abandoned as soon as it passes the limit.
    pub async fn get(&self, url: &str, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(etag) = &validators.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        let response = request.send().await.map_err(|e| self.classify(e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match self.classify(e) {
                FetchError::Connect(m) => FetchError::Body(m),
                other => other,
            })?;
            if bytes.len() as u64 + chunk.len() as u64 > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        })
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_body() || e.is_decode() {
            FetchError::Body(error_chain(&e))
        } else {
            FetchError::Connect(error_chain(&e))
        }
    }
}

/// "outer: inner: innermost", so TLS causes such as `UnknownIssuer` reach the log and the UI.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_apple_root_matches_the_published_fingerprint() {
        let der = CertificateDer::from_pem_slice(APPLE_ROOT_CA_PEM.as_bytes()).unwrap();
        assert_eq!(super::super::snapshot::sha256_hex(&der), APPLE_ROOT_CA_SHA256);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "C=US, O=Apple Inc., OU=Apple Certification Authority, CN=Apple Root CA"
        );
        assert_eq!(apple_root_store().unwrap().len(), 1);
    }

    #[test]
    fn garbage_roots_are_refused() {
        assert!(root_store_from_pem(b"not a pem").is_err());
    }
}
