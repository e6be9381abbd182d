//! `orchard policy load-defaults`, run as the built binary: the default rings are created once.

use std::process::{Command, Output};

fn load_defaults(data: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orchard"))
        .arg("--data-dir")
        .arg(data)
        .args(["policy", "load-defaults"])
        .env_remove("ORCHARD_CONFIG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn loading_the_default_rings_twice_creates_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let first = load_defaults(&data);
    assert!(first.status.success(), "{}", text(&first));
    let created: Vec<String> = String::from_utf8_lossy(&first.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("created ").map(str::to_string))
        .collect();
    assert_eq!(created.len(), 12, "{}", text(&first));
    for wanted in [
        "group Vanguard",
        "group Early Adopter",
        "group General Adoption",
        "group Late Adoption",
        "policy ring-vanguard-ios",
        "policy ring-late-adoption-macos",
    ] {
        assert!(created.iter().any(|c| c == wanted), "{wanted} not in {created:?}");
    }

    let second = load_defaults(&data);
    assert!(second.status.success(), "{}", text(&second));
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(!out.contains("created "), "{out}");
    assert!(out.contains("already exist"), "{out}");
    assert!(out.contains("group Vanguard"), "{out}");

    // Once in the database: four ring groups, eight policies, one audit entry by `cli`.
    let db = rusqlite::Connection::open(data.join("orchard.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM policy_groups WHERE ring_order IS NOT NULL"),
        4
    );
    assert_eq!(count("SELECT count(*) FROM policies"), 8);
    assert_eq!(count("SELECT count(*) FROM policy_group_assignments"), 8);
    assert_eq!(
        count("SELECT count(*) FROM audit_log WHERE action = 'policy.defaults.load' AND actor = 'cli'"),
        1
    );
}
