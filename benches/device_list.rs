//! The devices list at 100,000 devices: the UI page, the API list and the dashboard, through the
//! real appliance (in-process, port 0, HTTPS), with the devices inserted through the store in one
//! transaction and every 7th one marked overdue. Each query runs `DEVICE_LIST_REPEAT` times per
//! run; prints each run's median and the median of the runs.
//!
//! Run: `cargo bench --bench device_list` (release profile). Knobs: `DEVICE_LIST_DEVICES`
//! (100000), `DEVICE_LIST_RUNS` (3), `DEVICE_LIST_REPEAT` (20).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use orchard::admin::{Actor, ClientInfo, Role};
use orchard::app;
use orchard::clock::SystemClock;
use orchard::config::Config;
use orchard::sim::device::https_client;
use orchard::store::compliance::{self as compliance_rows, ComplianceRow};
use orchard::store::devices::{self, Authentication, Inventory, PushCredentials};
use orchard::store::sql_time;

const PRODUCTS: [&str; 4] = ["iPhone15,2", "iPad13,4", "Mac14,9", "AppleTV14,1"];
const VERSIONS: [&str; 5] = ["17.5", "17.6.1", "18.0", "18.1", "26.1"];

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn insert(store: &orchard::store::Store, count: usize) -> anyhow::Result<()> {
    let now = Utc::now();
    store.write_blocking(|c| {
        let tx = c.transaction()?;
        for i in 0..count {
            let udid = format!("UDID-{i:08}");
            let fingerprint = format!("fp-{i}");
            let seen = now - chrono::Duration::minutes(i as i64);
            devices::record_authenticate(
                &tx,
                &Authentication {
                    udid: &udid,
                    topic: "com.apple.mgmt.bench",
                    identity_fingerprint: &fingerprint,
                    inventory: Inventory {
                        serial_number: Some(format!("S{i:07}")),
                        os_version: Some(VERSIONS[(i / 4) % 5].into()),
                        product_name: Some(PRODUCTS[i % 4].into()),
                        device_name: Some(format!("Device {:06}", (i * 7919) % count.max(1))),
                        ..Inventory::default()
                    },
                },
                seen,
            )?;
            devices::record_token_update(
                &tx,
                &udid,
                &PushCredentials {
                    topic: "com.apple.mgmt.bench",
                    token: b"token",
                    push_magic: "magic",
                    unlock_token: None,
                    awaiting_configuration: false,
                },
                seen,
            )?;
            if i.is_multiple_of(7) {
                let since = sql_time(now - chrono::Duration::days((i % 30) as i64));
                compliance_rows::upsert(
                    &tx,
                    &ComplianceRow {
                        udid,
                        state: "overdue".into(),
                        reason: "bench".into(),
                        deadline: Some(since.clone()),
                        overdue_since: Some(since),
                        stale: false,
                        since: sql_time(now),
                        evaluated_at: sql_time(now),
                    },
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    })?;
    Ok(())
}

async fn time_get(request: impl Fn() -> reqwest::RequestBuilder, repeat: usize) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let started = Instant::now();
        let res = request().send().await?;
        let status = res.status();
        let body = res.bytes().await?;
        if !status.is_success() {
            anyhow::bail!("{status}: {}", String::from_utf8_lossy(&body));
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(times))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let count = knob("DEVICE_LIST_DEVICES", 100_000);
    let runs = knob("DEVICE_LIST_RUNS", 3);
    let repeat = knob("DEVICE_LIST_REPEAT", 20);

    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.server.listen = "127.0.0.1:0".into();
    config.server.tls_names = vec!["localhost".into()];
    let state = tokio::task::spawn_blocking(move || app::prepare(config, Arc::new(SystemClock))).await??;
    let started = Instant::now();
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || insert(&store, count)).await??;
    println!(
        "inserted {count} devices in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let server = app::start(state.clone())?;
    let base = format!("https://localhost:{}", server.https_addr.port());
    let client = https_client(state.pki.ca_cert_pem.as_bytes(), true)?;
    let (_, token) = state
        .api_access()
        .create_token(&Actor::cli(), "bench", Role::Viewer)
        .await?;
    let password = "bench password that is long enough";
    state
        .admins()
        .create(&Actor::cli(), "bench", Role::Viewer, password.into())
        .await?;
    let session = state
        .admins()
        .login(
            "bench",
            password,
            &ClientInfo {
                remote_addr: "127.0.0.1".into(),
                user_agent: "bench".into(),
            },
        )
        .await?;
    let cookie = format!("{}={}", orchard::web::csrf::SESSION_COOKIE, session.id);

    let queries = [
        ("first page (default sort)", ""),
        ("sorted by name, page 1000", "sort=name&page=1000"),
        (
            "iPadOS 18, by serial",
            "platform=iPadOS&os_version=18&sort=serial",
        ),
        ("overdue >= 10 days", "state=overdue&overdue_days=10"),
        ("search serial", "q=S00012"),
    ];
    let mut table = Vec::new();
    for (label, query) in queries {
        let mut ui = Vec::new();
        let mut api = Vec::new();
        for run in 1..=runs {
            let url = format!("{base}/devices?{query}");
            let page = time_get(|| client.get(&url).header("cookie", &cookie), repeat).await?;
            let url = format!("{base}/api/v1/devices?{query}");
            let list = time_get(|| client.get(&url).bearer_auth(&token), repeat).await?;
            println!("{label} run {run}: UI page {page:.1} ms, API list {list:.1} ms (medians of {repeat})");
            ui.push(page);
            api.push(list);
        }
        table.push((label, median(ui), median(api)));
    }
    let csv_url = format!("{base}/api/v1/devices.csv?state=overdue");
    let mut csv = Vec::new();
    for _ in 0..runs {
        csv.push(time_get(|| client.get(&csv_url).bearer_auth(&token), 3).await?);
    }
    println!("\n{count} devices; median of {runs} runs (each the median of {repeat} requests):");
    println!("{:<32} {:>12} {:>12}", "query", "UI page ms", "API list ms");
    for (label, ui, api) in table {
        println!("{label:<32} {ui:>12.1} {api:>12.1}");
    }
    println!(
        "CSV export of the overdue view ({} rows): {:.1} ms",
        count.div_ceil(7),
        median(csv)
    );
    let dashboard_url = format!("{base}/");
    let mut dashboard = Vec::new();
    for run in 1..=runs {
        let ms = time_get(|| client.get(&dashboard_url).header("cookie", &cookie), repeat).await?;
        println!("dashboard run {run}: {ms:.1} ms (median of {repeat})");
        dashboard.push(ms);
    }
    println!(
        "Dashboard (fleet figures, breakdowns, deadline strip): {:.1} ms",
        median(dashboard)
    );
    server.stop().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
