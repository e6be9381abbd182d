//! The declaration envelope `{Type, Identifier, ServerToken, Payload}` (declarationbase.yaml), its
//! class, and the identifier rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{DeclarationError, IdentifierProblem};
use super::token::server_token;

/// Apple's limit for an `Identifier` (declarationbase.yaml).
pub const IDENTIFIER_MAX_OCTETS: usize = 64;

/// The four declaration classes; also the second segment of `declaration/<class>/<identifier>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeclarationClass {
    Activation,
    Configuration,
    Asset,
    Management,
}

impl DeclarationClass {
    pub const ALL: [DeclarationClass; 4] = [
        DeclarationClass::Activation,
        DeclarationClass::Configuration,
        DeclarationClass::Asset,
        DeclarationClass::Management,
    ];

    /// The class a declaration `Type` belongs to, from Apple's type prefixes.
    pub fn of_type(declaration_type: &str) -> Option<DeclarationClass> {
        let class = if declaration_type.starts_with("com.apple.activation.") {
            DeclarationClass::Activation
        } else if declaration_type.starts_with("com.apple.configuration.") {
            DeclarationClass::Configuration
        } else if declaration_type.starts_with("com.apple.asset.") {
            DeclarationClass::Asset
        } else if declaration_type.starts_with("com.apple.management.") {
            DeclarationClass::Management
        } else {
            return None;
        };
        Some(class)
    }

    /// The path segment (`activation`, `configuration`, `asset`, `management`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationClass::Activation => "activation",
            DeclarationClass::Configuration => "configuration",
            DeclarationClass::Asset => "asset",
            DeclarationClass::Management => "management",
        }
    }
}

impl FromStr for DeclarationClass {
    type Err = ();
    fn from_str(segment: &str) -> Result<Self, ()> {
        DeclarationClass::ALL
            .into_iter()
            .find(|class| class.as_str() == segment)
            .ok_or(())
    }
}

impl fmt::Display for DeclarationClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A declaration identifier: 1–64 octets of `[A-Za-z0-9._-]`, never containing `..`. Orchard makes
/// its own identifiers (reverse-DNS names and UUIDs fit), so a narrow alphabet keeps the
/// `declaration/<class>/<identifier>` path safe to parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeclarationIdentifier(String);

impl DeclarationIdentifier {
    pub fn parse(text: &str) -> Result<Self, IdentifierProblem> {
        if text.is_empty() {
            return Err(IdentifierProblem::Empty);
        }
        if text.len() > IDENTIFIER_MAX_OCTETS {
            return Err(IdentifierProblem::TooLong);
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        {
            return Err(IdentifierProblem::Characters);
        }
        if text.contains("..") || text == "." {
            return Err(IdentifierProblem::DotDot);
        }
        Ok(DeclarationIdentifier(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeclarationIdentifier {
    type Error = IdentifierProblem;
    fn try_from(text: String) -> Result<Self, IdentifierProblem> {
        DeclarationIdentifier::parse(&text)
    }
}

impl From<DeclarationIdentifier> for String {
    fn from(identifier: DeclarationIdentifier) -> String {
        identifier.0
    }
}

impl fmt::Display for DeclarationIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A typed declaration payload: knows its `Type` and serializes to Apple's exact keys.
pub trait DeclarationPayload: Serialize {
    const TYPE: &'static str;
}

/// A declaration ready to serve: `{Type, Identifier, ServerToken, Payload}`. The `ServerToken` is
/// always computed from the content, so two equal declarations carry equal tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawDeclaration")]
pub struct Declaration {
    #[serde(rename = "Type")]
    declaration_type: String,
    #[serde(rename = "Identifier")]
    identifier: DeclarationIdentifier,
    #[serde(rename = "ServerToken")]
    server_token: String,
    #[serde(rename = "Payload")]
    payload: Map<String, Value>,
    #[serde(skip)]
    class: DeclarationClass,
}

impl Declaration {
    /// Builds a declaration from a typed payload.
    pub fn new<P: DeclarationPayload>(
        identifier: DeclarationIdentifier,
        payload: &P,
    ) -> Result<Self, DeclarationError> {
        let payload = match serde_json::to_value(payload) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(DeclarationError::Encoding(
                    "the payload is not a dictionary".into(),
                ));
            }
            Err(error) => return Err(DeclarationError::Encoding(error.to_string())),
        };
        Declaration::from_parts(P::TYPE, identifier, payload)
    }

    /// Rebuilds a declaration from stored parts (type, identifier, payload), recomputing its token.
    pub fn from_parts(
        declaration_type: &str,
        identifier: DeclarationIdentifier,
        payload: Map<String, Value>,
    ) -> Result<Self, DeclarationError> {
        let class = DeclarationClass::of_type(declaration_type)
            .ok_or_else(|| DeclarationError::UnknownType(declaration_type.to_string()))?;
        let server_token = server_token(declaration_type, identifier.as_str(), &payload);
        Ok(Declaration {
            declaration_type: declaration_type.to_string(),
            identifier,
            server_token,
            payload,
            class,
        })
    }

    pub fn declaration_type(&self) -> &str {
        &self.declaration_type
    }
    pub fn identifier(&self) -> &DeclarationIdentifier {
        &self.identifier
    }
    pub fn server_token(&self) -> &str {
        &self.server_token
    }
    pub fn payload(&self) -> &Map<String, Value> {
        &self.payload
    }
    pub fn class(&self) -> DeclarationClass {
        self.class
    }

    /// The JSON body served at `declaration/<class>/<identifier>`.
    pub fn to_json(&self) -> Result<Vec<u8>, DeclarationError> {
        serde_json::to_vec(self).map_err(|error| DeclarationError::Encoding(error.to_string()))
    }
}

/// The envelope as read back (from the store, or a test): the token must match the content.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclaration {
    #[serde(rename = "Type")]
    declaration_type: String,
    #[serde(rename = "Identifier")]
    identifier: String,
    #[serde(rename = "ServerToken")]
    server_token: String,
    #[serde(rename = "Payload")]
    payload: Map<String, Value>,
}

impl TryFrom<RawDeclaration> for Declaration {
    type Error = DeclarationError;
    fn try_from(raw: RawDeclaration) -> Result<Self, DeclarationError> {
        let identifier =
            DeclarationIdentifier::parse(&raw.identifier).map_err(|reason| DeclarationError::Identifier {
                path: "Identifier",
                reason,
            })?;
        let declaration = Declaration::from_parts(&raw.declaration_type, identifier, raw.payload)?;
        if declaration.server_token != raw.server_token {
            return Err(DeclarationError::TokenMismatch);
        }
        Ok(declaration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_narrow_and_bounded() {
        assert!(DeclarationIdentifier::parse("com.example.orchard.settings").is_ok());
        assert!(DeclarationIdentifier::parse("0C7A1F6E-8F1D-4F57-9D1A-2B3C4D5E6F70").is_ok());
        assert_eq!(DeclarationIdentifier::parse(""), Err(IdentifierProblem::Empty));
        assert_eq!(
            DeclarationIdentifier::parse(&"a".repeat(65)),
            Err(IdentifierProblem::TooLong)
        );
        assert!(DeclarationIdentifier::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            DeclarationIdentifier::parse("a/b"),
            Err(IdentifierProblem::Characters)
        );
        assert_eq!(
            DeclarationIdentifier::parse("a b"),
            Err(IdentifierProblem::Characters)
        );
        assert_eq!(DeclarationIdentifier::parse(".."), Err(IdentifierProblem::DotDot));
        assert_eq!(
            DeclarationIdentifier::parse("a..b"),
            Err(IdentifierProblem::DotDot)
        );
    }

    #[test]
    fn classes_follow_type_prefixes() {
        let of = DeclarationClass::of_type;
        assert_eq!(
            of("com.apple.activation.simple"),
            Some(DeclarationClass::Activation)
        );
        assert_eq!(
            of("com.apple.configuration.softwareupdate.settings"),
            Some(DeclarationClass::Configuration)
        );
        assert_eq!(of("com.apple.asset.data"), Some(DeclarationClass::Asset));
        assert_eq!(
            of("com.apple.management.properties"),
            Some(DeclarationClass::Management)
        );
        assert_eq!(of("com.example.thing"), None);
    }
}
