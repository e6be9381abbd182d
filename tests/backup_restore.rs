//! `orchard backup` / `orchard restore` with the real binary, while a real server runs.

use crate::process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use orchard::ops::archive::{self, Manifest, Member};
use orchard::store::{Store, settings};
use process::*;

/// Every file under `dir` with the SHA-256 of its content, to prove that nothing changed.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                out.insert(path.clone(), archive::digest_file(&path).unwrap().1);
            }
        }
    }
    out
}

fn backup(dir: &Path, data: &Path, file: &Path) -> std::process::Output {
    run(orchard(dir).arg("--data-dir").arg(data).arg("backup").arg(file))
}

fn restore(dir: &Path, data: &Path, file: &Path) -> std::process::Output {
    run(orchard(dir).arg("--data-dir").arg(data).arg("restore").arg(file))
}

/// A stopped appliance with a database and keys, and a setting written into it.
fn stopped_appliance(dir: &Path, name: &str) -> PathBuf {
    let data = dir.join(name);
    Server::start(dir, &data).stop();
    data
}

#[test]
fn backup_while_serving_restores_into_a_fresh_directory_with_data_and_ca() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data);
    let fingerprint_line = server.printed_line("CA fingerprint");
    // Another process writes while the server runs (WAL); the backup must see the commit.
    let store = Store::open(&data.join("orchard.db"), "now").unwrap();
    store
        .write_blocking(|c| settings::set(c, "test.marker", "kept across restore", "now"))
        .unwrap();
    drop(store);

    let file = dir.path().join("orchard-backup.tar");
    let out = backup(dir.path(), &data, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Wrote"), "{}", stdout(&out));
    // The server kept serving.
    assert_eq!(server.get("/healthz").0, 200);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".orchard-backup"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let fresh = dir.path().join("restored");
    let out = restore(dir.path(), &fresh, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let restored = Store::open(&fresh.join("orchard.db"), "now").unwrap();
    let marker = restored
        .read_blocking(|c| settings::get(c, "test.marker"))
        .unwrap();
    assert_eq!(marker.as_deref(), Some("kept across restore"));
    drop(restored);
    assert_eq!(
        std::fs::read(fresh.join("pki/ca.key.pem")).unwrap(),
        std::fs::read(data.join("pki/ca.key.pem")).unwrap()
    );
    server.stop();

    // The restored appliance starts with the same CA, so enrolled devices still trust it.
    let again = Server::start(dir.path(), &fresh);
    assert_eq!(again.printed_line("CA fingerprint"), fingerprint_line);
    assert_eq!(again.get("/healthz").0, 200);
    again.stop();
}

#[test]
fn restore_while_the_server_runs_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let other = stopped_appliance(dir.path(), "other");
    let file = dir.path().join("other.tar");
    assert!(backup(dir.path(), &other, &file).status.success());

    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data);
    let before = snapshot(&data);
    let out = restore(dir.path(), &data, &file);
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(message.contains("server is running"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(
        snapshot(&data).keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    let key = data.join("pki/ca.key.pem");
    assert_eq!(archive::digest_file(&key).unwrap().1, before[&key]);
    assert_eq!(server.get("/healthz").0, 200);
    server.stop();
}

#[test]
fn restore_from_files_that_are_not_backups_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = stopped_appliance(dir.path(), "data");
    let before = snapshot(&data);

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not a backup\n".repeat(100)).unwrap();
    let sqlite = data.join("orchard.db"); // a database, not a backup
    let plain_tar = dir.path().join("plain.tar");
    {
        let mut builder = tar::Builder::new(std::fs::File::create(&plain_tar).unwrap());
        builder.append_path_with_name(&text, "notes.txt").unwrap();
        builder.finish().unwrap();
    }
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    for file in [&text, &sqlite, &plain_tar, &empty] {
        let out = restore(dir.path(), &data, file);
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let message = stderr(&out);
        assert!(message.contains("is not an Orchard backup"), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");
        assert_eq!(snapshot(&data), before, "{}", file.display());
    }
    // Into a directory that does not exist yet: it is not created.
    let fresh = dir.path().join("fresh");
    let out = restore(dir.path(), &fresh, &text);
    assert_eq!(out.status.code(), Some(1));
    assert!(!fresh.exists());
    let out = restore(dir.path(), &data, &dir.path().join("missing.tar"));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

/// Rewrites a backup with a modified database, with a manifest that matches it.
fn rebuild_with_database(dir: &Path, file: &Path, change: &str) -> PathBuf {
    let staging = dir.join("unpacked");
    std::fs::create_dir_all(&staging).unwrap();
    let manifest = archive::extract(std::fs::File::open(file).unwrap(), &staging).unwrap();
    let db = staging.join("orchard.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(change)
        .unwrap();
    let mut files = Vec::new();
    let mut sources = Vec::new();
    for member in &manifest.files {
        let path = staging.join(&member.path);
        let (size, sha256) = archive::digest_file(&path).unwrap();
        files.push(Member {
            path: member.path.clone(),
            size,
            sha256,
        });
        sources.push((member.path.clone(), path));
    }
    let rebuilt = Manifest { files, ..manifest };
    let out = dir.join("rebuilt.tar");
    archive::write(std::fs::File::create(&out).unwrap(), &rebuilt, &sources, 0).unwrap();
    out
}

#[test]
fn damaged_or_newer_backups_are_refused_before_anything_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = stopped_appliance(dir.path(), "data");
    let file = dir.path().join("good.tar");
    assert!(backup(dir.path(), &data, &file).status.success());
    let before = snapshot(&data);

    // A flipped byte inside the database member.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xFF;
    let flipped = dir.path().join("flipped.tar");
    std::fs::write(&flipped, &bytes).unwrap();
    let out = restore(dir.path(), &data, &flipped);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("checksum"), "{}", stderr(&out));
    assert_eq!(snapshot(&data), before);

    // Cut short.
    let truncated = dir.path().join("truncated.tar");
    std::fs::write(&truncated, &std::fs::read(&file).unwrap()[..4096]).unwrap();
    let out = restore(dir.path(), &data, &truncated);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nothing was changed"), "{}", stderr(&out));
    assert_eq!(snapshot(&data), before);

    // A consistent backup of a database from a newer Orchard.
    let newer = rebuild_with_database(
        dir.path(),
        &file,
        "INSERT INTO schema_version VALUES (9999, 'future', 'now')",
    );
    let out = restore(dir.path(), &data, &newer);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("newer than this binary"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&data), before);
}

#[test]
fn backup_to_an_unwritable_place_or_without_a_database_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = stopped_appliance(dir.path(), "data");
    let before = snapshot(dir.path());
    let not_a_dir = dir.path().join("data/orchard.lock/backup.tar");
    let out = backup(dir.path(), &data, &not_a_dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot write the backup"),
        "{}",
        stderr(&out)
    );
    let out = backup(dir.path(), &data, dir.path());
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
    assert_eq!(snapshot(dir.path()), before);

    let empty = dir.path().join("nothing-here");
    let out = backup(dir.path(), &empty, &dir.path().join("b.tar"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no Orchard database"), "{}", stderr(&out));
    assert!(!dir.path().join("b.tar").exists());
}

#[test]
fn restore_over_an_existing_appliance_moves_its_files_aside() {
    let dir = tempfile::tempdir().unwrap();
    let source = stopped_appliance(dir.path(), "source");
    let file = dir.path().join("source.tar");
    assert!(backup(dir.path(), &source, &file).status.success());
    let target = stopped_appliance(dir.path(), "target");
    let old_key = std::fs::read(target.join("pki/ca.key.pem")).unwrap();

    let out = restore(dir.path(), &target, &file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("moved to"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read(target.join("pki/ca.key.pem")).unwrap(),
        std::fs::read(source.join("pki/ca.key.pem")).unwrap()
    );
    let aside: Vec<PathBuf> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pre-restore-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(aside[0].join("pki/ca.key.pem")).unwrap(), old_key);
    // The restored appliance starts: its database and CA belong together.
    let server = Server::start(dir.path(), &target);
    assert_eq!(server.get("/healthz").0, 200);
    server.stop();
}
