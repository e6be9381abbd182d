//! The devices list at 100,000 devices: the UI page, the API list and the dashboard, through the
//! real appliance (in-process, port 0, HTTPS), with the devices inserted through the store in one
//! transaction and every 7th one marked overdue, and three groups (Pilot: a static ring of every
//! 10th device; Macs: a rule ring; OS 18: a rule group). Each query runs `DEVICE_LIST_REPEAT`
//! times per run; prints each run's median and the median of the runs, each piece of the
//! dashboard on its own (store queries and services: where its time goes), then API list
//! throughput (100-row pages, N concurrent clients, `DEVICE_LIST_SECONDS` per measure) and the
//! load average.
//!
//! Run: `cargo bench --bench device_list` (release profile). Knobs: `DEVICE_LIST_DEVICES`
//! (100000), `DEVICE_LIST_RUNS` (3), `DEVICE_LIST_REPEAT` (20), `DEVICE_LIST_SECONDS` (5),
//! `DEVICE_LIST_KEEP_DB` (a directory, empty or absent: the data directory is made there and kept,
//! so its `orchard.db` can be examined with `sqlite3` afterwards).

#[path = "support/figures.rs"]
mod figures;
#[path = "support/fleet.rs"]
mod fleet;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use figures::{knob, median};
use orchard::admin::{Actor, ClientInfo, Role};
use orchard::app;
use orchard::clock::SystemClock;
use orchard::config::Config;
use orchard::sim::device::https_client;
use orchard::store::compliance::{self as compliance_rows, ComplianceRow};
use orchard::store::devices::Inventory;
use orchard::store::sql_time;

const PRODUCTS: [&str; 4] = ["iPhone15,2", "iPad13,4", "Mac14,9", "AppleTV14,1"];
const VERSIONS: [&str; 5] = ["17.5", "17.6.1", "18.0", "18.1", "26.1"];

fn insert(store: &orchard::store::Store, count: usize) -> anyhow::Result<()> {
    let now = Utc::now();
    store.write_blocking(|c| {
        let tx = c.transaction()?;
        for i in 0..count {
            let udid = format!("UDID-{i:08}");
            let seen = now - chrono::Duration::minutes(i as i64);
            let inventory = Inventory {
                serial_number: Some(format!("S{i:07}")),
                os_version: Some(VERSIONS[(i / 4) % 5].into()),
                product_name: Some(PRODUCTS[i % 4].into()),
                device_name: Some(format!("Device {:06}", (i * 7919) % count.max(1))),
                ..Inventory::default()
            };
            fleet::enroll(&tx, &udid, inventory, seen)?;
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

/// `/proc/loadavg`'s first three fields.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Pilot (static ring 1: every 10th device), Macs (rule ring 3), OS 18 (rule group): their ids.
async fn groups(state: &app::AppState, count: usize) -> anyhow::Result<[i64; 3]> {
    use orchard::policy::groups::{Group, GroupRules};
    use orchard::protocol::ddm::Platform;
    let started = Instant::now();
    let group = |name: &str, ring_order, rules: GroupRules| Group::new(name, ring_order, rules);
    let cli = Actor::cli();
    let macs = GroupRules {
        platforms: vec![Platform::MacOs],
        ..GroupRules::default()
    };
    let os_18 = GroupRules {
        os_majors: vec![18],
        ..GroupRules::default()
    };
    for g in [
        group("Pilot", Some(1), GroupRules::default()),
        group("Macs", Some(3), macs),
        group("OS 18", None, os_18),
    ] {
        state.policies.save_group(None, g, &cli).await?;
    }
    let members: Vec<String> = (0..count).step_by(10).map(|i| format!("UDID-{i:08}")).collect();
    for chunk in members.chunks(10_000) {
        state.policies.add_members("Pilot", chunk, &cli).await?;
    }
    println!(
        "3 groups saved and {} static members added in {:.1} s",
        members.len(),
        started.elapsed().as_secs_f64()
    );
    let choices = state.store.read(orchard::store::membership::choices).await?;
    let id = |name: &str| {
        choices
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.id)
            .ok_or_else(|| anyhow::anyhow!("no group {name}"))
    };
    Ok([id("Pilot")?, id("Macs")?, id("OS 18")?])
}

/// `clients` concurrent clients fetching 100-row pages of `query` (pages 1..=50 in turn) for
/// `length`: requests per second and the median latency in ms.
async fn throughput(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    clients: usize,
    length: Duration,
) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, base, token, query) = (
            client.clone(),
            base.to_string(),
            token.to_string(),
            query.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut page = 1 + c;
            while started.elapsed() < length {
                let url = format!("{base}/api/v1/devices?per_page=100&page={page}&{query}");
                let at = Instant::now();
                let res = client.get(&url).bearer_auth(&token).send().await?;
                let status = res.status();
                res.bytes().await?;
                if !status.is_success() {
                    anyhow::bail!("{url}: {status}");
                }
                latencies.push(at.elapsed().as_secs_f64() * 1000.0);
                page = page % 50 + 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((all.len() as f64 / elapsed, median(all)))
}

/// Median ms of `repeat` calls of `piece`.
async fn time_piece<T, F, Fut>(repeat: usize, piece: F) -> anyhow::Result<f64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let started = Instant::now();
        std::hint::black_box(piece().await?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(times))
}

/// Each piece of the dashboard on its own (the store queries through the store's reader, the
/// services as the page calls them): where the page's time goes.
async fn dashboard_pieces(state: &app::AppState, repeat: usize) -> anyhow::Result<()> {
    use orchard::store::{dashboard as rows, membership};
    let compliance = state.compliance();
    let admins = state.admins();
    let store = &state.store;
    let mut pieces: Vec<(&str, f64)> = Vec::new();
    pieces.push((
        "store: fleet_cells",
        time_piece(repeat, || async { Ok(store.read(rows::fleet_cells).await?) }).await?,
    ));
    pieces.push((
        "store: ring_cells",
        time_piece(repeat, || async { Ok(store.read(rows::ring_cells).await?) }).await?,
    ));
    pieces.push((
        "store: group_cells",
        time_piece(repeat, || async { Ok(store.read(rows::group_cells).await?) }).await?,
    ));
    pieces.push((
        "store: membership choices",
        time_piece(repeat, || async { Ok(store.read(membership::choices).await?) }).await?,
    ));
    pieces.push((
        "compliance.figures() (all of the above + folding)",
        time_piece(repeat, || async { Ok(compliance.figures().await?) }).await?,
    ));
    pieces.push((
        "compliance.upcoming_deadlines(14)",
        time_piece(repeat, || async { Ok(compliance.upcoming_deadlines(14).await?) }).await?,
    ));
    pieces.push((
        "compliance.history(30)",
        time_piece(repeat, || async { Ok(compliance.history(30).await?) }).await?,
    ));
    pieces.push((
        "admins.count()",
        time_piece(repeat, || async { Ok(admins.count().await?) }).await?,
    ));
    pieces.push((
        "admins.audit_page(None, 5)",
        time_piece(repeat, || async { Ok(admins.audit_page(None, 5).await?) }).await?,
    ));
    pieces.push((
        "cache.problems()",
        time_piece(repeat, || async { Ok(state.cache.problems().await?) }).await?,
    ));
    pieces.push((
        "push certificate (import::current)",
        time_piece(repeat, || async {
            Ok(orchard::push::import::current(store).await?)
        })
        .await?,
    ));
    println!("\ndashboard pieces (median of {repeat} calls each):");
    for (label, ms) in pieces {
        println!("{label:<52} {ms:>9.1} ms");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("load average before: {}", load_average());
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let count = knob("DEVICE_LIST_DEVICES", 100_000);
    let runs = knob("DEVICE_LIST_RUNS", 3);
    let repeat = knob("DEVICE_LIST_REPEAT", 20);

    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.storage.data_dir = match std::env::var_os("DEVICE_LIST_KEEP_DB") {
        Some(kept) => std::path::PathBuf::from(kept),
        None => dir.path().join("data"),
    };
    println!("data directory: {}", config.storage.data_dir.display());
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

    let ids = groups(&state, count).await?;
    let started = Instant::now();
    let evaluated = state.policy_engine.run_queue().await?;
    println!(
        "policy engine drained the queue ({} devices) in {:.1} s",
        evaluated.evaluated,
        started.elapsed().as_secs_f64()
    );
    let mut rebuilds = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let report = state.policies.refresh_membership().await?;
        rebuilds.push(started.elapsed().as_secs_f64() * 1000.0);
        println!(
            "membership rebuilt: {} devices, {} memberships, {} in rings, {:.0} ms",
            report.devices,
            report.memberships,
            report.in_rings,
            rebuilds.last().copied().unwrap_or(0.0)
        );
    }

    let server = app::start(state.clone())?;
    // The start-up rebuild runs in the background: wait for it (one writer) before measuring.
    state.policies.refresh_membership().await?;
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

    let (pilot, macs, os_18) = (ids[0], ids[1], ids[2]);
    let queries = [
        ("first page (default sort)".to_string(), String::new()),
        ("sorted by name, page 1000".into(), "sort=name&page=1000".into()),
        (
            "iPadOS 18, by serial".into(),
            "platform=iPadOS&os_version=18&sort=serial".into(),
        ),
        (
            "overdue >= 10 days".into(),
            "state=overdue&overdue_days=10".into(),
        ),
        ("search serial".into(), "q=S00012".into()),
        ("group OS 18 (rules)".into(), format!("group={os_18}")),
        (
            "group OS 18 + iPadOS, page 20".into(),
            format!("group={os_18}&platform=iPadOS&page=20"),
        ),
        (
            "ring Macs, by name, page 100".into(),
            format!("ring={macs}&sort=name&page=100"),
        ),
        (
            "ring Pilot (static) + overdue".into(),
            format!("ring={pilot}&state=overdue"),
        ),
    ];
    let mut table = Vec::new();
    for (label, query) in &queries {
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
        table.push((label.clone(), median(ui), median(api)));
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
    dashboard_pieces(&state, repeat).await?;
    let dashboard_url = format!("{base}/");
    let mut dashboard = Vec::new();
    for run in 1..=runs {
        let ms = time_get(|| client.get(&dashboard_url).header("cookie", &cookie), repeat).await?;
        println!("dashboard run {run}: {ms:.1} ms (median of {repeat})");
        dashboard.push(ms);
    }
    println!(
        "Dashboard (fleet figures, breakdowns by ring, group, platform, model, OS; deadline strip): {:.1} ms",
        median(dashboard)
    );
    println!(
        "membership rebuild at {count} devices: {:.0} ms (median of {runs})",
        median(rebuilds)
    );

    let seconds = knob("DEVICE_LIST_SECONDS", 5);
    println!("\nAPI list throughput, 100-row pages, {seconds} s per measure, median of {runs} runs:");
    println!(
        "{:<28} {:>8} {:>12} {:>14}",
        "view", "clients", "requests/s", "median ms"
    );
    for (label, query) in [
        ("all devices", String::new()),
        ("ring Macs", format!("ring={macs}")),
    ] {
        for clients in [1usize, 2, 4, 8] {
            let mut rates = Vec::new();
            let mut latencies = Vec::new();
            for _ in 0..runs {
                let (rate, latency) = throughput(
                    &client,
                    &base,
                    &token,
                    &query,
                    clients,
                    Duration::from_secs(seconds as u64),
                )
                .await?;
                rates.push(rate);
                latencies.push(latency);
            }
            println!(
                "{label:<28} {clients:>8} {:>12.1} {:>14.1}",
                median(rates),
                median(latencies)
            );
        }
    }
    println!("load average after: {}", load_average());
    server.stop().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
