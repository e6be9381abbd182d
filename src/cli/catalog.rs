//! `orchard catalog import|export|refresh|status`: the update catalog, over the store and the
//! catalog service alone (no CA is loaded, no certificate issued, no other service built).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::catalog::import::ImportProgress;
use crate::catalog::{CatalogError, CatalogService};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum CatalogCliError {
    #[error("{0}")]
    Start(#[from] crate::app::StartError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("import refused; the catalog is unchanged")]
    ImportRefused(#[source] CatalogError),
    #[error("{0} source(s) failed; the last good copies are kept")]
    SourcesFailed(usize),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum CatalogCommand {
    /// Import gdmf and SOFA documents from files (kind detected by content). All or nothing.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write the current documents into DIR.
    Export { dir: PathBuf },
    /// Fetch now from Apple and SOFA.
    Refresh,
    /// Show the loaded documents and the catalog health.
    Status,
}

/// `orchard catalog ...` against the configured appliance: progress on stderr, the report on stdout.
pub fn main(config: &Config, command: CatalogCommand) -> Result<(), CatalogCliError> {
    let clock: SharedClock = Arc::new(SystemClock);
    let store = crate::app::open_store(config, &clock)?;
    let catalog = CatalogService::load(store, clock, config.catalog.clone())?;
    run(&catalog, command, &mut std::io::stdout())
}

/// Runs one catalog command and writes its report to `out`.
pub fn run(
    catalog: &CatalogService,
    command: CatalogCommand,
    out: &mut dyn Write,
) -> Result<(), CatalogCliError> {
    match command {
        CatalogCommand::Import { files } => {
            let imported = catalog
                .import_files(&files, &mut progress)
                .map_err(CatalogCliError::ImportRefused)?;
            for i in imported {
                let what = if i.changed { "imported" } else { "unchanged" };
                writeln!(out, "{what}: {} -> {}", i.name, i.kind.slot())?;
            }
        }
        CatalogCommand::Export { dir } => {
            for path in catalog.export(&dir)? {
                writeln!(out, "{}", path.display())?;
            }
        }
        CatalogCommand::Refresh => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(CatalogCliError::Runtime)?;
            let mut failed = 0;
            for o in runtime.block_on(catalog.refresh())? {
                match &o.error {
                    Some(e) => {
                        failed += 1;
                        writeln!(out, "failed: {} ({e})", o.source)?;
                    }
                    None => writeln!(out, "{}: {}", o.result, o.source)?,
                }
            }
            if failed > 0 {
                return Err(CatalogCliError::SourcesFailed(failed));
            }
        }
        CatalogCommand::Status => {
            let snapshot = catalog.snapshot();
            for doc in snapshot.documents.values() {
                writeln!(
                    out,
                    "{:<32} {} bytes, received {} from {}",
                    doc.kind.slot(),
                    doc.body.len(),
                    doc.received_at.to_rfc3339(),
                    doc.source
                )?;
            }
            let health = catalog.health();
            writeln!(out, "catalog loaded: {}", health.has_catalog)?;
            for f in &health.failures {
                writeln!(out, "ALERT: {} failed at {}: {}", f.source, f.at, f.error)?;
            }
        }
    }
    Ok(())
}

/// Import progress on stderr.
fn progress(p: ImportProgress) {
    match p {
        ImportProgress::Reading { name, done, total } => {
            let pct = (done * 100).checked_div(total).unwrap_or(100);
            eprint!("\rreading {name}: {pct:>3}%");
            if done >= total {
                eprintln!();
            }
        }
        ImportProgress::Validated { name, kind } => eprintln!("valid: {name} ({})", kind.describe()),
        ImportProgress::Saved { count } => eprintln!("saved {count} document(s)"),
    }
}
