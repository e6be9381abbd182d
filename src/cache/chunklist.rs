//! Apple's chunklist: the `IntegrityDataURL` file published beside a macOS full installer
//! (`InstallAssistant.pkg.integrityDataV1`), with the SHA-256 of every chunk of the package.
//!
//! Format, from Apple's open-source kernel (apple-oss-distributions/xnu,
//! `bsd/kern/chunklist.h` and `bsd/kern/chunklist.c`), all integers little-endian, packed:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `0x4C4B4E43` (the bytes `CNKL`) |
//! | 4 | 4 | header size (36) |
//! | 8 | 1 | file version (1) |
//! | 9 | 1 | chunk method (1: SHA-256 per chunk) |
//! | 10 | 1 | signature method (1: rev1, a 256-byte RSA-2048 signature; 3: rev2, 808 bytes) |
//! | 11 | 1 | unused |
//! | 12 | 8 | chunk count |
//! | 20 | 8 | offset of the chunk table |
//! | 28 | 8 | offset of the signature |
//!
//! The chunk table holds `count` entries of 36 bytes: the chunk's size (u32) and its SHA-256
//! (32 bytes). The chunks follow each other from offset 0 of the payload, so the payload's size
//! is the sum of the chunk sizes. The signature covers the SHA-256 of the file up to the
//! signature offset, with keys Apple embeds in its boot loader and kernel.
//!
//! What Orchard checks: the structure, every chunk's SHA-256 and the total size. It does not
//! check Apple's RSA signature (the public keys are not published as a document); the
//! chunklist itself is fetched over HTTPS from Apple's CDN, or arrives in a signed bundle.
//! Pure: no I/O.

use sha2::{Digest, Sha256};

pub const MAGIC: u32 = 0x4C4B_4E43;
pub const HEADER_SIZE: usize = 36;
const ENTRY_SIZE: usize = 36;
const FILE_VERSION: u8 = 1;
const CHUNK_METHOD_SHA256: u8 = 1;
const SIG_METHOD_REV1: u8 = 1;
const SIG_METHOD_REV2: u8 = 3;
const REV1_SIG_LEN: u64 = 256;
const REV2_SIG_LEN: u64 = 808;
/// Large installers have ~1,000 chunks (10 MiB each); this bounds what a hostile file can ask
/// to be allocated.
const MAX_CHUNKS: u64 = 1 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunklistError {
    #[error("not a chunklist: {0}")]
    Malformed(String),
    #[error("chunk {index} (bytes {start}..{end}) does not match its SHA-256")]
    ChunkMismatch { index: usize, start: u64, end: u64 },
    #[error("the payload is {actual} bytes; its chunklist describes {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub size: u32,
    pub sha256: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunklist {
    pub signature_method: u8,
    pub chunks: Vec<Chunk>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Chunklist {
    /// Parses and bounds-checks a chunklist.
    pub fn parse(bytes: &[u8]) -> Result<Chunklist, ChunklistError> {
        let bad = |m: &str| ChunklistError::Malformed(m.to_string());
        if bytes.len() < HEADER_SIZE {
            return Err(bad("shorter than its header"));
        }
        if u32_at(bytes, 0) != MAGIC {
            return Err(bad("wrong magic (expected CNKL)"));
        }
        let header_size = u32_at(bytes, 4) as usize;
        if header_size < HEADER_SIZE || bytes[8] != FILE_VERSION || bytes[9] != CHUNK_METHOD_SHA256 {
            return Err(bad("unknown version or chunk method"));
        }
        let signature_method = bytes[10];
        let sig_len = match signature_method {
            SIG_METHOD_REV1 => REV1_SIG_LEN,
            SIG_METHOD_REV2 => REV2_SIG_LEN,
            _ => return Err(bad("unknown signature method")),
        };
        let (count, chunk_offset, sig_offset) = (u64_at(bytes, 12), u64_at(bytes, 20), u64_at(bytes, 28));
        if count == 0 || count > MAX_CHUNKS {
            return Err(bad("implausible chunk count"));
        }
        let len = bytes.len() as u64;
        let chunks_end = count
            .checked_mul(ENTRY_SIZE as u64)
            .and_then(|n| n.checked_add(chunk_offset))
            .ok_or_else(|| bad("chunk table out of bounds"))?;
        if chunk_offset < HEADER_SIZE as u64 || chunks_end > len {
            return Err(bad("chunk table out of bounds"));
        }
        let sig_end = sig_offset
            .checked_add(sig_len)
            .ok_or_else(|| bad("signature out of bounds"))?;
        if sig_offset < chunks_end || sig_end > len {
            return Err(bad("signature out of bounds"));
        }
        let mut chunks = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            let at = chunk_offset as usize + i * ENTRY_SIZE;
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(&bytes[at + 4..at + ENTRY_SIZE]);
            let size = u32_at(bytes, at);
            if size == 0 {
                return Err(bad("a chunk of size zero"));
            }
            chunks.push(Chunk { size, sha256 });
        }
        Ok(Chunklist {
            signature_method,
            chunks,
        })
    }

    /// The payload size the chunklist describes.
    pub fn total_size(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.size)).sum()
    }

    /// Builds a chunklist for `data` in chunks of `chunk_size` bytes, with a zero rev1
    /// signature: what a test CDN publishes beside a generated payload.
    pub fn encode_for(data: &[u8], chunk_size: usize) -> Vec<u8> {
        let chunk_size = chunk_size.clamp(1, u32::MAX as usize);
        let pieces: Vec<&[u8]> = data.chunks(chunk_size).collect();
        let count = pieces.len() as u64;
        let chunk_offset = HEADER_SIZE as u64;
        let sig_offset = chunk_offset + count * ENTRY_SIZE as u64;
        let mut out = Vec::with_capacity(sig_offset as usize + REV1_SIG_LEN as usize);
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        out.extend_from_slice(&[FILE_VERSION, CHUNK_METHOD_SHA256, SIG_METHOD_REV1, 0]);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&chunk_offset.to_le_bytes());
        out.extend_from_slice(&sig_offset.to_le_bytes());
        for piece in pieces {
            out.extend_from_slice(&(piece.len() as u32).to_le_bytes());
            out.extend_from_slice(&Sha256::digest(piece));
        }
        out.extend(std::iter::repeat_n(0u8, REV1_SIG_LEN as usize));
        out
    }
}

/// Checks a payload against a chunklist as its bytes stream past, and computes the payload's
/// SHA-256 on the way (the content address).
pub struct ChunkVerifier<'a> {
    list: Option<&'a Chunklist>,
    index: usize,
    in_chunk: u64,
    chunk_start: u64,
    chunk_hash: Sha256,
    whole: Sha256,
    total: u64,
}

impl<'a> ChunkVerifier<'a> {
    /// With `None`, only the SHA-256 and size are computed.
    pub fn new(list: Option<&'a Chunklist>) -> Self {
        ChunkVerifier {
            list,
            index: 0,
            in_chunk: 0,
            chunk_start: 0,
            chunk_hash: Sha256::new(),
            whole: Sha256::new(),
            total: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) -> Result<(), ChunklistError> {
        self.whole.update(data);
        self.total += data.len() as u64;
        let Some(list) = self.list else {
            return Ok(());
        };
        while !data.is_empty() {
            let Some(chunk) = list.chunks.get(self.index) else {
                return Err(ChunklistError::SizeMismatch {
                    expected: list.total_size(),
                    actual: self.total,
                });
            };
            let want = (u64::from(chunk.size) - self.in_chunk) as usize;
            let take = want.min(data.len());
            self.chunk_hash.update(&data[..take]);
            self.in_chunk += take as u64;
            data = &data[take..];
            if self.in_chunk == u64::from(chunk.size) {
                let digest = std::mem::take(&mut self.chunk_hash).finalize();
                let end = self.chunk_start + self.in_chunk;
                if digest.as_slice() != chunk.sha256 {
                    return Err(ChunklistError::ChunkMismatch {
                        index: self.index,
                        start: self.chunk_start,
                        end,
                    });
                }
                self.index += 1;
                self.chunk_start = end;
                self.in_chunk = 0;
            }
        }
        Ok(())
    }

    /// The payload's SHA-256 (hex) and size, once every chunk matched.
    pub fn finish(self) -> Result<(String, u64), ChunklistError> {
        if let Some(list) = self.list
            && (self.index != list.chunks.len() || self.in_chunk != 0)
        {
            return Err(ChunklistError::SizeMismatch {
                expected: list.total_size(),
                actual: self.total,
            });
        }
        Ok((hex::encode(self.whole.finalize()), self.total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Vec<u8> {
        (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn verify(list: &Chunklist, data: &[u8], step: usize) -> Result<(String, u64), ChunklistError> {
        let mut v = ChunkVerifier::new(Some(list));
        for piece in data.chunks(step) {
            v.update(piece)?;
        }
        v.finish()
    }

    #[test]
    fn encoded_chunklist_round_trips_and_verifies_in_any_piece_size() {
        let data = payload();
        let list = Chunklist::parse(&Chunklist::encode_for(&data, 4096)).unwrap();
        assert_eq!(list.chunks.len(), 3);
        assert_eq!(list.total_size(), 10_000);
        for step in [1, 100, 4096, 5000, 20_000] {
            let (digest, size) = verify(&list, &data, step).unwrap();
            assert_eq!(size, 10_000);
            assert_eq!(digest, hex::encode(Sha256::digest(&data)));
        }
    }

    #[test]
    fn a_changed_byte_names_its_chunk() {
        let data = payload();
        let list = Chunklist::parse(&Chunklist::encode_for(&data, 4096)).unwrap();
        let mut bad = data.clone();
        bad[5000] ^= 1;
        assert_eq!(
            verify(&list, &bad, 777),
            Err(ChunklistError::ChunkMismatch {
                index: 1,
                start: 4096,
                end: 8192
            })
        );
    }

    #[test]
    fn short_or_long_payloads_are_refused() {
        let data = payload();
        let list = Chunklist::parse(&Chunklist::encode_for(&data, 4096)).unwrap();
        assert!(matches!(
            verify(&list, &data[..9_999], 512),
            Err(ChunklistError::SizeMismatch { .. })
        ));
        let mut long = data.clone();
        long.push(0);
        assert!(matches!(
            verify(&list, &long, 512),
            Err(ChunklistError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn hostile_headers_are_refused_without_panicking() {
        let good = Chunklist::encode_for(&payload(), 4096);
        assert!(Chunklist::parse(&good[..20]).is_err());
        let mut wrong_magic = good.clone();
        wrong_magic[0] = b'X';
        assert!(Chunklist::parse(&wrong_magic).is_err());
        let mut huge_count = good.clone();
        huge_count[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Chunklist::parse(&huge_count).is_err());
        let mut overflow_offset = good.clone();
        overflow_offset[20..28].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
        assert!(Chunklist::parse(&overflow_offset).is_err());
        let mut sig_outside = good.clone();
        sig_outside[28..36].copy_from_slice(&(good.len() as u64).to_le_bytes());
        assert!(Chunklist::parse(&sig_outside).is_err());
        let mut rev9 = good;
        rev9[10] = 9;
        assert!(Chunklist::parse(&rev9).is_err());
    }
}
