//! SCEP messages (RFC 8894): the pkiMessage a client sends (`PKCSReq`, `RenewalReq`) and the
//! `CertRep` the CA answers with. Pure: no HTTP, no storage; the rules (challenges, renewal
//! trust, validity) live in the enrollment service.

use chrono::{DateTime, Utc};
use der::asn1::{Any, OctetString, PrintableString, SetOfVec};
use der::oid::ObjectIdentifier;
use der::{Decode, Tag, Tagged};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::name::Name;
use x509_cert::request::CertReq;

use super::authority::Authority;
use super::envelope::{self, ContentCipher};
use super::keys::{self, DigestAlg};
use super::signed::{self, CmsError, OID_DATA, SignRequest, Verified};

const fn scep_oid(arc: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(arc)
}
pub const OID_MESSAGE_TYPE: ObjectIdentifier = scep_oid("2.16.840.1.113733.1.9.2");
pub const OID_PKI_STATUS: ObjectIdentifier = scep_oid("2.16.840.1.113733.1.9.3");
pub const OID_FAIL_INFO: ObjectIdentifier = scep_oid("2.16.840.1.113733.1.9.4");
pub const OID_SENDER_NONCE: ObjectIdentifier = scep_oid("2.16.840.1.113733.1.9.5");
pub const OID_RECIPIENT_NONCE: ObjectIdentifier = scep_oid("2.16.840.1.113733.1.9.6");
pub const OID_TRANSACTION_ID: ObjectIdentifier = scep_oid("2.16.840.1.113733.1.9.7");
const OID_CHALLENGE_PASSWORD: ObjectIdentifier = scep_oid("1.2.840.113549.1.9.7");

/// The largest pkiMessage accepted (Apple's requests are a few kilobytes).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScepError {
    #[error("{0}")]
    Cms(#[from] CmsError),
    #[error("not a SCEP message: {0}")]
    NotScep(String),
    #[error("unsupported SCEP message type {0}")]
    Unsupported(String),
    #[error("bad certificate request: {0}")]
    BadCsr(String),
    #[error("the request is not signed by the key it asks a certificate for")]
    SignerMismatch,
}

impl From<der::Error> for ScepError {
    fn from(e: der::Error) -> Self {
        ScepError::Cms(CmsError::from(e))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    CertRep,
    RenewalReq,
    PkcsReq,
    CertPoll,
    GetCert,
    GetCrl,
}

impl MessageType {
    pub fn code(self) -> &'static str {
        match self {
            MessageType::CertRep => "3",
            MessageType::RenewalReq => "17",
            MessageType::PkcsReq => "19",
            MessageType::CertPoll => "20",
            MessageType::GetCert => "21",
            MessageType::GetCrl => "22",
        }
    }

    fn from_code(code: &str) -> Option<MessageType> {
        [
            MessageType::CertRep,
            MessageType::RenewalReq,
            MessageType::PkcsReq,
            MessageType::CertPoll,
            MessageType::GetCert,
            MessageType::GetCrl,
        ]
        .into_iter()
        .find(|m| m.code() == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkiStatus {
    Success,
    Failure,
    Pending,
}

impl PkiStatus {
    pub fn code(self) -> &'static str {
        match self {
            PkiStatus::Success => "0",
            PkiStatus::Failure => "2",
            PkiStatus::Pending => "3",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailInfo {
    BadAlg,
    BadMessageCheck,
    BadRequest,
    BadTime,
    BadCertId,
}

impl FailInfo {
    pub fn code(self) -> &'static str {
        match self {
            FailInfo::BadAlg => "0",
            FailInfo::BadMessageCheck => "1",
            FailInfo::BadRequest => "2",
            FailInfo::BadTime => "3",
            FailInfo::BadCertId => "4",
        }
    }

    pub(crate) fn from_code(code: &str) -> Option<FailInfo> {
        [
            FailInfo::BadAlg,
            FailInfo::BadMessageCheck,
            FailInfo::BadRequest,
            FailInfo::BadTime,
            FailInfo::BadCertId,
        ]
        .into_iter()
        .find(|f| f.code() == code)
    }
}

/// A parsed PKCS#10 request whose self-signature verified.
#[derive(Debug, Clone)]
pub struct Csr {
    pub subject: Name,
    pub public_key: SubjectPublicKeyInfoOwned,
    pub challenge: Option<String>,
}

/// A verified and decrypted `PKCSReq` or `RenewalReq`.
#[derive(Debug, Clone)]
pub struct PkiRequest {
    pub message_type: MessageType,
    pub transaction_id: String,
    pub sender_nonce: Vec<u8>,
    /// The certificate that signed the request (self-signed for PKCSReq; the current identity
    /// for RenewalReq). The reply is encrypted to it.
    pub signer: Certificate,
    pub signer_der: Vec<u8>,
    pub csr: Csr,
    pub cipher: ContentCipher,
}

/// Verifies, decrypts and parses a pkiMessage addressed to `ca`.
pub fn parse_request(der: &[u8], ca: &Authority) -> Result<PkiRequest, ScepError> {
    let verified = signed::verify(der, None)?;
    let message_type = printable(&verified, &OID_MESSAGE_TYPE)?;
    let message_type =
        MessageType::from_code(&message_type).ok_or_else(|| ScepError::Unsupported(message_type.clone()))?;
    if !matches!(message_type, MessageType::PkcsReq | MessageType::RenewalReq) {
        return Err(ScepError::Unsupported(message_type.code().into()));
    }
    let transaction_id = printable(&verified, &OID_TRANSACTION_ID)?;
    let sender_nonce = verified
        .attribute(&OID_SENDER_NONCE)
        .ok_or_else(|| ScepError::NotScep("no senderNonce".into()))?
        .decode_as::<OctetString>()?
        .into_bytes();
    let envelope = verified
        .content
        .as_ref()
        .ok_or_else(|| ScepError::NotScep("no pkcsPKIEnvelope".into()))?;
    let (plain, cipher) = envelope::decrypt(envelope, &ca.cert, &ca.key)?;
    let csr = parse_csr(&plain)?;
    if message_type == MessageType::PkcsReq
        && verified.signer.tbs_certificate.subject_public_key_info != csr.public_key
    {
        return Err(ScepError::SignerMismatch);
    }
    Ok(PkiRequest {
        message_type,
        transaction_id,
        sender_nonce,
        signer_der: verified.signer_der,
        signer: verified.signer,
        csr,
        cipher,
    })
}

fn printable(verified: &Verified, oid: &ObjectIdentifier) -> Result<String, ScepError> {
    let value = verified
        .attribute(oid)
        .ok_or_else(|| ScepError::NotScep(format!("attribute {oid} missing")))?;
    directory_string(value).ok_or_else(|| ScepError::NotScep(format!("attribute {oid} is not a string")))
}

/// The text of a PrintableString, UTF8String or IA5String.
fn directory_string(value: &Any) -> Option<String> {
    match value.tag() {
        Tag::PrintableString | Tag::Utf8String | Tag::Ia5String | Tag::TeletexString => {
            String::from_utf8(value.value().to_vec()).ok()
        }
        _ => None,
    }
}

/// Parses a PKCS#10 request and checks it is signed by its own key.
pub fn parse_csr(der: &[u8]) -> Result<Csr, ScepError> {
    let bad = |m: String| ScepError::BadCsr(m);
    let req = CertReq::from_der(der).map_err(|e| bad(e.to_string()))?;
    // Verify over the CertificationRequestInfo as received.
    let info = signed::sequence_elements(der)
        .map_err(|e| bad(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| bad("empty request".into()))?;
    let info_der = der::Encode::to_der(&info)?;
    let digest = match req.algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => DigestAlg::Sha1,
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => DigestAlg::Sha384,
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => DigestAlg::Sha512,
        _ => DigestAlg::Sha256,
    };
    keys::verify(
        &req.info.public_key,
        &req.algorithm.oid,
        digest,
        &info_der,
        req.signature.raw_bytes(),
    )
    .map_err(|e| bad(format!("self-signature: {e}")))?;
    let challenge = signed::find_attribute(req.info.attributes.as_slice(), &OID_CHALLENGE_PASSWORD)
        .map(|v| directory_string(v).ok_or_else(|| bad("challengePassword is not a string".into())))
        .transpose()?;
    Ok(Csr {
        subject: req.info.subject,
        public_key: req.info.public_key,
        challenge,
    })
}

/// The outcome a CertRep carries.
pub enum Reply<'a> {
    Issued(&'a Certificate),
    Failed(FailInfo),
}

/// Builds the CertRep for `request`: signed by the CA, the issued certificate (if any) in a
/// degenerate SignedData encrypted to the requester's signing certificate.
pub fn cert_rep(
    ca: &Authority,
    request: &PkiRequest,
    reply: Reply<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, ScepError> {
    let sender_nonce: [u8; 16] = rand::random();
    let mut attributes = vec![
        string_attribute(OID_MESSAGE_TYPE, MessageType::CertRep.code())?,
        string_attribute(OID_TRANSACTION_ID, &request.transaction_id)?,
        octet_attribute(OID_SENDER_NONCE, &sender_nonce)?,
        octet_attribute(OID_RECIPIENT_NONCE, &request.sender_nonce)?,
    ];
    let content = match reply {
        Reply::Issued(cert) => {
            attributes.push(string_attribute(OID_PKI_STATUS, PkiStatus::Success.code())?);
            let degenerate = signed::degenerate(std::slice::from_ref(cert))?;
            envelope::encrypt(&degenerate, &request.signer)?
        }
        Reply::Failed(info) => {
            attributes.push(string_attribute(OID_PKI_STATUS, PkiStatus::Failure.code())?);
            attributes.push(string_attribute(OID_FAIL_INFO, info.code())?);
            Vec::new()
        }
    };
    Ok(signed::sign(SignRequest {
        content_type: OID_DATA,
        content: &content,
        attached: true,
        signer_cert: &ca.cert,
        key: &ca.key,
        extra_attributes: attributes,
        chain: Vec::new(),
        signing_time: Some(now),
    })?)
}

pub(crate) fn string_attribute(oid: ObjectIdentifier, value: &str) -> Result<Attribute, ScepError> {
    let value = Any::encode_from(&PrintableString::new(value)?)?;
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

pub(crate) fn octet_attribute(oid: ObjectIdentifier, value: &[u8]) -> Result<Attribute, ScepError> {
    let value = Any::encode_from(&OctetString::new(value)?)?;
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

pub(crate) fn read_string(verified: &Verified, oid: &ObjectIdentifier) -> Option<String> {
    verified.attribute(oid).and_then(directory_string)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::pki::authority::LeafPurpose;
    use crate::pki::keys::RsaKey;
    use crate::pki::scep_client::{self, CertRepOutcome};

    fn authority() -> Authority {
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::Pki::load_or_create(dir.path(), &["localhost".into()], Utc::now()).unwrap();
        Authority::new(&pki.ca_cert_der, &pki.ca_key.serialize_der()).unwrap()
    }

    #[test]
    fn pkcsreq_round_trip_and_failure_reply() {
        let ca = authority();
        let now = Utc::now();
        let key = RsaKey::generate_2048().unwrap();
        let subject = Name::from_str("CN=device-1,O=Orchard").unwrap();
        let csr = scep_client::make_csr(&key, subject.clone(), Some("s3cret")).unwrap();
        let me = scep_client::self_signed(&key, subject.clone(), now).unwrap();
        let request =
            scep_client::build_request(MessageType::PkcsReq, &csr, &me, &key, &ca.cert, now).unwrap();

        let parsed = parse_request(&request.message, &ca).unwrap();
        assert_eq!(parsed.message_type, MessageType::PkcsReq);
        assert_eq!(parsed.csr.challenge.as_deref(), Some("s3cret"));
        assert_eq!(parsed.csr.subject, subject);
        assert_eq!(parsed.transaction_id, request.transaction_id);
        assert_eq!(parsed.cipher, ContentCipher::Aes256Cbc);

        let issued = ca
            .issue(
                parsed.csr.subject.clone(),
                parsed.csr.public_key.clone(),
                LeafPurpose::DeviceIdentity,
                now,
                30,
            )
            .unwrap();
        let reply = cert_rep(&ca, &parsed, Reply::Issued(&issued.cert), now).unwrap();
        let outcome = scep_client::parse_cert_rep(&reply, &request, &ca.cert, &me, &key).unwrap();
        assert_eq!(outcome, CertRepOutcome::Issued(issued.der.clone()));
        let identity = crate::pki::identity::from_certificate(&issued.der, &ca.cert_der, now).unwrap();
        assert_eq!(identity.serial, issued.serial);

        let failure = cert_rep(&ca, &parsed, Reply::Failed(FailInfo::BadRequest), now).unwrap();
        let outcome = scep_client::parse_cert_rep(&failure, &request, &ca.cert, &me, &key).unwrap();
        assert_eq!(outcome, CertRepOutcome::Failed(Some(FailInfo::BadRequest)));
    }

    #[test]
    fn request_signed_by_another_key_is_refused() {
        let ca = authority();
        let now = Utc::now();
        let key = RsaKey::generate_2048().unwrap();
        let other = RsaKey::generate_2048().unwrap();
        let subject = Name::from_str("CN=device-2").unwrap();
        let csr = scep_client::make_csr(&key, subject.clone(), None).unwrap();
        let stranger = scep_client::self_signed(&other, subject, now).unwrap();
        let request =
            scep_client::build_request(MessageType::PkcsReq, &csr, &stranger, &other, &ca.cert, now).unwrap();
        assert_eq!(
            parse_request(&request.message, &ca).unwrap_err(),
            ScepError::SignerMismatch
        );
        let mut garbled = request.message.clone();
        let middle = garbled.len() / 2;
        garbled[middle] ^= 0xff;
        assert!(parse_request(&garbled, &ca).is_err());
        assert!(parse_request(b"not der at all", &ca).is_err());
    }
}
