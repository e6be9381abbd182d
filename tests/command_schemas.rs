//! Every command Orchard builds is validated against Apple's YAML schema for it: key names,
//! types, allowed values and required keys (`mdm/commands/*.yaml`).

use crate::mdm_support;

use std::path::PathBuf;

use mdm_support::reference_dir;
use orchard::protocol::commands::application::RestartOptions;
use orchard::protocol::commands::{
    Command, CommandRequest, EnterpriseApplication, InstallAction, ScheduledUpdate, UpdatePriority,
};
use plist::{Dictionary, Value};
use serde_yaml::Value as Yaml;

fn schema_path(request_type: &str) -> PathBuf {
    let file = match request_type {
        "DeviceInformation" => "information.device.yaml",
        "SecurityInfo" => "information.security.yaml",
        "ProfileList" => {
            return PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apple/profile.list.yaml");
        }
        "InstallProfile" => "profile.install.yaml",
        "RemoveProfile" => "profile.remove.yaml",
        "DeclarativeManagement" => "declarativemanagement.yaml",
        "ScheduleOSUpdate" => "system.update.schedule.yaml",
        "ScheduleOSUpdateScan" => "system.update.scan.yaml",
        "AvailableOSUpdates" => "system.update.available.yaml",
        "OSUpdateStatus" => "system.update.status.yaml",
        "InstallEnterpriseApplication" => "application.install.enterprise.yaml",
        "RestartDevice" => "device.restart.yaml",
        // Not among the shared reference schemas: transcribed from Apple's, with its source.
        "ContentCachingInformation" => {
            return PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/apple/information.contentcaching.yaml");
        }
        other => panic!("no schema known for {other}"),
    };
    reference_dir()
        .join("apple-device-management/mdm/commands")
        .join(file)
}

pub(crate) fn load_schema(request_type: &str) -> Yaml {
    let text = std::fs::read_to_string(schema_path(request_type)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

pub(crate) fn key_specs(node: &Yaml, field: &str) -> Vec<Yaml> {
    node.get(field)
        .and_then(Yaml::as_sequence)
        .cloned()
        .unwrap_or_default()
}

fn name(spec: &Yaml) -> &str {
    spec.get("key").and_then(Yaml::as_str).unwrap_or("")
}

fn type_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "<string>" => matches!(value, Value::String(_)),
        "<integer>" => matches!(value, Value::Integer(_)),
        "<real>" => matches!(value, Value::Real(_) | Value::Integer(_)),
        "<boolean>" => matches!(value, Value::Boolean(_)),
        "<data>" => matches!(value, Value::Data(_)),
        "<date>" => matches!(value, Value::Date(_)),
        "<array>" => matches!(value, Value::Array(_)),
        "<dictionary>" => matches!(value, Value::Dictionary(_)),
        "<any>" => true,
        _ => false,
    }
}

/// Checks `value` against one key specification; pushes what is wrong to `errors`.
fn check_value(spec: &Yaml, value: &Value, path: &str, errors: &mut Vec<String>) {
    let ty = spec.get("type").and_then(Yaml::as_str).unwrap_or("<any>");
    if !type_matches(ty, value) {
        errors.push(format!("{path}: expected {ty}, found {value:?}"));
        return;
    }
    if let Some(range) = spec.get("rangelist").and_then(Yaml::as_sequence) {
        let allowed = range.iter().any(|r| match (r, value) {
            (Yaml::String(a), Value::String(b)) => a == b,
            (Yaml::Number(a), Value::Integer(b)) => a.as_i64() == b.as_signed(),
            _ => false,
        });
        if !allowed {
            errors.push(format!("{path}: {value:?} is not in the rangelist"));
        }
    }
    match value {
        Value::Dictionary(d) => check_dict(d, &key_specs(spec, "subkeys"), path, errors),
        Value::Array(items) => {
            let item_spec = key_specs(spec, "subkeys")
                .into_iter()
                .next()
                .unwrap_or(Yaml::Null);
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                check_value(&item_spec, item, &item_path, errors);
                // An array of strings whose item lists subkeys: the allowed values (Queries).
                let choices = key_specs(&item_spec, "subkeys");
                if let Value::String(s) = item
                    && !choices.is_empty()
                    && !choices.iter().any(|c| name(c) == s)
                {
                    errors.push(format!("{item_path}: `{s}` is not a value the schema lists"));
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn check_dict(dict: &Dictionary, specs: &[Yaml], path: &str, errors: &mut Vec<String>) {
    let any = specs.iter().find(|s| name(s) == "ANY");
    for spec in specs {
        let required = spec.get("presence").and_then(Yaml::as_str) == Some("required");
        if required && name(spec) != "ANY" && !dict.contains_key(name(spec)) {
            errors.push(format!("{path}: required key `{}` missing", name(spec)));
        }
    }
    for (key, value) in dict {
        match specs.iter().find(|s| name(s) == key).or(any) {
            Some(spec) => check_value(spec, value, &format!("{path}.{key}"), errors),
            None => errors.push(format!("{path}: key `{key}` is not in the schema")),
        }
    }
}

/// What is wrong with a command's `Command` dictionary, per its schema.
pub(crate) fn schema_errors(command: &Dictionary) -> Vec<String> {
    let request_type = command.get("RequestType").and_then(Value::as_string).unwrap();
    let schema = load_schema(request_type);
    let mut errors = Vec::new();
    let documented = schema
        .get("payload")
        .and_then(|p| p.get("requesttype"))
        .and_then(Yaml::as_str);
    if documented != Some(request_type) {
        errors.push(format!(
            "RequestType {request_type} but the schema says {documented:?}"
        ));
    }
    let mut keys = command.clone();
    keys.remove("RequestType");
    check_dict(
        &keys,
        &key_specs(&schema, "payloadkeys"),
        request_type,
        &mut errors,
    );
    errors
}

fn every_command() -> Vec<CommandRequest> {
    let mut app =
        EnterpriseApplication::from_manifest_url("https://orchard.example/app/manifest.plist").unwrap();
    app.pinning_certs = vec![vec![0x30, 0x82]];
    app.pinning_revocation_check_required = Some(true);
    app.install_as_managed = Some(true);
    app.management_flags = Some(1);
    app.take_management = true;
    app.ios_app = Some(false);
    let mut manifest = Dictionary::new();
    manifest.insert("items".into(), Value::Array(vec![]));
    let mut scheduled = ScheduledUpdate::by_product_key("MSU_UPDATE_22F82", InstallAction::InstallLater)
        .with_max_user_deferrals(3)
        .unwrap();
    scheduled.priority = Some(UpdatePriority::High);
    vec![
        CommandRequest::device_information_for_updates(),
        CommandRequest::SecurityInfo,
        CommandRequest::ProfileList {
            managed_only: Some(true),
        },
        CommandRequest::InstallProfile {
            payload: b"<plist/>".to_vec(),
        },
        CommandRequest::RemoveProfile {
            identifier: "com.example.wifi".into(),
        },
        CommandRequest::declarative_management(None),
        CommandRequest::declarative_management(Some(br#"{"SyncTokens":{}}"#)),
        CommandRequest::ScheduleOsUpdate {
            updates: vec![
                scheduled,
                ScheduledUpdate::by_version("17.5.1", InstallAction::InstallAsap),
                ScheduledUpdate::by_version("17.5.1", InstallAction::InstallForceRestart),
                ScheduledUpdate::by_version("17.5.1", InstallAction::DownloadOnly),
                ScheduledUpdate::by_version("17.5.1", InstallAction::NotifyOnly),
                ScheduledUpdate::by_version("17.5.1", InstallAction::Default),
            ],
        },
        CommandRequest::ScheduleOsUpdateScan { force: Some(true) },
        CommandRequest::AvailableOsUpdates,
        CommandRequest::OsUpdateStatus,
        CommandRequest::InstallEnterpriseApplication(app),
        CommandRequest::InstallEnterpriseApplication(EnterpriseApplication::from_manifest(manifest)),
        CommandRequest::RestartDevice(RestartOptions::default()),
        CommandRequest::RestartDevice(RestartOptions {
            rebuild_kernel_cache: Some(true),
            kext_paths: vec!["/Library/Extensions/x.kext".into()],
            notify_user: Some(true),
        }),
        CommandRequest::ContentCachingInformation,
    ]
}

#[test]
fn every_command_matches_its_apple_schema() {
    for request in every_command() {
        let envelope = Command::new(request.clone()).to_dictionary();
        assert!(envelope.get("CommandUUID").and_then(Value::as_string).is_some());
        let command = envelope.get("Command").and_then(Value::as_dictionary).unwrap();
        let errors = schema_errors(command);
        assert!(errors.is_empty(), "{}: {errors:#?}", request.request_type());
    }
}

#[test]
fn the_validator_catches_wrong_names_types_and_missing_keys() {
    let mut bad_query = CommandRequest::DeviceInformation {
        queries: vec!["OSVersion".into(), "OSVersionn".into()],
    }
    .to_dictionary();
    assert_eq!(
        schema_errors(&bad_query).len(),
        1,
        "{:?}",
        schema_errors(&bad_query)
    );
    bad_query.insert("Querys".into(), Value::Boolean(true));
    assert_eq!(schema_errors(&bad_query).len(), 2);

    let mut remove = CommandRequest::RemoveProfile {
        identifier: "x".into(),
    }
    .to_dictionary();
    remove.remove("Identifier");
    assert!(schema_errors(&remove)[0].contains("required key `Identifier` missing"));

    let mut schedule = CommandRequest::ScheduleOsUpdate {
        updates: vec![ScheduledUpdate::by_version("17.5", InstallAction::Default)],
    }
    .to_dictionary();
    let mut update = Dictionary::new();
    update.insert("InstallAction".into(), Value::String("Whenever".into()));
    update.insert("MaxUserDeferrals".into(), Value::String("3".into()));
    schedule.insert("Updates".into(), Value::Array(vec![Value::Dictionary(update)]));
    assert_eq!(
        schema_errors(&schedule).len(),
        2,
        "{:?}",
        schema_errors(&schedule)
    );
}
