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
    /// The update catalog (Apple's gdmf catalog and the SOFA feeds).
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
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
        Command::Catalog { command } => {
            init_logging(&config);
            catalog_command(config, command)
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

fn catalog_command(config: Config, command: CatalogCommand) -> anyhow::Result<()> {
    use orchard::catalog::import::ImportProgress;
    let state = orchard::app::prepare(config, Arc::new(SystemClock))?;
    let catalog = &state.catalog;
    match command {
        CatalogCommand::Import { files } => {
            let mut progress = |p: ImportProgress| match p {
                ImportProgress::Reading { name, done, total } => {
                    let pct = (done * 100).checked_div(total).unwrap_or(100);
                    eprint!("\rreading {name}: {pct:>3}%");
                    if done >= total {
                        eprintln!();
                    }
                }
                ImportProgress::Validated { name, kind } => eprintln!("valid: {name} ({})", kind.describe()),
                ImportProgress::Saved { count } => eprintln!("saved {count} document(s)"),
            };
            let imported = catalog
                .import_files(&files, &mut progress)
                .context("import refused; the catalog is unchanged")?;
            for i in imported {
                let what = if i.changed { "imported" } else { "unchanged" };
                println!("{what}: {} -> {}", i.name, i.kind.slot());
            }
        }
        CatalogCommand::Export { dir } => {
            for path in catalog.export(&dir)? {
                println!("{}", path.display());
            }
        }
        CatalogCommand::Refresh => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let outcomes = runtime.block_on(catalog.refresh())?;
            let mut failed = 0;
            for o in outcomes {
                match &o.error {
                    Some(e) => {
                        failed += 1;
                        println!("failed: {} ({e})", o.source);
                    }
                    None => println!("{}: {}", o.result, o.source),
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} source(s) failed; the last good copies are kept");
            }
        }
        CatalogCommand::Status => {
            let snapshot = catalog.snapshot();
            for doc in snapshot.documents.values() {
                println!(
                    "{:<32} {} bytes, received {} from {}",
                    doc.kind.slot(),
                    doc.body.len(),
                    doc.received_at.to_rfc3339(),
                    doc.source
                );
            }
            let health = catalog.health();
            println!("catalog loaded: {}", health.has_catalog);
            for f in &health.failures {
                println!("ALERT: {} failed at {}: {}", f.source, f.at, f.error);
            }
        }
    }
    Ok(())
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
