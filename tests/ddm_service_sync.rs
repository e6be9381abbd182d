//! The DDM service's declaration sets: deterministic tokens, exactly one notification (push) per
//! change, one sync claimed at check-in for any number of changes, re-enrollment, and syncs that never mix two sets while policies change.

use crate::ddm_fixture;

use ddm_fixture::*;
use orchard::ddm::DdmError;
use orchard::protocol::ddm::token::declarations_token;
use serde_json::Value;

const MAC: &str = "0000FE00-5FADE97DCBBBEDA5";
const IPAD: &str = "00008103-000A1B2C3D4E5F60";

fn shared_set() -> Vec<orchard::protocol::ddm::Declaration> {
    vec![
        subscription(&["softwareupdate.install-state", "device.operating-system.version"]),
        activation(&["orchard.settings", "orchard.enforce"]),
    ]
}

#[tokio::test]
async fn same_content_same_tokens_and_each_change_notifies_exactly_once() {
    let f = Fixture::new();
    f.service.set_shared_declarations(shared_set()).await.unwrap();
    f.service.on_enrollment(MAC).await.unwrap();
    f.service.on_enrollment(IPAD).await.unwrap();
    let enrolled = f.take_notifications();
    assert_eq!(enrolled.len(), 2, "{enrolled:?}");
    assert_eq!(enrolled[0].1, enrolled[1].1, "same shared set, same token");

    let own = || vec![settings(true), enforcement("26.3", "2026-03-10T18:00:00")];
    f.service.set_device_declarations(MAC, own()).await.unwrap();
    let changed = f.take_notifications();
    assert_eq!(changed.len(), 1, "exactly one notification: {changed:?}");
    assert_eq!(changed[0].0, MAC);
    let mac_token = f.token(MAC).await;
    assert_eq!(
        changed[0].1, mac_token,
        "the command carries the token the device will read"
    );
    assert_ne!(mac_token, enrolled[0].1);

    // The same content again (built afresh) changes nothing and notifies no one.
    f.service.set_device_declarations(MAC, own()).await.unwrap();
    assert!(f.take_notifications().is_empty());
    assert_eq!(f.token(MAC).await, mac_token);

    // Another device with the same content has the same token.
    f.service.set_device_declarations(IPAD, own()).await.unwrap();
    assert_eq!(
        f.take_notifications(),
        vec![(IPAD.to_string(), mac_token.clone())]
    );

    // One changed key (the deadline) gives a new token and one notification.
    let later = vec![settings(true), enforcement("26.3", "2026-03-11T18:00:00")];
    f.service.set_device_declarations(MAC, later).await.unwrap();
    let changed = f.take_notifications();
    assert_eq!(changed.len(), 1);
    assert_ne!(changed[0].1, mac_token);
    assert_eq!(f.token(MAC).await, changed[0].1);

    // A removal changes the token too.
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    assert_eq!(f.take_notifications().len(), 1);
}

#[tokio::test]
async fn a_shared_change_recomputes_every_device_once_and_the_same_change_again_is_silent() {
    let f = Fixture::new();
    f.service.set_shared_declarations(shared_set()).await.unwrap();
    for udid in [MAC, IPAD] {
        f.service.on_enrollment(udid).await.unwrap();
    }
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    f.take_notifications();
    let before = [f.token(MAC).await, f.token(IPAD).await];

    let mut new_shared = shared_set();
    new_shared[0] = subscription(&["softwareupdate.install-state", "device.model.identifier"]);
    let outcome = f
        .service
        .set_shared_declarations(new_shared.clone())
        .await
        .unwrap();
    assert_eq!(outcome.devices_changed, 2);
    assert_eq!(outcome.sets_computed, 2, "one set per distinct own group");
    let mut notified = f.take_notifications();
    notified.sort();
    let after = [f.token(MAC).await, f.token(IPAD).await];
    let mut expected = vec![
        (MAC.to_string(), after[0].clone()),
        (IPAD.to_string(), after[1].clone()),
    ];
    expected.sort();
    assert_eq!(notified, expected);
    assert_ne!(before[0], after[0]);
    assert_ne!(before[1], after[1]);

    // The device's token is the hash over its sorted (identifier, token) pairs.
    let manifest = f.get(MAC, "declaration-items").await;
    let mut pairs = Vec::new();
    for class in ["Activations", "Configurations", "Assets", "Management"] {
        for item in manifest["Declarations"][class].as_array().unwrap() {
            pairs.push((
                item["Identifier"].as_str().unwrap().to_string(),
                item["ServerToken"].as_str().unwrap().to_string(),
            ));
        }
    }
    let recomputed = declarations_token(pairs.iter().map(|(i, t)| (i.as_str(), t.as_str())));
    assert_eq!(recomputed, after[0]);

    let again = f.service.set_shared_declarations(new_shared).await.unwrap();
    assert_eq!(again.devices_changed, 0);
    assert!(f.take_notifications().is_empty());
}

#[tokio::test]
async fn re_enrollment_with_the_same_udid_is_notified_again() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    f.get(MAC, "declaration-items").await;
    let first = f.take_notifications();
    assert_eq!(first.len(), 2);
    f.service.on_enrollment(MAC).await.unwrap();
    let again = f.take_notifications();
    assert_eq!(again, vec![(MAC.to_string(), first[1].1.clone())]);
    let view = f.service.sync_view(MAC).await.unwrap().unwrap();
    assert!(
        !view.is_in_sync(),
        "a re-enrolled device has to fetch its manifest again"
    );
}

#[tokio::test]
async fn a_device_the_notifier_could_not_reach_stays_due_until_it_is_sent_its_sync() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.take_notifications();
    assert!(f.send_sync(MAC).await.is_some(), "enrolled: due its first sync");
    *f.notifier.fail.lock().unwrap() = true;
    let error = f
        .service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap_err();
    assert!(matches!(error, DdmError::Notify(_)), "{error}");
    *f.notifier.fail.lock().unwrap() = false;
    // Nothing was claimed: each flush pushes it again while it stays due.
    assert_eq!(f.service.flush_notifications().await.unwrap(), 1);
    assert_eq!(f.take_notifications().len(), 1);
    assert_eq!(f.service.flush_notifications().await.unwrap(), 1);
    let token = f.take_notifications()[0].1.clone();
    // It checks in: the sync is claimed once, with that token; then nothing is due.
    assert_eq!(f.send_sync_token(MAC).await, Some(token));
    assert_eq!(f.send_sync(MAC).await, None, "claimed once");
    assert_eq!(f.service.flush_notifications().await.unwrap(), 0);
    assert!(f.take_notifications().is_empty());
}

#[tokio::test]
async fn two_changes_before_a_check_in_give_one_sync_with_the_latest_tokens() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.send_sync(MAC).await.unwrap();
    f.take_notifications();
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    f.service
        .set_device_declarations(MAC, vec![settings(false)])
        .await
        .unwrap();
    let pushed = f.take_notifications();
    assert_eq!(pushed.len(), 2, "a push per change: {pushed:?}");
    assert_ne!(pushed[0].1, pushed[1].1);
    let sent = f.send_sync_token(MAC).await.expect("one sync");
    assert_eq!(sent, pushed[1].1, "the latest tokens");
    assert_eq!(f.send_sync(MAC).await, None, "one command for both changes");
    let manifest = f.get(MAC, "declaration-items").await;
    assert_eq!(manifest["DeclarationsToken"], sent.as_str());
}

#[tokio::test]
async fn a_device_not_enrolled_is_never_due() {
    let f = Fixture::new();
    f.service
        .set_device_declarations(IPAD, vec![settings(true)])
        .await
        .unwrap();
    assert!(f.take_notifications().is_empty(), "not enrolled: not pushed");
    assert_eq!(f.send_sync(IPAD).await, None);
    assert_eq!(f.service.flush_notifications().await.unwrap(), 0);
    f.service.on_enrollment(IPAD).await.unwrap();
    assert_eq!(f.take_notifications().len(), 1);
    assert!(f.send_sync(IPAD).await.is_some());
}

fn manifest_pairs(manifest: &Value) -> Vec<(String, String, &'static str)> {
    let mut pairs = Vec::new();
    for (class, segment) in [
        ("Activations", "activation"),
        ("Configurations", "configuration"),
        ("Assets", "asset"),
        ("Management", "management"),
    ] {
        for item in manifest["Declarations"][class].as_array().unwrap() {
            pairs.push((
                item["Identifier"].as_str().unwrap().to_string(),
                item["ServerToken"].as_str().unwrap().to_string(),
                segment,
            ));
        }
    }
    pairs
}

/// Fetches every declaration of a manifest and checks each is the one the manifest named.
async fn fetch_all(f: &Fixture, udid: &str, manifest: &Value) -> Vec<Value> {
    let mut fetched = Vec::new();
    for (identifier, token, segment) in manifest_pairs(manifest) {
        let declaration = f.get(udid, &format!("declaration/{segment}/{identifier}")).await;
        assert_eq!(
            declaration["ServerToken"].as_str().unwrap(),
            token,
            "{identifier}"
        );
        fetched.push(declaration);
    }
    fetched
}

#[tokio::test]
async fn a_sync_answers_from_the_set_it_started_with_while_policies_change() {
    let f = Fixture::new();
    f.service.set_shared_declarations(shared_set()).await.unwrap();
    f.service.on_enrollment(MAC).await.unwrap();
    let v1 = vec![settings(true), enforcement("26.3", "2026-03-10T18:00:00")];
    f.service.set_device_declarations(MAC, v1).await.unwrap();
    f.take_notifications();

    let token_a = f.token(MAC).await;
    let manifest_a = f.get(MAC, "declaration-items").await;
    assert_eq!(manifest_a["DeclarationsToken"], token_a.as_str());

    // The policy changes between the manifest and the declarations: the enforcement moves to a
    // new version, and the settings are dropped.
    let v2 = vec![enforcement("26.4", "2026-04-10T18:00:00")];
    f.service.set_device_declarations(MAC, v2).await.unwrap();
    let notified = f.take_notifications();
    assert_eq!(notified.len(), 1);
    let token_b = notified[0].1.clone();
    assert_ne!(token_a, token_b);

    // The device finishes its sync of set A: every declaration is the one A named, including the
    // settings that B no longer has.
    let fetched = fetch_all(&f, MAC, &manifest_a).await;
    let enforce = fetched
        .iter()
        .find(|d| d["Identifier"] == "orchard.enforce")
        .unwrap();
    assert_eq!(enforce["Payload"]["TargetOSVersion"], "26.3");
    assert!(fetched.iter().any(|d| d["Identifier"] == "orchard.settings"));

    // The command for B (made when the device checks in) makes the device fetch B's manifest
    // (without calling tokens), then B's declarations; the removed settings are now not found.
    assert_eq!(f.send_sync_token(MAC).await, Some(token_b.clone()));
    let manifest_b = f.get(MAC, "declaration-items").await;
    assert_eq!(manifest_b["DeclarationsToken"], token_b.as_str());
    let fetched = fetch_all(&f, MAC, &manifest_b).await;
    let enforce = fetched
        .iter()
        .find(|d| d["Identifier"] == "orchard.enforce")
        .unwrap();
    assert_eq!(enforce["Payload"]["TargetOSVersion"], "26.4");
    let gone = f
        .service
        .handle(MAC, "declaration/configuration/orchard.settings", None)
        .await
        .unwrap_err();
    assert!(matches!(gone, DdmError::NotFound));
    assert_eq!(gone.http_status(), 404);
    assert!(f.service.sync_view(MAC).await.unwrap().unwrap().is_in_sync());
}

#[tokio::test]
async fn a_change_between_tokens_and_manifest_gives_one_whole_set() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    let token_a = f.token(MAC).await;
    f.service
        .set_device_declarations(
            MAC,
            vec![settings(false), enforcement("26.4", "2026-04-10T18:00:00")],
        )
        .await
        .unwrap();
    // The device checks in and is sent its command (B) before it fetches the manifest.
    let told = f.send_sync_token(MAC).await.expect("due B");
    let manifest = f.get(MAC, "declaration-items").await;
    let token = manifest["DeclarationsToken"].as_str().unwrap().to_string();
    assert_eq!(token, told);
    // Whichever set it is, the manifest's token is the hash of the manifest's own pairs, and
    // every declaration fetched matches it.
    let pairs = manifest_pairs(&manifest);
    assert_eq!(
        declarations_token(pairs.iter().map(|(i, t, _)| (i.as_str(), t.as_str()))),
        token
    );
    fetch_all(&f, MAC, &manifest).await;
    assert_ne!(token, token_a, "the device was notified of B, so it syncs B");
}

#[tokio::test]
async fn declarations_the_device_does_not_have_are_not_found() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.service.on_enrollment(IPAD).await.unwrap();
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    f.get(MAC, "declaration-items").await;
    f.get(IPAD, "declaration-items").await;
    let found = f.get(MAC, "declaration/configuration/orchard.settings").await;
    assert_eq!(found["Type"], "com.apple.configuration.softwareupdate.settings");
    for (udid, path) in [
        (IPAD, "declaration/configuration/orchard.settings"),
        (MAC, "declaration/activation/orchard.settings"),
        (MAC, "declaration/configuration/orchard.other"),
        ("UNKNOWN-DEVICE", "declaration/configuration/orchard.settings"),
    ] {
        let error = f.service.handle(udid, path, None).await.unwrap_err();
        assert_eq!(error.http_status(), 404, "{udid} {path}: {error}");
    }
}

#[tokio::test]
async fn a_device_declaration_overrides_a_shared_one_with_the_same_identifier() {
    let f = Fixture::new();
    f.service.set_shared_declarations(shared_set()).await.unwrap();
    f.service.on_enrollment(MAC).await.unwrap();
    let own_subscription = subscription(&["softwareupdate.install-state"]);
    f.service
        .set_device_declarations(MAC, vec![own_subscription.clone()])
        .await
        .unwrap();
    f.take_notifications();
    let manifest = f.get(MAC, "declaration-items").await;
    let configurations = manifest["Declarations"]["Configurations"].as_array().unwrap();
    assert_eq!(configurations.len(), 1, "{configurations:?}");
    assert_eq!(configurations[0]["ServerToken"], own_subscription.server_token());
    // A change of the shared subscription does not reach a device that overrides it... but the
    // shared activation still does.
    let mut new_shared = shared_set();
    new_shared[0] = subscription(&["device.model.identifier"]);
    let outcome = f.service.set_shared_declarations(new_shared).await.unwrap();
    assert_eq!(outcome.devices_changed, 0);
    assert!(f.take_notifications().is_empty());
}

#[tokio::test]
async fn pruning_keeps_every_set_a_device_may_still_ask_for() {
    let f = Fixture::new();
    f.service.on_enrollment(MAC).await.unwrap();
    f.service.on_enrollment(IPAD).await.unwrap();
    f.service
        .set_device_declarations(MAC, vec![settings(true)])
        .await
        .unwrap();
    let manifest_a = f.get(MAC, "declaration-items").await;
    f.service
        .set_device_declarations(MAC, vec![settings(false)])
        .await
        .unwrap();
    f.service
        .set_device_declarations(
            MAC,
            vec![settings(false), enforcement("26.4", "2026-04-10T18:00:00")],
        )
        .await
        .unwrap();
    // The middle set was never fetched and nothing points at it any more.
    let pruned = f.service.prune().await.unwrap();
    assert_eq!(
        (pruned.sets, pruned.groups, pruned.declarations),
        (1, 1, 0),
        "{pruned:?}"
    );
    // The device mid-sync of its first set still gets it whole.
    fetch_all(&f, MAC, &manifest_a).await;
    // It checks in and is sent its sync (C).
    f.send_sync(MAC).await.expect("due C");
    let manifest_c = f.get(MAC, "declaration-items").await;
    fetch_all(&f, MAC, &manifest_c).await;
    f.get(IPAD, "declaration-items").await;
    // Once the device moved on, its first set goes too, with the declaration only it had.
    let pruned = f.service.prune().await.unwrap();
    assert_eq!(
        (pruned.sets, pruned.groups, pruned.declarations),
        (1, 1, 1),
        "{pruned:?}"
    );
    assert_eq!(f.service.prune().await.unwrap(), Default::default());
}
