//! Keys, digests and signature algorithms for CMS and X.509, over aws-lc-rs.
//!
//! Private-key operations (RSA signing and PKCS#1 v1.5 key-transport decryption) use aws-lc-rs,
//! whose RSA is constant-time. Public-key verification covers what devices send: RSA PKCS#1 v1.5
//! with SHA-1/256/384/512 and ECDSA P-256/P-384.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use der::Decode;
use der::asn1::{Any, Null};
use der::oid::ObjectIdentifier;
use sha2::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

pub const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
pub const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
pub const OID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("unsupported digest algorithm {0}")]
    UnsupportedDigest(String),
    #[error("unsupported signature algorithm {0}")]
    UnsupportedSignature(String),
    #[error("the key is not usable: {0}")]
    BadKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("decryption failed")]
    Decrypt,
}

/// A message digest algorithm as used in CMS `digestAlgorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<DigestAlg, KeyError> {
        match *oid {
            OID_SHA1 => Ok(DigestAlg::Sha1),
            OID_SHA256 => Ok(DigestAlg::Sha256),
            OID_SHA384 => Ok(DigestAlg::Sha384),
            OID_SHA512 => Ok(DigestAlg::Sha512),
            other => Err(KeyError::UnsupportedDigest(other.to_string())),
        }
    }

    pub fn oid(self) -> ObjectIdentifier {
        match self {
            DigestAlg::Sha1 => OID_SHA1,
            DigestAlg::Sha256 => OID_SHA256,
            DigestAlg::Sha384 => OID_SHA384,
            DigestAlg::Sha512 => OID_SHA512,
        }
    }

    /// The AlgorithmIdentifier, parameters absent (RFC 5754).
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha1 => sha1::Sha1::digest(data).to_vec(),
            DigestAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            DigestAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            DigestAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// An RSA private key that signs (PKCS#1 v1.5) and decrypts key transport (PKCS#1 v1.5).
pub struct RsaKey {
    signing: RsaKeyPair,
    decrypting: Pkcs1PrivateDecryptingKey,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKey(<private>)")
    }
}

impl RsaKey {
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<RsaKey, KeyError> {
        let bad = |e: aws_lc_rs::error::KeyRejected| KeyError::BadKey(e.to_string());
        let signing = RsaKeyPair::from_pkcs8(pkcs8).map_err(bad)?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(bad)?;
        let decrypting =
            Pkcs1PrivateDecryptingKey::new(decrypting).map_err(|_| KeyError::BadKey("PKCS#1".into()))?;
        Ok(RsaKey {
            signing,
            decrypting,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// A new 2048-bit key (what Apple devices generate for SCEP).
    pub fn generate_2048() -> Result<RsaKey, KeyError> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .map_err(|_| KeyError::BadKey("generation failed".into()))?;
        let der = key
            .as_der()
            .map_err(|_| KeyError::BadKey("cannot encode".into()))?;
        RsaKey::from_pkcs8(der.as_ref())
    }

    /// PKCS#8 DER of the private key.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as SubjectPublicKeyInfo.
    pub fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, KeyError> {
        let pkcs1 = self.signing.public_key().as_ref();
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: OID_RSA_ENCRYPTION,
                parameters: Some(Any::from(Null)),
            },
            subject_public_key: der::asn1::BitString::from_bytes(pkcs1)
                .map_err(|e| KeyError::BadKey(e.to_string()))?,
        })
    }

    /// sha256WithRSAEncryption over `message`.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut sig = vec![0u8; self.signing.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.signing
            .sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
            .map_err(|_| KeyError::BadKey("signing failed".into()))?;
        Ok(sig)
    }

    /// The signature AlgorithmIdentifier matching [`RsaKey::sign_sha256`].
    pub fn signature_algorithm() -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: OID_SHA256_WITH_RSA,
            parameters: Some(Any::from(Null)),
        }
    }

    /// Unwraps a content-encryption key sent by PKCS#1 v1.5 key transport.
    pub fn decrypt_key(&self, encrypted: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut out = vec![0u8; self.decrypting.min_output_size()];
        let plain = self
            .decrypting
            .decrypt(encrypted, &mut out)
            .map_err(|_| KeyError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

/// Wraps a content-encryption key for the holder of `recipient` (an RSA public key).
pub fn encrypt_key(recipient: &SubjectPublicKeyInfoOwned, key: &[u8]) -> Result<Vec<u8>, KeyError> {
    use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
    if recipient.algorithm.oid != OID_RSA_ENCRYPTION {
        return Err(KeyError::BadKey("the recipient key is not RSA".into()));
    }
    let spki_der = der::Encode::to_der(recipient).map_err(|e| KeyError::BadKey(e.to_string()))?;
    let public = PublicEncryptingKey::from_der(&spki_der).map_err(|e| KeyError::BadKey(e.to_string()))?;
    let public = Pkcs1PublicEncryptingKey::new(public).map_err(|_| KeyError::BadKey("PKCS#1".into()))?;
    let mut out = vec![0u8; public.ciphertext_size()];
    let written = public.encrypt(key, &mut out).map_err(|_| KeyError::Decrypt)?;
    Ok(written.to_vec())
}

/// Verifies `signature` over `message` with the public key `spki`.
///
/// `digest` is the CMS digestAlgorithm; `signature_alg` the signatureAlgorithm, which for RSA
/// may be plain `rsaEncryption` (the digest then comes from `digest`).
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    signature_alg: &ObjectIdentifier,
    digest: DigestAlg,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    let key = spki.subject_public_key.raw_bytes();
    let algorithm: &'static dyn signature::VerificationAlgorithm = match spki.algorithm.oid {
        OID_RSA_ENCRYPTION => {
            let hash = match *signature_alg {
                OID_RSA_ENCRYPTION => digest,
                OID_SHA1_WITH_RSA => DigestAlg::Sha1,
                OID_SHA256_WITH_RSA => DigestAlg::Sha256,
                OID_SHA384_WITH_RSA => DigestAlg::Sha384,
                OID_SHA512_WITH_RSA => DigestAlg::Sha512,
                other => return Err(KeyError::UnsupportedSignature(other.to_string())),
            };
            match hash {
                DigestAlg::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                DigestAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                DigestAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                DigestAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| ObjectIdentifier::from_der(&der::Encode::to_der(p).ok()?).ok());
            match (curve, digest) {
                (Some(OID_P256), DigestAlg::Sha1) => &signature::ECDSA_P256_SHA1_ASN1,
                (Some(OID_P256), DigestAlg::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
                (Some(OID_P256), DigestAlg::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
                (Some(OID_P384), DigestAlg::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
                (Some(OID_P384), DigestAlg::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
                (curve, _) => {
                    return Err(KeyError::UnsupportedSignature(format!(
                        "ECDSA on {curve:?} with {digest:?}"
                    )));
                }
            }
        }
        other => return Err(KeyError::UnsupportedSignature(other.to_string())),
    };
    UnparsedPublicKey::new(algorithm, key)
        .verify(message, signature)
        .map_err(|_| KeyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_key_transport_round_trip() {
        let key = RsaKey::generate_2048().unwrap();
        let spki = key.public_key_info().unwrap();
        let sig = key.sign_sha256(b"hello").unwrap();
        verify(&spki, &OID_SHA256_WITH_RSA, DigestAlg::Sha256, b"hello", &sig).unwrap();
        verify(&spki, &OID_RSA_ENCRYPTION, DigestAlg::Sha256, b"hello", &sig).unwrap();
        assert_eq!(
            verify(&spki, &OID_SHA256_WITH_RSA, DigestAlg::Sha256, b"hellO", &sig),
            Err(KeyError::BadSignature)
        );
        let wrapped = encrypt_key(&spki, &[7u8; 16]).unwrap();
        assert_eq!(key.decrypt_key(&wrapped).unwrap(), vec![7u8; 16]);
        assert_eq!(key.decrypt_key(&[1u8; 256]), Err(KeyError::Decrypt));
    }
}
