//! A device's declarations, and the two sync responses built from them (`tokens`,
//! `declaration-items`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::declaration::{Declaration, DeclarationClass, DeclarationIdentifier};
use super::endpoint::DeclarationPath;
use super::error::DeclarationError;
use super::token::declarations_token;

/// `{"SyncTokens": {"DeclarationsToken", "Timestamp"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokensResponse {
    #[serde(rename = "SyncTokens")]
    pub sync_tokens: SyncTokens,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncTokens {
    #[serde(rename = "DeclarationsToken")]
    pub declarations_token: String,
    /// When this token set was created, `YYYY-mm-ddTHH:MM:SSZ`.
    #[serde(rename = "Timestamp", serialize_with = "utc_seconds")]
    pub timestamp: DateTime<Utc>,
}

fn utc_seconds<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&time.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// `{"Declarations": {"Activations", "Configurations", "Assets", "Management"}, "DeclarationsToken"}`;
/// all four arrays are always present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationItemsResponse {
    #[serde(rename = "Declarations")]
    pub declarations: ManifestDeclarations,
    #[serde(rename = "DeclarationsToken")]
    pub declarations_token: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDeclarations {
    #[serde(rename = "Activations")]
    pub activations: Vec<DeclarationItem>,
    #[serde(rename = "Configurations")]
    pub configurations: Vec<DeclarationItem>,
    #[serde(rename = "Assets")]
    pub assets: Vec<DeclarationItem>,
    #[serde(rename = "Management")]
    pub management: Vec<DeclarationItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationItem {
    #[serde(rename = "Identifier")]
    pub identifier: String,
    #[serde(rename = "ServerToken")]
    pub server_token: String,
}

/// The declarations one device is offered. Identifiers are unique across classes, so the
/// `DeclarationsToken` over (identifier, server token) pairs changes exactly when the set does.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclarationSet {
    by_identifier: BTreeMap<DeclarationIdentifier, Declaration>,
    declarations_token: String,
}

impl DeclarationSet {
    pub fn new(declarations: impl IntoIterator<Item = Declaration>) -> Result<Self, DeclarationError> {
        let mut by_identifier = BTreeMap::new();
        for declaration in declarations {
            let identifier = declaration.identifier().clone();
            if by_identifier.insert(identifier.clone(), declaration).is_some() {
                return Err(DeclarationError::DuplicateIdentifier {
                    identifier: identifier.to_string(),
                });
            }
        }
        let declarations_token = declarations_token(
            by_identifier
                .values()
                .map(|declaration| (declaration.identifier().as_str(), declaration.server_token())),
        );
        Ok(DeclarationSet {
            by_identifier,
            declarations_token,
        })
    }

    pub fn declarations_token(&self) -> &str {
        &self.declarations_token
    }

    pub fn len(&self) -> usize {
        self.by_identifier.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_identifier.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Declaration> {
        self.by_identifier.values()
    }

    /// The `tokens` answer; `created_at` is when this set was computed for the device.
    pub fn tokens_response(&self, created_at: DateTime<Utc>) -> TokensResponse {
        TokensResponse {
            sync_tokens: SyncTokens {
                declarations_token: self.declarations_token.clone(),
                timestamp: created_at,
            },
        }
    }

    /// The `declaration-items` manifest, each array sorted by identifier.
    pub fn items_response(&self) -> DeclarationItemsResponse {
        let mut manifest = ManifestDeclarations::default();
        for declaration in self.by_identifier.values() {
            let item = DeclarationItem {
                identifier: declaration.identifier().to_string(),
                server_token: declaration.server_token().to_string(),
            };
            match declaration.class() {
                DeclarationClass::Activation => manifest.activations.push(item),
                DeclarationClass::Configuration => manifest.configurations.push(item),
                DeclarationClass::Asset => manifest.assets.push(item),
                DeclarationClass::Management => manifest.management.push(item),
            }
        }
        DeclarationItemsResponse {
            declarations: manifest,
            declarations_token: self.declarations_token.clone(),
        }
    }

    /// The declaration for `declaration/<class>/<identifier>`: `None` (a 404) when this device has no
    /// such identifier, or has it under another class.
    pub fn get(&self, class: DeclarationClass, identifier: &DeclarationIdentifier) -> Option<&Declaration> {
        self.by_identifier
            .get(identifier)
            .filter(|declaration| declaration.class() == class)
    }

    pub fn get_path(&self, path: &DeclarationPath) -> Option<&Declaration> {
        self.get(path.class, &path.identifier)
    }
}
