//! Figures for the pure planner: 100,000 devices in the four default rings, planned against the
//! real catalog sample (gdmf 2026-04-12 + SOFA v2 macOS and iOS), and the re-evaluation of one ring
//! after its group changes. Run with `cargo bench --bench policy_plan` (release profile).

use std::time::{Duration, Instant};

use chrono::{FixedOffset, TimeZone, Utc};
use orchard::catalog::CatalogIndex;
use orchard::catalog::document::{DEFAULT_MAX_DOCUMENT_BYTES, ParsedDocument, parse_document};
use orchard::policy::{DeviceView, Plan, RingAssignment, RingSchedule, Target, default_rings, plan, resolve};
use orchard::protocol::ddm::{Enrollment, Platform};

const GDMF: &[u8] = include_bytes!("../tests/data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const SOFA_MAC: &[u8] = include_bytes!("../tests/data/catalog-samples/sofa-v2-macos_data_feed.json");
const SOFA_IOS: &[u8] = include_bytes!("../tests/data/catalog-samples/sofa-v2-ios_data_feed.json");
const DEVICES: usize = 100_000;
const RUNS: usize = 9;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn build_index() -> CatalogIndex {
    let Ok(ParsedDocument::Gdmf(gdmf)) = parse_document(GDMF, DEFAULT_MAX_DOCUMENT_BYTES) else {
        panic!("gdmf sample does not parse");
    };
    let feeds: Vec<_> = [SOFA_MAC, SOFA_IOS]
        .iter()
        .map(|b| match parse_document(b, DEFAULT_MAX_DOCUMENT_BYTES) {
            Ok(ParsedDocument::Sofa(f)) => f,
            _ => panic!("SOFA sample does not parse"),
        })
        .collect();
    CatalogIndex::build(gdmf, &feeds, &[])
}

fn fleet() -> Vec<DeviceView> {
    // Real models and versions from the sample: iPhones and iPads on 26 and 18, an iPad stuck on
    // 18, legacy iPadOS 16, Apple-silicon and Intel Macs, macOS 13 (legacy), an unknown model.
    let models = [
        ("iPhone14,2", "26.3.1", "23D8133"),
        ("iPhone14,2", "18.7.6", "22H320"),
        ("iPad13,18", "26.2", "23C55"),
        ("iPad7,11", "18.7.3", "22H217"),
        ("iPad6,11", "16.7.14", "20H370"),
        ("Mac14,9", "26.3.1", "25D2128"),
        ("Mac14,9", "15.7.4", "24G517"),
        ("MacBookPro15,2", "14.8.4", "23J319"),
        ("MacBookPro15,2", "13.7.8", "22H730"),
        ("iPhone99,9", "26.4", "23E246"),
    ];
    (0..DEVICES)
        .map(|i| {
            let (model, version, build) = models[i % models.len()];
            DeviceView {
                platform: None,
                model: Some(model.to_string()),
                software_update_device_id: None,
                os_version: version.parse().expect("version"),
                build: Some(build.parse().expect("build")),
                supplemental_extra: None,
                enrollment: if i % 3 == 0 {
                    Enrollment::Device
                } else {
                    Enrollment::Supervised
                },
                ddm_active: true,
                utc_offset: FixedOffset::east_opt(3600).expect("offset"),
            }
        })
        .collect()
}

fn main() {
    let index = build_index();
    let devices = fleet();
    let rings = default_rings();
    let schedule = RingSchedule {
        offset_days: rings
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.to_string(), i as u32))
            .collect(),
        blocked_weekdays: vec![chrono::Weekday::Sat, chrono::Weekday::Sun],
        ..RingSchedule::default()
    };
    let now = Utc.with_ymd_and_hms(2026, 4, 12, 8, 0, 0).single().expect("now");
    // Ring of device i: i % 4. Its effective policy per platform comes from resolve().
    let evaluate = |only_ring: Option<usize>| -> Vec<Plan> {
        let mut plans = Vec::with_capacity(DEVICES);
        for (i, d) in devices.iter().enumerate() {
            let ring_index = i % rings.len();
            if only_ring.is_some_and(|r| r != ring_index) {
                continue;
            }
            let ring = &rings[ring_index];
            let assigned: Vec<&orchard::policy::Policy> = ring.policies.iter().collect();
            let platform = d.platform().unwrap_or(Platform::Ios);
            let Ok(Some(policy)) = resolve(&assigned, platform) else {
                continue;
            };
            let assignment = RingAssignment {
                name: ring.name,
                schedule: &schedule,
            };
            plans.push(plan(d, &index, policy, Some(&assignment), now));
        }
        plans
    };

    let mut full = Vec::new();
    let mut counts = (0, 0, 0);
    for _ in 0..RUNS {
        let start = Instant::now();
        let plans = evaluate(None);
        full.push(start.elapsed());
        counts = plans.iter().fold((0, 0, 0), |(e, n, u), p| match p.target {
            Target::Enforce(_) => (e + 1, n, u),
            Target::NoAction { .. } => (e, n + 1, u),
            Target::Unknown { .. } => (e, n, u + 1),
        });
        std::hint::black_box(&plans);
    }
    let mut one_ring = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let plans = evaluate(Some(2));
        one_ring.push(start.elapsed());
        std::hint::black_box(&plans);
    }
    println!("policy plan: {DEVICES} devices, 4 rings, median of {RUNS} runs");
    println!(
        "  outcomes: {} enforce, {} no action, {} unknown (the unknown model is one device in ten)",
        counts.0, counts.1, counts.2
    );
    println!(
        "  full evaluation:        median {:>8.1} ms (min {:.1}, max {:.1})",
        median(full.clone()).as_secs_f64() * 1e3,
        full.iter().min().expect("runs").as_secs_f64() * 1e3,
        full.iter().max().expect("runs").as_secs_f64() * 1e3
    );
    println!(
        "  one ring re-evaluated:  median {:>8.1} ms ({} devices)",
        median(one_ring).as_secs_f64() * 1e3,
        DEVICES / rings.len()
    );
}
