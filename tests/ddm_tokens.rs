//! Tokens are deterministic: same content → same tokens, any change → new tokens; and the sync
//! responses and declaration lookup built from a device's set.

use chrono::{TimeZone, Utc};
use orchard::protocol::ddm::{
    AutomaticActions, Declaration, DeclarationClass, DeclarationError, DeclarationIdentifier,
    DeclarationPath, DeclarationSet, EnforcementSpecific, ManagementProperties, PropertyValue,
    SimpleActivation, SoftwareUpdateSettings, TargetLocalDateTime, UserControl,
};
use serde_json::{Value, json};

fn id(text: &str) -> DeclarationIdentifier {
    DeclarationIdentifier::parse(text).unwrap()
}

fn enforcement(version: &str, deadline: &str) -> Declaration {
    let payload = EnforcementSpecific {
        target_os_version: version.into(),
        target_build_version: None,
        target_local_date_time: TargetLocalDateTime::parse(deadline).unwrap(),
        details_url: None,
    };
    Declaration::new(id("orchard.enforce"), &payload).unwrap()
}

fn settings() -> Declaration {
    let payload = SoftwareUpdateSettings {
        notifications: Some(true),
        automatic_actions: Some(AutomaticActions {
            download: Some(UserControl::AlwaysOn),
            install_os_updates: Some(UserControl::AlwaysOn),
            install_security_update: None,
        }),
        ..SoftwareUpdateSettings::default()
    };
    Declaration::new(id("orchard.settings"), &payload).unwrap()
}

fn activation() -> Declaration {
    let payload = SimpleActivation::new(vec![id("orchard.settings"), id("orchard.enforce")]).unwrap();
    Declaration::new(id("orchard.activation"), &payload).unwrap()
}

fn device_set(declarations: Vec<Declaration>) -> DeclarationSet {
    DeclarationSet::new(declarations).unwrap()
}

#[test]
fn same_content_gives_the_same_tokens_whatever_the_order() {
    let a = device_set(vec![
        enforcement("18.4", "2026-03-01T08:00:00"),
        settings(),
        activation(),
    ]);
    let b = device_set(vec![
        activation(),
        settings(),
        enforcement("18.4", "2026-03-01T08:00:00"),
    ]);
    assert_eq!(a.declarations_token(), b.declarations_token());
    assert_eq!(a.items_response(), b.items_response());

    // A payload read back with its keys in another order hashes the same.
    let mut reordered = serde_json::Map::new();
    let original = settings();
    for (key, value) in original.payload().iter().rev() {
        reordered.insert(key.clone(), value.clone());
    }
    let rebuilt =
        Declaration::from_parts(original.declaration_type(), id("orchard.settings"), reordered).unwrap();
    assert_eq!(rebuilt.server_token(), original.server_token());

    // And JSON written with other key orders and whitespace parses to the same declaration.
    let text = format!(
        r#"{{ "Payload" : {{"AutomaticActions": {{"InstallOSUpdates":"AlwaysOn", "Download":"AlwaysOn"}}, "Notifications": true}},
            "ServerToken": "{}", "Identifier": "orchard.settings",
            "Type": "com.apple.configuration.softwareupdate.settings" }}"#,
        original.server_token()
    );
    let parsed: Declaration = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, original);
}

#[test]
fn any_change_gives_a_new_server_token_and_a_new_declarations_token() {
    let base = device_set(vec![
        enforcement("18.4", "2026-03-01T08:00:00"),
        settings(),
        activation(),
    ]);
    let changes = [
        // The deadline moves by one second.
        vec![
            enforcement("18.4", "2026-03-01T08:00:01"),
            settings(),
            activation(),
        ],
        // The target version changes.
        vec![
            enforcement("18.4.1", "2026-03-01T08:00:00"),
            settings(),
            activation(),
        ],
        // A declaration is removed.
        vec![enforcement("18.4", "2026-03-01T08:00:00"), settings()],
        // A declaration is added.
        vec![
            enforcement("18.4", "2026-03-01T08:00:00"),
            settings(),
            activation(),
            properties("ring", "pilot"),
        ],
    ];
    let mut seen = vec![base.declarations_token().to_string()];
    for declarations in changes {
        let changed = device_set(declarations);
        assert!(
            !seen.contains(&changed.declarations_token().to_string()),
            "token reused after a change"
        );
        seen.push(changed.declarations_token().to_string());
    }
    assert_ne!(
        enforcement("18.4", "2026-03-01T08:00:00").server_token(),
        enforcement("18.4", "2026-03-01T08:00:01").server_token()
    );
    assert_ne!(
        properties("ring", "pilot").server_token(),
        properties("ring", "broad").server_token()
    );
    // The same payload under another identifier is another declaration with another token.
    let payload = SimpleActivation::new(vec![id("orchard.settings")]).unwrap();
    assert_ne!(
        Declaration::new(id("orchard.a"), &payload)
            .unwrap()
            .server_token(),
        Declaration::new(id("orchard.b"), &payload)
            .unwrap()
            .server_token()
    );
}

fn properties(key: &str, value: &str) -> Declaration {
    let mut payload = ManagementProperties::default();
    payload.0.insert(key.into(), PropertyValue::Text(value.into()));
    Declaration::new(id("orchard.properties"), &payload).unwrap()
}

#[test]
fn tokens_fit_apples_limits() {
    let set = device_set(vec![
        enforcement("18.4", "2026-03-01T08:00:00"),
        settings(),
        activation(),
    ]);
    for declaration in set.iter() {
        assert!(declaration.server_token().len() <= 64);
        assert!(declaration.identifier().as_str().len() <= 64);
    }
    assert!(set.declarations_token().len() <= 256);
    assert!(!set.declarations_token().is_empty());
    let empty = device_set(vec![]);
    assert!(!empty.declarations_token().is_empty() && empty.declarations_token() != set.declarations_token());
}

#[test]
fn a_stored_declaration_whose_token_does_not_match_is_refused() {
    let mut json: Value = serde_json::from_slice(&settings().to_json().unwrap()).unwrap();
    json["Payload"]["Notifications"] = json!(false);
    let error = serde_json::from_value::<Declaration>(json).unwrap_err();
    assert!(error.to_string().contains("ServerToken"), "{error}");
}

#[test]
fn duplicate_identifiers_in_one_set_are_refused() {
    let error = DeclarationSet::new(vec![settings(), settings()]).unwrap_err();
    assert!(matches!(error, DeclarationError::DuplicateIdentifier { .. }));
}

#[test]
fn sync_responses_have_apples_shape() {
    let set = device_set(vec![
        enforcement("18.4", "2026-03-01T08:00:00"),
        settings(),
        activation(),
    ]);
    let created = Utc.with_ymd_and_hms(2026, 2, 1, 9, 30, 5).unwrap();
    let tokens = serde_json::to_value(set.tokens_response(created)).unwrap();
    assert_eq!(
        tokens,
        json!({"SyncTokens": {"DeclarationsToken": set.declarations_token(), "Timestamp": "2026-02-01T09:30:05Z"}})
    );

    let items = serde_json::to_value(set.items_response()).unwrap();
    assert_eq!(items["DeclarationsToken"], json!(set.declarations_token()));
    let declarations = &items["Declarations"];
    assert_eq!(
        declarations["Assets"],
        json!([]),
        "empty arrays are sent, not left out"
    );
    assert_eq!(declarations["Management"], json!([]));
    assert_eq!(declarations["Activations"].as_array().unwrap().len(), 1);
    let configurations = declarations["Configurations"].as_array().unwrap();
    let ids: Vec<&str> = configurations
        .iter()
        .map(|item| item["Identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["orchard.enforce", "orchard.settings"]);
    for item in configurations {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2, "{item}");
        let served = set
            .get(
                DeclarationClass::Configuration,
                &id(item["Identifier"].as_str().unwrap()),
            )
            .unwrap();
        assert_eq!(item["ServerToken"].as_str().unwrap(), served.server_token());
    }
}

#[test]
fn declarations_are_found_by_class_and_identifier() {
    let set = device_set(vec![
        enforcement("18.4", "2026-03-01T08:00:00"),
        settings(),
        activation(),
    ]);
    let path = DeclarationPath::parse("declaration/configuration/orchard.settings").unwrap();
    let found = set.get_path(&path).unwrap();
    let body: Value = serde_json::from_slice(&found.to_json().unwrap()).unwrap();
    assert_eq!(body["Type"], "com.apple.configuration.softwareupdate.settings");
    assert_eq!(body["Identifier"], "orchard.settings");
    assert_eq!(body["ServerToken"], found.server_token());
    assert_eq!(body["Payload"]["AutomaticActions"]["Download"], "AlwaysOn");
    assert!(
        body["Payload"].get("Deferrals").is_none(),
        "absent optionals are left out"
    );

    // Right identifier, wrong class; unknown identifier: not found (a 404).
    let wrong_class = DeclarationPath::parse("declaration/activation/orchard.settings").unwrap();
    assert!(set.get_path(&wrong_class).is_none());
    let unknown = DeclarationPath::parse("declaration/configuration/orchard.other").unwrap();
    assert!(set.get_path(&unknown).is_none());
}
