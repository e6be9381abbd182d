use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use orchard::clock::{Clock, SystemClock};
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

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
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
        Command::Serve => {
            init_logging(&config);
            runtime()?.block_on(serve(config))
        }
        Command::Healthcheck { timeout } => {
            let url = runtime()?.block_on(orchard::ops::healthcheck::check(
                &config,
                std::time::Duration::from_secs(timeout),
            ))?;
            println!("healthy: {url}");
            Ok(())
        }
        Command::Backup { file } => {
            let summary = orchard::ops::backup::create(&config.storage.data_dir, &file, SystemClock.now())?;
            println!(
                "Wrote {} ({} bytes): database at schema version {}, {} files, CA SHA-256 {}",
                summary.path.display(),
                summary.bytes,
                summary.schema_version,
                summary.files,
                summary.ca_fingerprint
            );
            println!("It holds the CA private key: keep it as safe as the appliance itself.");
            Ok(())
        }
        Command::Restore { file } => {
            let data_dir = &config.storage.data_dir;
            let summary = orchard::ops::backup::restore(&file, data_dir, SystemClock.now())?;
            println!(
                "Restored {} into {}: backup of {}, schema version {}, CA SHA-256 {}",
                file.display(),
                data_dir.display(),
                summary.created_at,
                summary.schema_version,
                summary.ca_fingerprint
            );
            if let Some(previous) = summary.previous {
                println!(
                    "The replaced database and keys were moved to {}",
                    previous.display()
                );
            }
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Held until the process exits: `restore` refuses to run while it is held.
    let _lock = orchard::ops::lock::DataDirLock::for_server(&config.storage.data_dir)?;
    let state = orchard::app::prepare(config, Arc::new(SystemClock))?;
    let server = orchard::app::start(state.clone())?;
    let url = state.public_url(server.https_addr);
    println!("Orchard is listening on {}", server.https_addr);
    println!("  admin:          {url}/");
    println!("  CA fingerprint: SHA-256 {}", state.pki.ca_fingerprint());
    // Signal handlers first, so no signal can arrive between READY=1 and their installation.
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut task = server.task;
    let name = tokio::select! {
        result = &mut task => {
            result.context("server task failed")??;
            return Ok(());
        }
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!("{name} received: finishing in-flight requests, then stopping (graceful shutdown)");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    server.handle.stop(true).await;
    task.await.context("server task failed")??;
    tracing::info!("stopped");
    Ok(())
}
