//! The packaged files agree with the code: the sample configuration names every key the
//! configuration loader knows, and nothing else.

use std::collections::BTreeSet;
use std::path::Path;

use orchard::config::{self, Layer};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/orchard.toml");

/// The sample with every `# key = value` line uncommented.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                }) =>
            {
                rest.to_string()
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn keys_of(table: &toml::Table) -> BTreeSet<(String, String)> {
    table
        .iter()
        .flat_map(|(section, value)| {
            value
                .as_table()
                .into_iter()
                .flat_map(|t| t.keys())
                .map(move |k| (section.clone(), k.clone()))
        })
        .collect()
}

#[test]
fn sample_config_loads_as_shipped_and_with_every_line_uncommented() {
    // As shipped (everything commented): the defaults.
    let shipped = Layer::from_file(Path::new(SAMPLE)).unwrap();
    config::resolve(&[shipped]).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.toml");
    std::fs::write(&all, uncommented(&std::fs::read_to_string(SAMPLE).unwrap())).unwrap();
    // The real loader refuses unknown keys: a key renamed in `Config` fails here.
    let layer = Layer::from_file(&all).unwrap_or_else(|e| panic!("{e}"));
    let loaded = config::resolve(std::slice::from_ref(&layer)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.server.listen, "0.0.0.0:8443");

    // Every key the loader knows is documented in the sample.
    let documented = keys_of(&layer.table);
    let known: BTreeSet<(String, String)> = config::known_keys().into_iter().collect();
    let missing: Vec<_> = known.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "keys missing from packaging/orchard.toml: {missing:?}"
    );
}

#[test]
fn unit_file_has_the_promised_hardening() {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/orchard.service")).unwrap();
    for line in [
        "Type=notify",
        "User=orchard",
        "StateDirectory=orchard",
        "ConfigurationDirectory=orchard",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=",
        "Restart=on-failure",
        "ExecStart=/usr/bin/orchard serve",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing `{line}`");
    }
}
