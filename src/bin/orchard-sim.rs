//! `orchard-sim`: simulated Apple devices against a running Orchard appliance, over real TLS.
//!
//! - `orchard-sim enroll --url https://mdm.example.org:8443 --ca ca.pem` enrolls one device,
//!   runs its command loop once and writes its identity certificate and key.
//! - `orchard-sim load --devices 1000 --concurrency 64 --ca ca.pem` enrolls a fleet, then sends
//!   signed `Idle` connects and prints throughput and latency percentiles.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use orchard::sim::device::load::{self, FleetSpec, LoadStop};
use orchard::sim::device::{DeviceProfile, Platform, SignatureDigest, SimDevice, https_client};

#[derive(Parser)]
#[command(
    name = "orchard-sim",
    version,
    about = "Simulated Apple devices for an Orchard appliance"
)]
struct Cli {
    /// The appliance's base URL.
    #[arg(long, global = true, default_value = "https://localhost:8443")]
    url: String,
    /// The appliance CA to trust (PEM; `<data>/pki/ca.pem` on the appliance, or `/ca.pem`).
    #[arg(long, global = true, default_value = "ca.pem")]
    ca: PathBuf,
    /// An enrollment token, when the appliance requires one.
    #[arg(long, global = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll one device, answer the commands queued for it, and print what it is.
    Enroll {
        /// iphone, ipad, appletv, mac or intel-mac.
        #[arg(long, default_value = "iphone")]
        platform: String,
        /// OS version to report (with --build).
        #[arg(long, requires = "build")]
        os_version: Option<String>,
        #[arg(long)]
        build: Option<String>,
        /// Sign with SHA-1 digests, as older devices do.
        #[arg(long)]
        sha1: bool,
        /// Where to write the identity certificate and key.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Enroll a fleet, then measure signed Idle connects.
    Load {
        #[arg(long, default_value_t = 100)]
        devices: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Idle connects per device (ignored with --seconds).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Run the Idle phase for this many seconds instead of a number of rounds.
        #[arg(long)]
        seconds: Option<u64>,
        /// Distinct RSA keys shared by the devices (0: one per device, as real devices).
        #[arg(long, default_value_t = 16)]
        key_pool: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orchard-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_ca(path: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let pem = std::fs::read(path).with_context(|| format!("reading the CA {}", path.display()))?;
    let der = CertificateDer::from_pem_slice(&pem)
        .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
    Ok((pem, der.to_vec()))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (ca_pem, ca_der) = read_ca(&cli.ca)?;
    let base = cli.url.trim_end_matches('/').to_string();
    match cli.command {
        Command::Enroll {
            platform,
            os_version,
            build,
            sha1,
            out,
        } => {
            let mut profile = match platform.as_str() {
                "intel-mac" => DeviceProfile::intel_mac(),
                other => match Platform::parse(other) {
                    Some(p) => DeviceProfile::for_platform(p),
                    None => bail!("unknown platform {other}"),
                },
            };
            if let (Some(v), Some(b)) = (os_version, build) {
                profile = profile.with_os(&v, &b);
            }
            let client = https_client(&ca_pem, false)?;
            let digest = if sha1 {
                SignatureDigest::Sha1
            } else {
                SignatureDigest::Sha256
            };
            let mut device = SimDevice::new(profile, client, ca_der).with_signature_digest(digest);
            device.enroll(&base, cli.token.as_deref()).await?;
            let handled = device.run_command_loop().await?;
            let enrolled = device.enrollment().context("enrolled")?;
            std::fs::create_dir_all(&out)?;
            let cert_path = out.join(format!("{}.pem", device.udid()));
            let key_path = out.join(format!("{}.key", device.udid()));
            std::fs::write(
                &cert_path,
                orchard::pki::pem_encode("CERTIFICATE", &enrolled.identity.certificate_der),
            )?;
            write_private(
                &key_path,
                &orchard::pki::pem_encode("PRIVATE KEY", enrolled.identity.key.pkcs8_der()),
            )?;
            println!("udid {}", device.udid());
            println!(
                "product {} {} ({})",
                device.profile.product_name, device.profile.os_version, device.profile.build_version
            );
            println!("identity certificate {}", cert_path.display());
            println!("identity key {}", key_path.display());
            for h in handled {
                println!("answered {} {} {}", h.request_type, h.uuid, h.status);
            }
            Ok(())
        }
        Command::Load {
            devices,
            concurrency,
            rounds,
            seconds,
            key_pool,
        } => {
            let client = https_client(&ca_pem, true)?;
            let spec = FleetSpec {
                base_url: base,
                ca_der,
                token: cli.token,
                devices,
                concurrency,
                key_pool,
            };
            println!("enrolling {devices} devices at concurrency {concurrency}");
            let mut fleet = load::enroll_fleet(&client, &spec).await?;
            println!(
                "enrolled {} devices in {:.2} s: {:.1} enrollments/s (SCEP + Authenticate + TokenUpdate)",
                fleet.devices.len(),
                fleet.elapsed.as_secs_f64(),
                fleet.per_second()
            );
            let answered = fleet.drain(concurrency).await?;
            println!("answered {answered} queued commands");
            let requests = fleet.prepared_idles()?;
            let stop = match seconds {
                Some(s) => LoadStop::Duration(Duration::from_secs(s)),
                None => LoadStop::Rounds(rounds),
            };
            let report = load::run_load(&client, Arc::clone(&requests), concurrency, stop).await;
            println!("Idle connects at concurrency {concurrency}: {}", report.summary());
            if report.with_body > 0 {
                println!("{} Idle connects were answered with a command", report.with_body);
            }
            if report.errors > 0 {
                bail!("{} Idle connects failed", report.errors);
            }
            Ok(())
        }
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
