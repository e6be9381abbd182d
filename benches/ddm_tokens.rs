//! Benchmark: the time to recompute the DeclarationsToken of 100,000 devices when one shared
//! declaration changes (set-based, in one transaction, on a real SQLite file), including claiming
//! the notifications and handing 100,000 sync-token payloads to a notifier that only counts them.
//!
//! Run: `cargo bench --bench ddm_tokens` (release profile). Options: `--devices N`, `--runs N`,
//! `--fleet rings|unique|both` (default both).
//! Two fleets are measured: devices spread over 20 policy rings (20 distinct own groups, the
//! expected shape), and the worst case where every device has its own declarations.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures_util::future::BoxFuture;
use orchard::clock::VirtualClock;
use orchard::ddm::{
    DdmLimits, DdmService, InventoryError, InventorySink, NotifyError, StatusInventory, SyncChange,
    SyncNotifier,
};
use orchard::protocol::ddm::management::StatusItemName;
use orchard::protocol::ddm::{
    Declaration, DeclarationIdentifier, EnforcementSpecific, ManagementProperties, PropertyValue,
    SoftwareUpdateSettings, StatusSubscriptions, TargetLocalDateTime,
};
use orchard::store::Store;

#[derive(Default)]
struct CountingNotifier(AtomicUsize);

impl SyncNotifier for CountingNotifier {
    fn declarations_changed<'a>(
        &'a self,
        changes: &'a [SyncChange],
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        self.0.fetch_add(changes.len(), Ordering::Relaxed);
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

type Failure = Box<dyn std::error::Error>;

fn id(text: &str) -> Result<DeclarationIdentifier, Failure> {
    Ok(DeclarationIdentifier::parse(text)?)
}

/// The shared declarations of revision `revision`: a status subscription and a properties
/// declaration whose one value changes between runs.
fn shared(revision: i64) -> Result<Vec<Declaration>, Failure> {
    let subscription = StatusSubscriptions {
        status_items: [
            "softwareupdate.install-state",
            "device.operating-system.version",
            "management.declarations",
        ]
        .iter()
        .map(|name| StatusItemName {
            name: name.to_string(),
        })
        .collect(),
    };
    let mut properties = ManagementProperties::default();
    properties
        .0
        .insert("orchard.revision".into(), PropertyValue::Integer(revision));
    Ok(vec![
        Declaration::new(id("orchard.status")?, &subscription)?,
        Declaration::new(id("orchard.properties")?, &properties)?,
    ])
}

/// A device's own declarations: its ring's settings and enforcement, and (worst case) a
/// declaration of its own.
fn own(ring: usize, unique: Option<usize>) -> Result<Vec<Declaration>, Failure> {
    let settings = SoftwareUpdateSettings {
        notifications: Some(ring.is_multiple_of(2)),
        ..SoftwareUpdateSettings::default()
    };
    let enforcement = EnforcementSpecific {
        target_os_version: format!("26.{}", ring % 5),
        target_build_version: None,
        target_local_date_time: TargetLocalDateTime::parse(&format!("2026-04-{:02}T18:00:00", 1 + ring))?,
        details_url: None,
    };
    let mut declarations = vec![
        Declaration::new(id("orchard.settings")?, &settings)?,
        Declaration::new(id("orchard.enforce")?, &enforcement)?,
    ];
    if let Some(device) = unique {
        let mut properties = ManagementProperties::default();
        properties
            .0
            .insert("orchard.device".into(), PropertyValue::Integer(device as i64));
        declarations.push(Declaration::new(id("orchard.device")?, &properties)?);
    }
    Ok(declarations)
}

async fn fleet(devices: usize, runs: usize, unique: bool) -> Result<(), Failure> {
    let dir = tempfile::tempdir()?;
    let clock = VirtualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
            .single()
            .ok_or("clock")?,
    );
    let store = Store::open(&dir.path().join("orchard.db"), "2026-03-01T09:00:00Z")?;
    let notifier = Arc::new(CountingNotifier::default());
    let service = DdmService::new(
        store,
        Arc::new(clock),
        notifier.clone(),
        Arc::new(NoInventory),
        DdmLimits::default(),
    );
    service.set_shared_declarations(shared(0)?).await?;
    let setup = Instant::now();
    let udids: Vec<String> = (0..devices).map(|n| format!("00008110-{n:016X}")).collect();
    for (chunk_index, chunk) in udids.chunks(10_000).enumerate() {
        let mut batch = Vec::with_capacity(chunk.len());
        for (index, udid) in chunk.iter().enumerate() {
            let device = chunk_index * 10_000 + index;
            batch.push((udid.clone(), own(device % 20, unique.then_some(device))?));
        }
        service.set_many_device_declarations(batch).await?;
        service.on_enrollments(chunk.to_vec()).await?;
    }
    let shape = if unique {
        "every device with declarations of its own (worst case)"
    } else {
        "devices in 20 rings"
    };
    println!(
        "{devices} devices, {shape}: set up in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let mut times = Vec::with_capacity(runs);
    for run in 1..=runs {
        notifier.0.store(0, Ordering::Relaxed);
        let start = Instant::now();
        let outcome = service.set_shared_declarations(shared(run as i64)?).await?;
        let elapsed = start.elapsed();
        let notified = notifier.0.load(Ordering::Relaxed);
        if outcome.devices_changed != devices || notified != devices {
            return Err(format!(
                "run {run}: {} devices changed, {notified} notified, expected {devices}",
                outcome.devices_changed
            )
            .into());
        }
        println!(
            "  run {run}: {:>7.1} ms ({} sets computed, {} devices changed and notified)",
            elapsed.as_secs_f64() * 1000.0,
            outcome.sets_computed,
            outcome.devices_changed
        );
        times.push(elapsed);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "  median {:.1} ms, min {:.1} ms, max {:.1} ms over {runs} runs (goal: under 1 s)",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn option(args: &[String], name: &str, default: usize) -> Result<usize, Failure> {
    match args.iter().position(|arg| arg == name) {
        Some(index) => Ok(args.get(index + 1).ok_or("missing value")?.parse()?),
        None => Ok(default),
    }
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let devices = option(&args, "--devices", 100_000)?;
    let runs = option(&args, "--runs", 7)?.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!(
        "DeclarationsToken recomputation after one shared declaration changes \
         (release build; the machine is shared with other builds, so figures vary)"
    );
    let which = args
        .iter()
        .position(|arg| arg == "--fleet")
        .and_then(|index| args.get(index + 1))
        .map_or("both", String::as_str);
    if which != "unique" {
        runtime.block_on(fleet(devices, runs, false))?;
    }
    if which != "rings" {
        runtime.block_on(fleet(devices, runs, true))?;
    }
    Ok(())
}
