//! A validator driven by Apple's YAML schemas (`apple-device-management/declarative`): key names,
//! types, `rangelist`, `range`, required keys, and `supportedOS` (inherited from the payload, then
//! overridden per key), for one device (platform, OS version, enrollment).
//!
//! The schema snapshot is from the 18.1 releases. Where it is silent about tvOS 18.4 and visionOS
//! 26 (and a few newer facts), `OVERLAY` adds what the facts file (§2–§4) records from Apple's newer
//! schema versions and documentation, each with its source.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use orchard::protocol::ddm::OsVersion;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

/// `../shared/reference` beside the checkout (as in CI and /work/main); a worktree one level
/// deeper (/work/wt/<name>) finds it one more level up.
pub fn reference_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../shared/reference"),
        manifest.join("../../shared/reference"),
    ];
    candidates
        .iter()
        .find(|dir| dir.is_dir())
        .cloned()
        .unwrap_or_else(|| panic!("the shared reference folder is missing; looked at {candidates:?}"))
}

pub fn schema_root() -> PathBuf {
    reference_root().join("apple-device-management")
}

/// The device the validation is for, in the schemas' own words.
#[derive(Debug, Clone, Copy)]
pub struct SchemaTarget {
    /// `iOS`, `macOS`, `tvOS` or `visionOS`.
    pub os: &'static str,
    pub version: OsVersion,
    /// `supervised`, `device` or `user`.
    pub enrollment: &'static str,
}

/// One platform's `supportedOS` entry, after inheritance.
#[derive(Debug, Clone, Default, PartialEq)]
struct OsSupport {
    introduced: Option<String>,
    removed: Option<String>,
    allowed_enrollments: Option<Vec<String>>,
}

type Support = BTreeMap<String, OsSupport>;

/// (declaration or status item type, key path ("" for the payload), os, introduced, enrollments).
type OverlayRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static [&'static str]>,
);

const SUP_DEV: &[&str] = &["supervised", "device"];
const SUP: &[&str] = &["supervised"];
const ENF: &str = "com.apple.configuration.softwareupdate.enforcement.specific";
const SET: &str = "com.apple.configuration.softwareupdate.settings";

const OVERLAY: &[OverlayRow] = &[
    // §2 [R26]: enforcement on tvOS 18.4 and visionOS 26 (supervised or device enrollment).
    (ENF, "", "tvOS", Some("18.4"), Some(SUP_DEV)),
    (ENF, "", "visionOS", Some("26.0"), Some(SUP_DEV)),
    // §3 [A]: settings on tvOS 18.4 and visionOS 26, and the per-key limits of the facts table.
    (SET, "", "tvOS", Some("18.4"), Some(SUP_DEV)),
    (SET, "", "visionOS", Some("26.0"), Some(SUP_DEV)),
    (SET, "Deferrals", "tvOS", None, Some(SUP)),
    (SET, "Deferrals", "visionOS", None, Some(SUP)),
    (SET, "Deferrals.MajorPeriodInDays", "tvOS", Some("n/a"), None),
    (SET, "Deferrals.MajorPeriodInDays", "visionOS", Some("n/a"), None),
    (SET, "Deferrals.MinorPeriodInDays", "tvOS", Some("n/a"), None),
    (SET, "Deferrals.MinorPeriodInDays", "visionOS", Some("n/a"), None),
    (SET, "Deferrals.SystemPeriodInDays", "tvOS", Some("n/a"), None),
    (SET, "Deferrals.SystemPeriodInDays", "visionOS", Some("n/a"), None),
    (SET, "RecommendedCadence", "tvOS", Some("n/a"), None),
    (SET, "AutomaticActions.Download", "tvOS", Some("n/a"), None),
    (
        SET,
        "AutomaticActions.InstallSecurityUpdate",
        "iOS",
        Some("18.0"),
        None,
    ),
    (
        SET,
        "AutomaticActions.InstallSecurityUpdate",
        "tvOS",
        Some("n/a"),
        None,
    ),
    (SET, "RapidSecurityResponse", "tvOS", Some("n/a"), None),
    (SET, "RapidSecurityResponse", "visionOS", Some("n/a"), None),
    (SET, "AllowStandardUserOSUpdates", "tvOS", Some("n/a"), None),
    (SET, "AllowStandardUserOSUpdates", "visionOS", Some("n/a"), None),
    (SET, "Beta", "macOS", Some("15.4"), None),
    (SET, "Beta", "tvOS", Some("n/a"), None),
    (SET, "Beta", "visionOS", Some("n/a"), None),
    // §4 [R26]: the software-update status items on tvOS 18.4 and visionOS 26 (not beta-enrollment).
    (
        "softwareupdate.install-state",
        "",
        "tvOS",
        Some("18.4"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.install-state",
        "",
        "visionOS",
        Some("26.0"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.pending-version",
        "",
        "tvOS",
        Some("18.4"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.pending-version",
        "",
        "visionOS",
        Some("26.0"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.failure-reason",
        "",
        "tvOS",
        Some("18.4"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.failure-reason",
        "",
        "visionOS",
        Some("26.0"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.install-reason",
        "",
        "tvOS",
        Some("18.4"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.install-reason",
        "",
        "visionOS",
        Some("26.0"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.device-id",
        "",
        "tvOS",
        Some("18.4"),
        Some(SUP_DEV),
    ),
    (
        "softwareupdate.device-id",
        "",
        "visionOS",
        Some("26.0"),
        Some(SUP_DEV),
    ),
];

pub struct Schemas {
    /// declarationtype → schema.
    declarations: HashMap<String, Yaml>,
    base: Yaml,
    /// statusitemtype → schema.
    status_items: HashMap<String, Yaml>,
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "yaml") {
            out.push(path);
        }
    }
}

fn load(path: &Path) -> Yaml {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("bad YAML in {}: {e}", path.display()))
}

fn text(node: &Yaml, key: &str) -> Option<String> {
    match node.get(key)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Schemas {
    pub fn load() -> Schemas {
        let root = schema_root().join("declarative");
        let mut files = Vec::new();
        yaml_files(&root.join("declarations"), &mut files);
        let mut declarations = HashMap::new();
        let mut base = None;
        for file in files {
            let schema = load(&file);
            match text(&schema["payload"], "declarationtype").as_deref() {
                Some("any") => base = Some(schema),
                Some(kind) => {
                    declarations.insert(kind.to_string(), schema);
                }
                None => panic!("{} has no declarationtype", file.display()),
            }
        }
        let mut status_files = Vec::new();
        yaml_files(&root.join("status"), &mut status_files);
        let mut status_items = HashMap::new();
        for file in status_files {
            let schema = load(&file);
            if let Some(kind) = text(&schema["payload"], "statusitemtype") {
                status_items.insert(kind, schema);
            }
        }
        Schemas {
            declarations,
            base: base.expect("declarationbase.yaml"),
            status_items,
        }
    }

    pub fn knows_declaration_type(&self, kind: &str) -> bool {
        self.declarations.contains_key(kind)
    }

    /// Whether the schema (with the overlay) lets `target` receive this declaration type.
    pub fn declaration_supported(&self, kind: &str, target: &SchemaTarget) -> bool {
        let schema = &self.declarations[kind];
        let support = with_overlay(kind, "", inherit(&Support::new(), &schema["payload"]));
        support_problem(&support, target).is_none()
    }

    /// Whether a key path (dotted) of a declaration type may be sent to `target`.
    pub fn key_supported(&self, kind: &str, key_path: &str, target: &SchemaTarget) -> bool {
        let schema = &self.declarations[kind];
        let mut support = with_overlay(kind, "", inherit(&Support::new(), &schema["payload"]));
        let mut keys = schema["payloadkeys"].as_sequence().cloned().unwrap_or_default();
        let mut path = String::new();
        for segment in key_path.split('.') {
            let Some(node) = keys
                .iter()
                .find(|k| text(k, "key").as_deref() == Some(segment))
                .cloned()
            else {
                return false;
            };
            path = if path.is_empty() {
                segment.to_string()
            } else {
                format!("{path}.{segment}")
            };
            support = with_overlay(kind, &path, inherit(&support, &node));
            keys = node["subkeys"].as_sequence().cloned().unwrap_or_default();
        }
        support_problem(&support, target).is_none()
    }

    /// Whether `name` is a status item the schemas define and `target` reports.
    pub fn status_item_supported(&self, name: &str, target: &SchemaTarget) -> Result<(), String> {
        let schema = self
            .status_items
            .get(name)
            .ok_or_else(|| format!("{name}: no such status item"))?;
        let support = with_overlay(name, "", inherit(&Support::new(), &schema["payload"]));
        match support_problem(&support, target) {
            Some(problem) => Err(format!("{name}: {problem}")),
            None => Ok(()),
        }
    }

    /// Every problem of a declaration (the whole envelope) for `target`; empty when valid.
    pub fn validate(&self, declaration: &Json, target: &SchemaTarget) -> Vec<String> {
        let mut problems = Vec::new();
        let base_keys = self.base["payloadkeys"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        // The envelope against declarationbase.yaml; the payload is checked against its own schema.
        let mut envelope = declaration.clone();
        if let Some(payload) = envelope.get_mut("Payload").filter(|payload| payload.is_object()) {
            *payload = Json::Object(Default::default());
        }
        check_dictionary(
            "",
            &envelope,
            &base_keys,
            &Support::new(),
            "",
            target,
            &mut problems,
        );
        for key in ["Identifier", "ServerToken"] {
            if declaration[key].as_str().is_some_and(|value| value.len() > 64) {
                problems.push(format!("{key}: longer than 64 octets"));
            }
        }
        let Some(kind) = declaration["Type"].as_str() else {
            return problems;
        };
        let Some(schema) = self.declarations.get(kind) else {
            problems.push(format!("Type: {kind} is not a declaration type of the schemas"));
            return problems;
        };
        let support = with_overlay(kind, "", inherit(&Support::new(), &schema["payload"]));
        if let Some(problem) = support_problem(&support, target) {
            problems.push(format!("Type: {kind}: {problem}"));
        }
        let keys = schema["payloadkeys"].as_sequence().cloned().unwrap_or_default();
        let mut payload_problems = Vec::new();
        check_dictionary(
            "",
            &declaration["Payload"],
            &keys,
            &support,
            kind,
            target,
            &mut payload_problems,
        );
        problems.extend(payload_problems.into_iter().map(|p| format!("Payload.{p}")));
        if kind == "com.apple.configuration.management.status-subscriptions" {
            for item in declaration["Payload"]["StatusItems"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(name) = item["Name"].as_str()
                    && let Err(problem) = self.status_item_supported(name, target)
                {
                    problems.push(format!("Payload.StatusItems: {problem}"));
                }
            }
        }
        problems
    }
}

/// The parent's support, overridden field by field by the node's own `supportedOS`.
fn inherit(parent: &Support, node: &Yaml) -> Support {
    let mut support = parent.clone();
    if let Some(map) = node.get("supportedOS").and_then(Yaml::as_mapping) {
        for (os, entry) in map {
            let Some(os) = os.as_str() else { continue };
            let slot = support.entry(os.to_string()).or_default();
            if let Some(introduced) = text(entry, "introduced") {
                slot.introduced = Some(introduced);
            }
            if let Some(removed) = text(entry, "removed") {
                slot.removed = Some(removed);
            }
            if let Some(list) = entry.get("allowed-enrollments").and_then(Yaml::as_sequence) {
                slot.allowed_enrollments =
                    Some(list.iter().filter_map(|v| v.as_str().map(String::from)).collect());
            }
        }
    }
    support
}

fn with_overlay(kind: &str, path: &str, mut support: Support) -> Support {
    for (row_kind, row_path, os, introduced, enrollments) in OVERLAY {
        if *row_kind == kind && *row_path == path {
            let slot = support.entry(os.to_string()).or_default();
            if let Some(introduced) = introduced {
                slot.introduced = Some(introduced.to_string());
            }
            if let Some(list) = enrollments {
                slot.allowed_enrollments = Some(list.iter().map(|s| s.to_string()).collect());
            }
        }
    }
    support
}

fn support_problem(support: &Support, target: &SchemaTarget) -> Option<String> {
    let Some(entry) = support.get(target.os) else {
        return Some(format!("{} is not listed in supportedOS", target.os));
    };
    match entry.introduced.as_deref() {
        None => return Some(format!("no 'introduced' for {}", target.os)),
        Some("n/a") => return Some(format!("not supported on {}", target.os)),
        Some(version) => {
            let introduced: OsVersion = version.parse().expect("schema version");
            if target.version < introduced {
                return Some(format!(
                    "needs {} {introduced}, device has {}",
                    target.os, target.version
                ));
            }
        }
    }
    if let Some(removed) = entry.removed.as_deref().and_then(|v| v.parse::<OsVersion>().ok())
        && target.version >= removed
    {
        return Some(format!("removed in {} {removed}", target.os));
    }
    if let Some(allowed) = &entry.allowed_enrollments
        && !allowed.iter().any(|e| e == target.enrollment)
    {
        return Some(format!(
            "{} enrollment not allowed on {} (allowed: {allowed:?})",
            target.enrollment, target.os
        ));
    }
    None
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn check_dictionary(
    path: &str,
    value: &Json,
    keys: &[Yaml],
    support: &Support,
    kind: &str,
    target: &SchemaTarget,
    problems: &mut Vec<String>,
) {
    let Some(object) = value.as_object() else {
        problems.push(format!(
            "{}: expected a dictionary",
            if path.is_empty() { "(root)" } else { path }
        ));
        return;
    };
    let open = keys.iter().any(|k| text(k, "key").as_deref() == Some("ANY"));
    for key in keys {
        let name = text(key, "key").unwrap_or_default();
        if name != "ANY"
            && text(key, "presence").as_deref() == Some("required")
            && !object.contains_key(&name)
        {
            problems.push(format!("{}: required key missing", join(path, &name)));
        }
    }
    for (name, child) in object {
        let key_path = join(path, name);
        match keys
            .iter()
            .find(|k| text(k, "key").as_deref() == Some(name.as_str()))
        {
            Some(node) => {
                let schema_path = key_path.clone();
                let support = with_overlay(kind, &strip_indices(&schema_path), inherit(support, node));
                if !kind.is_empty()
                    && let Some(problem) = support_problem(&support, target)
                {
                    problems.push(format!("{key_path}: {problem}"));
                }
                check_value(&key_path, child, node, &support, kind, target, problems);
            }
            None if open => {}
            None => problems.push(format!("{key_path}: unknown key")),
        }
    }
}

fn strip_indices(path: &str) -> String {
    path.split('.')
        .filter(|segment| !segment.starts_with('['))
        .collect::<Vec<_>>()
        .join(".")
}

fn check_value(
    path: &str,
    value: &Json,
    node: &Yaml,
    support: &Support,
    kind: &str,
    target: &SchemaTarget,
    problems: &mut Vec<String>,
) {
    let declared = text(node, "type").unwrap_or_default();
    let type_ok = match declared.as_str() {
        "<string>" | "<data>" | "<date>" => value.is_string(),
        "<integer>" => value.is_i64() || value.is_u64(),
        "<real>" => value.is_number(),
        "<boolean>" => value.is_boolean(),
        "<dictionary>" => value.is_object(),
        "<array>" => value.is_array(),
        "<any>" => true,
        other => {
            problems.push(format!(
                "{path}: schema type {other:?} not understood by the validator"
            ));
            return;
        }
    };
    if !type_ok {
        problems.push(format!("{path}: expected {declared}, got {value}"));
        return;
    }
    if let Some(list) = node.get("rangelist").and_then(Yaml::as_sequence) {
        let allowed: Vec<Json> = list.iter().filter_map(|v| serde_json::to_value(v).ok()).collect();
        if !allowed.contains(value) {
            problems.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(range), Some(number)) = (node.get("range"), value.as_f64()) {
        let bound = |name: &str| range.get(name).and_then(Yaml::as_f64);
        if bound("min").is_some_and(|min| number < min) || bound("max").is_some_and(|max| number > max) {
            problems.push(format!(
                "{path}: {value} is outside {:?}..={:?}",
                bound("min"),
                bound("max")
            ));
        }
    }
    let subkeys = node
        .get("subkeys")
        .and_then(Yaml::as_sequence)
        .cloned()
        .unwrap_or_default();
    match value {
        Json::Object(_) => check_dictionary(path, value, &subkeys, support, kind, target, problems),
        Json::Array(items) => {
            if let Some(item_node) = subkeys.first() {
                for (index, item) in items.iter().enumerate() {
                    check_value(
                        &format!("{path}.[{index}]"),
                        item,
                        item_node,
                        support,
                        kind,
                        target,
                        problems,
                    );
                }
            }
        }
        _ => {}
    }
}
