//! The cache quota: least recently used payloads are evicted first, pinned ones never.

use orchard::cache::{CacheError, Digest, PayloadKind, Target};
use orchard::catalog::index::CatalogIndex;

use crate::cache_support::{CacheRig, payload, rig, sha256_hex};

fn target(build: &str) -> Target {
    Target {
        kind: PayloadKind::Ipsw,
        platform: "macOS".into(),
        version: "26.0".into(),
        build: build.into(),
        filename: format!("{build}.ipsw"),
    }
}

/// Imports a file of `len` bytes (first byte `seed`) a minute after the previous one.
async fn import(
    rig: &CacheRig,
    build: &str,
    len: usize,
    seed: u8,
) -> (Result<orchard::cache::import::Imported, CacheError>, Digest) {
    let file = rig.config.storage.data_dir.join(format!("{build}.ipsw"));
    let mut data = payload(len);
    data[0] = seed;
    std::fs::write(&file, &data).unwrap();
    rig.clock.advance(chrono::Duration::minutes(1));
    let r = rig
        .cache
        .import_file(&file, &CatalogIndex::default(), Some(target(build)))
        .await;
    (r, Digest::parse(&sha256_hex(&data)).unwrap())
}

#[tokio::test]
async fn least_recently_used_payloads_are_evicted_and_pinned_ones_survive() {
    let rig = rig(|c| c.cache.quota_bytes = 3000);
    let mut digests = Vec::new();
    for (build, seed) in [("A1", 1u8), ("B2", 2), ("C3", 3)] {
        let (r, d) = import(&rig, build, 1000, seed).await;
        r.unwrap();
        digests.push(d);
    }
    let [a, b, c] = [digests[0].clone(), digests[1].clone(), digests[2].clone()];
    // A is served after C was fetched; B is pinned.
    rig.clock.advance(chrono::Duration::minutes(1));
    rig.cache.open_for_serving(&a, "A1.ipsw").await.unwrap();
    rig.cache.set_pinned(&b, true).await.unwrap();

    let (r, d) = import(&rig, "D4", 1000, 4).await;
    r.unwrap();
    let present = |x: &Digest| rig.cache.files().exists(x);
    assert!(!present(&c), "C, least recently used, is evicted first");
    assert!(present(&a) && present(&b) && present(&d));
    assert!(rig.cache.payload(&c).await.unwrap().is_none());

    let (r, e) = import(&rig, "E5", 2000, 5).await;
    r.unwrap();
    assert!(!present(&a) && !present(&d), "A then D make room");
    assert!(present(&b), "the pinned payload survives");
    assert!(present(&e));
    assert_eq!(rig.cache.space().await.unwrap().used, 3000);

    // What cannot fit beside the pinned payload is refused, and nothing else is evicted.
    let (r, f) = import(&rig, "F6", 2500, 6).await;
    assert!(matches!(r, Err(CacheError::QuotaFull { .. })), "{r:?}");
    assert!(!present(&f));
    let partial = rig.cache.files().root().join("partial");
    assert_eq!(
        std::fs::read_dir(partial).unwrap().count(),
        0,
        "no staged copy is left"
    );
    assert!(present(&b) && present(&e));
}
