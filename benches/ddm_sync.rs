//! Benchmark: full DDM syncs of simulated devices against the DDM service in-process, on a real
//! SQLite file. One sync is what a device does after its `DeclarativeManagement` command:
//! `tokens`, `declaration-items`, two `declaration/...` fetches (a status subscription and the
//! activation that turns it on), then a full status report (parsed and stored by the service).
//! This measures the service and the store, not HTTP, TLS or the MDM check-in around it.
//!
//! Run: `cargo bench --bench ddm_sync` (release profile). Options: `--devices N` (10,000),
//! `--runs N` (5), `--concurrency N` (simulated devices in flight at once, 32).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures_util::future::BoxFuture;
use orchard::clock::{SharedClock, VirtualClock};
use orchard::ddm::{
    DdmLimits, DdmService, InventoryError, InventorySink, NotifyError, StatusInventory, SyncChange,
    SyncNotifier,
};
use orchard::protocol::ddm::management::StatusItemName;
use orchard::protocol::ddm::{
    Declaration, DeclarationIdentifier, Platform, SimpleActivation, StatusSubscriptions,
};
use orchard::sim::ddm::{DdmClient, DeviceProfile, InProcessTransport, SoftwareUpdateModel};
use orchard::store::Store;

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct NoNotifier;

impl SyncNotifier for NoNotifier {
    fn declarations_changed<'a>(&'a self, _: &'a [SyncChange]) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async { Ok(()) })
    }
}

struct NoInventory;

impl InventorySink for NoInventory {
    fn inventory_changed<'a>(
        &'a self,
        _: &'a str,
        _: &'a StatusInventory,
    ) -> BoxFuture<'a, Result<(), InventoryError>> {
        Box::pin(async { Ok(()) })
    }
}

fn id(text: &str) -> Result<DeclarationIdentifier, Failure> {
    Ok(DeclarationIdentifier::parse(text)?)
}

/// The two declarations every device gets: a status subscription and its activation.
fn declarations() -> Result<Vec<Declaration>, Failure> {
    let subscription = StatusSubscriptions {
        status_items: [
            "softwareupdate.install-state",
            "softwareupdate.pending-version",
            "softwareupdate.install-reason",
            "softwareupdate.failure-reason",
            "device.operating-system.version",
            "device.operating-system.build-version",
            "device.model.family",
            "device.model.identifier",
            "management.declarations",
        ]
        .iter()
        .map(|name| StatusItemName {
            name: name.to_string(),
        })
        .collect(),
    };
    let activation = SimpleActivation::new(vec![id("orchard.status")?])?;
    Ok(vec![
        Declaration::new(id("orchard.status")?, &subscription)?,
        Declaration::new(id("orchard.activation")?, &activation)?,
    ])
}

/// One run: a new database with `devices` enrolled devices, then every device syncs once.
async fn run(devices: usize, concurrency: usize) -> Result<(Duration, Duration), Failure> {
    let dir = tempfile::tempdir()?;
    let start = Utc
        .with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .ok_or("clock")?;
    let clock: SharedClock = Arc::new(VirtualClock::new(start));
    let store = Store::open(&dir.path().join("orchard.db"), "2026-03-01T09:00:00Z")?;
    let service = DdmService::new(
        store,
        clock.clone(),
        Arc::new(NoNotifier),
        Arc::new(NoInventory),
        DdmLimits::default(),
    );
    let setup = Instant::now();
    service.set_shared_declarations(declarations()?).await?;
    let udids: Vec<String> = (0..devices).map(|n| format!("00008110-{n:016X}")).collect();
    for chunk in udids.chunks(10_000) {
        service.on_enrollments(chunk.to_vec()).await?;
    }
    let setup = setup.elapsed();

    let begin = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for lane in 0..concurrency {
        let lane_udids: Vec<String> = udids.iter().skip(lane).step_by(concurrency).cloned().collect();
        let service = service.clone();
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            for udid in lane_udids {
                let profile = DeviceProfile::new(Platform::Ios, &udid, "18.3", "22D63");
                let model = SoftwareUpdateModel::new(clock.clone(), profile, Vec::new());
                let transport = Arc::new(InProcessTransport::new(service.clone(), &udid));
                let mut client = DdmClient::new(transport, clock.clone(), model);
                let outcome = client.sync().await.map_err(|e| e.to_string())?;
                if outcome.fetched.len() != 2 || outcome.report.is_none_or(|r| !r.full) {
                    return Err(format!("{udid}: unexpected sync {:?}", outcome.fetched));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((begin.elapsed(), setup))
}

fn option(args: &[String], name: &str, default: usize) -> Result<usize, Failure> {
    match args.iter().position(|arg| arg == name) {
        Some(index) => Ok(args.get(index + 1).ok_or("missing value")?.parse()?),
        None => Ok(default),
    }
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let devices = option(&args, "--devices", 10_000)?.max(1);
    let runs = option(&args, "--runs", 5)?.max(1);
    let concurrency = option(&args, "--concurrency", 32)?.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!(
        "Full DDM sync (tokens, declaration-items, 2 declarations, full status report) of {devices} \
         simulated devices against the in-process DDM service on a SQLite file, {concurrency} in \
         flight (release build; measures the service, not HTTP)"
    );
    let mut totals = Vec::with_capacity(runs);
    for index in 1..=runs {
        let (total, setup) = runtime.block_on(run(devices, concurrency))?;
        println!(
            "  run {index}: {:>7.2} s, {:>7.0} syncs/s (set-up {:.1} s)",
            total.as_secs_f64(),
            devices as f64 / total.as_secs_f64(),
            setup.as_secs_f64()
        );
        totals.push(total);
    }
    totals.sort();
    let median = totals[totals.len() / 2];
    let rate = devices as f64 / median.as_secs_f64();
    println!(
        "  median {:.2} s ({rate:.0} syncs/s), min {:.2} s, max {:.2} s over {runs} runs",
        median.as_secs_f64(),
        totals[0].as_secs_f64(),
        totals[totals.len() - 1].as_secs_f64()
    );
    println!(
        "  at this rate 50,000 devices take {:.1} s (goal: under 60 s)",
        50_000.0 / rate
    );
    Ok(())
}
