//! `orchard enrollment token create|list|revoke`: enrollment tokens, over the store alone (no CA
//! is loaded and no profile-signing certificate issued). Changes are audited with the actor `cli`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::enrollment::{EnrollmentError, EnrollmentTokens, NewTokenRequest, TokenInfo, TokenState};

#[derive(Debug, thiserror::Error)]
pub enum EnrollmentCliError {
    #[error("{0}")]
    Start(#[from] crate::app::StartError),
    #[error("{0}")]
    Enrollment(#[from] EnrollmentError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum EnrollmentCommand {
    /// Enrollment tokens (required in profile links when enrollment.require_token is set).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret and enrollment link are shown once.
    Create {
        /// What the token is for, e.g. "Library iPads 2026".
        #[arg(long)]
        label: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// How many devices may enroll with it (default: unlimited).
        #[arg(long)]
        max_uses: Option<u32>,
    },
    /// List tokens and their state.
    List,
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

/// `orchard enrollment ...` against the configured appliance, reporting on stdout.
pub fn main(config: &Config, command: EnrollmentCommand) -> Result<(), EnrollmentCliError> {
    let clock: SharedClock = Arc::new(SystemClock);
    let tokens = EnrollmentTokens::new(crate::app::open_store(config, &clock)?, clock);
    let EnrollmentCommand::Token { command } = command;
    run(config, &tokens, command, &mut std::io::stdout())
}

/// Runs one token command and writes its report to `out`.
pub fn run(
    config: &Config,
    tokens: &EnrollmentTokens,
    command: TokenCommand,
    out: &mut dyn Write,
) -> Result<(), EnrollmentCliError> {
    match command {
        TokenCommand::Create {
            label,
            expires_in_days,
            max_uses,
        } => {
            let (info, secret) = tokens.create_token(NewTokenRequest {
                label,
                valid_for: expires_in_days.map(|d| chrono::Duration::days(i64::from(d))),
                max_uses,
            })?;
            let listen_port = config
                .server
                .listen
                .parse::<SocketAddr>()
                .map(|a| a.port())
                .unwrap_or(8443);
            let base = crate::app::public_url(config, SocketAddr::from(([127, 0, 0, 1], listen_port)));
            writeln!(out, "Created enrollment token {} ({})", info.id, info.label)?;
            writeln!(out, "  token (shown only now): {secret}")?;
            writeln!(out, "  enrollment page:        {base}/enroll?token={secret}")?;
        }
        TokenCommand::List => {
            let list = tokens.list_tokens()?;
            if list.is_empty() {
                writeln!(out, "No enrollment tokens.")?;
            }
            for t in &list {
                writeln!(out, "{}", describe(t))?;
            }
        }
        TokenCommand::Revoke { id } => {
            let info = tokens.revoke_token(id)?;
            writeln!(out, "Revoked: {}", describe(&info))?;
        }
    }
    Ok(())
}

fn describe(t: &TokenInfo) -> String {
    let state = match t.state {
        TokenState::Active => "active".to_string(),
        TokenState::Refused(why) => format!("unusable: {why}"),
    };
    let uses = match t.max_uses {
        Some(max) => format!("{}/{max}", t.uses),
        None => format!("{}/unlimited", t.uses),
    };
    let expires = t.expires_at.map_or("never".to_string(), |e| e.to_rfc3339());
    format!(
        "{:>4}  {:<30}  uses {uses:<12}  expires {expires:<25}  {state}",
        t.id, t.label
    )
}
