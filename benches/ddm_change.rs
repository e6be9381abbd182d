//! Benchmark: a declaration change reaching N enrolled devices through the real wiring (the DDM
//! service, its notifier over the MDM service, the push requester), as a catalog or policy change
//! does. Measures the call that makes the change and hands the devices to the notifier:
//! 1. `assign_device_sets`: one new own set for every device (what the policy engine does after a
//!    catalog change);
//! 2. `set_shared_declarations`: a new shared declaration, so every device's set changes.
//!
//! Set-up (not measured): N devices enrolled in the MDM store (`Authenticate` + `TokenUpdate`
//! records, no push certificate, so pushes end as "no certificate"), and in DDM.
//!
//! Run: `cargo bench --profile dev --bench ddm_change -- --devices N --runs N` (25,000 and 3).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use orchard::app::devices::DeviceServices;
use orchard::clock::{SharedClock, VirtualClock};
use orchard::config::Config;
use orchard::ddm::OwnSetAssignment;
use orchard::protocol::ddm::{
    Declaration, DeclarationIdentifier, ManagementProperties, PropertyValue, SimpleActivation,
};
use orchard::store::Store;
use orchard::store::devices::{self, Authentication, Inventory, PushCredentials};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn properties(identifier: &str, value: &str) -> Result<Declaration, Failure> {
    Ok(Declaration::new(
        DeclarationIdentifier::parse(identifier)?,
        &ManagementProperties([("site".to_string(), PropertyValue::Text(value.into()))].into()),
    )?)
}

fn activation(identifier: &str, of: &str) -> Result<Declaration, Failure> {
    Ok(Declaration::new(
        DeclarationIdentifier::parse(identifier)?,
        &SimpleActivation::new(vec![DeclarationIdentifier::parse(of)?])?,
    )?)
}

struct Timing {
    assign: Duration,
    shared: Duration,
    setup: Duration,
}

async fn run(devices: usize) -> Result<Timing, Failure> {
    let dir = tempfile::tempdir()?;
    let start = Utc
        .with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .ok_or("clock")?;
    let clock: SharedClock = Arc::new(VirtualClock::new(start));
    let mut config = Config::default();
    config.storage.data_dir = dir.path().join("data");
    std::fs::create_dir_all(&config.storage.data_dir)?;
    let store = Store::open(&dir.path().join("orchard.db"), "2026-03-01T09:00:00Z")?;
    let services = DeviceServices::build(&config, store.clone(), clock.clone())?;

    let setup = Instant::now();
    let udids: Vec<String> = (0..devices).map(|n| format!("00008110-{n:016X}")).collect();
    let enrolled = udids.clone();
    store
        .write(move |conn| {
            let tx = conn.transaction()?;
            for udid in &enrolled {
                let auth = Authentication {
                    udid,
                    topic: "com.apple.mgmt.External.bench",
                    identity_fingerprint: udid,
                    inventory: Inventory::default(),
                };
                devices::record_authenticate(&tx, &auth, start)?;
                let creds = PushCredentials {
                    topic: "com.apple.mgmt.External.bench",
                    token: udid.as_bytes(),
                    push_magic: "magic",
                    unlock_token: None,
                    awaiting_configuration: false,
                };
                devices::record_token_update(&tx, udid, &creds, start)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
    for chunk in udids.chunks(10_000) {
        services.ddm.on_enrollments(chunk.to_vec()).await?;
    }
    services.pusher.settled().await;
    let setup = setup.elapsed();

    let own = vec![
        properties("com.example.target", "26.4.1")?,
        activation("com.example.target.activation", "com.example.target")?,
    ];
    let begin = Instant::now();
    services
        .ddm
        .assign_device_sets(vec![OwnSetAssignment {
            declarations: own,
            udids: udids.clone(),
        }])
        .await?;
    let assign = begin.elapsed();
    services.pusher.settled().await;

    let begin = Instant::now();
    services
        .ddm
        .set_shared_declarations(vec![properties("com.example.site", "north")?])
        .await?;
    let shared = begin.elapsed();
    services.pusher.settled().await;
    Ok(Timing {
        assign,
        shared,
        setup,
    })
}

fn option(args: &[String], name: &str, default: usize) -> Result<usize, Failure> {
    match args.iter().position(|arg| arg == name) {
        Some(index) => Ok(args.get(index + 1).ok_or("missing value")?.parse()?),
        None => Ok(default),
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let devices = option(&args, "--devices", 25_000)?.max(1);
    let runs = option(&args, "--runs", 3)?.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!("A declaration change reaching {devices} enrolled devices through DDM, MDM and push");
    let mut assigns = Vec::with_capacity(runs);
    let mut shareds = Vec::with_capacity(runs);
    for index in 1..=runs {
        let timing = runtime.block_on(run(devices))?;
        println!(
            "  run {index}: assign_device_sets {:>7.3} s, set_shared_declarations {:>7.3} s (set-up {:.1} s)",
            timing.assign.as_secs_f64(),
            timing.shared.as_secs_f64(),
            timing.setup.as_secs_f64()
        );
        assigns.push(timing.assign);
        shareds.push(timing.shared);
    }
    println!(
        "  median: assign_device_sets {:.3} s, set_shared_declarations {:.3} s over {runs} runs",
        median(assigns).as_secs_f64(),
        median(shareds).as_secs_f64()
    );
    Ok(())
}
