//! The main flow of the product in a real headless Chromium, with simulated iPhones on the real
//! device channel (SCEP identities, signed check-ins, a fake APNs over HTTP/2): a manager creates
//! a rolling policy for a group through the form, previews it and saves it; the phones sync the
//! enforcement the engine delivers, download it, install at the deadline and report their new
//! version; the dashboard follows them from "installing" to "up to date"; a viewer cannot save a
//! policy.

use crate::browser_admin::{Driver, browser, click, fill, sign_in, start_driver, wait_for_text};
use crate::common::{EnrolledDevice, TEST_PASSWORD, TestApp};
use crate::ddm_rollout::{SignedCheckins, answer_commands};
use crate::device_channel::{self as channel};
use crate::policy_simulated::import;
use crate::ui_support::with_roles;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use fantoccini::{Client, Locator};
use orchard::protocol::ddm::Platform;
use orchard::sim::ddm::{DdmClient, DeviceProfile, OfferedUpdate, SoftwareUpdateModel};

const ENFORCEMENT: &str = "com.orchard.policy.enforcement";
const PHONES: [&str; 2] = ["0000FE00-1111AAAA2222BBBB", "0000FE00-3333CCCC4444DDDD"];

struct Phone {
    udid: &'static str,
    device: Arc<EnrolledDevice>,
    ddm: DdmClient,
}

impl Phone {
    /// Enrolled by SCEP on 26.4, offered 26.4.1 (posted 2026-04-08) by its simulated Apple.
    async fn enroll(app: &TestApp, udid: &'static str, token: u8) -> Phone {
        let device = Arc::new(channel::enroll_running(app, udid, &[token; 32], "26.4").await);
        let clock: orchard::clock::SharedClock = Arc::new(app.clock.clone());
        let mut profile = DeviceProfile::new(Platform::Ios, udid, "26.4", "23E246");
        profile.model_identifier = "iPhone17,3".into();
        let offered = vec![OfferedUpdate::new(
            "26.4.1",
            "23E254",
            Utc.with_ymd_and_hms(2026, 4, 8, 17, 0, 0).unwrap(),
        )];
        let transport = Arc::new(SignedCheckins {
            udid: udid.into(),
            client: app.client.clone(),
            url: app.url("/mdm/checkin"),
            device: device.clone(),
        });
        let ddm = DdmClient::new(
            transport,
            clock.clone(),
            SoftwareUpdateModel::new(clock, profile, offered),
        );
        Phone { udid, device, ddm }
    }

    /// Connects as after a push: answers every queued command, syncing on DeclarativeManagement.
    async fn connect(&mut self, app: &TestApp) -> Vec<String> {
        answer_commands(app, self.udid, &self.device, &mut self.ddm).await
    }

    async fn os_version(&self, app: &TestApp) -> Option<String> {
        let udid = self.udid;
        app.state
            .store
            .read(move |c| orchard::store::devices::get(c, udid))
            .await
            .unwrap()
            .and_then(|d| d.inventory.os_version)
    }
}

/// The count the dashboard shows for `state`, after a reload.
async fn dashboard_count(c: &Client, app: &TestApp, state: &str) -> String {
    c.goto(&app.url("/")).await.unwrap();
    wait_for_text(c, "Fleet compliance").await;
    c.find(Locator::Css(&format!("#states tr[data-state={state}] td.num")))
        .await
        .unwrap_or_else(|e| panic!("no {state} row on the dashboard: {e}"))
        .text()
        .await
        .unwrap()
}

/// What the scheduler's jobs do each minute, run now: re-evaluate plans, then compliance.
async fn tick(app: &TestApp) {
    app.state.policy_engine.enqueue_changes().await.unwrap();
    app.state.policy_engine.run_queue().await.unwrap();
    app.state.compliance().refresh_all().await.unwrap();
}

async fn signed_in_browser(driver: &Driver, app: &TestApp, user: &str) -> (Client, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let c = browser(driver, profile.path()).await;
    sign_in(&c, app, user, TEST_PASSWORD).await;
    wait_for_text(&c, &format!("Signed in as {user}")).await;
    (c, profile)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_rolls_out_an_update_to_a_group_and_the_dashboard_follows_the_devices() {
    let driver = start_driver();
    let rig = channel::rig().await;
    let app = &rig.app;
    app.clock.set(Utc.with_ymd_and_hms(2026, 4, 9, 9, 0, 0).unwrap());
    import(app, (2026, 4, 9)).await;
    with_roles(app).await;

    let mut phones = Vec::new();
    for (n, udid) in PHONES.into_iter().enumerate() {
        phones.push(Phone::enroll(app, udid, n as u8 + 1).await);
    }
    rig.apns
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    for phone in &mut phones {
        let seen = phone.connect(app).await;
        assert!(seen.contains(&"DeclarativeManagement".to_string()), "{seen:?}");
        assert!(!phone.ddm.held().contains_key(ENFORCEMENT));
    }
    // The group the policy is for, made through the group pages.
    let manager = app.signed_in("max").await;
    let res = app
        .post_form(&manager, "/groups/new", &[("name", "Lab"), ("kind", "static")])
        .await;
    assert_eq!(res.status(), 303, "group created");
    let members = PHONES.join("\n");
    let res = app
        .post_form(&manager, "/groups/Lab/members/add", &[("devices", &members)])
        .await;
    assert_eq!(res.status(), 303, "members added");

    // The manager writes the policy in the browser, previews it, then saves it.
    let (c, _profile) = signed_in_browser(&driver, app, "max").await;
    c.goto(&app.url("/policies/new")).await.unwrap();
    wait_for_text(&c, "New policy").await;
    fill(&c, "input[name=name]", "lab-weekly").await;
    fill(&c, "input[name=label]", "Lab within a week").await;
    let rolling = c
        .find(Locator::Css("input[name='enforcement.mode'][value=rolling]"))
        .await
        .unwrap();
    assert_eq!(rolling.prop("checked").await.unwrap().as_deref(), Some("true"));
    click(&c, "input[name=groups][value=Lab]").await;
    click(&c, "button[value=preview]").await;
    let preview = wait_for_text(&c, "Nothing has been saved").await;
    for udid in PHONES {
        assert!(preview.contains(udid), "{udid} is previewed: {preview}");
    }
    assert!(preview.contains("26.4.1 (23E254)"), "{preview}");
    assert!(preview.contains("2026-04-15 18:00"), "{preview}");
    assert!(app.state.policies.list_policies().await.unwrap().is_empty());
    click(&c, "button[value=save]").await;
    wait_for_text(&c, "Saved.").await;

    // The phones sync the enforcement.
    tick(app).await;
    for phone in &mut phones {
        phone.connect(app).await;
        let held = phone
            .ddm
            .held()
            .get(ENFORCEMENT)
            .unwrap_or_else(|| panic!("{} holds no enforcement", phone.udid));
        assert!(held.problem.is_none(), "{:?}", held.problem);
        assert_eq!(held.declaration.payload["TargetOSVersion"], "26.4.1");
        assert_eq!(
            held.declaration.payload["TargetLocalDateTime"],
            "2026-04-15T18:00:00"
        );
    }
    // They download it at once (automatic downloads are on): the dashboard says so.
    app.state.compliance().refresh_all().await.unwrap();
    assert_eq!(dashboard_count(&c, app, "installing").await, "2");
    assert_eq!(dashboard_count(&c, app, "up_to_date").await, "0");

    // Past the deadline each phone installs and reports 26.4.1.
    let mut at = Utc.with_ymd_and_hms(2026, 4, 15, 18, 0, 0).unwrap();
    for _ in 0..48 {
        at += Duration::minutes(15);
        app.clock.set(at);
        for phone in &mut phones {
            phone.ddm.advance().await.unwrap();
        }
        let mut updated = 0;
        for phone in &phones {
            updated += usize::from(phone.os_version(app).await.as_deref() == Some("26.4.1"));
        }
        if updated == phones.len() {
            break;
        }
    }
    for phone in &phones {
        assert_eq!(phone.os_version(app).await.as_deref(), Some("26.4.1"));
    }
    tick(app).await;
    // Six days have passed: the manager's session has lapsed, so they sign in again.
    c.goto(&app.url("/")).await.unwrap();
    wait_for_text(&c, "Sign in").await;
    sign_in(&c, app, "max", TEST_PASSWORD).await;
    wait_for_text(&c, "Signed in as max").await;
    assert_eq!(dashboard_count(&c, app, "up_to_date").await, "2");
    assert_eq!(dashboard_count(&c, app, "installing").await, "0");
    assert_eq!(dashboard_count(&c, app, "overdue").await, "0");
    click(&c, "#states tr[data-state=up_to_date] td.num a").await;
    let list = wait_for_text(&c, PHONES[0]).await;
    assert!(list.contains(PHONES[1]), "{list}");
    // On the target, the engine takes the enforcement back.
    for phone in &mut phones {
        phone.connect(app).await;
        assert!(!phone.ddm.held().contains_key(ENFORCEMENT));
    }
    c.close().await.unwrap();

    // A viewer sees the policy but cannot save it, not even by submitting the form by hand.
    let (v, _viewer_profile) = signed_in_browser(&driver, app, "vic").await;
    v.goto(&app.url("/policies/lab-weekly")).await.unwrap();
    wait_for_text(&v, "Policy lab-weekly").await;
    let buttons = v
        .execute(
            "return [document.querySelectorAll('button[value=save]').length, \
             document.querySelector('#policy-form fieldset').disabled, \
             document.querySelector('input[name=label]').value]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        buttons,
        serde_json::json!([0, true, "Lab within a week"]),
        "the policy is shown with no save button and its fields disabled"
    );
    v.execute(
        "const f = document.getElementById('policy-form'); \
         f.querySelector('fieldset').disabled = false; \
         f.querySelector('input[name=label]').value = 'changed by a viewer'; \
         f.submit();",
        vec![],
    )
    .await
    .unwrap();
    wait_for_text(&v, "Not allowed").await;
    let policies = app.state.policies.list_policies().await.unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].label, "Lab within a week", "nothing saved");
    v.close().await.unwrap();
    drop(driver);
    rig.app.stop().await;
}
