//! Shared pieces of the policy and group page tests: an appliance with the real catalog sample,
//! three enrolled devices and a static group, on a day the sample's releases are still offered.

use crate::common::{self, TestApp};
use crate::ui_support::with_roles;

use chrono::Utc;
use orchard::store::devices::{self, Authentication, Inventory, PushCredentials};

const GDMF: &[u8] = include_bytes!("data/catalog-samples/gdmf-pmv-raw-2026-04-12.json");
const SOFA_IOS: &[u8] = include_bytes!("data/catalog-samples/sofa-v2-ios_data_feed.json");

/// Two days after the catalog sample was taken.
pub const CATALOG_DAY: &str = "2026-04-14T08:00:00Z";

pub const PHONE: &str = "00008110-000A1C2E3F40801E";
pub const PAD: &str = "00008103-001A2B3C4D5E6F70";
pub const MAC: &str = "MAC-0000-1111-2222";

/// An enrolled, supervised device of `product` on `os`, with serial number `serial`.
pub fn enroll_device(app: &TestApp, udid: &str, product: &str, os: &str, serial: &str) {
    let (udid, product, os, serial) = (
        udid.to_string(),
        product.to_string(),
        os.to_string(),
        serial.to_string(),
    );
    app.state
        .store
        .write_blocking(move |c| {
            let now = Utc::now();
            devices::record_authenticate(
                c,
                &Authentication {
                    udid: &udid,
                    topic: "com.apple.mgmt.External.test",
                    identity_fingerprint: &format!("fp-{udid}"),
                    inventory: Inventory::default(),
                },
                now,
            )?;
            devices::record_token_update(
                c,
                &udid,
                &PushCredentials {
                    topic: "com.apple.mgmt.External.test",
                    token: b"token",
                    push_magic: "magic",
                    unlock_token: None,
                    awaiting_configuration: false,
                },
                now,
            )?;
            devices::update_inventory(
                c,
                &udid,
                &Inventory {
                    os_version: Some(os),
                    product_name: Some(product),
                    serial_number: Some(serial),
                    is_supervised: Some(true),
                    ..Inventory::default()
                },
                now,
            )
        })
        .unwrap();
}

pub fn import_catalog(app: &TestApp) {
    app.state
        .catalog
        .import_documents(
            vec![
                ("pmv.json".into(), GDMF.to_vec()),
                ("ios.json".into(), SOFA_IOS.to_vec()),
            ],
            &mut |_| {},
        )
        .unwrap();
}

/// An appliance with accounts ada/max/vic, the catalog, an iPhone, an iPad and a Mac, and a
/// static group "Pilot" holding the iPhone and the Mac (added through the group pages).
pub async fn app_with_fleet() -> TestApp {
    let app = common::spawn_app().await;
    // The catalog sample is of 2026-04-12: its releases are offered (not expired) then.
    app.clock.set(CATALOG_DAY.parse().unwrap());
    with_roles(&app).await;
    import_catalog(&app);
    enroll_device(&app, PHONE, "iPhone14,2", "26.1", "PHONE1");
    enroll_device(&app, PAD, "iPad13,1", "26.1", "PAD1");
    enroll_device(&app, MAC, "Mac14,9", "26.1", "MAC1");
    let manager = app.signed_in("max").await;
    let res = app
        .post_form(&manager, "/groups/new", &[("name", "Pilot"), ("kind", "static")])
        .await;
    assert_eq!(res.status(), 303, "group created");
    let res = app
        .post_form(
            &manager,
            "/groups/Pilot/members/add",
            &[("devices", &format!("{PHONE}\n{MAC}"))],
        )
        .await;
    assert_eq!(res.status(), 303, "members added");
    app
}

pub async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}
