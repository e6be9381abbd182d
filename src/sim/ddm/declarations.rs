//! The declarations the simulated device holds, how it checks each one when it arrives, and how
//! it evaluates activations into active configurations and the `management.declarations` states
//! (reason codes from declarationbase.yaml).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::predicate::{self, PredicateContext};
use crate::protocol::ddm::enforcement::ENFORCEMENT_SPECIFIC_TYPE;
use crate::protocol::ddm::management::{
    PROPERTIES_TYPE, SIMPLE_ACTIVATION_TYPE, STATUS_SUBSCRIPTIONS_TYPE, StatusSubscriptions,
};
use crate::protocol::ddm::settings::SETTINGS_TYPE;
use crate::protocol::ddm::{DeclarationClass, EnforcementSpecific, SimpleActivation, SoftwareUpdateSettings};

/// A declaration as served (`declaration/<class>/<identifier>`): the device keeps the server's
/// token as it came, whatever algorithm made it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServedDeclaration {
    #[serde(rename = "Type")]
    pub declaration_type: String,
    #[serde(rename = "Identifier")]
    pub identifier: String,
    #[serde(rename = "ServerToken")]
    pub server_token: String,
    #[serde(rename = "Payload")]
    pub payload: Map<String, Value>,
}

/// Why the device cannot use a declaration: a reason code and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: &'static str,
    pub description: String,
}

/// A declaration on the device, with what its check on arrival found.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldDeclaration {
    pub class: DeclarationClass,
    pub declaration: ServedDeclaration,
    /// Set when the declaration cannot be applied (reported as `valid: invalid` with reasons).
    pub problem: Option<Problem>,
}

impl HeldDeclaration {
    /// Checks a declaration as it arrives. `check_enforcement` is the update engine's verdict on
    /// an enforcement (a target at or below the installed version is refused).
    pub fn receive(
        class: DeclarationClass,
        declaration: ServedDeclaration,
        check_enforcement: &dyn Fn(&EnforcementSpecific) -> Result<(), String>,
    ) -> HeldDeclaration {
        let problem = check(class, &declaration, check_enforcement).err();
        HeldDeclaration {
            class,
            declaration,
            problem,
        }
    }

    pub fn server_token(&self) -> &str {
        &self.declaration.server_token
    }

    fn typed<T: for<'de> Deserialize<'de>>(&self) -> Option<T> {
        serde_json::from_value(Value::Object(self.declaration.payload.clone())).ok()
    }
}

fn parse<T: for<'de> Deserialize<'de>>(declaration: &ServedDeclaration) -> Result<T, Problem> {
    serde_json::from_value(Value::Object(declaration.payload.clone())).map_err(|error| Problem {
        code: "Error.ConfigurationCannotBeDeserialized",
        description: error.to_string(),
    })
}

fn check(
    class: DeclarationClass,
    declaration: &ServedDeclaration,
    check_enforcement: &dyn Fn(&EnforcementSpecific) -> Result<(), String>,
) -> Result<(), Problem> {
    let cannot_apply = |description: String| Problem {
        code: "Error.ConfigurationCannotBeApplied",
        description,
    };
    match (class, declaration.declaration_type.as_str()) {
        (DeclarationClass::Activation, SIMPLE_ACTIVATION_TYPE) => {
            parse::<SimpleActivation>(declaration).map(drop)
        }
        (DeclarationClass::Configuration, ENFORCEMENT_SPECIFIC_TYPE) => {
            let enforcement: EnforcementSpecific = parse(declaration)?;
            enforcement.validate().map_err(|e| cannot_apply(e.to_string()))?;
            check_enforcement(&enforcement).map_err(cannot_apply)
        }
        (DeclarationClass::Configuration, SETTINGS_TYPE) => {
            let settings: SoftwareUpdateSettings = parse(declaration)?;
            settings.validate().map_err(|e| cannot_apply(e.to_string()))
        }
        (DeclarationClass::Configuration, STATUS_SUBSCRIPTIONS_TYPE) => {
            parse::<StatusSubscriptions>(declaration).map(drop)
        }
        (DeclarationClass::Management | DeclarationClass::Asset, _) => Ok(()),
        (_, other) => Err(Problem {
            code: "Error.ConfigurationNotSupported",
            description: format!("{other} is not supported by this device"),
        }),
    }
}

/// What the held declarations amount to: the active configurations the device applies, and the
/// state of each declaration for `management.declarations`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// `management.declarations.<class>` elements by class name (`activations`, ...), then identifier.
    pub states: BTreeMap<&'static str, BTreeMap<String, Value>>,
    /// The first active settings configuration (by identifier).
    pub settings: Option<SoftwareUpdateSettings>,
    pub enforcements: Vec<(String, EnforcementSpecific)>,
    /// Status items subscribed by the active subscriptions (set-union).
    pub subscriptions: BTreeSet<String>,
}

/// The management properties the held `management.properties` declarations set, as text.
pub fn properties(held: &BTreeMap<String, HeldDeclaration>) -> BTreeMap<String, String> {
    let mut properties = BTreeMap::new();
    for declaration in held.values() {
        if declaration.declaration.declaration_type == PROPERTIES_TYPE {
            for (key, value) in &declaration.declaration.payload {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                properties.insert(key.clone(), text);
            }
        }
    }
    properties
}

/// Evaluates activations (with their predicates, against `context`) into active configurations.
pub fn evaluate(held: &BTreeMap<String, HeldDeclaration>, context: &dyn PredicateContext) -> Evaluation {
    let mut evaluation = Evaluation::default();
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    let mut states: BTreeMap<&'static str, BTreeMap<String, Value>> = BTreeMap::new();
    let mut state = |held: &HeldDeclaration, active: bool, reason: Option<Value>| {
        let valid = if held.problem.is_some() {
            "invalid"
        } else {
            "valid"
        };
        let mut element = json!({
            "identifier": held.declaration.identifier,
            "server-token": held.declaration.server_token,
            "active": active,
            "valid": valid,
        });
        let reasons: Vec<Value> = held
            .problem
            .as_ref()
            .map(|p| reason_value(p.code, &p.description, held, None))
            .into_iter()
            .chain(reason)
            .collect();
        if !reasons.is_empty() {
            element["reasons"] = Value::Array(reasons);
        }
        states
            .entry(class_key(held.class))
            .or_default()
            .insert(held.declaration.identifier.clone(), element);
    };

    for held_activation in held.values().filter(|h| h.class == DeclarationClass::Activation) {
        let Some(activation) = held_activation.typed::<SimpleActivation>() else {
            state(held_activation, false, None);
            continue;
        };
        let outcome = match activation.predicate.as_ref() {
            None => Ok(true),
            Some(text) => predicate::evaluate(text.as_str(), context).map_err(|e| (text, e)),
        };
        match outcome {
            Ok(true) => {
                referenced.extend(activation.standard_configurations.iter().map(|id| id.to_string()));
                state(held_activation, true, None);
            }
            Ok(false) => {
                let text = activation.predicate.as_ref().map(|p| p.as_str());
                let reason = reason_value("Info.Predicate", "The predicate is false", held_activation, text);
                state(held_activation, false, Some(reason));
            }
            Err((text, error)) => {
                let reason = reason_value(
                    "Error.UnableToParsePredicate",
                    &error.to_string(),
                    held_activation,
                    Some(text.as_str()),
                );
                state(held_activation, false, Some(reason));
            }
        }
    }

    for held_configuration in held
        .values()
        .filter(|h| h.class == DeclarationClass::Configuration)
    {
        let identifier = &held_configuration.declaration.identifier;
        let is_referenced = referenced.contains(identifier);
        let active = is_referenced && held_configuration.problem.is_none();
        let reason = (!is_referenced).then(|| {
            reason_value(
                "Info.NotReferencedByActivation",
                "The configuration is not referenced by an active activation",
                held_configuration,
                None,
            )
        });
        state(held_configuration, active, reason);
        if !active {
            continue;
        }
        match held_configuration.declaration.declaration_type.as_str() {
            ENFORCEMENT_SPECIFIC_TYPE => {
                if let Some(enforcement) = held_configuration.typed() {
                    evaluation.enforcements.push((identifier.clone(), enforcement));
                }
            }
            SETTINGS_TYPE if evaluation.settings.is_none() => {
                evaluation.settings = held_configuration.typed()
            }
            STATUS_SUBSCRIPTIONS_TYPE => {
                if let Some(subscriptions) = held_configuration.typed::<StatusSubscriptions>() {
                    evaluation
                        .subscriptions
                        .extend(subscriptions.status_items.into_iter().map(|item| item.name));
                }
            }
            _ => {}
        }
    }

    for other in held
        .values()
        .filter(|h| matches!(h.class, DeclarationClass::Management | DeclarationClass::Asset))
    {
        state(other, other.class == DeclarationClass::Management, None);
    }
    evaluation.states = states;
    evaluation
}

/// `management.declarations` array names.
pub fn class_key(class: DeclarationClass) -> &'static str {
    match class {
        DeclarationClass::Activation => "activations",
        DeclarationClass::Configuration => "configurations",
        DeclarationClass::Asset => "assets",
        DeclarationClass::Management => "management",
    }
}

/// A `{code, description, details}` reason (statusreason.yaml) naming the declaration.
fn reason_value(code: &str, description: &str, held: &HeldDeclaration, predicate: Option<&str>) -> Value {
    let mut details = json!({
        "Identifier": held.declaration.identifier,
        "ServerToken": held.declaration.server_token,
    });
    if let Some(predicate) = predicate {
        details["Predicate"] = json!(predicate);
    }
    json!({"code": code, "description": description, "details": details})
}
