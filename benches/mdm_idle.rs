//! Signed `Idle` connects against the real appliance, next to the same load against a trivial
//! actix-web handler over the same rustls TLS setup on the same machine.
//!
//! Starts the appliance in-process on port 0 (temporary data directory, system clock), enrolls
//! simulated devices through the real profile, SCEP, `Authenticate` and `TokenUpdate` (the
//! enrollment rate), answers the commands queued at enrollment, then replays each device's
//! signed `Idle` from 64 concurrent clients over kept-alive HTTP/1.1 connections for a few
//! seconds, several times. Prints each run and the medians.
//!
//! Run: `cargo bench --bench mdm_idle` (release profile). Environment knobs:
//! `MDM_IDLE_DEVICES` (1000), `MDM_IDLE_CONCURRENCY` (64), `MDM_IDLE_SECONDS` (5),
//! `MDM_IDLE_RUNS` (3), `MDM_IDLE_KEYS` (distinct device keys, 16).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use orchard::app;
use orchard::clock::SystemClock;
use orchard::config::Config;
use orchard::sim::device::https_client;
use orchard::sim::device::load::{self, FleetSpec, LoadReport, LoadStop, PreparedRequest};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the load `runs` times; prints each run; returns the reports.
async fn measure(
    label: &str,
    client: &reqwest::Client,
    requests: &Arc<Vec<PreparedRequest>>,
    concurrency: usize,
    seconds: u64,
    runs: usize,
) -> Vec<LoadReport> {
    // A short warm-up opens the connections.
    load::run_load(
        client,
        requests.clone(),
        concurrency,
        LoadStop::Duration(Duration::from_secs(1)),
    )
    .await;
    let mut reports = Vec::new();
    for run in 1..=runs {
        let report = load::run_load(
            client,
            requests.clone(),
            concurrency,
            LoadStop::Duration(Duration::from_secs(seconds)),
        )
        .await;
        println!("{label} run {run}: {}", report.summary());
        reports.push(report);
    }
    reports
}

fn medians(reports: &[LoadReport]) -> (f64, f64, f64) {
    (
        median(reports.iter().map(LoadReport::per_second).collect()),
        median(reports.iter().map(|r| ms(r.percentile(50.0))).collect()),
        median(reports.iter().map(|r| ms(r.percentile(99.0))).collect()),
    )
}

/// The same TLS configuration and worker count as the appliance, and a handler that reads the
/// body and answers an empty 200.
fn trivial_server(
    tls: rustls::ServerConfig,
    workers: usize,
) -> std::io::Result<(actix_web::dev::ServerHandle, u16)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(|| {
        App::new().route(
            "/mdm/connect",
            web::put().to(|_body: web::Bytes| async { HttpResponse::Ok().finish() }),
        )
    })
    .workers(workers)
    .disable_signals()
    .listen_rustls_0_23(listener, tls)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((handle, port))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let devices = knob("MDM_IDLE_DEVICES", 1000);
    let concurrency = knob("MDM_IDLE_CONCURRENCY", 64);
    let seconds = knob("MDM_IDLE_SECONDS", 5) as u64;
    let runs = knob("MDM_IDLE_RUNS", 3);
    let key_pool = knob("MDM_IDLE_KEYS", 16);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);

    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.server.listen = "127.0.0.1:0".into();
    config.server.tls_names = vec!["localhost".into()];
    config.server.workers = workers;
    let state = tokio::task::spawn_blocking(move || app::prepare(config, Arc::new(SystemClock))).await??;
    state.store.write_blocking(|c| {
        orchard::store::settings::set(
            c,
            "apns.topic",
            "com.apple.mgmt.External.6f1c0d9e-0b8f-4b1e-9d55-3c1f5f0a2b7e",
            "2026-01-01T00:00:00Z",
        )
    })?;
    let server = app::start(state.clone())?;
    let base = format!("https://localhost:{}", server.https_addr.port());
    let client = https_client(state.pki.ca_cert_pem.as_bytes(), true)?;
    println!(
        "appliance at {base}, {workers} workers; {devices} devices, concurrency {concurrency}, {runs} runs of {seconds} s"
    );

    let spec = FleetSpec {
        base_url: base.clone(),
        ca_der: state.pki.ca_cert_der.clone(),
        token: None,
        devices,
        concurrency,
        key_pool,
    };
    let mut fleet = load::enroll_fleet(&client, &spec).await?;
    println!(
        "enrollment: {} devices in {:.2} s = {:.1}/s (profile + SCEP PKCSReq + Authenticate + TokenUpdate; device keys made beforehand)",
        fleet.devices.len(),
        fleet.elapsed.as_secs_f64(),
        fleet.per_second()
    );
    let answered = fleet.drain(concurrency).await?;
    println!("answered {answered} commands queued at enrollment");
    let idles = fleet.prepared_idles()?;

    let appliance = measure("appliance Idle", &client, &idles, concurrency, seconds, runs).await;
    // Where the time goes: the same requests without their signature are refused at the identity
    // check (401), so they cost TLS, HTTP, routing, middleware and the body read, but no CMS/X.509
    // verification and no SQLite transaction.
    let unsigned: Arc<Vec<PreparedRequest>> = Arc::new(
        idles
            .iter()
            .map(|r| PreparedRequest {
                signature: None,
                ..r.clone()
            })
            .collect(),
    );
    let refused = measure(
        "appliance unsigned Idle (401)",
        &client,
        &unsigned,
        concurrency,
        seconds,
        runs,
    )
    .await;

    let tls = state.pki.rustls_server_config()?;
    let (trivial_handle, port) = trivial_server(tls, workers)?;
    let trivial_requests: Arc<Vec<PreparedRequest>> = Arc::new(
        idles
            .iter()
            .map(|r| PreparedRequest {
                url: format!("https://localhost:{port}/mdm/connect"),
                ..r.clone()
            })
            .collect(),
    );
    let trivial_client = https_client(state.pki.ca_cert_pem.as_bytes(), true)?;
    let trivial = measure(
        "trivial handler",
        &trivial_client,
        &trivial_requests,
        concurrency,
        seconds,
        runs,
    )
    .await;
    trivial_handle.stop(true).await;

    let (a_rate, a_p50, a_p99) = medians(&appliance);
    let (t_rate, t_p50, t_p99) = medians(&trivial);
    let (u_rate, u_p50, u_p99) = medians(&refused);
    let errors: usize = appliance.iter().map(|r| r.errors + r.with_body).sum::<usize>()
        + trivial.iter().map(|r| r.errors).sum::<usize>();
    println!();
    println!(
        "| load (median of {runs} × {seconds} s, concurrency {concurrency}) | connects/s | p50 ms | p99 ms |"
    );
    println!("| --- | ---: | ---: | ---: |");
    println!("| appliance: signed Idle, {devices} devices | {a_rate:.0} | {a_p50:.2} | {a_p99:.2} |");
    println!(
        "| appliance: the same Idle unsigned (401 at the identity check) | {u_rate:.0} | {u_p50:.2} | {u_p99:.2} |"
    );
    println!("| trivial actix handler, same TLS | {t_rate:.0} | {t_p50:.2} | {t_p99:.2} |");
    println!(
        "| ratio appliance / trivial | {:.2} | | |",
        a_rate / t_rate.max(1e-9)
    );
    println!(
        "| enrollment ({devices} devices, concurrency {concurrency}) | {:.1} enrollments/s | | |",
        fleet.per_second()
    );
    if errors > 0 {
        println!("WARNING: {errors} Idle connects failed or were answered with a command");
    }
    server.stop().await;
    Ok(())
}
