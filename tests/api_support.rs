//! Support for the API tests: tokens, bearer requests, and devices inserted through the store.
#![allow(dead_code)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orchard::admin::{Actor, Role};
use orchard::store::devices::{self, Authentication, Inventory, PushCredentials};
use serde_json::Value;

use crate::common::TestApp;

/// Creates an API token with `role`; returns its secret.
pub async fn token(app: &TestApp, name: &str, role: Role) -> String {
    app.state
        .api_access()
        .create_token(&Actor::cli(), name, role)
        .await
        .unwrap()
        .1
}

/// GET with a bearer token; the status and the body as JSON (`Null` when not JSON).
pub async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// POST of a JSON body with a bearer token.
pub async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A device as the list test generates it.
#[derive(Debug, Clone)]
pub struct FakeDevice {
    pub udid: String,
    pub serial: String,
    pub name: String,
    pub product: &'static str,
    pub os: String,
    pub seen: DateTime<Utc>,
    pub enrolled: bool,
}

/// Inserts `fleet` through the store's device functions, in one transaction.
pub fn insert_devices(app: &TestApp, fleet: Vec<FakeDevice>) {
    app.state
        .store
        .write_blocking(move |c| {
            let tx = c.transaction()?;
            for d in &fleet {
                let inventory = Inventory {
                    serial_number: Some(d.serial.clone()),
                    os_version: Some(d.os.clone()),
                    product_name: Some(d.product.to_string()),
                    device_name: Some(d.name.clone()),
                    ..Inventory::default()
                };
                let fingerprint = format!("fp-{}", d.udid);
                devices::record_authenticate(
                    &tx,
                    &Authentication {
                        udid: &d.udid,
                        topic: "com.apple.mgmt.test",
                        identity_fingerprint: &fingerprint,
                        inventory,
                    },
                    d.seen,
                )?;
                if d.enrolled {
                    devices::record_token_update(
                        &tx,
                        &d.udid,
                        &PushCredentials {
                            topic: "com.apple.mgmt.test",
                            token: b"token",
                            push_magic: "magic",
                            unlock_token: None,
                            awaiting_configuration: false,
                        },
                        d.seen,
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .unwrap();
}

/// One enrolled iPhone seen now.
pub fn one_device(app: &TestApp, udid: &str, serial: &str) {
    insert_devices(
        app,
        vec![FakeDevice {
            udid: udid.into(),
            serial: serial.into(),
            name: format!("Phone {serial}"),
            product: "iPhone15,2",
            os: "17.5".into(),
            seen: app.clock_now(),
            enrolled: true,
        }],
    );
}

/// Every group's id, by name.
pub async fn group_ids(app: &TestApp) -> HashMap<String, i64> {
    app.state
        .store
        .read(orchard::store::membership::choices)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.id))
        .collect()
}
