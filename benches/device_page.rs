//! The device page's per-request reads at 100,000 devices in the four default rings (static
//! groups, a quarter of the fleet each, with their iOS/iPadOS and macOS policies): the "why"
//! section (`PolicyService::device_plan`) and the device's compliance assessed now
//! (`ComplianceService::device`, which the API device get and compliance views call), each for
//! random devices. Through the real services and SQLite file, in-process, no HTTP.
//!
//! Run: `cargo bench --profile dev --bench device_page` (or the release profile without
//! `--profile dev`). Knobs: `DEVICE_PAGE_DEVICES` (100000), `DEVICE_PAGE_RUNS` (3),
//! `DEVICE_PAGE_REPEAT` (30 calls per run), `DEVICE_PAGE_FLEET_RUNS` (0: how many times to time
//! `compliance.refresh_all`, every device in batches). Prints each run's median and the median of
//! the runs.

#[path = "support/figures.rs"]
mod figures;
#[path = "support/fleet.rs"]
mod fleet;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use figures::{knob, median};
use orchard::admin::Actor;
use orchard::app;
use orchard::clock::SystemClock;
use orchard::config::Config;
use orchard::store::devices::Inventory;

const GDMF: &[u8] = include_bytes!("../tests/data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const PRODUCTS: [&str; 4] = ["iPhone15,2", "iPad13,4", "Mac14,9", "iPhone16,1"];
const VERSIONS: [&str; 4] = ["17.5", "18.1", "26.1", "15.7"];

fn udid(i: usize) -> String {
    format!("UDID-{i:08}")
}

fn insert(store: &orchard::store::Store, count: usize) -> anyhow::Result<()> {
    let now = Utc::now();
    store.write_blocking(|c| {
        let tx = c.transaction()?;
        for i in 0..count {
            let product = PRODUCTS[i % 4];
            let version = if product.starts_with("Mac") {
                VERSIONS[2 + (i / 4) % 2]
            } else {
                VERSIONS[(i / 4) % 2]
            };
            let inventory = Inventory {
                serial_number: Some(format!("S{i:07}")),
                os_version: Some(version.into()),
                product_name: Some(product.into()),
                device_name: Some(format!("Device {i:06}")),
                is_supervised: Some(true),
                ..Inventory::default()
            };
            fleet::enroll(&tx, &udid(i), inventory, now)?;
        }
        tx.commit()?;
        Ok(())
    })?;
    Ok(())
}

/// The default rings, device i in ring i % 4 (static members, added 10,000 at a time).
async fn rings(state: &app::AppState, count: usize) -> anyhow::Result<()> {
    let cli = Actor::cli();
    state.policies.load_default_rings(&cli).await?;
    for (r, ring) in orchard::policy::default_rings().iter().enumerate() {
        let members: Vec<String> = (r..count).step_by(4).map(udid).collect();
        for chunk in members.chunks(10_000) {
            state.policies.add_members(ring.name, chunk, &cli).await?;
        }
    }
    Ok(())
}

/// Median ms of `repeat` calls of `call` for random devices.
async fn time_random<T, F, Fut>(count: usize, repeat: usize, call: F) -> anyhow::Result<f64>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let device = udid(rand::random_range(0..count));
        let started = Instant::now();
        std::hint::black_box(call(device).await?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(times))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let count = knob("DEVICE_PAGE_DEVICES", 100_000).max(4);
    let runs = knob("DEVICE_PAGE_RUNS", 3);
    let repeat = knob("DEVICE_PAGE_REPEAT", 30);

    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.server.listen = "127.0.0.1:0".into();
    config.server.tls_names = vec!["localhost".into()];
    let state = tokio::task::spawn_blocking(move || app::prepare(config, Arc::new(SystemClock))).await??;
    let catalog = state.catalog.clone();
    tokio::task::spawn_blocking(move || {
        catalog.import_documents(vec![("pmv.json".into(), GDMF.to_vec())], &mut |_| {})
    })
    .await??;
    let started = Instant::now();
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || insert(&store, count)).await??;
    rings(&state, count).await?;
    println!(
        "{count} devices enrolled and placed in the four default rings in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for i in [0, 1, 2, count - 1] {
        let view = state
            .policies
            .device_plan(&udid(i))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no plan for {}", udid(i)))?;
        println!(
            "{}: ring {:?}, policy {:?}, decision {}",
            view.udid, view.ring, view.policy, view.plan.decision
        );
    }

    let compliance = state.compliance();
    let policies = &state.policies;
    let (mut plans, mut assessments) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let plan = time_random(
            count,
            repeat,
            |u| async move { Ok(policies.device_plan(&u).await?) },
        )
        .await?;
        let assessed = time_random(count, repeat, |u| {
            let compliance = compliance.clone();
            async move { Ok(compliance.device(&u).await?) }
        })
        .await?;
        println!(
            "run {run}: device_plan {plan:.2} ms, compliance.device {assessed:.2} ms (medians of {repeat})"
        );
        plans.push(plan);
        assessments.push(assessed);
    }
    println!(
        "\n{count} devices in 4 static rings; median of {runs} runs (each the median of {repeat} random devices):"
    );
    println!(
        "device_plan (the device page's update plan)   {:>9.2} ms",
        median(plans)
    );
    println!(
        "compliance.device (assessed now)              {:>9.2} ms",
        median(assessments)
    );
    // The batch path the same plans serve: every device assessed, in batches of 2,000.
    for run in 1..=knob("DEVICE_PAGE_FLEET_RUNS", 0) {
        let started = Instant::now();
        let assessed = compliance.refresh_all().await?;
        println!(
            "compliance.refresh_all run {run}: {assessed} devices in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
