//! Recurring housekeeping jobs (in memory, tokio-cron-scheduler): the daily catalog refresh and a
//! minute check that picks up catalog changes made by another process (`orchard catalog import`).
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

/// Builds the jobs (so a bad schedule stops start-up with a clear message) and runs them on the
/// current Tokio runtime.
pub fn start(state: &AppState) -> Result<tokio::task::JoinHandle<()>, SchedulerError> {
    let mut jobs = vec![job("catalog reload", "0 * * * * *", state, reload_catalog)?];
    if state.config.catalog.auto_refresh {
        jobs.push(job(
            "catalog refresh",
            &state.config.catalog.refresh_schedule,
            state,
            refresh_catalog,
        )?);
    }
    Ok(tokio::spawn(async move {
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
