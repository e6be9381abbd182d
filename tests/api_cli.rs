//! `orchard api-token create|list|revoke`, run as the built binary against a data directory the
//! running appliance then serves.

use std::process::{Command, Output};

use crate::api_support::get;
use crate::common;

fn orchard(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orchard"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("ORCHARD_CONFIG")
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_token_made_on_the_command_line_works_until_it_is_revoked_there() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = orchard(
        &data,
        &["api-token", "create", "--role", "manager", "--name", "ci"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().next().unwrap().to_string();
    assert!(token.starts_with("orchard_"), "{stdout}");
    assert!(stdout.contains("shown once"));

    let out = orchard(&data, &["api-token", "create", "--role", "root"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));
    let out = orchard(
        &data,
        &["api-token", "create", "--role", "viewer", "--name", "CI"],
    );
    assert!(!out.status.success(), "names are unique, whatever their case");

    let out = orchard(&data, &["api-token", "list"]);
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("ci") && listing.contains("manager") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(&token), "the list never shows a token");

    let app = common::spawn_app_with(dir, |c| c.storage.data_dir = data.clone()).await;
    assert_eq!(get(&app, &token, "/api/v1/devices").await.0, 200);
    let data = app.state.config.storage.data_dir.clone();
    let out = orchard(&data, &["api-token", "revoke", "ci"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(get(&app, &token, "/api/v1/devices").await.0, 401);
    let entries = app.state.admins().audit_page(None, 10).await.unwrap().entries;
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert!(
        actions.contains(&("cli", "api_token.create")) && actions.contains(&("cli", "api_token.revoke")),
        "{actions:?}"
    );
    app.stop().await;
}
