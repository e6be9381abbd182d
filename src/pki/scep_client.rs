//! The device side of SCEP and of `Mdm-Signature`, for the device simulator and tests: build a
//! CSR and a `PKCSReq`/`RenewalReq`, read the `CertRep`, sign a request body.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use der::asn1::{Any, BitString, OctetString, SetOfVec, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::envelope;
use super::keys::RsaKey;
use super::scep::{
    self, FailInfo, MessageType, OID_FAIL_INFO, OID_MESSAGE_TYPE, OID_PKI_STATUS, OID_RECIPIENT_NONCE,
    OID_SENDER_NONCE, OID_TRANSACTION_ID, ScepError,
};
use super::signed::{self, CmsError, OID_DATA, SignRequest};

const OID_CHALLENGE_PASSWORD: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.7");

/// A PKCS#10 request for `key`, with a challengePassword when given.
pub fn make_csr(key: &RsaKey, subject: Name, challenge: Option<&str>) -> Result<Vec<u8>, ScepError> {
    let mut attributes = SetOfVec::new();
    if let Some(challenge) = challenge {
        attributes.insert(Attribute {
            oid: OID_CHALLENGE_PASSWORD,
            values: SetOfVec::try_from(vec![Any::encode_from(&Utf8StringRef::new(challenge)?)?])?,
        })?;
    }
    let info = CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject,
        public_key: key.public_key_info().map_err(CmsError::from)?,
        attributes,
    };
    let signature = key.sign_sha256(&info.to_der()?).map_err(CmsError::from)?;
    Ok(CertReq {
        info,
        algorithm: RsaKey::signature_algorithm(),
        signature: BitString::from_bytes(&signature)?,
    }
    .to_der()?)
}

/// The throw-away self-signed certificate a client signs its first request with.
pub fn self_signed(key: &RsaKey, subject: Name, now: DateTime<Utc>) -> Result<Certificate, ScepError> {
    let secs = |t: DateTime<Utc>| std::time::Duration::from_secs(t.timestamp().max(0) as u64);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[1])?,
        signature: RsaKey::signature_algorithm(),
        issuer: subject.clone(),
        validity: Validity {
            not_before: Time::UtcTime(der::asn1::UtcTime::from_unix_duration(secs(
                now - Duration::hours(1),
            ))?),
            not_after: Time::UtcTime(der::asn1::UtcTime::from_unix_duration(secs(
                now + Duration::days(1),
            ))?),
        },
        subject,
        subject_public_key_info: key.public_key_info().map_err(CmsError::from)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let signature = key.sign_sha256(&tbs.to_der()?).map_err(CmsError::from)?;
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: RsaKey::signature_algorithm(),
        signature: BitString::from_bytes(&signature)?,
    })
}

/// A request ready to send, and what to match the reply against.
pub struct ClientRequest {
    pub message: Vec<u8>,
    pub transaction_id: String,
    pub sender_nonce: Vec<u8>,
}

/// Builds a `PKCSReq` (signer: the self-signed certificate of the CSR key) or a `RenewalReq`
/// (signer: the current identity certificate and its key), encrypted to `ca`.
pub fn build_request(
    message_type: MessageType,
    csr_der: &[u8],
    signer_cert: &Certificate,
    signer_key: &RsaKey,
    ca: &Certificate,
    now: DateTime<Utc>,
) -> Result<ClientRequest, ScepError> {
    let transaction_id = hex::encode(rand::random::<[u8; 16]>());
    let sender_nonce = rand::random::<[u8; 16]>().to_vec();
    let envelope = envelope::encrypt(csr_der, ca)?;
    let message = signed::sign(SignRequest {
        content_type: OID_DATA,
        content: &envelope,
        attached: true,
        signer_cert,
        key: signer_key,
        extra_attributes: vec![
            scep::string_attribute(OID_MESSAGE_TYPE, message_type.code())?,
            scep::string_attribute(OID_TRANSACTION_ID, &transaction_id)?,
            scep::octet_attribute(OID_SENDER_NONCE, &sender_nonce)?,
        ],
        chain: Vec::new(),
        signing_time: Some(now),
    })?;
    Ok(ClientRequest {
        message,
        transaction_id,
        sender_nonce,
    })
}

/// What a CertRep said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertRepOutcome {
    Issued(Vec<u8>),
    Failed(Option<FailInfo>),
    Pending,
}

/// Verifies a CertRep (signed by `ca`, answering `request`) and opens its envelope with the key
/// of the certificate the request was signed with.
pub fn parse_cert_rep(
    reply: &[u8],
    request: &ClientRequest,
    ca: &Certificate,
    recipient: &Certificate,
    recipient_key: &RsaKey,
) -> Result<CertRepOutcome, ScepError> {
    let verified = signed::verify(reply, None)?;
    if verified.signer != *ca {
        return Err(ScepError::NotScep("the reply is not signed by the CA".into()));
    }
    let text = |oid| scep::read_string(&verified, oid);
    if text(&OID_MESSAGE_TYPE).as_deref() != Some(MessageType::CertRep.code()) {
        return Err(ScepError::NotScep("not a CertRep".into()));
    }
    if text(&OID_TRANSACTION_ID).as_deref() != Some(request.transaction_id.as_str()) {
        return Err(ScepError::NotScep("transactionID does not match".into()));
    }
    let recipient_nonce = verified
        .attribute(&OID_RECIPIENT_NONCE)
        .and_then(|v| v.decode_as::<OctetString>().ok());
    if recipient_nonce.as_ref().map(|n| n.as_bytes()) != Some(request.sender_nonce.as_slice()) {
        return Err(ScepError::NotScep("recipientNonce does not match".into()));
    }
    match text(&OID_PKI_STATUS).as_deref() {
        Some("0") => {}
        Some("2") => {
            return Ok(CertRepOutcome::Failed(
                text(&OID_FAIL_INFO).as_deref().and_then(FailInfo::from_code),
            ));
        }
        Some("3") => return Ok(CertRepOutcome::Pending),
        other => return Err(ScepError::NotScep(format!("pkiStatus {other:?}"))),
    }
    let envelope = verified
        .content
        .ok_or_else(|| ScepError::NotScep("SUCCESS without a certificate".into()))?;
    let (degenerate, _) = envelope::decrypt(&envelope, recipient, recipient_key)?;
    let cert = signed::certificates(&degenerate)?
        .into_iter()
        .next()
        .ok_or_else(|| ScepError::NotScep("no certificate in the reply".into()))?;
    Ok(CertRepOutcome::Issued(cert.to_der()?))
}

/// The `Mdm-Signature` header value for `body`: base64 of a detached CMS SignedData (SHA-256)
/// carrying the identity certificate.
pub fn mdm_signature(body: &[u8], identity: &Certificate, key: &RsaKey) -> Result<String, CmsError> {
    let der = signed::sign(SignRequest {
        content_type: OID_DATA,
        content: body,
        attached: false,
        signer_cert: identity,
        key,
        extra_attributes: Vec::new(),
        chain: Vec::new(),
        signing_time: None,
    })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(der))
}

/// Parses a DER certificate.
pub fn certificate(der: &[u8]) -> Result<Certificate, ScepError> {
    Ok(Certificate::from_der(der)?)
}
