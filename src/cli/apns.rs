//! `orchard apns import|show`: the APNs push certificate, over the store and the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, Secret};
use crate::push::import::{self, ImportSource};
use crate::push::{ExpiryStatus, PushError};

#[derive(Debug, thiserror::Error)]
pub enum ApnsCliError {
    #[error("{0}")]
    Start(#[from] crate::app::StartError),
    #[error("{0}")]
    Push(#[from] PushError),
    #[error("the push certificate was not imported")]
    NotImported(#[source] PushError),
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the password")]
    ReadPassword(#[source] std::io::Error),
    #[error("{what}")]
    NotText {
        what: &'static str,
        #[source]
        source: std::string::FromUtf8Error,
    },
    #[error("give --p12 FILE, or --cert PEM and --key PEM")]
    NoSource,
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApnsCommand {
    /// Import the MDM push certificate from identity.apple.com (.p12, or PEM certificate + key).
    Import(ApnsImportArgs),
    /// Show the imported push certificate, its topic and its expiry.
    Show,
}

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["p12", "cert"])))]
pub struct ApnsImportArgs {
    /// PKCS#12 file (.p12) holding the certificate and its private key.
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    pub p12: Option<PathBuf>,
    /// File holding the .p12 password (`-` reads it from standard input). Default: no password.
    #[arg(long, requires = "p12")]
    pub password_file: Option<PathBuf>,
    /// PEM certificate.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key, unencrypted.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Replace a certificate of another topic, although every enrolled device would be orphaned.
    #[arg(long)]
    pub force: bool,
}

/// `orchard apns ...` against the configured appliance, reporting on stdout.
pub fn main(config: &Config, command: ApnsCommand) -> Result<(), ApnsCliError> {
    let clock: SharedClock = Arc::new(SystemClock);
    let store = crate::app::open_store(config, &clock)?;
    let now = clock.now();
    let out = &mut std::io::stdout();
    match command {
        ApnsCommand::Show => match import::current_blocking(&store)? {
            None => writeln!(
                out,
                "No APNs push certificate is imported (orchard apns import --help)."
            )?,
            Some(info) => {
                let status = ExpiryStatus::new(&info, now);
                writeln!(out, "topic:       {}", info.topic)?;
                writeln!(out, "subject:     {}", info.subject)?;
                writeln!(out, "issuer:      {}", info.issuer)?;
                writeln!(out, "serial:      {}", info.serial)?;
                writeln!(out, "valid from:  {}", info.not_before.to_rfc3339())?;
                writeln!(out, "valid until: {}", info.not_after.to_rfc3339())?;
                writeln!(out, "fingerprint: SHA-256 {}", info.fingerprint)?;
                writeln!(out, "{}", status.message())?;
            }
        },
        ApnsCommand::Import(args) => {
            let source = source(&args)?;
            let report = import::import_blocking(&store, &config.storage.data_dir, &source, now, args.force)
                .map_err(ApnsCliError::NotImported)?;
            let info = &report.installed;
            writeln!(out, "Imported the APNs push certificate.")?;
            writeln!(out, "  topic:       {}", info.topic)?;
            writeln!(out, "  valid until: {}", info.not_after.to_rfc3339())?;
            writeln!(out, "  fingerprint: SHA-256 {}", info.fingerprint)?;
            if let Some(old) = &report.replaced {
                writeln!(
                    out,
                    "  replaced:    the certificate valid until {}",
                    old.not_after.to_rfc3339()
                )?;
            }
            if report.expiry.level.needs_attention() {
                writeln!(out, "{}", report.expiry.message())?;
            }
            writeln!(
                out,
                "A running Orchard uses it after a restart (systemctl restart orchard)."
            )?;
        }
    }
    Ok(())
}

/// The certificate and key the arguments name, read from their files.
fn source(args: &ApnsImportArgs) -> Result<ImportSource, ApnsCliError> {
    match (&args.p12, &args.cert, &args.key) {
        (Some(p12), _, _) => {
            let password = match &args.password_file {
                None => String::new(),
                Some(p) if p.as_os_str() == "-" => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(ApnsCliError::ReadPassword)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
                Some(p) => text(p, "the password file is not UTF-8")?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            };
            Ok(ImportSource::Pkcs12 {
                data: read_file(p12)?,
                password: Secret::new(password),
            })
        }
        (None, Some(cert), Some(key)) => Ok(ImportSource::Pem {
            certificate: text(cert, "the certificate is not PEM text")?,
            key: text(key, "the key is not PEM text")?,
        }),
        _ => Err(ApnsCliError::NoSource),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, ApnsCliError> {
    std::fs::read(path).map_err(|source| ApnsCliError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn text(path: &Path, not_text: &'static str) -> Result<String, ApnsCliError> {
    String::from_utf8(read_file(path)?).map_err(|source| ApnsCliError::NotText {
        what: not_text,
        source,
    })
}
