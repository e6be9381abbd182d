//! The Devices pages: list with search and paging, the device page, and the safe commands an
//! operator may send from it — with roles, CSRF and bad input.

use crate::common::{self, TestApp};
use crate::mdm_support::{authenticate, token_update};

use orchard::admin::Role;
use orchard::mdm::CertFingerprint;

const PHONE: &str = "00008110-000A1C2E3F40801E";
const OTHER: &str = "00008120-0011223344556677";

async fn app_with_devices() -> TestApp {
    let app = common::spawn_app().await;
    for (udid, who) in [(PHONE, "phone"), (OTHER, "other")] {
        let mdm = app.state.mdm.clone();
        let id = CertFingerprint::of_certificate_der(who.as_bytes());
        tokio::task::spawn_blocking(move || {
            mdm.checkin(&id, &authenticate(udid)).unwrap();
            mdm.checkin(&id, &token_update(udid, b"token")).unwrap();
        })
        .await
        .unwrap();
    }
    app.create_admin("max", Role::Manager).await;
    app.create_admin("vic", Role::Viewer).await;
    app
}

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The request types queued for `udid`, newest first.
pub(crate) fn commands_of(app: &TestApp, udid: &str) -> Vec<String> {
    let udid = udid.to_string();
    app.state
        .store
        .read_blocking(move |c| orchard::store::commands::history(c, &udid, 100))
        .unwrap()
        .into_iter()
        .map(|c| c.request_type)
        .collect()
}

#[tokio::test]
async fn the_list_searches_and_pages_and_the_device_page_shows_what_is_known() {
    let app = app_with_devices().await;
    let anonymous = common::client_for(&app.state);
    let res = anonymous.get(app.url("/devices")).send().await.unwrap();
    assert!(
        res.status().is_redirection() || res.status() == 401,
        "{}",
        res.status()
    );

    let viewer = app.signed_in("vic").await;
    let (status, html) = get(&viewer, &app, "/devices").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(PHONE) && html.contains(OTHER),
        "both devices listed"
    );
    assert!(html.contains("iPhone15,2"));

    let (_, html) = get(&viewer, &app, "/devices?q=0011223344").await;
    assert!(
        html.contains(OTHER) && !html.contains(PHONE),
        "search narrows the list"
    );
    let (_, html) = get(&viewer, &app, "/devices?q=%25").await;
    assert!(
        !html.contains(PHONE),
        "a % is searched literally, not as a wildcard"
    );
    let (status, html) = get(&viewer, &app, "/devices?page=99").await;
    assert_eq!(status, 200);
    assert!(!html.contains(PHONE) && html.contains("There is no page 99"));

    let (status, html) = get(&viewer, &app, &format!("/devices/{PHONE}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("17.4") && html.contains("21E219"),
        "OS from Authenticate"
    );
    assert!(html.contains("DeviceInformation"), "command history");
    assert!(
        !html.contains("Ask the device"),
        "a viewer gets no command buttons"
    );

    let (status, _) = get(&viewer, &app, "/devices/NO-SUCH-DEVICE").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn managers_send_safe_commands_audited_and_nothing_else_gets_through() {
    let app = app_with_devices().await;
    let before = commands_of(&app, PHONE);

    // A viewer may not.
    let viewer = app.signed_in("vic").await;
    let (_, html) = get(&viewer, &app, &format!("/devices/{PHONE}")).await;
    let token = common::csrf_in(&html);
    let res = viewer
        .post(app.url(&format!("/devices/{PHONE}/commands")))
        .form(&[("csrf_token", token.as_str()), ("command", "SecurityInfo")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let manager = app.signed_in("max").await;
    let (_, html) = get(&manager, &app, &format!("/devices/{PHONE}")).await;
    assert!(html.contains("Ask the device"));
    let token = common::csrf_in(&html);

    // Without the CSRF token: refused.
    let res = manager
        .post(app.url(&format!("/devices/{PHONE}/commands")))
        .form(&[("command", "SecurityInfo")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Not a safe command, an unknown one, a malformed UDID: 400.
    for (udid, command) in [
        (PHONE, "RestartDevice"),
        (PHONE, "<script>"),
        ("not a udid!", "SecurityInfo"),
    ] {
        let res = manager
            .post(app.url(&format!("/devices/{}/commands", urlencoding(udid))))
            .form(&[("csrf_token", token.as_str()), ("command", command)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{udid} {command}");
    }
    assert_eq!(commands_of(&app, PHONE), before, "nothing queued");

    let res = manager
        .post(app.url(&format!("/devices/{PHONE}/commands")))
        .form(&[("csrf_token", token.as_str()), ("command", "SecurityInfo")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let (_, html) = get(&manager, &app, &location).await;
    assert!(html.contains("SecurityInfo queued"));
    assert_eq!(commands_of(&app, PHONE)[0], "SecurityInfo");

    let (_, audit) = get(&manager, &app, "/audit").await;
    assert!(audit.contains("device.command") && audit.contains("SecurityInfo"));
}

fn urlencoding(text: &str) -> String {
    text.replace(' ', "%20").replace('!', "%21")
}
