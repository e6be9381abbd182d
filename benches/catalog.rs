//! Figures for the catalog: parse + index of the largest gdmf sample, and applicability for
//! 100,000 synthetic devices. Run with `cargo bench --bench catalog` (release profile).

use std::time::{Duration, Instant};

use orchard::catalog::document::{DEFAULT_MAX_DOCUMENT_BYTES, ParsedDocument, parse_document};
use orchard::catalog::{Applicability, Build, CatalogIndex, DeviceQuery, OsFamily};

const GDMF: &[u8] = include_bytes!("../tests/data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const SOFA_MAC: &[u8] = include_bytes!("../tests/data/catalog-samples/sofa-v2-macos_data_feed.json");
const SOFA_IOS: &[u8] = include_bytes!("../tests/data/catalog-samples/sofa-v2-ios_data_feed.json");
const RUNS: usize = 9;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn build_index() -> CatalogIndex {
    let gdmf = match parse_document(GDMF, DEFAULT_MAX_DOCUMENT_BYTES) {
        Ok(ParsedDocument::Gdmf(g)) => g,
        _ => panic!("gdmf sample does not parse"),
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

fn main() {
    // 1. The largest gdmf sample alone, parse + index.
    let mut gdmf_times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let Ok(ParsedDocument::Gdmf(g)) = parse_document(GDMF, DEFAULT_MAX_DOCUMENT_BYTES) else {
            panic!("gdmf sample does not parse");
        };
        let index = CatalogIndex::build(g, &[], &[]);
        std::hint::black_box(index.device_count());
        gdmf_times.push(start.elapsed());
    }
    // 2. The whole snapshot (gdmf + SOFA v2 macOS and iOS feeds, 0.8 MB), parse + index.
    let mut all_times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(build_index().device_count());
        all_times.push(start.elapsed());
    }
    // 3. Applicability for 100,000 synthetic devices drawn from the catalog's own device ids.
    let index = build_index();
    let models = [
        (OsFamily::Ios, "iPhone14,2", "18.7.6", "22H320"),
        (OsFamily::Ios, "iPad13,18", "26.3.1", "23D8133"),
        (OsFamily::Ios, "iPad7,11", "18.7.7", "22H340"),
        (OsFamily::TvOs, "AppleTV14,1", "26.3", "23K620"),
        (OsFamily::MacOs, "J414sAP", "26.3.1", "25D2128"),
        (OsFamily::MacOs, "J132AP", "14.8.4", "23J319"),
        (OsFamily::MacOs, "Mac-827FAC58A8FDFA22", "11.7.10", "20G1427"),
        (OsFamily::Ios, "iPhone99,9", "26.4", "23E246"),
    ];
    let builds: Vec<Build> = models.iter().map(|m| m.3.parse().expect("build")).collect();
    let devices: Vec<DeviceQuery> = (0..100_000)
        .map(|i| {
            let m = i % models.len();
            DeviceQuery {
                family: models[m].0,
                device_id: Some(models[m].1),
                model: None,
                version: models[m].2.parse().expect("version"),
                build: Some(&builds[m]),
                supervised: i % 3 == 0,
            }
        })
        .collect();
    let mut fleet_times = Vec::new();
    let mut up_to_date = 0usize;
    for _ in 0..RUNS {
        up_to_date = 0;
        let start = Instant::now();
        for d in &devices {
            if let Applicability::Known(a) = index.applicability(d) {
                up_to_date += usize::from(a.status == orchard::catalog::UpdateStatus::UpToDate);
            }
        }
        fleet_times.push(start.elapsed());
    }
    println!("catalog figures, median of {RUNS} runs");
    println!(
        "  parse + index gdmf sample ({} bytes):            {:?}",
        GDMF.len(),
        median(gdmf_times)
    );
    println!(
        "  parse + index gdmf + SOFA v2 macOS/iOS ({} bytes): {:?}",
        GDMF.len() + SOFA_MAC.len() + SOFA_IOS.len(),
        median(all_times)
    );
    println!(
        "  applicability, 100,000 devices:                  {:?} ({up_to_date} up to date)",
        median(fleet_times)
    );
}
