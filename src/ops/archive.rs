//! The backup file format: a POSIX tar archive whose first member is a JSON manifest
//! (`orchard-backup.json`) naming the format, the Orchard and schema versions, the CA
//! fingerprint and the SHA-256 of every other member. `tar tf` lists it; nothing else is needed
//! to inspect it.
//!
//! Reading is strict: the manifest must come first, every member must be listed in it with
//! the right size and digest, and only the database and files under `pki/` are accepted, as
//! plain relative paths (no `..`, no links), so a hostile archive cannot write outside the
//! staging directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST_NAME: &str = "orchard-backup.json";
pub const FORMAT: &str = "orchard-backup";
pub const FORMAT_VERSION: u32 = 1;
pub const DATABASE_MEMBER: &str = "orchard.db";
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub created_at: String,
    pub orchard_version: String,
    pub schema_version: i64,
    pub ca_fingerprint: String,
    pub files: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file is not an Orchard backup at all.
    #[error("{0}")]
    NotABackup(String),
    /// It is one, but damaged or inconsistent.
    #[error("{0}")]
    Damaged(String),
    #[error("it was written by a newer Orchard (backup format {0}, this binary reads {FORMAT_VERSION})")]
    NewerFormat(u32),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Whether `path` is a member name a backup may contain.
pub fn is_allowed_member(path: &str) -> bool {
    if path == DATABASE_MEMBER {
        return true;
    }
    let Some(rest) = path.strip_prefix("pki/") else {
        return false;
    };
    !rest.is_empty()
        && rest.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// SHA-256 and size of a file.
pub fn digest_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn header(path: &str, size: u64, mode: u32, mtime: u64) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

/// Writes the archive to `out`: the manifest, then each `(member name, source file)`.
/// The sources must match the sizes and digests in the manifest.
pub fn write<W: Write>(
    out: W,
    manifest: &Manifest,
    sources: &[(String, std::path::PathBuf)],
    mtime: u64,
) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    builder.append(
        &header(MANIFEST_NAME, json.len() as u64, 0o600, mtime)?,
        json.as_slice(),
    )?;
    for (name, source) in sources {
        let file = File::open(source)?;
        let size = file.metadata()?.len();
        let mode = if name.ends_with(".crt.pem") { 0o644 } else { 0o600 };
        builder.append(&header(name, size, mode, mtime)?, file)?;
    }
    builder.into_inner()
}

/// Reads only the manifest, checking that the file is an Orchard backup this binary can read.
fn read_manifest<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Manifest, ArchiveError> {
    let not_backup = |why: &str| ArchiveError::NotABackup(why.to_string());
    let name = entry
        .path()
        .map_err(|_| not_backup("its first member has no readable name"))?
        .to_string_lossy()
        .into_owned();
    if name != MANIFEST_NAME {
        return Err(ArchiveError::NotABackup(format!(
            "its first member is `{name}`, not `{MANIFEST_NAME}`"
        )));
    }
    if entry.header().size().unwrap_or(u64::MAX) > MAX_MANIFEST_BYTES {
        return Err(not_backup("its manifest is implausibly large"));
    }
    let mut text = Vec::new();
    entry
        .take(MAX_MANIFEST_BYTES)
        .read_to_end(&mut text)
        .map_err(|_| not_backup("its manifest cannot be read"))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| ArchiveError::NotABackup(format!("its manifest is not valid: {e}")))?;
    if manifest.format != FORMAT {
        return Err(ArchiveError::NotABackup(format!(
            "its manifest names the format `{}`",
            manifest.format
        )));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(ArchiveError::NewerFormat(manifest.format_version));
    }
    Ok(manifest)
}

/// Extracts a backup into `staging` (an empty directory), verifying every member against the
/// manifest. Nothing is written outside `staging`.
pub fn extract<R: Read>(input: R, staging: &Path) -> Result<Manifest, ArchiveError> {
    let mut archive = tar::Archive::new(input);
    let mut entries = archive
        .entries()
        .map_err(|e| ArchiveError::NotABackup(format!("it is not a tar archive ({e})")))?;
    let manifest = match entries.next() {
        Some(Ok(mut first)) => read_manifest(&mut first)?,
        Some(Err(e)) => {
            return Err(ArchiveError::NotABackup(format!("it is not a tar archive ({e})")));
        }
        None => return Err(ArchiveError::NotABackup("it is empty".into())),
    };
    for member in &manifest.files {
        if !is_allowed_member(&member.path) {
            return Err(ArchiveError::Damaged(format!(
                "its manifest lists `{}`, which a backup may not contain",
                member.path
            )));
        }
    }
    let mut seen: Vec<String> = Vec::new();
    for entry in entries {
        let mut entry =
            entry.map_err(|e| ArchiveError::Damaged(format!("it is truncated or corrupt ({e})")))?;
        let name = entry
            .path()
            .map_err(|e| ArchiveError::Damaged(format!("a member name is unreadable ({e})")))?
            .to_string_lossy()
            .into_owned();
        let Some(expected) = manifest.files.iter().find(|m| m.path == name) else {
            return Err(ArchiveError::Damaged(format!(
                "it holds `{name}`, which its manifest does not list"
            )));
        };
        if seen.contains(&name) || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(ArchiveError::Damaged(format!(
                "`{name}` is duplicated or not a plain file"
            )));
        }
        let (size, sha256) = write_member(&mut entry, &staging.join(&name))?;
        if size != expected.size || sha256 != expected.sha256 {
            return Err(ArchiveError::Damaged(format!(
                "`{name}` does not match its checksum in the manifest"
            )));
        }
        seen.push(name);
    }
    for member in &manifest.files {
        if !seen.contains(&member.path) {
            return Err(ArchiveError::Damaged(format!(
                "`{}` is listed in its manifest but missing (truncated file?)",
                member.path
            )));
        }
    }
    Ok(manifest)
}

fn write_member<R: Read>(input: &mut R, dest: &Path) -> Result<(u64, String), ArchiveError> {
    if let Some(parent) = dest.parent() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(parent)?;
    }
    let is_public = dest.to_string_lossy().ends_with(".crt.pem");
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if is_public { 0o644 } else { 0o600 })
        .open(dest)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| ArchiveError::Damaged(format!("it is truncated or corrupt ({e})")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    out.sync_all()?;
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_database_and_plain_pki_paths_are_members() {
        assert!(is_allowed_member("orchard.db"));
        assert!(is_allowed_member("pki/ca.key.pem"));
        assert!(is_allowed_member("pki/push/cert.pem"));
        for bad in [
            "../x",
            "pki/../orchard.db",
            "pki/",
            "/etc/passwd",
            "pki//a",
            "other.db",
            "pki/a b",
        ] {
            assert!(!is_allowed_member(bad), "{bad}");
        }
    }

    #[test]
    fn member_not_in_the_manifest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            created_at: "now".into(),
            orchard_version: "0".into(),
            schema_version: 1,
            ca_fingerprint: String::new(),
            files: vec![],
        };
        let extra = dir.path().join("extra");
        std::fs::write(&extra, b"sneaky").unwrap();
        let bytes = write(Vec::new(), &manifest, &[("pki/ca.key.pem".into(), extra)], 0).unwrap();
        let staging = dir.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        let err = extract(bytes.as_slice(), &staging).unwrap_err();
        assert!(matches!(err, ArchiveError::Damaged(_)), "{err}");
    }
}
