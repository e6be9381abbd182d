//! Recurring housekeeping jobs (in memory, tokio-cron-scheduler): the daily catalog refresh, a
//! minute check that picks up catalog changes made by another process (`orchard catalog import`),
//! the hourly push of devices still due a declaration sync, daily pruning of old commands and declaration
//! sets, the daily push-certificate expiry warning, the policy engine's triggers (a minute job
//! queueing devices whose plan changes with time and asking for the fleet when the catalog
//! changed, an hourly safety sweep) with its worker, the compliance refreshes (every minute the devices whose
//! inputs changed, hourly every device) and the daily compliance snapshot (00:15, and at start to
//! catch up a missed day), the cache's prefetch of policy targets (hourly) and the daily
//! content-cache status query (06:45). Times are UTC.
//! Deadlines are not kept here: they live in SQLite as data.

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::app::AppState;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid schedule `{schedule}` for {job}: {message}")]
    Schedule {
        job: &'static str,
        schedule: String,
        message: String,
    },
}

fn job(
    name: &'static str,
    schedule: &str,
    state: &AppState,
    run: fn(AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) -> Result<Job, SchedulerError> {
    let state = state.clone();
    Job::new_async(schedule, move |_id, _lock| run(state.clone())).map_err(|e| SchedulerError::Schedule {
        job: name,
        schedule: schedule.to_string(),
        message: e.to_string(),
    })
}

fn refresh_catalog(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if let Err(e) = state.catalog.refresh().await {
            tracing::warn!(error = %e, "scheduled catalog refresh could not run");
        }
    })
}

fn reload_catalog(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let catalog = state.catalog.clone();
        match tokio::task::spawn_blocking(move || catalog.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!("catalog reloaded after an outside change"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "catalog reload failed"),
            Err(e) => tracing::warn!(error = %e, "catalog reload task failed"),
        }
    })
}

/// Daily: completed commands past their retention, and declaration sets no device can be
/// served any more.
fn prune(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mdm = state.mdm.clone();
        match tokio::task::spawn_blocking(move || mdm.prune_completed()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "command pruning failed"),
            Err(e) => tracing::warn!(error = %e, "command pruning task failed"),
        }
        if let Err(e) = state.ddm.prune().await {
            tracing::warn!(error = %e, "declaration pruning failed");
        }
    })
}

/// Hourly: devices still due a declarative sync are pushed again (a push lost on the way; a
/// device that checked in since was sent its sync and is no longer due). Hourly, not every
/// minute: a device that is off stays due, and would otherwise be pushed sixty times an hour.
fn flush_ddm_notifications(
    state: AppState,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match state.ddm.flush_notifications().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(devices = n, "pushed devices still due a declaration sync"),
            Err(e) => tracing::warn!(error = %e, "devices due a declaration sync not pushed"),
        }
    })
}

/// Daily: warns in the log as the push certificate nears its end (30/14/7 days, expired).
fn check_push_certificate(
    state: AppState,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if let Err(e) = crate::push::import::daily_expiry_check(&state.store, state.clock.now()).await {
            tracing::warn!(error = %e, "push certificate check failed");
        }
    })
}

/// Every minute: devices whose plan changes with time are queued for the policy engine, and
/// after a catalog change the whole fleet is asked for (its worker is woken). Devices whose facts
/// change are queued by the write that changes them.
fn queue_policy_changes(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match state.policy_engine.enqueue_changes().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(devices = n, "devices queued for policy re-evaluation"),
            Err(e) => tracing::warn!(error = %e, "policy re-evaluation could not be queued"),
        }
    })
}

/// Hourly: every enrolled device is re-evaluated (nothing is sent where nothing changed).
fn policy_sweep(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if let Err(e) = state.policy_engine.sweep().await {
            tracing::warn!(error = %e, "policy safety sweep could not be queued");
        }
    })
}

/// Hourly: every device's compliance state is assessed again (deadlines pass and devices go
/// quiet without any event), so the devices list filters on current states.
fn refresh_compliance(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match state.compliance().refresh_all().await {
            Ok(n) => tracing::info!(devices = n, "compliance states refreshed"),
            Err(e) => tracing::warn!(error = %e, "compliance refresh failed"),
        }
    })
}

/// Every minute: devices whose plan, status, inventory or enrollment changed since their last
/// assessment are assessed again, so the devices list and the dashboard follow within a minute.
fn catch_up_compliance(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match state.compliance().refresh_changed().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(devices = n, "compliance states caught up"),
            Err(e) => tracing::warn!(error = %e, "compliance catch-up failed"),
        }
    })
}

/// Hourly: the macOS releases active policies enforce are kept from eviction, and those due
/// soon are downloaded ahead of their deadlines.
fn prefetch_policy_targets(
    state: AppState,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match crate::app::prefetch::prefetch_policy_targets(&state).await {
            Ok(r) if r.queued > 0 => {
                tracing::info!(
                    targets = r.targets,
                    queued = r.queued,
                    "policy targets queued for the cache"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cache prefetch of policy targets failed"),
        }
    })
}

/// Daily (and once at start, catching up a missed day): today's compliance snapshot, once.
fn snapshot_compliance(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match state.compliance().snapshot_today().await {
            Ok(true) => tracing::info!("daily compliance snapshot written"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "daily compliance snapshot failed"),
        }
    })
}

/// Daily: asks the Macs given the content-caching profile for their cache's status
/// (`ContentCachingInformation`); the answers are stored as the Macs check in.
fn ask_content_caches(state: AppState) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match state.content_caching().request_status().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(macs = n, "content caches asked for their status"),
            Err(e) => tracing::warn!(error = %e, "content caches could not be asked for their status"),
        }
    })
}

/// Builds the jobs (so a bad schedule stops start-up with a clear message) and runs them on the
/// current Tokio runtime, with the policy engine's worker. With `server.scheduled_jobs` off only
/// the worker runs.
pub fn start(state: &AppState) -> Result<tokio::task::JoinHandle<()>, SchedulerError> {
    let mut jobs = vec![
        job("catalog reload", "0 * * * * *", state, reload_catalog)?,
        job(
            "declaration sync retry",
            "30 52 * * * *",
            state,
            flush_ddm_notifications,
        )?,
        job("pruning", "0 17 3 * * *", state, prune)?,
        job("policy changes", "15 * * * * *", state, queue_policy_changes)?,
        job("policy sweep", "0 41 * * * *", state, policy_sweep)?,
        job("compliance refresh", "0 7 * * * *", state, refresh_compliance)?,
        job("compliance catch-up", "30 * * * * *", state, catch_up_compliance)?,
        job("compliance snapshot", "0 15 0 * * *", state, snapshot_compliance)?,
        job("cache prefetch", "0 23 * * * *", state, prefetch_policy_targets)?,
        job("content cache status", "0 45 6 * * *", state, ask_content_caches)?,
        job(
            "push certificate check",
            "0 0 9 * * *",
            state,
            check_push_certificate,
        )?,
    ];
    if state.config.catalog.auto_refresh {
        jobs.push(job(
            "catalog refresh",
            &state.config.catalog.refresh_schedule,
            state,
            refresh_catalog,
        )?);
    }
    let engine = state.policy_engine.clone();
    let run_jobs = state.config.server.scheduled_jobs;
    let catch_up = snapshot_compliance(state.clone());
    Ok(tokio::spawn(async move {
        // The policy worker lives and stops with the housekeeping task.
        let worker = engine.spawn_worker();
        let _stop_worker = AbortOnDrop(worker);
        if !run_jobs {
            tracing::warn!("scheduled jobs are off (server.scheduled_jobs = false)");
            std::future::pending::<()>().await;
        }
        catch_up.await;
        let scheduler = match JobScheduler::new().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "housekeeping scheduler cannot start");
                return;
            }
        };
        for j in jobs {
            if let Err(e) = scheduler.add(j).await {
                tracing::error!(error = %e, "housekeeping job cannot be added");
            }
        }
        if let Err(e) = scheduler.start().await {
            tracing::error!(error = %e, "housekeeping scheduler cannot start");
            return;
        }
        // Keep the scheduler alive for as long as the server runs.
        std::future::pending::<()>().await;
    }))
}

/// Aborts the task when dropped (the housekeeping task is aborted at shutdown).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
