use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use orchard::cli;
use orchard::config::{self, Config, Layer};

#[derive(Parser)]
#[command(name = "orchard", version, about = "Apple MDM + DDM appliance for OS updates")]
struct Cli {
    /// TOML configuration file (default: /etc/orchard/orchard.toml when present).
    #[arg(long, global = true, env = "ORCHARD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides storage.data_dir).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// HTTPS listen address (overrides server.listen).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Any setting, as section.key=value (TOML value; bare words are strings). Repeatable.
    #[arg(long = "set", global = true, value_name = "SECTION.KEY=VALUE")]
    set: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance.
    Serve,
    /// Ask the local server's /healthz over TLS; exit 0 when healthy, 1 otherwise.
    Healthcheck {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Write a consistent backup (database and keys) to FILE; safe while the server runs.
    Backup { file: PathBuf },
    /// Replace the database and keys with those of a backup. The server must be stopped.
    Restore { file: PathBuf },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Device enrollment: tokens.
    Enrollment {
        #[command(subcommand)]
        command: cli::enrollment::EnrollmentCommand,
    },
    /// Manage administrator accounts (changes are audited as `cli`).
    Admin {
        #[command(subcommand)]
        command: cli::admin::AdminCommand,
    },
    /// Bearer tokens for the JSON API (/api/v1).
    ApiToken {
        #[command(subcommand)]
        command: cli::api_token::ApiTokenCommand,
    },
    /// The APNs push certificate that lets Orchard wake devices.
    Apns {
        #[command(subcommand)]
        command: cli::apns::ApnsCommand,
    },
    /// The update catalog (Apple's gdmf catalog and the SOFA feeds).
    Catalog {
        #[command(subcommand)]
        command: cli::catalog::CatalogCommand,
    },
    /// Update policies, groups and deployment rings (changes are audited as `cli`).
    Policy {
        #[command(subcommand)]
        command: cli::policy::PolicyCommand,
    },
    /// The payload cache: macOS installers and restore images hosted by this appliance.
    Cache {
        #[command(subcommand)]
        command: cli::cache::CacheCommand,
    },
    /// Signed offline bundles (payloads and catalog) for air-gapped sites.
    Bundle {
        #[command(subcommand)]
        command: cli::bundle::BundleCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Show,
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut layers = Vec::new();
    let file = cli.config.clone().or_else(|| {
        let p = PathBuf::from(config::SYSTEM_CONFIG_PATH);
        p.exists().then_some(p)
    });
    if let Some(path) = file {
        layers.push(Layer::from_file(&path)?);
    }
    layers.push(Layer::from_env(std::env::vars())?);
    let mut pairs = Vec::new();
    for item in &cli.set {
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("--set {item}: expected SECTION.KEY=VALUE"))?;
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        pairs.push((key.to_string(), parsed));
    }
    if let Some(dir) = &cli.data_dir {
        pairs.push((
            "storage.data_dir".into(),
            toml::Value::String(dir.display().to_string()),
        ));
    }
    if let Some(listen) = &cli.listen {
        pairs.push(("server.listen".into(), toml::Value::String(listen.clone())));
    }
    layers.push(Layer::from_pairs("the command line", &pairs)?);
    Ok(config::resolve(&layers)?)
}

/// The scheduler crate narrates its own start-up at `info` ("Uninited", "Job creator created");
/// keep it at `warn` unless the configured filter names it.
fn quiet_dependencies(level: &str) -> String {
    if level.contains("tokio_cron_scheduler") {
        level.to_string()
    } else {
        format!("{level},tokio_cron_scheduler=warn")
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(quiet_dependencies(&config.log.level)))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    // Under systemd the journal adds its own timestamps; `json` suits log shippers.
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orchard: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, skipping causes whose text the message already contains
/// (most of our errors name their cause in their own message).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = load_config(&cli)?;
    match cli.command {
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Enrollment { command } => Ok(cli::enrollment::main(&config, command)?),
        Command::Apns { command } => Ok(cli::apns::main(&config, command)?),
        Command::Catalog { command } => {
            init_logging(&config);
            Ok(cli::catalog::main(&config, command)?)
        }
        Command::Serve => {
            init_logging(&config);
            Ok(runtime()?.block_on(cli::serve::serve(config))?)
        }
        Command::Healthcheck { timeout } => Ok(runtime()?.block_on(cli::ops::healthcheck(&config, timeout))?),
        Command::Backup { file } => Ok(cli::ops::backup(&config, &file)?),
        Command::Restore { file } => Ok(cli::ops::restore(&config, &file)?),
        Command::Admin { command } => Ok(runtime()?.block_on(cli::admin::main(&config, command))?),
        Command::ApiToken { command } => Ok(runtime()?.block_on(cli::api_token::main(&config, command))?),
        Command::Policy { command } => Ok(runtime()?.block_on(cli::policy::main(config, command))?),
        Command::Cache { command } => Ok(cli::cache::main(config, command)?),
        Command::Bundle { command } => Ok(cli::bundle::main(config, command)?),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
