//! The payload files on disk, content-addressed:
//!
//! ```text
//! <cache dir>/objects/<first two hex digits>/<sha256>   published payloads (read-only)
//! <cache dir>/partial/<name>.part                         downloads and imports in progress
//! <cache dir>/quarantine/<sha256 or name>                 files that failed verification
//! ```
//!
//! Nothing is published half-written: a payload is written under `partial/` (the same
//! filesystem), fsynced, verified, then renamed into `objects/` and the directory fsynced. Only
//! `objects/` is ever served.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::AsyncWrite;

use super::CacheError;
use super::chunklist::{ChunkVerifier, Chunklist, ChunklistError};

/// A SHA-256 content address: 64 lower-case hex digits. Parsed once at the boundary.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(text: &str) -> Option<Digest> {
        (text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Digest(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `name` is a plain file name fit to serve a payload under (no path, no control
/// characters, no leading dot).
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// Opens the file a download or import writes into, at `offset` (truncating what lies beyond).
/// The cache service holds one; tests replace it with a writer that runs out of space.
pub type StagingOpener = Arc<dyn Fn(&Path, u64) -> io::Result<Pin<Box<dyn AsyncWrite + Send>>> + Send + Sync>;

/// The real opener: a file opened for writing at `offset`.
pub fn file_opener() -> StagingOpener {
    Arc::new(|path: &Path, offset: u64| {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
        let file: Pin<Box<dyn AsyncWrite + Send>> = Box::pin(tokio::fs::File::from_std(file));
        Ok(file)
    })
}

/// Why a file did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Chunklist(#[from] ChunklistError),
    #[error("the payload is {actual} bytes; {expected} were expected")]
    Size { expected: u64, actual: u64 },
    #[error("the payload's SHA-256 is {actual}; {expected} was expected")]
    Digest { expected: String, actual: String },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What a file is checked against.
#[derive(Debug, Default, Clone)]
pub struct Expectation<'a> {
    pub chunklist: Option<&'a Chunklist>,
    pub size: Option<u64>,
    pub sha256: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct PayloadFiles {
    root: PathBuf,
}

pub fn io_error(path: &Path, source: io::Error) -> CacheError {
    if source.kind() == io::ErrorKind::StorageFull || source.kind() == io::ErrorKind::QuotaExceeded {
        CacheError::DiskFull {
            path: path.to_path_buf(),
        }
    } else {
        CacheError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), CacheError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

impl PayloadFiles {
    /// Creates the layout under `root` if needed.
    pub fn open(root: &Path) -> Result<PayloadFiles, CacheError> {
        for sub in ["objects", "partial", "quarantine"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        }
        Ok(PayloadFiles {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn object_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("objects")
            .join(&digest.as_str()[..2])
            .join(digest.as_str())
    }

    /// The partial file of download job `id`.
    pub fn download_path(&self, id: i64) -> PathBuf {
        self.root.join("partial").join(format!("download-{id}.part"))
    }

    /// A staging file named after `key` (a bundle's payload digest, an import's name).
    pub fn staging_path(&self, key: &str) -> PathBuf {
        self.root.join("partial").join(format!("{key}.part"))
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.object_path(digest).is_file()
    }

    /// Reads `path` once, checking it against `expect`; returns its SHA-256 and size. Blocking.
    pub fn verify(path: &Path, expect: &Expectation<'_>) -> Result<(Digest, u64), VerifyError> {
        let mut file = File::open(path)?;
        let mut verifier = ChunkVerifier::new(expect.chunklist);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            verifier.update(&buf[..n])?;
        }
        let (hex, size) = verifier.finish()?;
        if let Some(expected) = expect.size
            && expected != size
        {
            return Err(VerifyError::Size {
                expected,
                actual: size,
            });
        }
        if let Some(expected) = expect.sha256
            && !expected.eq_ignore_ascii_case(&hex)
        {
            return Err(VerifyError::Digest {
                expected: expected.to_string(),
                actual: hex,
            });
        }
        Ok((Digest(hex), size))
    }

    /// Makes a verified staged file the payload `digest`: fsync, rename into `objects/`, fsync
    /// the directory. Blocking.
    pub fn publish(&self, staged: &Path, digest: &Digest) -> Result<PathBuf, CacheError> {
        File::open(staged)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_error(staged, e))?;
        let target = self.object_path(digest);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        fs::rename(staged, &target).map_err(|e| io_error(&target, e))?;
        sync_dir(&dir)?;
        Ok(target)
    }

    /// Moves a file that failed verification aside, where it is never served. Blocking.
    pub fn quarantine(&self, staged: &Path, name: &str) -> Result<PathBuf, CacheError> {
        let target = self.root.join("quarantine").join(name);
        fs::rename(staged, &target).map_err(|e| io_error(&target, e))?;
        Ok(target)
    }

    /// Removes a payload's file, published or quarantined (missing is fine). Blocking.
    pub fn remove(&self, digest: &Digest) -> Result<(), CacheError> {
        let quarantined = self.root.join("quarantine").join(digest.as_str());
        for path in [self.object_path(digest), quarantined] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
        }
        Ok(())
    }

    /// Copies `source` into a staging file, resuming a previous partial copy. Blocking.
    pub fn stage_copy(&self, source: &Path, staged: &Path) -> Result<u64, CacheError> {
        let mut input = File::open(source).map_err(|e| io_error(source, e))?;
        let total = input.metadata().map_err(|e| io_error(source, e))?.len();
        let done = fs::metadata(staged).map(|m| m.len()).unwrap_or(0);
        let offset = if done <= total { done } else { 0 };
        let mut output = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(staged)
            .map_err(|e| io_error(staged, e))?;
        output.set_len(offset).map_err(|e| io_error(staged, e))?;
        output
            .seek(SeekFrom::Start(offset))
            .and_then(|_| input.seek(SeekFrom::Start(offset)))
            .map_err(|e| io_error(staged, e))?;
        io::copy(&mut input, &mut output).map_err(|e| io_error(staged, e))?;
        output.flush().map_err(|e| io_error(staged, e))?;
        Ok(total)
    }

    /// Bytes free for this filesystem's unprivileged users.
    pub fn free_bytes(&self) -> Option<u64> {
        let st = rustix::fs::statvfs(&self.root).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_file_names_are_checked() {
        assert!(Digest::parse(&"a".repeat(64)).is_some());
        assert!(Digest::parse(&"A".repeat(64)).is_none());
        assert!(Digest::parse("../etc/passwd").is_none());
        assert!(is_plain_file_name("InstallAssistant.pkg"));
        assert!(!is_plain_file_name(".."));
        assert!(!is_plain_file_name("a/b"));
        assert!(!is_plain_file_name(""));
    }

    #[test]
    fn a_staged_copy_resumes_and_publishes_by_rename() {
        let dir = tempfile::tempdir().unwrap();
        let files = PayloadFiles::open(&dir.path().join("cache")).unwrap();
        let source = dir.path().join("in.bin");
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        std::fs::write(&source, &data).unwrap();
        let staged = files.staging_path("x");
        std::fs::write(&staged, &data[..30_000]).unwrap();
        files.stage_copy(&source, &staged).unwrap();
        let (digest, size) = PayloadFiles::verify(&staged, &Expectation::default()).unwrap();
        assert_eq!(size, 100_000);
        let published = files.publish(&staged, &digest).unwrap();
        assert_eq!(std::fs::read(published).unwrap(), data);
        assert!(!staged.exists());
    }
}
