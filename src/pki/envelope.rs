//! CMS EnvelopedData (RFC 5652 §6) with RSA key transport: what SCEP wraps requests and replies in.
//!
//! Decryption accepts AES-128/192/256-CBC (what Orchard advertises), and DES-EDE3-CBC and
//! single DES-CBC for older clients: Debian's `scepclient` (Go pkcs7) always uses DES-CBC.
//! Replies are encrypted with AES-256-CBC, which every client that reads `GetCACaps` handles.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use der::Decode;
use der::asn1::{Any, Null, OctetString, SetOfVec};
use der::oid::ObjectIdentifier;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::keys::{self, OID_RSA_ENCRYPTION, RsaKey};
use super::signed::{CmsError, OID_DATA, OID_ENVELOPED_DATA, wrap};

const OID_AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
const OID_AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
const OID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
const OID_DES_EDE3_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.3.7");
const OID_DES_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.7");

/// The content-encryption algorithm of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCipher {
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    DesEde3Cbc,
    DesCbc,
}

impl ContentCipher {
    fn from_oid(oid: &ObjectIdentifier) -> Option<ContentCipher> {
        Some(match *oid {
            OID_AES128_CBC => ContentCipher::Aes128Cbc,
            OID_AES192_CBC => ContentCipher::Aes192Cbc,
            OID_AES256_CBC => ContentCipher::Aes256Cbc,
            OID_DES_EDE3_CBC => ContentCipher::DesEde3Cbc,
            OID_DES_CBC => ContentCipher::DesCbc,
            _ => return None,
        })
    }

    fn key_len(self) -> usize {
        match self {
            ContentCipher::Aes128Cbc => 16,
            ContentCipher::Aes192Cbc | ContentCipher::DesEde3Cbc => 24,
            ContentCipher::Aes256Cbc => 32,
            ContentCipher::DesCbc => 8,
        }
    }

    fn iv_len(self) -> usize {
        match self {
            ContentCipher::DesEde3Cbc | ContentCipher::DesCbc => 8,
            _ => 16,
        }
    }

    fn decrypt(self, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        fn run<C: BlockDecryptMut + KeyIvInit>(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
            C::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_vec_mut::<Pkcs7>(data)
                .ok()
        }
        match self {
            ContentCipher::Aes128Cbc => run::<cbc::Decryptor<Aes128>>(key, iv, data),
            ContentCipher::Aes192Cbc => run::<cbc::Decryptor<Aes192>>(key, iv, data),
            ContentCipher::Aes256Cbc => run::<cbc::Decryptor<Aes256>>(key, iv, data),
            ContentCipher::DesEde3Cbc => run::<cbc::Decryptor<des::TdesEde3>>(key, iv, data),
            ContentCipher::DesCbc => run::<cbc::Decryptor<des::Des>>(key, iv, data),
        }
    }
}

/// Decrypts an EnvelopedData (as `ContentInfo`) addressed to `recipient` with its RSA key.
/// Returns the plaintext and the cipher the sender chose.
pub fn decrypt(
    der: &[u8],
    recipient: &Certificate,
    key: &RsaKey,
) -> Result<(Vec<u8>, ContentCipher), CmsError> {
    let ci = ContentInfo::from_der(der)?;
    if ci.content_type != OID_ENVELOPED_DATA {
        return Err(CmsError::WrongContentType {
            expected: "EnvelopedData",
            found: ci.content_type.to_string(),
        });
    }
    let env = match ci.content.decode_as::<EnvelopedData>() {
        Ok(env) => Parts {
            recipients: env.recip_infos,
            algorithm: env.encrypted_content.content_enc_alg,
            ciphertext: env
                .encrypted_content
                .encrypted_content
                .map(OctetString::into_bytes),
        },
        // Go's pkcs7 (scepclient, micromdm) sends the ciphertext as a constructed [0] holding
        // OCTET STRING chunks, which is BER; read that form too.
        Err(_) => {
            let ber = ci.content.decode_as::<EnvelopedDataChunked>()?;
            Parts {
                recipients: ber.recip_infos,
                algorithm: ber.encrypted_content.content_enc_alg,
                ciphertext: ber
                    .encrypted_content
                    .chunks
                    .map(|chunks| chunks.iter().flat_map(|c| c.as_bytes().to_vec()).collect()),
            }
        }
    };
    let ktri = env
        .recipients
        .0
        .iter()
        .find_map(|ri| match ri {
            RecipientInfo::Ktri(k) if addressed_to(&k.rid, recipient) => Some(k),
            _ => None,
        })
        .ok_or_else(|| CmsError::Malformed("no key-transport recipient for this CA".into()))?;
    if ktri.key_enc_alg.oid != OID_RSA_ENCRYPTION {
        return Err(CmsError::Malformed(format!(
            "unsupported key encryption {}",
            ktri.key_enc_alg.oid
        )));
    }
    let alg = &env.algorithm;
    let cipher = ContentCipher::from_oid(&alg.oid)
        .ok_or_else(|| CmsError::Malformed(format!("unsupported content encryption {}", alg.oid)))?;
    let iv = alg
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<OctetString>().ok())
        .filter(|iv| iv.as_bytes().len() == cipher.iv_len())
        .ok_or_else(|| CmsError::Malformed("missing or wrong-sized IV".into()))?;
    let ciphertext = env
        .ciphertext
        .as_ref()
        .ok_or_else(|| CmsError::Malformed("no encrypted content".into()))?;
    // One error for a bad key and for bad padding, so the reply says nothing about which failed.
    let failed = || CmsError::Malformed("cannot decrypt the envelope".into());
    let content_key = key.decrypt_key(ktri.enc_key.as_bytes()).map_err(|_| failed())?;
    if content_key.len() != cipher.key_len() {
        return Err(failed());
    }
    let plain = cipher
        .decrypt(&content_key, iv.as_bytes(), ciphertext)
        .ok_or_else(failed)?;
    Ok((plain, cipher))
}

/// The pieces of an EnvelopedData decryption needs, whichever encoding carried them.
struct Parts {
    recipients: RecipientInfos,
    algorithm: AlgorithmIdentifierOwned,
    ciphertext: Option<Vec<u8>>,
}

/// EnvelopedData with `encryptedContent` in the constructed (chunked) form.
#[derive(der::Sequence)]
struct EnvelopedDataChunked {
    version: CmsVersion,
    recip_infos: RecipientInfos,
    encrypted_content: EncryptedContentChunked,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    unprotected_attrs: Option<x509_cert::attr::Attributes>,
}

#[derive(der::Sequence)]
struct EncryptedContentChunked {
    content_type: ObjectIdentifier,
    content_enc_alg: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    chunks: Option<Vec<OctetString>>,
}

fn addressed_to(rid: &RecipientIdentifier, cert: &Certificate) -> bool {
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == cert.tbs_certificate.issuer
                && ias.serial_number == cert.tbs_certificate.serial_number
        }
        // A single-CA server: a key identifier is accepted as is, decryption decides.
        RecipientIdentifier::SubjectKeyIdentifier(_) => true,
    }
}

/// Encrypts `content` for the holder of `recipient` (RSA key transport, AES-256-CBC).
pub fn encrypt(content: &[u8], recipient: &Certificate) -> Result<Vec<u8>, CmsError> {
    let content_key: [u8; 32] = rand::random();
    let iv: [u8; 16] = rand::random();
    let ciphertext = cbc::Encryptor::<Aes256>::new_from_slices(&content_key, &iv)
        .map_err(|e| CmsError::Malformed(e.to_string()))?
        .encrypt_padded_vec_mut::<Pkcs7>(content);
    let enc_key = keys::encrypt_key(&recipient.tbs_certificate.subject_public_key_info, &content_key)?;
    let ktri = KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: recipient.tbs_certificate.issuer.clone(),
            serial_number: recipient.tbs_certificate.serial_number.clone(),
        }),
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: OID_RSA_ENCRYPTION,
            parameters: Some(Any::from(Null)),
        },
        enc_key: OctetString::new(enc_key)?,
    };
    let env = EnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: RecipientInfos(SetOfVec::try_from(vec![RecipientInfo::Ktri(ktri)])?),
        encrypted_content: EncryptedContentInfo {
            content_type: OID_DATA,
            content_enc_alg: AlgorithmIdentifierOwned {
                oid: OID_AES256_CBC,
                parameters: Some(Any::encode_from(&OctetString::new(iv.to_vec())?)?),
            },
            encrypted_content: Some(OctetString::new(ciphertext)?),
        },
        unprotected_attrs: None,
    };
    wrap(OID_ENVELOPED_DATA, &env)
}
