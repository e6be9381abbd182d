//! `orchard admin create|list|reset-password|disable|enable`, run as the built binary.

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

fn orchard(data: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchard"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("ORCHARD_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn create_list_reset_and_disable_accounts_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let password_file = dir.path().join("pw");
    std::fs::write(&password_file, format!("{TEST_PASSWORD}\n")).unwrap();
    let pf = password_file.to_str().unwrap();

    let out = orchard(
        &data,
        &[
            "admin",
            "create",
            "--username",
            "ops",
            "--role",
            "admin",
            "--password-file",
            pf,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("created ops (admin)"));
    let out = orchard(
        &data,
        &["admin", "create", "--username", "eve", "--role", "viewer"],
        Some("another long passphrase\n"),
    );
    assert!(out.status.success(), "{}", text(&out));

    // Bad input: clear messages, nothing created.
    let out = orchard(
        &data,
        &["admin", "create", "--username", "x", "--role", "root"],
        Some("whatever whatever\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown role"), "{}", text(&out));
    let out = orchard(
        &data,
        &["admin", "create", "--username", "shorty", "--role", "viewer"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("at least 12 characters"), "{}", text(&out));
    let out = orchard(
        &data,
        &[
            "admin",
            "create",
            "--username",
            "OPS",
            "--role",
            "viewer",
            "--password-file",
            pf,
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    let out = orchard(
        &data,
        &["admin", "create", "--username", "nopw", "--role", "viewer"],
        Some(""),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("no password given"), "{}", text(&out));

    let out = orchard(&data, &["admin", "list"], None);
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(
        lines[1].starts_with("eve") && lines[1].contains("viewer") && lines[1].contains("active"),
        "{listing}"
    );
    assert!(
        lines[2].starts_with("ops") && lines[2].contains("admin"),
        "{listing}"
    );

    let out = orchard(&data, &["admin", "disable", "--username", "eve"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = orchard(&data, &["admin", "disable", "--username", "ops"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("last active administrator"), "{}", text(&out));
    let out = orchard(&data, &["admin", "disable", "--username", "ghost"], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no account named \"ghost\""),
        "{}",
        text(&out)
    );
    let listing = String::from_utf8_lossy(&orchard(&data, &["admin", "list"], None).stdout).to_string();
    assert!(listing.lines().nth(1).unwrap().contains("disabled"), "{listing}");

    let out = orchard(
        &data,
        &["admin", "reset-password", "--username", "ops"],
        Some("a brand new passphrase\n"),
    );
    assert!(out.status.success(), "{}", text(&out));

    // The changes are in the database the appliance serves, audited as `cli`.
    let store = orchard::store::Store::open(&data.join("orchard.db"), "now").unwrap();
    let entries = store
        .read_blocking(|c| orchard::store::audit::page(c, None, 50))
        .unwrap();
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("cli", "admin.password", "admin:ops"),
            ("cli", "admin.disable", "admin:eve"),
            ("cli", "admin.create", "admin:eve"),
            ("cli", "admin.create", "admin:ops"),
        ]
    );
    let hash = store
        .read_blocking(|c| {
            Ok(orchard::store::admins::by_username(c, "ops")?
                .unwrap()
                .password_hash)
        })
        .unwrap();
    assert!(orchard::admin::password::verify("a brand new passphrase", &hash));
    assert!(!hash.contains("brand new"));
}

#[tokio::test]
async fn an_account_created_by_the_cli_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_config(dir.path()).storage.data_dir;
    let out = orchard(
        &data,
        &["admin", "create", "--username", "ops", "--role", "manager"],
        Some(&format!("{TEST_PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));
    let app = spawn_app_with(dir, |_| {}).await;
    let client = app.signed_in("ops").await;
    let page = app.page(&client, "/").await;
    assert!(page.contains("ops") && page.contains("manager"));
    app.stop().await;
}
