//! `orchard api-token create|list|revoke`: bearer tokens for the JSON API. The token is printed
//! once, on creation; only its hash is stored. Changes are audited with the actor `cli`.

use std::io::Write;
use std::sync::Arc;

use crate::admin::{Actor, AdminError, ApiAccess, ApiToken, Role};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum ApiTokenCliError {
    #[error("{0}")]
    Admin(#[from] AdminError),
    #[error("{0}")]
    Start(#[from] crate::app::StartError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error("no API token named {0:?}")]
    Unknown(String),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token and print it (once: only its hash is kept).
    Create {
        /// admin, manager or viewer (the UI's roles).
        #[arg(long, value_parser = super::parse_role)]
        role: Role,
        /// A name to recognise it by (default: `token-<date>-<n>`); changes made with the token
        /// are audited as `token:<name>`.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token by name: it stops working at once.
    Revoke { name: String },
}

fn format_list(tokens: &[ApiToken]) -> String {
    let mut out = format!(
        "{:<6} {:<32} {:<8} {:<10} {:<20}\n",
        "ID", "NAME", "ROLE", "STATE", "LAST USED"
    );
    for t in tokens {
        out.push_str(&format!(
            "{:<6} {:<32} {:<8} {:<10} {:<20}\n",
            t.id,
            t.name,
            t.role.as_str(),
            if t.active() { "active" } else { "revoked" },
            t.last_used_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
        ));
    }
    out
}

/// Runs one command against `access`, writing its report to `out`.
pub async fn run(
    access: &ApiAccess,
    command: ApiTokenCommand,
    out: &mut dyn Write,
) -> Result<(), ApiTokenCliError> {
    let actor = Actor::cli();
    match command {
        ApiTokenCommand::Create { role, name } => {
            let name = match name {
                Some(name) => name,
                None => {
                    let existing = access.list_tokens().await?.len();
                    format!("token-{}-{}", access.now().format("%Y%m%d"), existing + 1)
                }
            };
            let (token, secret) = access.create_token(&actor, &name, role).await?;
            writeln!(out, "{secret}")?;
            writeln!(
                out,
                "# API token {:?} ({}): shown once, only its hash is kept. Use it as `Authorization: Bearer <token>`.",
                token.name, token.role
            )?;
        }
        ApiTokenCommand::List => out.write_all(format_list(&access.list_tokens().await?).as_bytes())?,
        ApiTokenCommand::Revoke { name } => {
            let token = access
                .list_tokens()
                .await?
                .into_iter()
                .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
                .ok_or(ApiTokenCliError::Unknown(name))?;
            let token = access.revoke_token(&actor, token.id).await?;
            writeln!(out, "revoked {}", token.name)?;
        }
    }
    Ok(())
}

/// `orchard api-token ...` with the configured data directory.
pub async fn main(config: &Config, command: ApiTokenCommand) -> Result<(), ApiTokenCliError> {
    let clock: SharedClock = Arc::new(SystemClock);
    let store = crate::app::open_store(config, &clock)?;
    run(&ApiAccess::new(store, clock), command, &mut std::io::stdout()).await
}
