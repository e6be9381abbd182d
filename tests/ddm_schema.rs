//! Every declaration Orchard can emit, for every platform, OS version and enrollment, checked
//! against Apple's YAML schemas (plus the newer availability the facts file records).

use crate::schema;

use orchard::protocol::ddm::{
    ActivationPredicate, AutomaticActions, Beta, BetaProgram, Declaration, DeclarationError,
    DeclarationIdentifier, DeferralDays, Deferrals, DeviceTarget, EnforcementSpecific, Enrollment,
    ManagementProperties, OsVersion, Platform, PropertyValue, RapidSecurityResponse, RecommendedCadence,
    ServerCapabilities, SimpleActivation, SoftwareUpdateSettings, StatusSubscriptions, TargetLocalDateTime,
    UserControl, declaration_availability,
};
use schema::{SchemaTarget, Schemas};
use serde_json::{Value, json};

fn versions(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Ios | Platform::IpadOs => &[
            "15.0", "16.1", "17.0", "17.4", "18.0", "18.3", "18.4", "25.9", "26.0", "27.0",
        ],
        Platform::MacOs => &[
            "13.0", "13.5", "14.0", "14.4", "15.0", "15.3", "15.4", "26.0", "27.0",
        ],
        Platform::TvOs => &["16.0", "17.0", "18.0", "18.3", "18.4", "26.0", "27.0"],
        Platform::VisionOs => &["1.1", "2.0", "2.4", "26.0", "27.0"],
    }
}

fn enrollment_name(enrollment: Enrollment) -> &'static str {
    match enrollment {
        Enrollment::Supervised => "supervised",
        Enrollment::Device => "device",
        Enrollment::User => "user",
    }
}

fn all_targets() -> Vec<DeviceTarget> {
    let mut targets = Vec::new();
    for platform in Platform::ALL {
        for version in versions(platform) {
            for enrollment in [Enrollment::Supervised, Enrollment::Device, Enrollment::User] {
                targets.push(DeviceTarget::new(platform, version.parse().unwrap(), enrollment));
            }
        }
    }
    targets
}

fn schema_target(target: &DeviceTarget) -> SchemaTarget {
    SchemaTarget {
        os: target.platform.schema_name(),
        version: target.os_version,
        enrollment: enrollment_name(target.enrollment),
    }
}

fn id(text: &str) -> DeclarationIdentifier {
    DeclarationIdentifier::parse(text).unwrap()
}

fn days(n: i64) -> Option<DeferralDays> {
    Some(DeferralDays::new(n, "Deferrals").unwrap())
}

fn program(name: &str) -> BetaProgram {
    BetaProgram {
        description: format!("{name} beta"),
        token: format!("token-{name}"),
    }
}

/// Settings policies that together use every key the schema defines.
fn settings_policies() -> Vec<SoftwareUpdateSettings> {
    let full = SoftwareUpdateSettings {
        notifications: Some(false),
        deferrals: Some(Deferrals {
            combined_period_in_days: days(30),
            major_period_in_days: days(90),
            minor_period_in_days: days(14),
            system_period_in_days: days(1),
        }),
        recommended_cadence: Some(RecommendedCadence::Newest),
        automatic_actions: Some(AutomaticActions {
            download: Some(UserControl::AlwaysOn),
            install_os_updates: Some(UserControl::AlwaysOn),
            install_security_update: Some(UserControl::AlwaysOn),
        }),
        rapid_security_response: Some(RapidSecurityResponse {
            enable: Some(false),
            enable_rollback: Some(false),
        }),
        allow_standard_user_os_updates: Some(false),
        beta: Some(Beta {
            program_enrollment: Some(UserControl::AlwaysOn),
            offer_programs: None,
            require_program: Some(program("required")),
        }),
    };
    let offering = SoftwareUpdateSettings {
        beta: Some(Beta {
            program_enrollment: Some(UserControl::Allowed),
            offer_programs: Some(vec![program("a"), program("b")]),
            require_program: None,
        }),
        automatic_actions: Some(AutomaticActions {
            download: Some(UserControl::AlwaysOff),
            install_os_updates: Some(UserControl::AlwaysOff),
            install_security_update: Some(UserControl::Allowed),
        }),
        ..full.clone()
    };
    vec![full, offering, SoftwareUpdateSettings::default()]
}

/// Narrowings Orchard makes on purpose although the schema (with the overlay) would accept the key.
fn deliberately_narrowed(path: &str, target: &DeviceTarget) -> bool {
    path == "AutomaticActions.InstallSecurityUpdate"
        && matches!(target.platform, Platform::Ios | Platform::IpadOs)
        && target.os_version < OsVersion::new(26, 0, 0)
}

fn assert_valid(schemas: &Schemas, declaration: &Declaration, target: &DeviceTarget) {
    let json: Value = serde_json::from_slice(&declaration.to_json().unwrap()).unwrap();
    let problems = schemas.validate(&json, &schema_target(target));
    assert!(
        problems.is_empty(),
        "{} for {target}:\n{json:#}\n{problems:#?}",
        declaration.declaration_type()
    );
}

/// Orchard's own availability of a declaration type agrees with the schema's, for every target.
fn assert_same_availability(schemas: &Schemas, kind: &str, target: &DeviceTarget, orchard_accepts: bool) {
    let schema_accepts = schemas.declaration_supported(kind, &schema_target(target));
    assert_eq!(
        orchard_accepts, schema_accepts,
        "{kind} for {target}: Orchard {orchard_accepts}, schema {schema_accepts}"
    );
}

#[test]
fn settings_for_every_device_match_the_schema() {
    let schemas = Schemas::load();
    let mut emitted = 0;
    for target in all_targets() {
        for policy in settings_policies() {
            match policy.for_target(&target) {
                Ok(targeted) => {
                    assert_same_availability(&schemas, policy_type(), &target, true);
                    let declaration = Declaration::new(id("orchard.settings"), &targeted.payload).unwrap();
                    assert_valid(&schemas, &declaration, &target);
                    for dropped in &targeted.dropped {
                        let schema_allows =
                            schemas.key_supported(policy_type(), dropped.path, &schema_target(&target));
                        assert!(
                            !schema_allows || deliberately_narrowed(dropped.path, &target),
                            "{} was dropped for {target} although the schema accepts it",
                            dropped.path
                        );
                    }
                    emitted += 1;
                }
                Err(DeclarationError::NotSupported { .. }) => {
                    assert_same_availability(&schemas, policy_type(), &target, false);
                }
                Err(other) => panic!("{target}: unexpected {other}"),
            }
        }
    }
    assert!(emitted > 50, "too few combinations emitted: {emitted}");
}

fn policy_type() -> &'static str {
    "com.apple.configuration.softwareupdate.settings"
}

#[test]
fn enforcement_for_every_device_matches_the_schema() {
    let schemas = Schemas::load();
    let kind = "com.apple.configuration.softwareupdate.enforcement.specific";
    for target in all_targets() {
        let next = OsVersion::new(target.os_version.major + 1, 0, 0);
        let with_everything = EnforcementSpecific {
            target_os_version: next.to_string(),
            target_build_version: Some(format!("{}A100a", next.major % 100)),
            target_local_date_time: TargetLocalDateTime::parse("2026-03-01T08:30:00").unwrap(),
            details_url: Some("https://it.example.org/updates".into()),
        };
        let minimal = EnforcementSpecific {
            target_build_version: None,
            details_url: None,
            ..with_everything.clone()
        };
        for payload in [with_everything, minimal] {
            match payload.for_target(&target) {
                Ok(payload) => {
                    assert_same_availability(&schemas, kind, &target, true);
                    assert_valid(
                        &schemas,
                        &Declaration::new(id("orchard.enforce.1"), &payload).unwrap(),
                        &target,
                    );
                }
                Err(DeclarationError::NotSupported { .. }) => {
                    assert_same_availability(&schemas, kind, &target, false)
                }
                Err(other) => panic!("{target}: unexpected {other}"),
            }
        }
    }
}

#[test]
fn supporting_declarations_for_every_device_match_the_schema() {
    let schemas = Schemas::load();
    for target in all_targets() {
        let st = schema_target(&target);
        let subscriptions = StatusSubscriptions::for_update_management(&target);
        let activation = SimpleActivation::new(vec![id("orchard.settings"), id("orchard.enforce.1")])
            .unwrap()
            .with_predicate(ActivationPredicate::status_equals("device.model.family", "AppleTV").unwrap());
        let mut properties = ManagementProperties::default();
        properties
            .0
            .insert("orchard.ring".into(), PropertyValue::Text("pilot".into()));
        properties
            .0
            .insert("orchard.wave".into(), PropertyValue::Integer(2));
        let declarations = [
            Declaration::new(id("orchard.subscriptions"), &subscriptions).unwrap(),
            Declaration::new(id("orchard.activation"), &activation).unwrap(),
            Declaration::new(id("orchard.properties"), &properties).unwrap(),
            Declaration::new(id("orchard.capabilities"), &ServerCapabilities::default()).unwrap(),
        ];
        for declaration in &declarations {
            let kind = declaration.declaration_type();
            let availability = declaration_availability(kind).expect("Orchard lists every type it emits");
            let orchard_accepts = availability.refusal(&target).is_none();
            assert_same_availability(&schemas, kind, &target, orchard_accepts);
            if orchard_accepts {
                assert_valid(&schemas, declaration, &target);
            }
        }
        // Subscriptions follow what the device reports: every update item it has is asked for.
        let names: Vec<&str> = subscriptions
            .status_items
            .iter()
            .map(|item| item.name.as_str())
            .collect();
        for item in [
            "softwareupdate.install-state",
            "softwareupdate.pending-version",
            "device.operating-system.version",
        ] {
            assert_eq!(
                names.contains(&item),
                schemas.status_item_supported(item, &st).is_ok(),
                "{item} for {target}"
            );
        }
    }
}

#[test]
fn every_type_orchard_emits_is_in_the_schemas() {
    let schemas = Schemas::load();
    for kind in [
        "com.apple.configuration.softwareupdate.enforcement.specific",
        "com.apple.configuration.softwareupdate.settings",
        "com.apple.configuration.management.status-subscriptions",
        "com.apple.activation.simple",
        "com.apple.management.properties",
        "com.apple.management.server-capabilities",
    ] {
        assert!(schemas.knows_declaration_type(kind), "{kind}");
        assert!(declaration_availability(kind).is_some(), "{kind}");
    }
}

// The validator itself must catch what a device would reject.

fn ios18() -> SchemaTarget {
    SchemaTarget {
        os: "iOS",
        version: OsVersion::new(18, 0, 0),
        enrollment: "supervised",
    }
}

fn settings_declaration(payload: Value) -> Value {
    json!({
        "Type": "com.apple.configuration.softwareupdate.settings",
        "Identifier": "x",
        "ServerToken": "t",
        "Payload": payload,
    })
}

fn problems(declaration: Value, target: SchemaTarget) -> Vec<String> {
    Schemas::load().validate(&declaration, &target)
}

#[test]
fn validator_accepts_a_correct_declaration() {
    let ok = settings_declaration(json!({"Notifications": true, "Deferrals": {"CombinedPeriodInDays": 7}}));
    assert_eq!(problems(ok, ios18()), Vec::<String>::new());
}

#[test]
fn validator_catches_a_wrong_key() {
    let found = problems(
        settings_declaration(json!({"Deferals": {"CombinedPeriodInDays": 7}})),
        ios18(),
    );
    assert!(
        found.iter().any(|p| p.contains("Payload.Deferals: unknown key")),
        "{found:?}"
    );
    let nested = problems(
        settings_declaration(json!({"Deferrals": {"CombinedPeriod": 7}})),
        ios18(),
    );
    assert!(
        nested
            .iter()
            .any(|p| p.contains("Deferrals.CombinedPeriod: unknown key")),
        "{nested:?}"
    );
}

#[test]
fn validator_catches_a_wrong_type() {
    let found = problems(settings_declaration(json!({"Notifications": "yes"})), ios18());
    assert!(
        found
            .iter()
            .any(|p| p.contains("Notifications: expected <boolean>")),
        "{found:?}"
    );
    let days_as_text = problems(
        settings_declaration(json!({"Deferrals": {"CombinedPeriodInDays": "7"}})),
        ios18(),
    );
    assert!(
        days_as_text.iter().any(|p| p.contains("expected <integer>")),
        "{days_as_text:?}"
    );
}

#[test]
fn validator_catches_a_missing_required_key() {
    let enforcement = json!({
        "Type": "com.apple.configuration.softwareupdate.enforcement.specific",
        "Identifier": "x", "ServerToken": "t",
        "Payload": {"TargetLocalDateTime": "2026-01-01T00:00:00"},
    });
    let found = problems(enforcement, ios18());
    assert!(
        found
            .iter()
            .any(|p| p.contains("TargetOSVersion: required key missing")),
        "{found:?}"
    );
    let no_token = json!({"Type": "com.apple.management.properties", "Identifier": "x", "Payload": {}});
    let found = problems(no_token, ios18());
    assert!(
        found
            .iter()
            .any(|p| p.contains("ServerToken: required key missing")),
        "{found:?}"
    );
}

#[test]
fn validator_catches_ranges_values_and_platforms() {
    let out_of_range = problems(
        settings_declaration(json!({"Deferrals": {"CombinedPeriodInDays": 91}})),
        ios18(),
    );
    assert!(
        out_of_range.iter().any(|p| p.contains("outside")),
        "{out_of_range:?}"
    );
    let bad_value = problems(
        settings_declaration(json!({"RecommendedCadence": "Latest"})),
        ios18(),
    );
    assert!(
        bad_value.iter().any(|p| p.contains("is not one of")),
        "{bad_value:?}"
    );
    let mac_key_on_ios = problems(
        settings_declaration(json!({"Deferrals": {"MajorPeriodInDays": 5}})),
        ios18(),
    );
    assert!(
        mac_key_on_ios.iter().any(|p| p.contains("not supported on iOS")),
        "{mac_key_on_ios:?}"
    );
    let unsupervised = SchemaTarget {
        enrollment: "device",
        ..ios18()
    };
    let needs_supervision = problems(
        settings_declaration(json!({"Deferrals": {"CombinedPeriodInDays": 5}})),
        unsupervised,
    );
    assert!(
        needs_supervision
            .iter()
            .any(|p| p.contains("device enrollment not allowed")),
        "{needs_supervision:?}"
    );
    let too_old = SchemaTarget {
        version: OsVersion::new(17, 5, 0),
        ..ios18()
    };
    let found = problems(settings_declaration(json!({})), too_old);
    assert!(found.iter().any(|p| p.contains("needs iOS 18.0")), "{found:?}");
    let tvos_184 = SchemaTarget {
        os: "tvOS",
        version: OsVersion::new(18, 4, 0),
        enrollment: "device",
    };
    assert_eq!(
        problems(settings_declaration(json!({"Notifications": false})), tvos_184),
        Vec::<String>::new()
    );
    let found = problems(
        settings_declaration(json!({"RecommendedCadence": "All"})),
        tvos_184,
    );
    assert!(
        found.iter().any(|p| p.contains("not supported on tvOS")),
        "{found:?}"
    );
}
