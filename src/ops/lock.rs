//! The data directory lock: `serve` holds an exclusive lock on `<data>/orchard.lock` for as
//! long as it runs, and `restore` takes the same lock, so a restore can never replace the
//! database under a running server. The lock is an advisory `flock`, released by the kernel
//! when the process exits, however it exits.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "orchard.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "an Orchard server is running on the data directory {dir}{holder}; stop it first \
         (e.g. `systemctl stop orchard`)"
    )]
    Busy { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
}

/// Held while alive; dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// For `serve`: takes the lock without waiting, creating the data directory (mode 0700) if
    /// needed, and records this process id in the lock file for the message others show.
    pub fn for_server(data_dir: &Path) -> Result<DataDirLock, LockError> {
        Self::acquire(data_dir, true)
    }

    /// For maintenance such as `restore`: takes the lock without waiting and writes nothing.
    pub fn for_maintenance(data_dir: &Path) -> Result<DataDirLock, LockError> {
        Self::acquire(data_dir, false)
    }

    fn acquire(data_dir: &Path, record_pid: bool) -> Result<DataDirLock, LockError> {
        let io = |source| LockError::Io {
            dir: data_dir.to_path_buf(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(data_dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::Busy {
                    dir: data_dir.to_path_buf(),
                    holder: if pid.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {pid})")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        if record_pid {
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
        }
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::for_server(&data).unwrap();
        let err = DataDirLock::for_maintenance(&data).unwrap_err().to_string();
        assert!(err.contains("is running"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        DataDirLock::for_maintenance(&data).unwrap();
    }
}
