//! Shared fixture for the MDM service tests: a real SQLite file in a temporary directory, a
//! virtual clock, a recording push requester, and builders for device messages.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use orchard::clock::VirtualClock;
use orchard::config::MdmConfig;
use orchard::mdm::{CertFingerprint, MdmService, RecordingPushRequester};
use orchard::protocol::Udid;
use orchard::store::Store;
use plist::{Dictionary, Value};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: VirtualClock,
    pub push: Arc<RecordingPushRequester>,
    pub mdm: MdmService,
}

pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn fixture() -> Fixture {
    fixture_with(MdmConfig::default())
}

pub fn fixture_with(config: MdmConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("orchard.db"), "2026-03-02T09:00:00Z").unwrap();
    let clock = VirtualClock::new(start());
    let push = Arc::new(RecordingPushRequester::new());
    let mdm = MdmService::new(store.clone(), Arc::new(clock.clone()), config, push.clone());
    Fixture {
        dir,
        store,
        clock,
        push,
        mdm,
    }
}

/// A distinct identity certificate fingerprint per name.
pub fn identity(name: &str) -> CertFingerprint {
    CertFingerprint::of_certificate_der(name.as_bytes())
}

pub fn udid(value: &str) -> Udid {
    Udid::parse(value).unwrap()
}

pub const TOPIC: &str = "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9";

pub fn plist(pairs: &[(&str, Value)]) -> Vec<u8> {
    let mut d = Dictionary::new();
    for (k, v) in pairs {
        d.insert((*k).to_string(), v.clone());
    }
    let mut out = Vec::new();
    Value::Dictionary(d).to_writer_xml(&mut out).unwrap();
    out
}

pub fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

pub fn authenticate(udid: &str) -> Vec<u8> {
    plist(&[
        ("MessageType", s("Authenticate")),
        ("UDID", s(udid)),
        ("Topic", s(TOPIC)),
        ("SerialNumber", s("C02TEST0001")),
        ("OSVersion", s("17.4")),
        ("BuildVersion", s("21E219")),
        ("ProductName", s("iPhone15,2")),
    ])
}

pub fn token_update(udid: &str, token: &[u8]) -> Vec<u8> {
    plist(&[
        ("MessageType", s("TokenUpdate")),
        ("UDID", s(udid)),
        ("Topic", s(TOPIC)),
        ("Token", Value::Data(token.to_vec())),
        ("PushMagic", s("5A1B-MAGIC")),
        ("UnlockToken", Value::Data(b"super secret unlock token".to_vec())),
        ("AwaitingConfiguration", Value::Boolean(false)),
    ])
}

pub fn idle(udid: &str) -> Vec<u8> {
    plist(&[("UDID", s(udid)), ("Status", s("Idle"))])
}

pub fn result(udid: &str, uuid: &str, status: &str, extra: &[(&str, Value)]) -> Vec<u8> {
    let mut pairs = vec![("UDID", s(udid)), ("Status", s(status)), ("CommandUUID", s(uuid))];
    pairs.extend(extra.iter().cloned());
    plist(&pairs)
}

/// Authenticate + TokenUpdate with `id`; returns nothing, panics on failure.
pub fn enroll(f: &Fixture, udid: &str, id: &CertFingerprint) {
    f.mdm.checkin(id, &authenticate(udid)).unwrap();
    f.mdm
        .checkin(id, &token_update(udid, b"push-token-0001"))
        .unwrap();
}

/// The command a connect answered with: (CommandUUID, RequestType, Command dictionary).
pub fn command_of(body: &[u8]) -> (String, String, Dictionary) {
    let v = Value::from_reader_xml(body).unwrap();
    let d = v.as_dictionary().unwrap();
    let uuid = d
        .get("CommandUUID")
        .and_then(Value::as_string)
        .unwrap()
        .to_string();
    let cmd = d.get("Command").and_then(Value::as_dictionary).unwrap().clone();
    let rt = cmd
        .get("RequestType")
        .and_then(Value::as_string)
        .unwrap()
        .to_string();
    (uuid, rt, cmd)
}

/// Every row of the MDM tables as text: equal dumps mean nothing changed.
pub fn dump(store: &Store) -> String {
    store
        .read_blocking(|c| {
            let mut out = String::new();
            for table in ["devices", "commands"] {
                let mut stmt = c.prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))?;
                let n = stmt.column_count();
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    for i in 0..n {
                        let v: rusqlite::types::Value = row.get(i)?;
                        out.push_str(&format!("{v:?}|"));
                    }
                    out.push('\n');
                }
            }
            Ok(out)
        })
        .unwrap()
}

/// `shared/reference` beside the checkout (`../shared`), or beside the worktree directory
/// (`../../shared`, for worktrees under `wt/`).
pub fn reference_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("../shared/reference"),
        root.join("../../shared/reference"),
    ];
    candidates
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .unwrap_or_else(|| panic!("shared/reference not found beside {}", root.display()))
}
