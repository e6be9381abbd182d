//! Micro-benchmark of the MDM command queue on a realistic database: 100,000 enrolled devices
//! and about 1,000,000 command rows (8 completed and 2 pending per device).
//!
//! Prints the median and 99th percentile of:
//! - next-command selection (`MdmService::connect` with `Idle`: identity check, last-seen
//!   update, queue query, mark as sent, commit),
//! - result storage (`connect` with an `Acknowledged` result: store the raw result, then
//!   select and send the next command, commit),
//! - the bare queue query on a reader connection.
//!
//! Run: `cargo bench --bench mdm_queue` (release profile). Optional argument: device count.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use orchard::clock::VirtualClock;
use orchard::config::MdmConfig;
use orchard::mdm::{CertFingerprint, MdmService, RecordingPushRequester};
use orchard::protocol::CommandUuid;
use orchard::protocol::commands::{Command, CommandRequest};
use orchard::store::Store;
use orchard::store::commands::{self as command_store, CommandStatus, NewCommand};
use orchard::store::devices::{self, Authentication, Inventory, PushCredentials};
use plist::{Dictionary, Value};
use rand::Rng;

const COMPLETED_PER_DEVICE: usize = 8;
const PENDING_PER_DEVICE: usize = 2;
const SAMPLES: usize = 5_000;

fn identity(i: usize) -> CertFingerprint {
    CertFingerprint::of_certificate_der(format!("device-{i}").as_bytes())
}

fn udid(i: usize) -> String {
    format!("00008030-{i:016X}")
}

fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut d = Dictionary::new();
    for (k, v) in pairs {
        d.insert((*k).into(), Value::String((*v).into()));
    }
    let mut out = Vec::new();
    Value::Dictionary(d).to_writer_xml(&mut out).unwrap_or_default();
    out
}

fn seed(store: &Store, count: usize, now: DateTime<Utc>) {
    let started = Instant::now();
    let result = body(&[("Status", "Acknowledged"), ("UDID", "x"), ("CommandUUID", "y")]);
    for chunk_start in (0..count).step_by(10_000) {
        store
            .write_blocking(|c| {
                let tx = c.transaction()?;
                for i in chunk_start..(chunk_start + 10_000).min(count) {
                    let (u, id) = (udid(i), identity(i));
                    let auth = Authentication {
                        udid: &u,
                        topic: "com.apple.mgmt.External.bench",
                        identity_fingerprint: id.as_str(),
                        inventory: Inventory::default(),
                    };
                    devices::record_authenticate(&tx, &auth, now)?;
                    let creds = PushCredentials {
                        topic: "com.apple.mgmt.External.bench",
                        token: b"0123456789abcdef0123456789abcdef",
                        push_magic: "MAGIC",
                        unlock_token: None,
                        awaiting_configuration: false,
                    };
                    devices::record_token_update(&tx, &u, &creds, now)?;
                    for n in 0..COMPLETED_PER_DEVICE + PENDING_PER_DEVICE {
                        let uuid = format!("{u}-{n}");
                        // The payload carries the same CommandUUID as the row, as `enqueue` makes it.
                        let payload = Command {
                            uuid: CommandUuid::parse(&uuid).unwrap_or_else(|e| panic!("{e}")),
                            request: CommandRequest::SecurityInfo,
                        }
                        .to_plist();
                        let cmd = NewCommand {
                            uuid: &uuid,
                            udid: &u,
                            request_type: "SecurityInfo",
                            priority: (n % 3) as i64,
                            payload: &payload,
                        };
                        let row = command_store::enqueue(&tx, &cmd, now)?;
                        if n < COMPLETED_PER_DEVICE {
                            command_store::complete(
                                &tx,
                                row,
                                CommandStatus::Acknowledged,
                                &result,
                                None,
                                now,
                            )?;
                        }
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("seeding failed: {e}"));
    }
    eprintln!(
        "seeded {count} devices and {} commands in {:.1} s",
        count * (COMPLETED_PER_DEVICE + PENDING_PER_DEVICE),
        started.elapsed().as_secs_f64()
    );
}

fn report(name: &str, mut micros: Vec<f64>) {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<44} median {:>8.1} µs   p99 {:>8.1} µs   ({} samples)",
        at(0.5),
        at(0.99),
        micros.len()
    );
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let now = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default();
    let store = Store::open(&dir.path().join("bench.db"), "bench").unwrap_or_else(|e| panic!("{e}"));
    seed(&store, count, now);
    let clock = VirtualClock::new(now + Duration::hours(1));
    let mdm = MdmService::new(
        store.clone(),
        Arc::new(clock.clone()),
        MdmConfig::default(),
        Arc::new(RecordingPushRequester::new()),
    );
    let mut rng = rand::rng();
    let picks: Vec<usize> = (0..SAMPLES).map(|_| rng.random_range(0..count)).collect();

    let mut bare = Vec::with_capacity(SAMPLES);
    for &i in &picks {
        let u = udid(i);
        let t = Instant::now();
        let next = store.read_blocking(|c| command_store::next_for_device(c, &u));
        bare.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(matches!(next, Ok(Some(_))));
    }

    let mut select = Vec::with_capacity(SAMPLES);
    let mut store_result = Vec::with_capacity(SAMPLES);
    for &i in &picks {
        let (u, id) = (udid(i), identity(i));
        let t = Instant::now();
        let sent = mdm.connect(&id, &body(&[("UDID", &u), ("Status", "Idle")]));
        select.push(t.elapsed().as_secs_f64() * 1e6);
        let Ok(Some(command)) = sent else {
            continue; // this device's pending commands were already answered in an earlier pick
        };
        let uuid = Value::from_reader_xml(command.as_slice())
            .ok()
            .and_then(|v| {
                v.as_dictionary()?
                    .get("CommandUUID")?
                    .as_string()
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let answer = body(&[("UDID", &u), ("Status", "Acknowledged"), ("CommandUUID", &uuid)]);
        let t = Instant::now();
        let stored = mdm.connect(&id, &answer);
        store_result.push(t.elapsed().as_secs_f64() * 1e6);
        if let Err(e) = stored {
            panic!("storing a result failed: {e}");
        }
    }

    let profile = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    println!(
        "MDM queue, {count} devices, {} command rows, {profile}, 2-core machine shared with other builds",
        count * (COMPLETED_PER_DEVICE + PENDING_PER_DEVICE)
    );
    report("queue query alone (reader)", bare);
    report("Idle → next command (service, 1 tx)", select);
    report("result stored → next command (service, 1 tx)", store_result);
}
