use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use orchard::clock::SystemClock;
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
        .with_target(false);
    let _ = builder.try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orchard: {e:#}");
            ExitCode::FAILURE
        }
    }
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
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve(config))
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let state = orchard::app::prepare(config, Arc::new(SystemClock))?;
    let server = orchard::app::start(state.clone())?;
    let url = state.public_url(server.https_addr);
    println!("Orchard is listening on {}", server.https_addr);
    println!("  admin:          {url}/");
    println!("  CA fingerprint: SHA-256 {}", state.pki.ca_fingerprint());
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    server.task.await.context("server task failed")??;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    Ok(())
}
