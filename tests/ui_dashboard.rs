//! The dashboard's fleet figures from a controlled fleet (virtual clock): counts and shares by
//! compliance state, the breakdowns by platform, model and OS version, the 14-day deadline strip,
//! and every number a link to the devices list showing exactly that many devices.

use chrono::{DateTime, Duration, Utc};
use orchard::admin::Role;
use orchard::store::compliance::{self as compliance_rows, ComplianceRow};
use orchard::store::sql_time;

use crate::api_support::{FakeDevice, insert_devices};
use crate::common::{self, TestApp};

pub(crate) const FLEET: usize = 45;
pub(crate) const PRODUCTS: [&str; 3] = ["iPhone15,2", "iPad13,4", "Mac14,9"];
const VERSIONS: [&str; 3] = ["17.5", "18.1", "26.1"];

/// Device `i`'s stored state: every 5th is not assessed yet; the rest cycle through up to date,
/// overdue and in grace (due in 1 + i % 3 days).
pub(crate) fn state_of(i: usize) -> Option<&'static str> {
    if i % 5 == 4 {
        return None;
    }
    Some(["up_to_date", "overdue", "in_grace"][i % 3])
}

fn due_in_days(i: usize) -> i64 {
    1 + (i % 3) as i64 + (i % 2) as i64
}

pub(crate) fn controlled_fleet(app: &TestApp, now: DateTime<Utc>) {
    let devices = (0..FLEET)
        .map(|i| FakeDevice {
            udid: format!("DASH-{i:04}"),
            serial: format!("D{i:06}"),
            name: format!("Dash {i:04}"),
            product: PRODUCTS[i % 3],
            os: VERSIONS[(i / 3) % 3].to_string(),
            seen: now - Duration::minutes(i as i64),
            enrolled: true,
        })
        .collect();
    insert_devices(app, devices);
    app.state
        .store
        .write_blocking(move |c| {
            let tx = c.transaction()?;
            for i in 0..FLEET {
                let Some(state) = state_of(i) else { continue };
                let deadline = match state {
                    "in_grace" => Some(sql_time(now + Duration::days(due_in_days(i)))),
                    "overdue" => Some(sql_time(now - Duration::days(2))),
                    _ => None,
                };
                compliance_rows::upsert(
                    &tx,
                    &ComplianceRow {
                        udid: format!("DASH-{i:04}"),
                        state: state.into(),
                        reason: "controlled".into(),
                        overdue_since: (state == "overdue").then(|| deadline.clone()).flatten(),
                        deadline,
                        stale: false,
                        since: sql_time(now),
                        evaluated_at: sql_time(now),
                    },
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .unwrap();
}

pub(crate) async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Every `<a href="/devices?...">N</a>` on the page: (query path, N).
pub(crate) fn device_links(html: &str) -> Vec<(String, usize)> {
    html.split("<a href=\"/devices?")
        .skip(1)
        .filter_map(|rest| {
            let (query, after) = rest.split_once("\">")?;
            let (text, _) = after.split_once("</a>")?;
            let count = text.trim().parse().ok()?;
            Some((
                format!("/devices?{}", query.replace("&#38;", "&").replace("&amp;", "&")),
                count,
            ))
        })
        .collect()
}

/// The `<tr data-state="...">` line of the state table: (count, share text).
fn state_line(html: &str, state: &str) -> (String, String) {
    let row = html
        .split(&format!("<tr data-state=\"{state}\">"))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("no line for {state}"));
    let cells: Vec<String> = row
        .split("<td class=\"num\">")
        .skip(1)
        .map(|c| {
            let c = c.split("</td>").next().unwrap_or("");
            let text = c.rsplit_once("\">").map(|(_, t)| t).unwrap_or(c);
            text.replace("</a>", "").trim().to_string()
        })
        .collect();
    (cells[0].clone(), cells[1].clone())
}

#[tokio::test]
async fn figures_match_the_fleet_and_every_number_leads_to_exactly_its_devices() {
    let app = common::spawn_app().await;
    let now = app.clock_now();
    controlled_fleet(&app, now);
    app.create_admin("vic", Role::Viewer).await;

    let anonymous = common::client_for(&app.state);
    let res = anonymous.get(app.url("/")).send().await.unwrap();
    assert!(res.status().is_redirection() || res.status() == 401);

    let viewer = app.signed_in("vic").await;
    let (status, html) = get(&viewer, &app, "/").await;
    assert_eq!(status, 200, "{html}");

    let count = |f: &dyn Fn(usize) -> bool| (0..FLEET).filter(|i| f(*i)).count();
    let overdue = count(&|i| state_of(i) == Some("overdue"));
    let not_assessed = count(&|i| state_of(i).is_none());
    assert_eq!(
        state_line(&html, "overdue"),
        (
            overdue.to_string(),
            format!("{:.1}%", overdue as f64 * 100.0 / FLEET as f64)
        )
    );
    assert_eq!(state_line(&html, "not_assessed").0, not_assessed.to_string());
    assert_eq!(state_line(&html, "failed"), ("0".into(), "0.0%".into()));

    let links = device_links(&html);
    // The state lines, the fleet total, and per breakdown row: total + non-zero state cells.
    assert!(links.len() > 20, "{links:?}");
    let expected = |query: &str| {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        (0..FLEET)
            .filter(|i| {
                pairs.iter().all(|(k, v)| match k.as_str() {
                    "state" => state_of(*i) == Some(v.as_str()),
                    "platform" => match v.as_str() {
                        "iOS" => PRODUCTS[i % 3].starts_with("iPhone"),
                        "iPadOS" => PRODUCTS[i % 3].starts_with("iPad"),
                        "macOS" => PRODUCTS[i % 3].starts_with("Mac"),
                        other => panic!("unexpected platform {other}"),
                    },
                    "model" => PRODUCTS[i % 3] == v,
                    "os_version" => VERSIONS[(i / 3) % 3].split('.').next() == Some(v.as_str()),
                    other => panic!("unexpected filter {other} in {query}"),
                })
            })
            .count()
    };
    let mut followed = 0;
    for (href, shown) in &links {
        let query = href.trim_start_matches("/devices?");
        assert_eq!(*shown, expected(query), "{href}");
        let (status, list) = get(&viewer, &app, href).await;
        assert_eq!(status, 200, "{href}");
        assert!(
            list.contains(&format!("{shown} match the filters")),
            "{href} should list {shown} devices"
        );
        let rows = list.matches("<a href=\"/devices/DASH-").count();
        assert_eq!(rows, *shown, "{href} shows {rows} rows, dashboard said {shown}");
        followed += 1;
    }
    assert!(followed > 20);
    assert!(
        links
            .iter()
            .any(|(h, n)| h == "/devices?model=iPhone15%2C2" && *n == 15),
        "{links:?}"
    );
    assert!(
        links
            .iter()
            .any(|(h, _)| h == "/devices?state=overdue&os_version=26")
    );

    // The strip: 14 days from today, devices in grace due on their day.
    let days: Vec<(String, usize)> = html
        .split("<g class=\"day\" data-date=\"")
        .skip(1)
        .filter_map(|g| {
            let (date, rest) = g.split_once("\" data-due=\"")?;
            let (due, _) = rest.split_once('"')?;
            Some((date.to_string(), due.parse().ok()?))
        })
        .collect();
    assert_eq!(days.len(), 14);
    assert_eq!(days[0].0, now.format("%Y-%m-%d").to_string());
    for (offset, (date, due)) in days.iter().enumerate() {
        let expected = count(&|i| {
            state_of(i) == Some("in_grace")
                && (now + Duration::days(due_in_days(i))).date_naive()
                    == now.date_naive() + Duration::days(offset as i64)
        });
        assert_eq!(*due, expected, "{date}");
    }
    assert!(days.iter().map(|(_, n)| n).sum::<usize>() > 0);
}

#[tokio::test]
async fn an_empty_fleet_says_so_and_links_to_enrollment() {
    let app = common::spawn_app().await;
    app.create_admin("vic", Role::Viewer).await;
    let viewer = app.signed_in("vic").await;
    let (status, html) = get(&viewer, &app, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("No device has enrolled yet"));
    assert!(device_links(&html).is_empty());
}

#[tokio::test]
async fn cache_problems_are_alerts_that_lead_to_the_cache_page() {
    let app = common::spawn_app().await;
    app.create_admin("vic", Role::Viewer).await;
    let viewer = app.signed_in("vic").await;
    let (_, html) = get(&viewer, &app, "/").await;
    assert!(
        !html.contains("quarantined"),
        "no cache alert while the cache is fine"
    );

    let now = sql_time(app.clock_now());
    app.state
        .store
        .write_blocking(move |c| {
            orchard::store::cache::upsert_payload(
                c,
                &orchard::store::cache::PayloadRow {
                    digest: "ab".repeat(32),
                    kind: "installer".into(),
                    platform: "macOS".into(),
                    version: "26.1".into(),
                    build: "25B78".into(),
                    filename: "InstallAssistant.pkg".into(),
                    size: 10,
                    chunklist_sha256: None,
                    source_url: None,
                    fetched_at: now.clone(),
                    last_served_at: None,
                    pinned: false,
                    state: "quarantined".into(),
                    problem: Some("digest mismatch".into()),
                },
            )?;
            for (url, state) in [("https://a.example/x", "failed"), ("https://a.example/y", "failed"), ("https://a.example/y", "done")] {
                c.execute(
                    "INSERT INTO cache_downloads (kind, platform, version, build, filename, url, state, created_at, updated_at)
                     VALUES ('installer', 'macOS', '26.1', '25B78', 'f.pkg', ?1, ?2, ?3, ?3)",
                    rusqlite::params![url, state, now],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let (status, html) = get(&viewer, &app, "/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("1 cached payload(s) failed verification and are quarantined"),
        "{html}"
    );
    assert!(
        html.contains("1 payload download(s) failed"),
        "a failed download fetched later is not an alert: {html}"
    );
    assert!(html.contains("<a href=\"/cache\">Open the cache</a>"));
}

fn snapshot_rows(app: &TestApp) -> Vec<(String, String, usize)> {
    app.state
        .store
        .read_blocking(|c| orchard::store::dashboard::snapshots_since(c, "2000-01-01"))
        .unwrap()
}

#[tokio::test]
async fn a_snapshot_is_written_once_per_day_and_drawn_over_time() {
    let app = common::spawn_app_with(tempfile::tempdir().unwrap(), |c| c.server.scheduled_jobs = true).await;
    let start = app.clock_now();
    // The start of the appliance catches up today's snapshot (the fleet is still empty).
    let mut waited = 0;
    while snapshot_rows(&app).is_empty() && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        waited += 1;
    }
    let rows = snapshot_rows(&app);
    assert_eq!(rows.len(), 9, "one row per state and not assessed: {rows:?}");
    assert!(
        rows.iter()
            .all(|(day, _, n)| *day == start.format("%Y-%m-%d").to_string() && *n == 0)
    );

    controlled_fleet(&app, start);
    let compliance = app.state.compliance();
    assert!(
        !compliance.snapshot_today().await.unwrap(),
        "today's is written already"
    );
    assert_eq!(snapshot_rows(&app).len(), 9);

    app.clock.advance(Duration::days(1));
    assert!(compliance.snapshot_today().await.unwrap());
    assert!(!compliance.snapshot_today().await.unwrap());
    let rows = snapshot_rows(&app);
    assert_eq!(rows.len(), 18);
    let tomorrow = (start + Duration::days(1)).format("%Y-%m-%d").to_string();
    let up_to_date = (0..FLEET).filter(|i| state_of(*i) == Some("up_to_date")).count();
    assert!(rows.contains(&(tomorrow.clone(), "up_to_date".into(), up_to_date)));

    app.create_admin("vic", Role::Viewer).await;
    let viewer = app.signed_in("vic").await;
    let (status, html) = get(&viewer, &app, "/").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<g class=\"snapshot\"").count(), 2);
    assert!(html.contains(&format!(
        "data-day=\"{tomorrow}\" data-up-to-date=\"{up_to_date}\" data-late=\"{}\" data-total=\"{FLEET}\"",
        (0..FLEET).filter(|i| state_of(*i) == Some("overdue")).count()
    )));
}
