//! Figures for the policy engine through the real services and SQLite: 100,000 DDM-enrolled
//! devices in the four default rings (25,000 each, iPhones and Macs), then:
//! - a new catalog entry: the catalog changes, every device is queued, evaluated, its plan stored,
//!   and the changed ones (Vanguard, whose deferral has ended) get their new declaration set;
//! - an incremental re-evaluation after one group changes (1,000 devices moved into Vanguard).
//!
//! Each is run several times (the catalog alternates between the day before and the day of the
//! release, so every run changes 25,000 devices). Run with `cargo bench --bench policy_engine`.
//!
//! `LEGACY_SHARE` (percent, default 0) leaves that share of the devices out of DDM enrollment:
//! they take the legacy path (restrictions profile, `ScheduleOSUpdate`; the devices are
//! supervised), spread evenly over the rings and platforms. The first run then sends every
//! legacy device its deferral profile, and a last step (once) moves the clock past the first
//! rings' deadlines so their legacy devices get `ScheduleOSUpdate`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use orchard::admin::Actor;
use orchard::app::{self, AppState};
use orchard::clock::VirtualClock;
use orchard::config::Config;
use orchard::store::devices::{self, Inventory};

#[path = "support/catalog_day.rs"]
mod catalog_day;
#[path = "support/fleet.rs"]
mod fleet;

const GDMF: &[u8] = include_bytes!("../tests/data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const RUNS: usize = 3;

fn devices_wanted() -> usize {
    std::env::var("DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Percent of devices not declaratively enrolled (the legacy path).
fn legacy_share() -> usize {
    std::env::var("LEGACY_SHARE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(100)
}

/// Device `i` is left on the legacy path (`share` percent of them, every ring and platform).
fn is_legacy(i: usize, share: usize) -> bool {
    i % 100 < share
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn import(state: &AppState, day: &str) {
    state
        .catalog
        .import_documents(
            vec![("pmv.json".into(), catalog_day::gdmf_as_of(GDMF, day))],
            &mut |_| {},
        )
        .expect("catalog import");
}

/// The engine's own account of where a run's time went.
fn print_phases(p: &orchard::policy::PhaseTimes) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  phases (ms): read {:.0}, evaluate {:.0} (planner {:.0}, declaration sets {:.0}), store plans {:.0}, \
         declarations + commands {:.0}, delivery records {:.0}, legacy {:.0}",
        ms(p.read),
        ms(p.evaluate),
        ms(p.evaluate_plan),
        ms(p.evaluate_want),
        ms(p.store_plans),
        ms(p.declarations),
        ms(p.delivery_records),
        ms(p.legacy)
    );
}

fn udid(i: usize) -> String {
    format!("BENCH-{i:08}")
}

fn add_devices(state: &AppState, count: usize, now: chrono::DateTime<Utc>) {
    state
        .store
        .write_blocking(move |c| {
            let tx = c.transaction()?;
            for i in 0..count {
                let id = udid(i);
                let (model, version, build) = if i % 2 == 0 {
                    ("iPhone14,2", "26.4", "23E246")
                } else {
                    ("Mac14,9", "26.4", "25E246")
                };
                let inventory = Inventory {
                    serial_number: Some(format!("S{i:08}")),
                    os_version: Some(version.into()),
                    build_version: Some(build.into()),
                    product_name: Some(model.into()),
                    is_supervised: Some(true),
                    ..Inventory::default()
                };
                fleet::enroll(&tx, &id, inventory.clone(), now)?;
                devices::update_inventory(&tx, &id, &inventory, now)?;
            }
            tx.commit()?;
            Ok(())
        })
        .expect("devices");
}

fn main() {
    let count = devices_wanted();
    let share = legacy_share();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.server.listen = "127.0.0.1:0".into();
    if let Some(batch) = std::env::var("BATCH").ok().and_then(|v| v.parse().ok()) {
        config.policy.evaluation_batch = batch;
    }
    let clock = VirtualClock::new(Utc::now());
    let state = runtime.block_on(async { app::prepare(config, Arc::new(clock.clone())).expect("prepare") });
    let engine = state.policy_engine.clone();
    let actor = Actor::cli();

    clock.set(Utc.with_ymd_and_hms(2026, 4, 7, 9, 0, 0).single().expect("time"));
    import(&state, "2026-04-07");
    let setup = Instant::now();
    add_devices(&state, count, orchard::clock::Clock::now(&clock));
    runtime.block_on(async {
        state.policies.load_default_rings(&actor).await.expect("rings");
        let rings = ["Vanguard", "Early Adopter", "General Adoption", "Late Adoption"];
        let all: Vec<String> = (0..count).filter(|i| !is_legacy(*i, share)).map(udid).collect();
        for chunk in all.chunks(10_000) {
            state
                .ddm
                .on_enrollments(chunk.to_vec())
                .await
                .expect("ddm enrollment");
        }
        for (r, ring) in rings.iter().enumerate() {
            let members: Vec<String> = (0..count).filter(|i| i % 4 == r).map(udid).collect();
            for chunk in members.chunks(10_000) {
                state
                    .policies
                    .add_members(ring, chunk, &actor)
                    .await
                    .expect("members");
            }
        }
        let first = Instant::now();
        engine.enqueue_changes().await.expect("queue");
        let report = engine.run_queue().await.expect("first run");
        println!(
            "setup {:.1} s; first evaluation and delivery of {} devices ({share}% legacy): {:.3} s \
             ({} legacy commands)",
            setup.elapsed().as_secs_f64(),
            count,
            first.elapsed().as_secs_f64(),
            report.legacy_commands
        );
        print_phases(&report.phases);
    });

    // A new catalog entry: iOS and macOS 26.4.1 (posted 2026-04-08/09); on 2026-04-10 Vanguard's
    // one-day deferral has ended. Alternating with the day before, each run changes Vanguard.
    let mut full = Vec::new();
    for run in 0..RUNS * 2 {
        let (day, at) = if run % 2 == 0 {
            ("2026-04-09", Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0))
        } else {
            ("2026-04-07", Utc.with_ymd_and_hms(2026, 4, 7, 12, 0, 0))
        };
        clock.set(at.single().expect("time"));
        import(&state, day);
        let started = Instant::now();
        let (report, minute_job) = runtime.block_on(async {
            engine.enqueue_changes().await.expect("queue");
            let minute_job = started.elapsed();
            (engine.run_queue().await.expect("run"), minute_job)
        });
        let took = started.elapsed();
        println!(
            "catalog as of {day}: {} evaluated, {} changed, {} declaration sets, {} legacy commands: {:.3} s \
             (of which the minute job {:.0} ms)",
            report.evaluated,
            report.changed,
            report.declarative_deliveries,
            report.legacy_commands,
            took.as_secs_f64(),
            minute_job.as_secs_f64() * 1000.0
        );
        print_phases(&report.phases);
        if run % 2 == 0 {
            full.push(took);
        }
    }

    // One group changes: 1,000 Late Adoption devices move to Vanguard (and back, alternately).
    let moved: Vec<String> = (0..count).filter(|i| i % 4 == 3).take(1000).map(udid).collect();
    let mut incremental = Vec::new();
    for run in 0..RUNS * 2 {
        let (from, to) = if run % 2 == 0 {
            ("Late Adoption", "Vanguard")
        } else {
            ("Vanguard", "Late Adoption")
        };
        let started = Instant::now();
        let report = runtime.block_on(async {
            state
                .policies
                .remove_members(from, &moved, &actor)
                .await
                .expect("remove");
            state.policies.add_members(to, &moved, &actor).await.expect("add");
            engine.run_queue().await.expect("run")
        });
        let took = started.elapsed();
        println!(
            "group change ({} devices {from} -> {to}): {} evaluated, {} changed: {:.3} s",
            moved.len(),
            report.evaluated,
            report.changed,
            took.as_secs_f64()
        );
        print_phases(&report.phases);
        if run % 2 == 0 {
            incremental.push(took);
        }
    }
    println!(
        "median of {RUNS}: new catalog entry, {count} devices: {:.3} s; one group change (1,000 devices): {:.3} s",
        median(full).as_secs_f64(),
        median(incremental).as_secs_f64()
    );

    // Past the deadlines of the first rings: their legacy devices are told to install
    // (`ScheduleOSUpdate` + `OSUpdateStatus`), once (the records say it was sent), so this is
    // timed once per program run.
    if share > 0 {
        clock.set(
            Utc.with_ymd_and_hms(2026, 4, 14, 12, 0, 0)
                .single()
                .expect("time"),
        );
        import(&state, "2026-04-09");
        let started = Instant::now();
        let report = runtime.block_on(async {
            engine.sweep().await.expect("sweep");
            engine.run_queue().await.expect("run")
        });
        println!(
            "deadline passed: {} evaluated, {} changed, {} legacy commands: {:.3} s",
            report.evaluated,
            report.changed,
            report.legacy_commands,
            started.elapsed().as_secs_f64()
        );
        print_phases(&report.phases);
    }
}
