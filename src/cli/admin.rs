//! `orchard admin create|list|reset-password|disable|enable`. Changes are audited with the actor
//! `cli`. Passwords come from `--password-file` or standard input, never from the command line.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::admin::{Actor, Admin, AdminError, Admins, Role};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Start(#[from] crate::app::StartError),
    #[error("{0}")]
    Admin(#[from] AdminError),
    #[error("cannot read the password from {origin}: {source}")]
    ReadPassword { origin: String, source: std::io::Error },
    #[error("no password given: pass --password-file or write it to standard input")]
    NoPassword,
    #[error("the two passwords differ; nothing was changed")]
    Mismatch,
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum AdminCommand {
    /// Create an account. The password is read from --password-file, else from standard input.
    Create {
        #[arg(long)]
        username: String,
        /// admin, manager or viewer.
        #[arg(long, value_parser = super::parse_role)]
        role: Role,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List the accounts.
    List,
    /// Set a new password (from --password-file, else standard input) and end the account's sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Disable an account and end its sessions.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled account.
    Enable {
        #[arg(long)]
        username: String,
    },
}

/// Where a password comes from when no file is named: standard input, and whether it is a
/// terminal (then the operator is prompted twice, with echo off).
pub struct PasswordInput<'a> {
    pub input: &'a mut dyn BufRead,
    pub terminal: bool,
}

/// `orchard admin ...` with the configured data directory; passwords from standard input when
/// no file is named.
pub async fn main(config: &Config, command: AdminCommand) -> Result<(), CliError> {
    use std::io::IsTerminal;
    let clock: SharedClock = Arc::new(SystemClock);
    let store = crate::app::open_store(config, &clock)?;
    let admins = Admins::new(store, clock, &config.security);
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut input = stdin.lock();
    let input = PasswordInput {
        input: &mut input,
        terminal,
    };
    run(&admins, command, input, &mut std::io::stdout()).await
}

/// Runs one admin command and writes its report to `out`.
pub async fn run(
    admins: &Admins,
    command: AdminCommand,
    stdin: PasswordInput<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let actor = Actor::cli();
    match command {
        AdminCommand::Create {
            username,
            role,
            password_file,
        } => {
            let password = read_password(password_file.as_deref(), stdin, &username)?;
            let admin = admins.create(&actor, &username, role, password).await?;
            writeln!(out, "created {} ({})", admin.username, admin.role).map_err(CliError::Output)
        }
        AdminCommand::List => {
            let list = admins.list().await?;
            out.write_all(format_list(&list).as_bytes())
                .map_err(CliError::Output)
        }
        AdminCommand::ResetPassword {
            username,
            password_file,
        } => {
            let admin = admins.find(&username).await?;
            let password = read_password(password_file.as_deref(), stdin, &admin.username)?;
            admins.reset_password(&actor, &admin.username, password).await?;
            writeln!(
                out,
                "password of {} changed; its sessions were ended",
                admin.username
            )
            .map_err(CliError::Output)
        }
        AdminCommand::Disable { username } => {
            let admin = admins.set_disabled(&actor, &username, true).await?;
            writeln!(out, "disabled {}; its sessions were ended", admin.username).map_err(CliError::Output)
        }
        AdminCommand::Enable { username } => {
            let admin = admins.set_disabled(&actor, &username, false).await?;
            writeln!(out, "enabled {}", admin.username).map_err(CliError::Output)
        }
    }
}

/// A fixed-width table: username, role, status, last login.
pub fn format_list(admins: &[Admin]) -> String {
    let width = admins.iter().map(|a| a.username.len()).max().unwrap_or(8).max(8);
    let mut text = format!(
        "{:<width$}  {:<7}  {:<8}  LAST LOGIN\n",
        "USERNAME", "ROLE", "STATUS"
    );
    for a in admins {
        let status = if a.disabled { "disabled" } else { "active" };
        let last = a
            .last_login_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never".into());
        text.push_str(&format!(
            "{:<width$}  {:<7}  {:<8}  {last}\n",
            a.username,
            a.role.as_str(),
            status
        ));
    }
    if admins.is_empty() {
        text.push_str("(no accounts: run `orchard admin create` or open the setup link)\n");
    }
    text
}

fn read_password(file: Option<&Path>, stdin: PasswordInput<'_>, username: &str) -> Result<String, CliError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::ReadPassword {
            origin: path.display().to_string(),
            source,
        })?;
        return first_line(&text).ok_or(CliError::NoPassword);
    }
    let read_line = |input: &mut dyn BufRead| {
        let mut line = String::new();
        input
            .read_line(&mut line)
            .map_err(|source| CliError::ReadPassword {
                origin: "standard input".into(),
                source,
            })?;
        first_line(&line).ok_or(CliError::NoPassword)
    };
    if !stdin.terminal {
        return read_line(stdin.input);
    }
    let _echo = EchoOff::new();
    eprint!("New password for {username}: ");
    let first = read_line(stdin.input)?;
    eprint!("\nRepeat it: ");
    let second = read_line(stdin.input)?;
    eprintln!();
    if first != second {
        return Err(CliError::Mismatch);
    }
    Ok(first)
}

/// The first line without its line ending; `None` when empty.
fn first_line(text: &str) -> Option<String> {
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    (!line.is_empty()).then(|| line.to_string())
}

/// Turns terminal echo off for as long as it lives (through `stty`, on the controlling terminal).
struct EchoOff;

impl EchoOff {
    fn new() -> EchoOff {
        let _ = std::process::Command::new("stty").arg("-echo").status();
        EchoOff
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = std::process::Command::new("stty").arg("echo").status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_drops_line_endings_and_refuses_empty() {
        assert_eq!(first_line("pass word\r\nrest").as_deref(), Some("pass word"));
        assert_eq!(first_line("\n"), None);
        assert_eq!(first_line(""), None);
    }
}
