//! The devices list with 100,000 generated devices (inserted through the store in one
//! transaction): filters, search, sorting and paging return exactly the right rows, through the
//! API, the UI page and the CSV export.

use std::time::Instant;

use chrono::Duration;
use orchard::admin::Role;
use orchard::store::compliance::{self as compliance_rows, ComplianceRow};
use orchard::store::sql_time;

use crate::api_support::{FakeDevice, get, insert_devices, token};
use crate::common;

pub(crate) const FLEET: usize = 100_000;
const PRODUCTS: [&str; 4] = ["iPhone15,2", "iPad13,4", "Mac14,9", "AppleTV14,1"];
const VERSIONS: [&str; 5] = ["17.5", "17.6.1", "18.0", "18.1", "26.1"];

pub(crate) fn fleet(now: chrono::DateTime<chrono::Utc>) -> Vec<FakeDevice> {
    (0..FLEET)
        .map(|i| FakeDevice {
            udid: format!("UDID-{i:08}"),
            serial: format!("S{i:07}"),
            name: format!("Device {:06}", (i * 7919) % FLEET),
            product: PRODUCTS[i % 4],
            os: VERSIONS[(i / 4) % 5].to_string(),
            seen: now - Duration::minutes(i as i64),
            enrolled: i % 10 != 9,
        })
        .collect()
}

/// Every 7th device is overdue, since (i % 30) days.
pub(crate) fn overdue_days(i: usize) -> Option<i64> {
    i.is_multiple_of(7).then_some((i % 30) as i64)
}

/// Inserts the fleet and the compliance rows of its overdue devices; returns the fleet.
pub(crate) fn seed_fleet(app: &common::TestApp) -> Vec<FakeDevice> {
    let now = app.clock_now();
    let devices = fleet(now);
    insert_devices(app, devices.clone());

    app.state
        .store
        .write_blocking(move |c| {
            let tx = c.transaction()?;
            for i in (0..FLEET).filter(|i| overdue_days(*i).is_some()) {
                let since = sql_time(now - Duration::days(overdue_days(i).unwrap_or(0)));
                compliance_rows::upsert(
                    &tx,
                    &ComplianceRow {
                        udid: format!("UDID-{i:08}"),
                        state: "overdue".into(),
                        reason: "17.6 was due".into(),
                        deadline: Some(since.clone()),
                        overdue_since: Some(since),
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
    devices
}

#[tokio::test]
async fn filters_search_sorting_and_paging_are_exact_at_100000_devices() {
    let app = common::spawn_app().await;
    let started = Instant::now();
    let devices = seed_fleet(&app);
    eprintln!("inserted {FLEET} devices in {:?}", started.elapsed());
    let viewer = token(&app, "dash", Role::Viewer).await;

    // Platform and OS version filters.
    let expected = devices
        .iter()
        .filter(|d| d.product.starts_with("iPad") && d.os.starts_with("18."))
        .count();
    let timer = Instant::now();
    let (status, page) = get(
        &app,
        &viewer,
        "/api/v1/devices?platform=iPadOS&os_version=18&per_page=100",
    )
    .await;
    eprintln!("filtered page in {:?}", timer.elapsed());
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], expected);
    assert!(
        page["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["model"] == "iPad13,4" && d["os_version"].as_str().unwrap().starts_with("18."))
    );

    // Sorted by name, page 3 of 100: exactly the 201st to 300th names.
    let mut names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    let (_, page) = get(
        &app,
        &viewer,
        "/api/v1/devices?sort=name&order=asc&page=3&per_page=100",
    )
    .await;
    let got: Vec<&str> = page["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names[200..300].to_vec());
    assert_eq!(page["pages"], FLEET / 100);

    // Default order: most recently seen first; the last page holds the oldest.
    let (_, last) = get(&app, &viewer, "/api/v1/devices?page=2000&per_page=50").await;
    let udids: Vec<&str> = last["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["udid"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (99_950..FLEET).map(|i| format!("UDID-{i:08}")).collect();
    assert_eq!(udids, want);

    // Compliance state and overdue days, with enrollment.
    let overdue_10 = (0..FLEET)
        .filter(|i| overdue_days(*i).is_some_and(|d| d >= 10))
        .count();
    let (_, page) = get(&app, &viewer, "/api/v1/devices?state=overdue&overdue_days=10").await;
    assert_eq!(page["total"], overdue_10);
    let enrolled_overdue = (0..FLEET)
        .filter(|i| overdue_days(*i).is_some() && i % 10 != 9)
        .count();
    let (_, page) = get(&app, &viewer, "/api/v1/devices?state=overdue&enrollment=enrolled").await;
    assert_eq!(page["total"], enrolled_overdue);

    // Search by serial, name or UDID.
    let (_, page) = get(&app, &viewer, "/api/v1/devices?q=S000123").await;
    let want = devices.iter().filter(|d| d.serial.contains("S000123")).count();
    assert_eq!(page["total"], want);
    let (_, page) = get(&app, &viewer, "/api/v1/devices?q=udid-00099999").await;
    assert_eq!(page["total"], 1, "case-insensitive UDID search");

    // The CSV of a filtered view has one line per matching device (paging ignored).
    let res = app
        .client
        .get(app.url("/api/v1/devices.csv?platform=tvOS&os_version=26.1"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let want = devices
        .iter()
        .filter(|d| d.product.starts_with("AppleTV") && d.os == "26.1")
        .count();
    assert_eq!(csv.lines().count(), want + 1);
    assert!(
        csv.lines().skip(1).all(|l| l.contains(",\"AppleTV14,1\",")),
        "tvOS rows only (the model is quoted: it holds a comma)"
    );

    // The UI page shows the same view, and its pager.
    app.create_admin("vic", Role::Viewer).await;
    let browser = app.signed_in("vic").await;
    let timer = Instant::now();
    let res = browser
        .get(app.url("/devices?platform=macOS&sort=serial&page=10"))
        .send()
        .await
        .unwrap();
    eprintln!("UI page in {:?}", timer.elapsed());
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("25000 match the filters"), "macOS count");
    assert!(html.contains("Page 10 of 500"));
    // Serial order among macOS devices (every 4th from 2): page 10 starts at the 451st.
    assert!(html.contains(&format!("S{:07}", 2 + 4 * 450)));
    let csv = browser
        .get(app.url("/devices/export.csv?platform=macOS&os_version=17.5"))
        .send()
        .await
        .unwrap();
    let want = devices
        .iter()
        .filter(|d| d.product.starts_with("Mac") && d.os == "17.5")
        .count();
    assert_eq!(csv.text().await.unwrap().lines().count(), want + 1);

    // The dashboard's figures at 100,000 devices (one aggregate query).
    let timer = Instant::now();
    let res = browser.get(app.url("/")).send().await.unwrap();
    eprintln!("dashboard in {:?}", timer.elapsed());
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let overdue = (0..FLEET).filter(|i| overdue_days(*i).is_some()).count();
    assert!(
        html.contains(&format!("<a href=\"/devices?state=overdue\">{overdue}</a>")),
        "overdue count on the dashboard"
    );
    assert!(html.contains("<a href=\"/devices?platform=macOS\">25000</a>"));
    app.stop().await;
}

#[tokio::test]
async fn bad_list_parameters_are_named_and_answer_nothing_else() {
    let app = common::spawn_app().await;
    let viewer = token(&app, "dash", Role::Viewer).await;
    let (status, body) = get(
        &app,
        &viewer,
        "/api/v1/devices?state=late&per_page=100000&sort=colour",
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["state", "sort", "per_page"]);
    app.stop().await;
}
