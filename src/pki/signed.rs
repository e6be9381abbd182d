//! CMS SignedData (RFC 5652 §5): signing over the `cms` crate's types with aws-lc-rs keys, and
//! verification (the `cms` crate has none).
//!
//! Verification hashes the signed attributes exactly as they were received: `der` sorts a
//! `SET OF` when decoding, so re-encoding a decoded set would change the bytes of a signer that
//! did not sort them. The raw `SignerInfo` is therefore taken from the message itself.

use chrono::{DateTime, Utc};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec, UtcTime};
use der::oid::ObjectIdentifier;
use der::{Any, AnyRef, Decode, Encode, Header, Length, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use super::keys::{self, DigestAlg, KeyError, RsaKey};

pub const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const OID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CmsError {
    #[error("malformed CMS: {0}")]
    Malformed(String),
    #[error("expected {expected}, found content type {found}")]
    WrongContentType { expected: &'static str, found: String },
    #[error("the message has no signer")]
    NoSigner,
    #[error("the signer's certificate is not in the message")]
    SignerCertificateMissing,
    #[error("the message has no content to verify")]
    NoContent,
    #[error("the signed digest does not match the content")]
    DigestMismatch,
    #[error("{0}")]
    Key(#[from] KeyError),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Malformed(e.to_string())
    }
}

/// What to sign.
pub struct SignRequest<'a> {
    /// The eContentType (id-data for profiles, SCEP and Mdm-Signature).
    pub content_type: ObjectIdentifier,
    pub content: &'a [u8],
    /// Attached (content inside the message) or detached.
    pub attached: bool,
    pub signer_cert: &'a Certificate,
    pub key: &'a RsaKey,
    /// Signed attributes besides contentType, messageDigest and signingTime.
    pub extra_attributes: Vec<Attribute>,
    /// Certificates to include (the signer's is always included first).
    pub chain: Vec<Certificate>,
    pub signing_time: Option<DateTime<Utc>>,
}

/// Builds a DER `ContentInfo` holding SignedData with one SHA-256/RSA signer.
pub fn sign(req: SignRequest<'_>) -> Result<Vec<u8>, CmsError> {
    sign_with_digest(req, DigestAlg::Sha256)
}

/// Like [`sign`], with `digest` as the CMS digestAlgorithm (the content's messageDigest). The
/// signature over the signed attributes stays sha256WithRSAEncryption, the one RSA signature
/// aws-lc-rs makes; the device simulator uses this to send SHA-1 digested `Mdm-Signature`s.
pub fn sign_with_digest(req: SignRequest<'_>, digest: DigestAlg) -> Result<Vec<u8>, CmsError> {
    let mut attributes = vec![
        attribute(OID_CONTENT_TYPE, Any::encode_from(&req.content_type)?)?,
        attribute(
            OID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.digest(req.content))?)?,
        )?,
    ];
    if let Some(at) = req.signing_time {
        let t = UtcTime::from_unix_duration(std::time::Duration::from_secs(at.timestamp().max(0) as u64))?;
        attributes.push(attribute(OID_SIGNING_TIME, Any::encode_from(&t)?)?);
    }
    attributes.extend(req.extra_attributes);
    let signed_attrs = SetOfVec::try_from(attributes)?;
    let signature = req.key.sign_sha256(&signed_attrs.to_der()?)?;
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: req.signer_cert.tbs_certificate.issuer.clone(),
            serial_number: req.signer_cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest.identifier(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: RsaKey::signature_algorithm(),
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let mut certs = vec![CertificateChoices::Certificate(req.signer_cert.clone())];
    certs.extend(req.chain.into_iter().map(CertificateChoices::Certificate));
    let econtent = if req.attached {
        Some(Any::encode_from(&OctetString::new(req.content)?)?)
    } else {
        None
    };
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest.identifier()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: req.content_type,
            econtent,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certs)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
    };
    wrap(OID_SIGNED_DATA, &signed)
}

/// A certificates-only ("degenerate") SignedData, as SCEP returns issued certificates in.
pub fn degenerate(certs: &[Certificate]) -> Result<Vec<u8>, CmsError> {
    let choices = certs
        .iter()
        .cloned()
        .map(CertificateChoices::Certificate)
        .collect::<Vec<_>>();
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: OID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(choices)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    wrap(OID_SIGNED_DATA, &signed)
}

/// The certificates carried by a SignedData (signed or degenerate).
pub fn certificates(content_info_der: &[u8]) -> Result<Vec<Certificate>, CmsError> {
    let sd = parse_signed_data(content_info_der)?;
    Ok(sd
        .certificates
        .map(|set| {
            set.0
                .into_vec()
                .into_iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(cert) => Some(cert),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

pub(crate) fn wrap(content_type: ObjectIdentifier, inner: &impl Encode) -> Result<Vec<u8>, CmsError> {
    Ok(ContentInfo {
        content_type,
        content: Any::from_der(&inner.to_der()?)?,
    }
    .to_der()?)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

fn parse_signed_data(der: &[u8]) -> Result<SignedData, CmsError> {
    let ci = ContentInfo::from_der(der)?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(CmsError::WrongContentType {
            expected: "SignedData",
            found: ci.content_type.to_string(),
        });
    }
    Ok(ci.content.decode_as::<SignedData>()?)
}

/// A verified signature: who signed, with what, and what they signed.
#[derive(Debug, Clone)]
pub struct Verified {
    pub signer: Certificate,
    pub signer_der: Vec<u8>,
    pub digest: DigestAlg,
    pub signed_attributes: Vec<Attribute>,
    /// The encapsulated content (for attached signatures).
    pub content: Option<Vec<u8>>,
    /// Every certificate the message carried.
    pub certificates: Vec<Certificate>,
}

impl Verified {
    /// The first value of a signed attribute.
    pub fn attribute(&self, oid: &ObjectIdentifier) -> Option<&Any> {
        find_attribute(&self.signed_attributes, oid)
    }
}

pub(crate) fn find_attribute<'a>(attrs: &'a [Attribute], oid: &ObjectIdentifier) -> Option<&'a Any> {
    attrs
        .iter()
        .find(|a| &a.oid == oid)
        .and_then(|a| a.values.iter().next())
}

/// Verifies the first signer of a SignedData over its attached content, or over `detached`.
/// Checks the message digest and the signature with the signer certificate's key; whether that
/// certificate is trusted is the caller's question.
pub fn verify(der: &[u8], detached: Option<&[u8]>) -> Result<Verified, CmsError> {
    let sd = parse_signed_data(der)?;
    let content = match (&sd.encap_content_info.econtent, detached) {
        (_, Some(body)) => body.to_vec(),
        (Some(econtent), None) => econtent_bytes(econtent)?,
        (None, None) => return Err(CmsError::NoContent),
    };
    let raw = raw_signer_infos(der)?;
    let raw_signer = raw.first().ok_or(CmsError::NoSigner)?;
    let signer = SignerInfo::from_der(raw_signer)?;
    let raw_attrs = raw_signed_attributes(raw_signer)?
        .ok_or_else(|| CmsError::Malformed("the signer has no signed attributes".into()))?;
    let signed_attrs = signer.signed_attrs.clone().unwrap_or_default();
    let attrs: Vec<Attribute> = signed_attrs.into_vec();
    let digest = DigestAlg::from_oid(&signer.digest_alg.oid)?;
    let claimed = find_attribute(&attrs, &OID_MESSAGE_DIGEST)
        .ok_or_else(|| CmsError::Malformed("no messageDigest attribute".into()))?
        .decode_as::<OctetString>()?;
    if claimed.as_bytes() != digest.digest(&content).as_slice() {
        return Err(CmsError::DigestMismatch);
    }
    let certificates: Vec<Certificate> = sd
        .certificates
        .map(|set| {
            set.0
                .into_vec()
                .into_iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(cert) => Some(cert),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let cert = certificates
        .iter()
        .find(|c| identifies(&signer.sid, c))
        .ok_or(CmsError::SignerCertificateMissing)?
        .clone();
    keys::verify(
        &cert.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm.oid,
        digest,
        &raw_attrs,
        signer.signature.as_bytes(),
    )?;
    Ok(Verified {
        signer_der: cert.to_der()?,
        signer: cert,
        digest,
        signed_attributes: attrs,
        content: sd
            .encap_content_info
            .econtent
            .as_ref()
            .map(econtent_bytes)
            .transpose()?,
        certificates,
    })
}

/// The bytes of eContent: the OCTET STRING's value (CMS), or the whole element (PKCS#7 style).
fn econtent_bytes(econtent: &Any) -> Result<Vec<u8>, CmsError> {
    if econtent.tag() == Tag::OctetString {
        Ok(econtent.value().to_vec())
    } else {
        Ok(econtent.to_der()?)
    }
}

fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == cert.tbs_certificate.issuer
                && ias.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            let want = ski.0.as_bytes();
            cert.tbs_certificate
                .extensions
                .iter()
                .flatten()
                .filter(|e| e.extn_id == ObjectIdentifier::new_unwrap("2.5.29.14"))
                .any(|e| OctetString::from_der(e.extn_value.as_bytes()).is_ok_and(|v| v.as_bytes() == want))
        }
    }
}

/// The raw DER of each SignerInfo, in the order received.
fn raw_signer_infos(der: &[u8]) -> Result<Vec<Vec<u8>>, CmsError> {
    let ci = ContentInfo::from_der(der)?;
    let sd_der = ci.content.to_der()?;
    let elements = sequence_elements(&sd_der)?;
    let set = elements
        .last()
        .filter(|e| e.tag() == Tag::Set)
        .ok_or_else(|| CmsError::Malformed("SignedData without signerInfos".into()))?;
    let mut reader = SliceReader::new(set.value())?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(AnyRef::decode(&mut reader)?.to_der()?);
    }
    Ok(out)
}

/// The signed attributes of a raw SignerInfo re-tagged as the SET OF that was signed
/// (RFC 5652 §5.4), with the element bytes untouched.
fn raw_signed_attributes(signer_der: &[u8]) -> Result<Option<Vec<u8>>, CmsError> {
    let implicit_zero = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber::N0,
    };
    let Some(attrs) = sequence_elements(signer_der)?
        .into_iter()
        .find(|e| e.tag() == implicit_zero)
    else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(attrs.value().len() + 4);
    Header::new(Tag::Set, Length::try_from(attrs.value().len())?)?.encode_to_vec(&mut out)?;
    out.extend_from_slice(attrs.value());
    Ok(Some(out))
}

pub(crate) fn sequence_elements(der: &[u8]) -> Result<Vec<AnyRef<'_>>, CmsError> {
    let outer = AnyRef::from_der(der)?;
    if outer.tag() != Tag::Sequence {
        return Err(CmsError::Malformed("expected a SEQUENCE".into()));
    }
    let mut reader = SliceReader::new(outer.value())?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(AnyRef::decode(&mut reader)?);
    }
    Ok(out)
}
