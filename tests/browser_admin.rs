//! A real headless Chromium (Debian `chromium` + `chromium-driver`) driven through WebDriver:
//! first-admin setup through the printed link, sign in, see the dashboard; a wrong password is
//! refused; a viewer cannot reach the users page.

use crate::common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";

fn find_chromedriver() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("chromedriver"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin/chromedriver")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed: run tests/run.sh (it installs Debian's chromium and \
                 chromium-driver), or apt-get install chromium chromium-driver"
            )
        })
}

/// chromedriver on a free port; killed when dropped.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_driver() -> Driver {
    assert!(
        std::path::Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is not installed: run tests/run.sh (it installs Debian's chromium and chromium-driver)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(find_chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Wait until it accepts connections (readiness of a process, not time logic).
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

pub(crate) async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    install_crypto_provider();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": CHROMIUM, "args": args }),
    );
    caps.insert("acceptInsecureCerts".into(), serde_json::Value::Bool(true));
    ClientBuilder::rustls()
        .expect("rustls connector")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with Chromium")
}

/// Waits until the page's text contains `text` (pages load after a click asynchronously).
pub(crate) async fn wait_for_text(c: &Client, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let body = c
            .find(Locator::Css("body"))
            .await
            .ok()
            .map(|b| async move { b.text().await.unwrap_or_default() });
        let body = match body {
            Some(f) => f.await,
            None => String::new(),
        };
        if body.contains(text) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "page never showed {text:?}; it shows:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn fill(c: &Client, css: &str, value: &str) {
    let field = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

pub(crate) async fn sign_in(c: &Client, app: &TestApp, username: &str, password: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    wait_for_text(c, "Sign in").await;
    fill(c, "input[name=username]", username).await;
    fill(c, "input[name=password]", password).await;
    click(c, "form[action='/login'] button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_login_dashboard_wrong_password_and_viewer_in_a_real_browser() {
    let driver = start_driver();
    let app = spawn_app().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // The printed one-time link creates the first administrator.
    let link = app.setup_link().await.expect("setup link");
    c.goto(&link).await.unwrap();
    wait_for_text(&c, "Create the first administrator").await;
    fill(&c, "input[name=username]", "root").await;
    fill(&c, "input[name=password]", TEST_PASSWORD).await;
    fill(&c, "input[name=password_confirm]", TEST_PASSWORD).await;
    click(&c, "form[action='/setup'] button[type=submit]").await;
    wait_for_text(&c, "The administrator account was created").await;

    // A wrong password is refused.
    sign_in(&c, &app, "root", "not the right password").await;
    wait_for_text(&c, "Wrong username or password.").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/login");

    // The right one leads to the dashboard with the product's navigation.
    sign_in(&c, &app, "root", TEST_PASSWORD).await;
    let dashboard = wait_for_text(&c, "Signed in as root").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");
    for section in [
        "Dashboard",
        "Devices",
        "Groups",
        "Policies",
        "Catalog",
        "Cache",
        "Enrollment",
        "Settings",
        "Audit",
    ] {
        assert!(dashboard.contains(section), "navigation shows {section}");
    }
    assert!(
        dashboard.contains("Fleet compliance") && dashboard.contains("No device has enrolled yet"),
        "the dashboard summarises the (still empty) fleet"
    );
    let css_applied = c
        .execute(
            "return getComputedStyle(document.querySelector('.sidebar')).display",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        css_applied,
        serde_json::json!("block"),
        "the stylesheet loaded under the CSP"
    );
    let png = c.screenshot().await.unwrap();
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-admin-dashboard.png");
    std::fs::write(&shot, &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");

    // Create a viewer through the users page, then sign out.
    c.goto(&app.url("/users")).await.unwrap();
    wait_for_text(&c, "New account").await;
    fill(&c, "form[action='/users'] input[name=username]", "vic").await;
    c.find(Locator::Css("form[action='/users'] select[name=role]"))
        .await
        .unwrap()
        .select_by_value("viewer")
        .await
        .unwrap();
    fill(&c, "form[action='/users'] input[name=password]", TEST_PASSWORD).await;
    fill(
        &c,
        "form[action='/users'] input[name=password_confirm]",
        TEST_PASSWORD,
    )
    .await;
    click(&c, "form[action='/users'] button[type=submit]").await;
    wait_for_text(&c, "Created vic.").await;
    let users_png = c.screenshot().await.unwrap();
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-admin-users.png"),
        users_png,
    )
    .unwrap();
    click(&c, "form[action='/logout'] button").await;
    wait_for_text(&c, "You are signed out.").await;

    // The viewer signs in but cannot reach the users page.
    sign_in(&c, &app, "vic", TEST_PASSWORD).await;
    wait_for_text(&c, "Signed in as vic").await;
    c.goto(&app.url("/users")).await.unwrap();
    let refused = wait_for_text(&c, "Not allowed").await;
    assert!(
        refused.contains("does not allow you to manage administrator accounts"),
        "{refused}"
    );
    assert!(!refused.contains("New account"));

    c.close().await.unwrap();
    app.stop().await;
    drop(driver);
}
