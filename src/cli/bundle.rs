//! `orchard bundle export|import`: signed offline bundles for air-gapped sites.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::cache::CacheCliError;
use crate::app::AppState;
use crate::cache::CacheError;
use crate::cache::bundle::Selection;

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write the cached payloads of a platform's versions (or builds), the catalog, and a
    /// manifest signed by this appliance's CA into DIR.
    Export {
        #[arg(long)]
        platform: String,
        /// A version or build; repeat for several.
        #[arg(long = "version", required = true)]
        versions: Vec<String>,
        dir: PathBuf,
    },
    /// Verify and import a bundle from DIR. Resumable; importing twice changes nothing.
    Import {
        dir: PathBuf,
        /// Also accept bundles signed by this CA certificate (PEM), e.g. the connected
        /// appliance's `signer.pem`.
        #[arg(long = "trust")]
        trust: Vec<PathBuf>,
    },
}

fn read_cert_der(path: &PathBuf) -> Result<Vec<u8>, CacheCliError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let text = std::fs::read(path).map_err(|e| CacheCliError::Usage(format!("{}: {e}", path.display())))?;
    CertificateDer::from_pem_slice(&text)
        .map(|c| c.to_vec())
        .map_err(|e| CacheCliError::Usage(format!("{}: not a PEM certificate ({e})", path.display())))
}

pub async fn run(state: &AppState, command: BundleCommand, out: &mut dyn Write) -> Result<(), CacheCliError> {
    match command {
        BundleCommand::Export {
            platform,
            versions,
            dir,
        } => {
            let (cache, catalog, pki) = (state.cache.clone(), state.catalog.clone(), state.pki.clone());
            let now = state.clock.now();
            let target = dir.clone();
            let manifest = tokio::task::spawn_blocking(move || {
                let selection = Selection { platform, versions };
                cache.export_bundle(&target, &selection, &catalog, &pki, now)
            })
            .await
            .map_err(|e| CacheCliError::Usage(e.to_string()))??;
            let _ = writeln!(
                out,
                "wrote {}: {} payload(s), {} catalog document(s), signed by CA {}",
                dir.display(),
                manifest.payloads.len(),
                manifest.catalog.len(),
                state.pki.ca_fingerprint()
            );
        }
        BundleCommand::Import { dir, trust } => {
            let mut trusted = vec![state.pki.ca_cert_der.clone()];
            for path in &trust {
                trusted.push(read_cert_der(path)?);
            }
            let report = state
                .cache
                .import_bundle(&dir, &trusted, &state.catalog)
                .await
                .map_err(|e| match e {
                    CacheError::Bundle(m) => {
                        CacheCliError::Usage(format!("bundle refused, nothing imported: {m}"))
                    }
                    e => CacheCliError::Cache(e),
                })?;
            let _ = writeln!(
                out,
                "imported {} payload(s) ({} already present), {} catalog document(s)",
                report.published.len(),
                report.already_present.len(),
                report.catalog_documents
            );
        }
    }
    Ok(())
}

/// `orchard bundle ...` from `main`.
pub fn main(config: crate::config::Config, command: BundleCommand) -> Result<(), CacheCliError> {
    let (runtime, state) = super::cache::open_appliance(config)?;
    runtime.block_on(run(&state, command, &mut std::io::stdout()))
}
