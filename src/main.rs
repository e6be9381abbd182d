use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use orchard::admin::Role;
use orchard::cli::admin::{AdminCommand, PasswordInput};
use orchard::clock::{Clock, SharedClock, SystemClock};
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
        command: EnrollmentCommand,
    },
    /// Manage administrator accounts (changes are audited as `cli`).
    Admin {
        #[command(subcommand)]
        command: AdminCli,
    },
    /// Bearer tokens for the JSON API (/api/v1).
    ApiToken {
        #[command(subcommand)]
        command: orchard::cli::api_token::ApiTokenCommand,
    },
    /// The APNs push certificate that lets Orchard wake devices.
    Apns {
        #[command(subcommand)]
        command: ApnsCommand,
    },
    /// The update catalog (Apple's gdmf catalog and the SOFA feeds).
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Update policies, groups and deployment rings (changes are audited as `cli`).
    Policy {
        #[command(subcommand)]
        command: orchard::cli::policy::PolicyCommand,
    },
    /// The payload cache: macOS installers and restore images hosted by this appliance.
    Cache {
        #[command(subcommand)]
        command: orchard::cli::cache::CacheCommand,
    },
    /// Signed offline bundles (payloads and catalog) for air-gapped sites.
    Bundle {
        #[command(subcommand)]
        command: orchard::cli::bundle::BundleCommand,
    },
}

#[derive(Subcommand)]
enum EnrollmentCommand {
    /// Enrollment tokens (required in profile links when enrollment.require_token is set).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
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

#[derive(Subcommand)]
enum AdminCli {
    /// Create an account. The password is read from --password-file, else from standard input.
    Create {
        #[arg(long)]
        username: String,
        /// admin, manager or viewer.
        #[arg(long, value_parser = parse_role)]
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

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: orchard::admin::role::UnknownRole| e.to_string())
}

impl From<AdminCli> for AdminCommand {
    fn from(c: AdminCli) -> AdminCommand {
        match c {
            AdminCli::Create {
                username,
                role,
                password_file,
            } => AdminCommand::Create {
                username,
                role,
                password_file,
            },
            AdminCli::List => AdminCommand::List,
            AdminCli::ResetPassword {
                username,
                password_file,
            } => AdminCommand::ResetPassword {
                username,
                password_file,
            },
            AdminCli::Disable { username } => AdminCommand::Disable { username },
            AdminCli::Enable { username } => AdminCommand::Enable { username },
        }
    }
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
        Command::Enrollment {
            command: EnrollmentCommand::Token { command },
        } => {
            // The appliance's services (push among them) are built on a runtime.
            let runtime = runtime()?;
            let _entered = runtime.enter();
            token_command(config, command)
        }
        Command::Apns { command } => apns_command(&config, command),
        Command::Catalog { command } => {
            init_logging(&config);
            let runtime = runtime()?;
            let _entered = runtime.enter();
            catalog_command(config, command, &runtime)
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
        Command::Admin { command } => runtime()?.block_on(admin(config, command.into())),
        Command::ApiToken { command } => {
            Ok(runtime()?.block_on(orchard::cli::api_token::main(&config, command))?)
        }
        Command::Policy { command } => Ok(runtime()?.block_on(orchard::cli::policy::main(config, command))?),
        Command::Cache { command } => Ok(orchard::cli::cache::main(config, command)?),
        Command::Bundle { command } => Ok(orchard::cli::bundle::main(config, command)?),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let clock: SharedClock = Arc::new(SystemClock);
    let store = orchard::app::open_store(&config, &clock)?;
    let admins = orchard::admin::Admins::new(store, clock, &config.security);
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut input = stdin.lock();
    let input = PasswordInput {
        input: &mut input,
        terminal,
    };
    orchard::cli::admin::run(&admins, command, input, &mut std::io::stdout()).await?;
    Ok(())
}

fn open_store(config: &Config) -> anyhow::Result<orchard::store::Store> {
    let clock: SharedClock = Arc::new(SystemClock);
    Ok(orchard::app::open_store(config, &clock)?)
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

fn catalog_command(
    config: Config,
    command: CatalogCommand,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
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
    // Held until the process exits: `restore` refuses to run while it is held.
    let _lock = orchard::ops::lock::DataDirLock::for_server(&config.storage.data_dir)?;
    let state = orchard::app::prepare(config, Arc::new(SystemClock))?;
    let server = orchard::app::start(state.clone())?;
    let url = state.public_url(server.https_addr);
    println!("Orchard is listening on {}", server.https_addr);
    println!("  admin:          {url}/");
    println!("  CA fingerprint: SHA-256 {}", state.pki.ca_fingerprint());
    if let Some(link) = state.first_admin_setup_link(server.https_addr).await? {
        println!("  No administrator exists yet. Create the first one with this one-time link");
        println!("  (valid until used or until the next start; also: `orchard admin create`):");
        println!("    {link}");
    }
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

fn token_command(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    use orchard::enrollment::{NewTokenRequest, TokenInfo, TokenState};
    let listen_port = config
        .server
        .listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.port())
        .unwrap_or(8443);
    let state = orchard::app::prepare(config, Arc::new(SystemClock))?;
    let base = state.public_url(std::net::SocketAddr::from(([127, 0, 0, 1], listen_port)));
    let describe = |t: &TokenInfo| {
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
    };
    match command {
        TokenCommand::Create {
            label,
            expires_in_days,
            max_uses,
        } => {
            let (info, secret) = state.enrollment.create_token(NewTokenRequest {
                label,
                valid_for: expires_in_days.map(|d| chrono::Duration::days(i64::from(d))),
                max_uses,
            })?;
            println!("Created enrollment token {} ({})", info.id, info.label);
            println!("  token (shown only now): {secret}");
            println!("  enrollment page:        {base}/enroll?token={secret}");
        }
        TokenCommand::List => {
            let tokens = state.enrollment.list_tokens()?;
            if tokens.is_empty() {
                println!("No enrollment tokens.");
            }
            for t in &tokens {
                println!("{}", describe(t));
            }
        }
        TokenCommand::Revoke { id } => {
            let info = state.enrollment.revoke_token(id)?;
            println!("Revoked: {}", describe(&info));
        }
    }
    Ok(())
}
