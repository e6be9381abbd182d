//! `orchard serve`: runs the appliance until SIGTERM or SIGINT, then shuts down gracefully.

use std::sync::Arc;

use crate::admin::AdminError;
use crate::app::StartError;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::ops::lock::{DataDirLock, LockError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Lock(#[from] LockError),
    #[error("{0}")]
    Start(#[from] StartError),
    #[error("{0}")]
    Admin(#[from] AdminError),
    #[error("cannot handle {signal}")]
    Signal {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("server task failed")]
    Task(#[source] tokio::task::JoinError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Serves until the server stops or a signal asks it to; prints where it listens, and the
/// one-time setup link while no administrator exists. Tells systemd `READY=1` once listening.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    // Held until the process exits: `restore` refuses to run while it is held.
    let _lock = DataDirLock::for_server(&config.storage.data_dir)?;
    let state = crate::app::prepare(config, Arc::new(SystemClock))?;
    let server = crate::app::start(state.clone())?;
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
    let handler = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| ServeError::Signal { signal: name, source })
    };
    let mut terminate = handler(SignalKind::terminate(), "SIGTERM")?;
    let mut interrupt = handler(SignalKind::interrupt(), "SIGINT")?;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut task = server.task;
    let name = tokio::select! {
        result = &mut task => {
            result.map_err(ServeError::Task)??;
            return Ok(());
        }
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!("{name} received: finishing in-flight requests, then stopping (graceful shutdown)");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    server.handle.stop(true).await;
    task.await.map_err(ServeError::Task)??;
    tracing::info!("stopped");
    Ok(())
}
