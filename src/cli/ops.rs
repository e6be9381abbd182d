//! `orchard healthcheck`, `orchard backup` and `orchard restore`: the operator's checks and copies
//! of a data directory.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::ops::backup::{self, BackupError};
use crate::ops::healthcheck::{self, HealthError};

#[derive(Debug, thiserror::Error)]
pub enum OpsCliError {
    #[error("{0}")]
    Health(#[from] HealthError),
    #[error("{0}")]
    Backup(#[from] BackupError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Asks the local server's `/healthz` over TLS, waiting `timeout_seconds` at most.
pub async fn healthcheck(config: &Config, timeout_seconds: u64) -> Result<(), OpsCliError> {
    let url = healthcheck::check(config, Duration::from_secs(timeout_seconds)).await?;
    writeln!(std::io::stdout(), "healthy: {url}")?;
    Ok(())
}

/// Writes a consistent backup of the data directory to `file`.
pub fn backup(config: &Config, file: &Path) -> Result<(), OpsCliError> {
    let summary = backup::create(&config.storage.data_dir, file, SystemClock.now())?;
    let out = &mut std::io::stdout();
    writeln!(
        out,
        "Wrote {} ({} bytes): database at schema version {}, {} files, CA SHA-256 {}",
        summary.path.display(),
        summary.bytes,
        summary.schema_version,
        summary.files,
        summary.ca_fingerprint
    )?;
    writeln!(
        out,
        "It holds the CA private key: keep it as safe as the appliance itself."
    )?;
    Ok(())
}

/// Replaces the data directory's database and keys with those of the backup `file`.
pub fn restore(config: &Config, file: &Path) -> Result<(), OpsCliError> {
    let data_dir = &config.storage.data_dir;
    let summary = backup::restore(file, data_dir, SystemClock.now())?;
    let out = &mut std::io::stdout();
    writeln!(
        out,
        "Restored {} into {}: backup of {}, schema version {}, CA SHA-256 {}",
        file.display(),
        data_dir.display(),
        summary.created_at,
        summary.schema_version,
        summary.ca_fingerprint
    )?;
    if let Some(previous) = summary.previous {
        writeln!(
            out,
            "The replaced database and keys were moved to {}",
            previous.display()
        )?;
    }
    Ok(())
}
