//! The supporting declarations: status subscriptions, the simple activation, management properties
//! and server capabilities (facts §1.3, §1.6).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::declaration::{DeclarationIdentifier, DeclarationPayload};
use super::error::{DeclarationError, IdentifierProblem};
use super::platform::DeviceTarget;
use super::status::catalogue::KNOWN_STATUS_ITEMS;

pub const STATUS_SUBSCRIPTIONS_TYPE: &str = "com.apple.configuration.management.status-subscriptions";
pub const SIMPLE_ACTIVATION_TYPE: &str = "com.apple.activation.simple";
pub const PROPERTIES_TYPE: &str = "com.apple.management.properties";
pub const SERVER_CAPABILITIES_TYPE: &str = "com.apple.management.server-capabilities";

/// `{"StatusItems": [{"Name": "…"}]}`; devices merge all subscriptions (set-union).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSubscriptions {
    #[serde(rename = "StatusItems")]
    pub status_items: Vec<StatusItemName>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusItemName {
    #[serde(rename = "Name")]
    pub name: String,
}

impl DeclarationPayload for StatusSubscriptions {
    const TYPE: &'static str = STATUS_SUBSCRIPTIONS_TYPE;
}

/// The families of status items update management follows.
const SUBSCRIBED_PREFIXES: &[&str] = &[
    "softwareupdate.",
    "device.operating-system.",
    "device.model.",
    "management.declarations",
];

impl StatusSubscriptions {
    /// Orchard's subscription for `target`: every `softwareupdate.*`, `device.operating-system.*`,
    /// `device.model.*` item and `management.declarations` that the device's platform, OS and
    /// enrollment provide. Items it does not provide are left out (the device would report them
    /// as errors).
    pub fn for_update_management(target: &DeviceTarget) -> StatusSubscriptions {
        let mut names: Vec<&str> = KNOWN_STATUS_ITEMS
            .iter()
            .filter(|item| {
                SUBSCRIBED_PREFIXES
                    .iter()
                    .any(|prefix| item.subscription.starts_with(prefix))
            })
            .filter(|item| item.availability.refusal(target).is_none())
            .map(|item| item.subscription)
            .collect();
        names.sort_unstable();
        names.dedup();
        StatusSubscriptions {
            status_items: names
                .into_iter()
                .map(|name| StatusItemName {
                    name: name.to_string(),
                })
                .collect(),
        }
    }
}

/// `com.apple.activation.simple`: install these configurations, when the predicate holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleActivation {
    #[serde(rename = "StandardConfigurations")]
    pub standard_configurations: Vec<DeclarationIdentifier>,
    #[serde(rename = "Predicate", default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<ActivationPredicate>,
}

impl DeclarationPayload for SimpleActivation {
    const TYPE: &'static str = SIMPLE_ACTIVATION_TYPE;
}

impl SimpleActivation {
    pub fn new(configurations: Vec<DeclarationIdentifier>) -> Result<Self, DeclarationError> {
        if configurations.is_empty() {
            return Err(DeclarationError::Identifier {
                path: "StandardConfigurations",
                reason: IdentifierProblem::Empty,
            });
        }
        let mut configurations = configurations;
        configurations.sort();
        configurations.dedup();
        Ok(SimpleActivation {
            standard_configurations: configurations,
            predicate: None,
        })
    }

    pub fn with_predicate(mut self, predicate: ActivationPredicate) -> Self {
        self.predicate = Some(predicate);
        self
    }
}

/// An NSPredicate string built from a few safe forms (values are quoted; quotes are refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActivationPredicate(String);

impl ActivationPredicate {
    /// `@status(<item>) == '<value>'`, e.g. `@status(device.model.family) == 'AppleTV'`.
    pub fn status_equals(item: &str, value: &str) -> Result<Self, DeclarationError> {
        let item_ok = !item.is_empty()
            && item
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
        if !item_ok {
            return Err(DeclarationError::Malformed {
                path: "Predicate",
                value: item.to_string(),
                expected: "a status item name such as device.model.family",
            });
        }
        if value.is_empty()
            || value
                .chars()
                .any(|c| c == '\'' || c == '"' || c == '\\' || c.is_control())
        {
            return Err(DeclarationError::Malformed {
                path: "Predicate",
                value: value.to_string(),
                expected: "a value without quotes, backslashes or control characters",
            });
        }
        Ok(ActivationPredicate(format!("@status({item}) == '{value}'")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A management property value (the schema allows any type; Orchard uses these three).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    Bool(bool),
    Integer(i64),
    Text(String),
}

/// `com.apple.management.properties`: key/value pairs usable in predicates
/// (`@property(key)`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ManagementProperties(pub BTreeMap<String, PropertyValue>);

impl DeclarationPayload for ManagementProperties {
    const TYPE: &'static str = PROPERTIES_TYPE;
}

/// `com.apple.management.server-capabilities`: the protocol version and optional features.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerCapabilities {
    #[serde(rename = "Version")]
    pub version: String,
    /// Feature name → parameters; Orchard declares none (keys starting `com.apple.` are reserved).
    #[serde(rename = "SupportedFeatures")]
    pub supported_features: BTreeMap<String, PropertyValue>,
}

impl DeclarationPayload for ServerCapabilities {
    const TYPE: &'static str = SERVER_CAPABILITIES_TYPE;
}

impl Default for ServerCapabilities {
    fn default() -> Self {
        ServerCapabilities {
            version: "1.0.0".into(),
            supported_features: BTreeMap::new(),
        }
    }
}
