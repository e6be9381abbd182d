//! `orchard cache list|import|download|pin|unpin|delete`: the payload cache from a shell.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use crate::admin::Actor;
use crate::app::{AppState, StartError};
use crate::cache::delivery::DeliveryError;
use crate::cache::prefetch::requests_for;
use crate::cache::{CacheError, Digest, PayloadKind, Target, human_bytes};

#[derive(Debug, thiserror::Error)]
pub enum CacheCliError {
    #[error("{0}")]
    Start(#[from] StartError),
    #[error("{0}")]
    Cache(#[from] CacheError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Delivery(#[from] DeliveryError),
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cached payloads, space used and recent downloads.
    List,
    /// Import loose .pkg / .ipsw files, matched to catalog entries by size, hash or name.
    Import {
        files: Vec<PathBuf>,
        /// Name the target instead of matching (all three, with --kind).
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        build: Option<String>,
        /// installer or ipsw (default: from the file's extension).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Download the catalog's installer (and/or IPSW) for a build now, showing progress.
    /// Allowed windows and the bandwidth limit apply.
    Download {
        #[arg(long)]
        build: String,
        /// installer, ipsw, or both.
        #[arg(long, default_value = "installer")]
        kind: String,
    },
    /// Never evict this payload.
    Pin { digest: String },
    /// Let this payload be evicted again.
    Unpin { digest: String },
    /// Delete a payload (ready or quarantined).
    Delete { digest: String },
    /// Install a cached macOS installer on Macs (InstallEnterpriseApplication with a manifest on
    /// this appliance's public URL). All or none: any device that cannot get it is listed with
    /// the reason and nothing is queued.
    InstallOn {
        /// Serial number of a Mac (repeat for several).
        #[arg(long = "serial", required = true)]
        serials: Vec<String>,
        digest: String,
    },
}

fn digest(text: &str) -> Result<Digest, CacheCliError> {
    Digest::parse(text).ok_or_else(|| CacheCliError::Usage(format!("`{text}` is not a SHA-256 digest")))
}

fn kinds(text: &str) -> Result<Vec<PayloadKind>, CacheCliError> {
    match text {
        "both" => Ok(vec![PayloadKind::Installer, PayloadKind::Ipsw]),
        k => PayloadKind::parse(k)
            .filter(|k| *k != PayloadKind::Catalog)
            .map(|k| vec![k])
            .ok_or_else(|| CacheCliError::Usage(format!("unknown kind `{k}` (installer, ipsw, both)"))),
    }
}

pub async fn run(state: &AppState, command: CacheCommand, out: &mut dyn Write) -> Result<(), CacheCliError> {
    let cache = &state.cache;
    let w = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
    };
    match command {
        CacheCommand::List => {
            let space = cache.space().await?;
            let quota = match space.quota {
                0 => "no quota".to_string(),
                q => format!("quota {}", human_bytes(q)),
            };
            let free = space
                .disk_free
                .map(human_bytes)
                .unwrap_or_else(|| "unknown".into());
            w(
                out,
                format!("used {} ({quota}), disk free {free}", human_bytes(space.used)),
            );
            for p in cache.payloads().await? {
                let pin = if p.pinned { " pinned" } else { "" };
                w(
                    out,
                    format!(
                        "{} {:<11} {} {} {} {} {}{pin}  /cache/{}/{}",
                        p.state,
                        p.kind,
                        p.platform,
                        p.version,
                        p.build,
                        human_bytes(p.size),
                        p.fetched_at,
                        p.digest,
                        p.filename
                    ),
                );
            }
            for d in cache.downloads(20).await? {
                let err = d.error.map(|e| format!(" ({e})")).unwrap_or_default();
                w(
                    out,
                    format!(
                        "download {} {} {} {} {}{err}",
                        d.id,
                        d.state,
                        d.build,
                        d.filename,
                        human_bytes(d.bytes_done)
                    ),
                );
            }
        }
        CacheCommand::Import {
            files,
            platform,
            version,
            build,
            kind,
        } => {
            let index = &state.catalog.snapshot().index;
            for file in files {
                let explicit = match (&platform, &version, &build) {
                    (Some(p), Some(v), Some(b)) => {
                        let k = match &kind {
                            Some(k) => kinds(k)?[0],
                            None if file.extension().is_some_and(|e| e == "pkg") => PayloadKind::Installer,
                            None => PayloadKind::Ipsw,
                        };
                        let filename = file
                            .file_name()
                            .and_then(|n| n.to_str())
                            .unwrap_or("payload")
                            .to_string();
                        Some(Target {
                            kind: k,
                            platform: p.clone(),
                            version: v.clone(),
                            build: b.clone(),
                            filename,
                        })
                    }
                    (None, None, None) => None,
                    _ => {
                        return Err(CacheCliError::Usage(
                            "give all of --platform, --version and --build".into(),
                        ));
                    }
                };
                let done = cache.import_file(&file, index, explicit).await?;
                let what = if done.already {
                    "already cached"
                } else {
                    "imported"
                };
                let p = done.payload;
                w(
                    out,
                    format!(
                        "{what}: {} -> {} {} {} /cache/{}/{}",
                        file.display(),
                        p.platform,
                        p.version,
                        p.build,
                        p.digest,
                        p.filename
                    ),
                );
            }
        }
        CacheCommand::Download { build, kind } => {
            let index = &state.catalog.snapshot().index;
            let requests = requests_for(index, &build, &kinds(&kind)?);
            if requests.is_empty() {
                return Err(CacheCliError::Usage(format!(
                    "the catalog offers no {kind} for build {build}"
                )));
            }
            for r in requests {
                let name = r.target.filename.clone();
                let id = cache.enqueue(r).await?;
                let runner = {
                    let cache = cache.clone();
                    tokio::spawn(async move { cache.run_pending().await })
                };
                while !runner.is_finished() {
                    if let Some(p) = cache.progress(id) {
                        let total = p.total.map(human_bytes).unwrap_or_else(|| "?".into());
                        let _ = write!(
                            out,
                            "\r{name}: {} of {total}, {}/s   ",
                            human_bytes(p.bytes_done),
                            human_bytes(p.rate as u64)
                        );
                        let _ = out.flush();
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                let _ = runner.await;
                let job = cache.download(id).await?.ok_or(CacheError::NotFound)?;
                let end = match (&job.digest, &job.error) {
                    (Some(d), _) if job.state == "done" => format!("done: /cache/{d}/{}", job.filename),
                    (_, Some(e)) => format!("{}: {e}", job.state),
                    _ => job.state.clone(),
                };
                w(out, format!("\r{name}: {end}"));
            }
        }
        CacheCommand::Pin { digest: d } => cache.set_pinned(&digest(&d)?, true).await?,
        CacheCommand::Unpin { digest: d } => cache.set_pinned(&digest(&d)?, false).await?,
        CacheCommand::Delete { digest: d } => cache.delete(&digest(&d)?).await?,
        CacheCommand::InstallOn { serials, digest: d } => {
            let base = operator_public_url(state);
            let delivery = state.installer_delivery();
            match delivery
                .install_on(&Actor::cli(), &digest(&d)?, &serials, &base)
                .await
            {
                Ok(queued) => {
                    for q in queued {
                        w(
                            out,
                            format!(
                                "queued InstallEnterpriseApplication for {} ({}): command {}",
                                q.serial, q.udid, q.uuid
                            ),
                        );
                    }
                }
                Err(DeliveryError::DevicesRefused(refused)) => {
                    let lines: Vec<String> = refused
                        .iter()
                        .map(|r| format!("  {}: {}", r.serial, r.reason))
                        .collect();
                    return Err(CacheCliError::Usage(format!(
                        "nothing was queued; these devices cannot get the installer:\n{}",
                        lines.join("\n")
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// The base URL Macs reach the appliance at, from an operator command: `server.public_url`, else
/// the first TLS name and the HTTPS listener's port.
fn operator_public_url(state: &AppState) -> String {
    let bound = state
        .config
        .server
        .listen
        .parse::<std::net::SocketAddr>()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 443)));
    state.public_url(bound)
}

/// The appliance opened for an operator command: a runtime and the services.
pub fn open_appliance(
    config: crate::config::Config,
) -> Result<(tokio::runtime::Runtime, AppState), CacheCliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CacheCliError::Usage(format!("cannot start the async runtime: {e}")))?;
    let state = {
        let _entered = runtime.enter();
        crate::app::prepare(config, std::sync::Arc::new(crate::clock::SystemClock))?
    };
    Ok((runtime, state))
}

/// `orchard cache ...` from `main`.
pub fn main(config: crate::config::Config, command: CacheCommand) -> Result<(), CacheCliError> {
    let (runtime, state) = open_appliance(config)?;
    runtime.block_on(run(&state, command, &mut std::io::stdout()))
}
