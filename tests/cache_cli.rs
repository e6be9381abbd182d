//! `orchard cache ...` and `orchard bundle ...` as the built binary, across two data
//! directories (two appliances with their own CAs).

use std::path::Path;
use std::process::Output;

use crate::cache_support::{payload, sha256_hex};
use crate::process;

fn orchard(dir: &Path, data: &Path, args: &[&str]) -> Output {
    let mut cmd = process::orchard(dir);
    cmd.arg("--data-dir").arg(data).args(args);
    process::run(&mut cmd)
}

fn text(out: &Output) -> String {
    format!("{}{}", process::stdout(out), process::stderr(out))
}

#[test]
fn import_list_pin_and_carry_a_bundle_to_another_appliance() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let file = dir.path().join("UniversalMac_26.6.2_25G83_Restore.ipsw");
    let data = payload(100_000);
    std::fs::write(&file, &data).unwrap();
    let digest = sha256_hex(&data);
    let f = file.to_str().unwrap();

    let unmatched = orchard(dir.path(), &a, &["cache", "import", f]);
    assert!(!unmatched.status.success());
    assert!(
        text(&unmatched).contains("matches no catalog entry"),
        "{}",
        text(&unmatched)
    );

    let out = orchard(
        dir.path(),
        &a,
        &[
            "cache",
            "import",
            f,
            "--platform",
            "macOS",
            "--version",
            "26.6.2",
            "--build",
            "25G83",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("/cache/{digest}/UniversalMac_26.6.2_25G83_Restore.ipsw")));

    let bundle = dir.path().join("bundle");
    let out = orchard(
        dir.path(),
        &a,
        &[
            "bundle",
            "export",
            "--platform",
            "macOS",
            "--version",
            "26.6.2",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    let untrusted = orchard(dir.path(), &b, &["bundle", "import", bundle.to_str().unwrap()]);
    assert!(!untrusted.status.success());
    assert!(
        text(&untrusted).contains("does not trust"),
        "{}",
        text(&untrusted)
    );

    let signer = bundle.join("signer.pem");
    let args = [
        "bundle",
        "import",
        bundle.to_str().unwrap(),
        "--trust",
        signer.to_str().unwrap(),
    ];
    let out = orchard(dir.path(), &b, &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("imported 1 payload(s) (0 already present)"),
        "{}",
        text(&out)
    );
    let again = orchard(dir.path(), &b, &args);
    assert!(
        text(&again).contains("imported 0 payload(s) (1 already present)"),
        "{}",
        text(&again)
    );

    let out = orchard(dir.path(), &b, &["cache", "pin", &digest]);
    assert!(out.status.success(), "{}", text(&out));
    let list = orchard(dir.path(), &b, &["cache", "list"]);
    let listed = text(&list);
    assert!(listed.contains(&digest) && listed.contains("pinned"), "{listed}");
    let bad = orchard(dir.path(), &b, &["cache", "pin", "../../etc"]);
    assert!(!bad.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_download_fetches_a_catalog_installer_with_a_progress_line() {
    use crate::cache_support::Cdn;
    let data = payload(3 * 1024 * 1024);
    let cdn = Cdn::start(data.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("a");
    // SOFA's installer list, with the one entry pointing at the local stand-in for Apple's CDN.
    let uma = serde_json::json!({
        "update_hash": "sha256:test",
        "total_products": 1,
        "catalog_url": "https://swscan.apple.com/content/catalogs/others/index.sucatalog",
        "products": [{
            "product_key": "140-93587", "title": "macOS Tahoe", "version": "26.6.2", "build": "25G83",
            "posting_date": "2026-08-17T17:43:47Z", "size": data.len(), "download_url": cdn.url()
        }]
    });
    let uma_path = dir.path().join("uma_catalog.json");
    std::fs::write(&uma_path, serde_json::to_vec(&uma).unwrap()).unwrap();
    let gdmf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
    let (d, a) = (dir.path().to_path_buf(), data_dir.clone());
    let out = tokio::task::spawn_blocking(move || {
        let imported = orchard(
            &d,
            &a,
            &[
                "catalog",
                "import",
                gdmf.to_str().unwrap(),
                uma_path.to_str().unwrap(),
            ],
        );
        assert!(imported.status.success(), "{}", text(&imported));
        orchard(
            &d,
            &a,
            &[
                "--set",
                "cache.allow_plain_http=true",
                // Slow enough (~1.5 s) for the progress line to be drawn.
                "--set",
                "cache.bandwidth_bytes_per_second=2000000",
                "cache",
                "download",
                "--build",
                "25G83",
            ],
        )
    })
    .await
    .unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let digest = sha256_hex(&data);
    assert!(
        printed.contains(&format!("done: /cache/{digest}/InstallAssistant.pkg")),
        "{printed}"
    );
    assert!(
        printed.contains("InstallAssistant.pkg: ") && printed.contains(" of 3.0 MiB, "),
        "{printed}"
    );
    assert_eq!(cdn.requests().len(), 1);
}
