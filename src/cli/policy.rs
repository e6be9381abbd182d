//! `orchard policy load-defaults`: creates the four default ring groups and their policies, once.
//! Audited as `cli`.

use std::io::Write;
use std::sync::Arc;

use crate::admin::Actor;
use crate::catalog::{CatalogError, CatalogService};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::policy::service::DefaultsOutcome;
use crate::policy::{PolicyError, PolicyService};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum PolicyCommand {
    /// Create the default deployment rings (Vanguard, Early Adopter, General Adoption, Late
    /// Adoption) with their iOS and macOS policies. Running it again creates nothing new.
    LoadDefaults,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyCliError {
    #[error("{0}")]
    Start(#[from] crate::app::StartError),
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Policy(#[from] PolicyError),
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

/// The policy service over the appliance's database (the server may be running: SQLite is shared).
pub fn service(config: &Config, clock: SharedClock) -> Result<PolicyService, PolicyCliError> {
    let store = crate::app::open_store(config, &clock)?;
    let catalog = Arc::new(CatalogService::load(
        store.clone(),
        clock.clone(),
        config.catalog.clone(),
    )?);
    Ok(PolicyService::new(store, clock, catalog, &config.policy)?)
}

/// `orchard policy ...`: runs the command against the configured appliance, reporting on stdout.
pub async fn main(config: Config, command: PolicyCommand) -> Result<(), PolicyCliError> {
    let service = service(&config, Arc::new(crate::clock::SystemClock))?;
    run(&service, command, &mut std::io::stdout()).await
}

/// Runs one policy command and writes its report to `out`.
pub async fn run(
    service: &PolicyService,
    command: PolicyCommand,
    out: &mut dyn Write,
) -> Result<(), PolicyCliError> {
    match command {
        PolicyCommand::LoadDefaults => {
            let outcome = service.load_default_rings(&Actor::cli()).await?;
            report(&outcome, out).map_err(PolicyCliError::Output)
        }
    }
}

fn report(outcome: &DefaultsOutcome, out: &mut dyn Write) -> std::io::Result<()> {
    if outcome.created.is_empty() {
        writeln!(
            out,
            "The default rings already exist ({}); nothing was created.",
            outcome.already_present.join(", ")
        )?;
        return Ok(());
    }
    for item in &outcome.created {
        writeln!(out, "created {item}")?;
    }
    if !outcome.already_present.is_empty() {
        writeln!(out, "already present: {}", outcome.already_present.join(", "))?;
    }
    Ok(())
}
