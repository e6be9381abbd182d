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
    /// The APNs push certificate that lets Orchard wake devices.
    Apns {
        #[command(subcommand)]
        command: ApnsCommand,
    },
}

#[derive(Subcommand)]
enum ApnsCommand {
    /// Import the MDM push certificate from identity.apple.com (.p12, or PEM certificate + key).
    Import(ApnsImportArgs),
    /// Show the imported push certificate, its topic and its expiry.
    Show,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["p12", "cert"])))]
struct ApnsImportArgs {
    /// PKCS#12 file (.p12) holding the certificate and its private key.
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    p12: Option<PathBuf>,
    /// File holding the .p12 password (`-` reads it from standard input). Default: no password.
    #[arg(long, requires = "p12")]
    password_file: Option<PathBuf>,
    /// PEM certificate.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key, unencrypted.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Replace a certificate of another topic, although every enrolled device would be orphaned.
    #[arg(long)]
    force: bool,
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
        Command::Apns { command } => apns_command(&config, command),
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

fn open_store(config: &Config) -> anyhow::Result<orchard::store::Store> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = &config.storage.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let now = chrono::Utc::now().to_rfc3339();
    Ok(orchard::store::Store::open(&config.database_path(), &now)?)
}

fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn apns_command(config: &Config, command: ApnsCommand) -> anyhow::Result<()> {
    use orchard::push::import::{self, ImportSource};
    let store = open_store(config)?;
    let now = chrono::Utc::now();
    match command {
        ApnsCommand::Show => {
            match import::current_blocking(&store)? {
                None => println!("No APNs push certificate is imported (orchard apns import --help)."),
                Some(info) => {
                    let status = orchard::push::ExpiryStatus::new(&info, now);
                    println!("topic:       {}", info.topic);
                    println!("subject:     {}", info.subject);
                    println!("issuer:      {}", info.issuer);
                    println!("serial:      {}", info.serial);
                    println!("valid from:  {}", info.not_before.to_rfc3339());
                    println!("valid until: {}", info.not_after.to_rfc3339());
                    println!("fingerprint: SHA-256 {}", info.fingerprint);
                    println!("{}", status.message());
                }
            }
            Ok(())
        }
        ApnsCommand::Import(args) => {
            let source = match (&args.p12, &args.cert, &args.key) {
                (Some(p12), _, _) => {
                    let password = match &args.password_file {
                        None => String::new(),
                        Some(p) if p.as_os_str() == "-" => {
                            let mut line = String::new();
                            std::io::stdin()
                                .read_line(&mut line)
                                .context("cannot read the password")?;
                            line.trim_end_matches(['\r', '\n']).to_string()
                        }
                        Some(p) => String::from_utf8(read_file(p)?)
                            .context("the password file is not UTF-8")?
                            .trim_end_matches(['\r', '\n'])
                            .to_string(),
                    };
                    ImportSource::Pkcs12 {
                        data: read_file(p12)?,
                        password: orchard::config::Secret::new(password),
                    }
                }
                (None, Some(cert), Some(key)) => ImportSource::Pem {
                    certificate: String::from_utf8(read_file(cert)?)
                        .context("the certificate is not PEM text")?,
                    key: String::from_utf8(read_file(key)?).context("the key is not PEM text")?,
                },
                _ => anyhow::bail!("give --p12 FILE, or --cert PEM and --key PEM"),
            };
            let report = import::import_blocking(&store, &config.storage.data_dir, &source, now, args.force)
                .context("the push certificate was not imported")?;
            let info = &report.installed;
            println!("Imported the APNs push certificate.");
            println!("  topic:       {}", info.topic);
            println!("  valid until: {}", info.not_after.to_rfc3339());
            println!("  fingerprint: SHA-256 {}", info.fingerprint);
            if let Some(old) = &report.replaced {
                println!(
                    "  replaced:    the certificate valid until {}",
                    old.not_after.to_rfc3339()
                );
            }
            if report.expiry.level.needs_attention() {
                println!("{}", report.expiry.message());
            }
            println!("A running Orchard uses it after a restart (systemctl restart orchard).");
            Ok(())
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
