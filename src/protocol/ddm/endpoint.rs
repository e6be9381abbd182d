//! The `Endpoint` of a `DeclarativeManagement` check-in: `tokens`, `declaration-items`, `status`
//! or `declaration/<class>/<identifier>`.

use super::declaration::{DeclarationClass, DeclarationIdentifier};
use super::error::IdentifierProblem;

/// Longest endpoint worth reading: `declaration/configuration/` plus a 64-octet identifier.
const ENDPOINT_MAX_OCTETS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdmEndpoint {
    Tokens,
    DeclarationItems,
    Status,
    Declaration(DeclarationPath),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeclarationPath {
    pub class: DeclarationClass,
    pub identifier: DeclarationIdentifier,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("the endpoint is longer than {ENDPOINT_MAX_OCTETS} octets")]
    TooLong,
    #[error(
        "unknown endpoint (expected tokens, declaration-items, status or declaration/<class>/<identifier>)"
    )]
    Unknown,
    #[error("a declaration path has exactly three non-empty segments: declaration/<class>/<identifier>")]
    Segments,
    #[error("unknown declaration class (expected activation, configuration, asset or management)")]
    UnknownClass,
    #[error("declaration identifier: {0}")]
    Identifier(IdentifierProblem),
}

impl DdmEndpoint {
    pub fn parse(endpoint: &str) -> Result<DdmEndpoint, EndpointError> {
        if endpoint.len() > ENDPOINT_MAX_OCTETS {
            return Err(EndpointError::TooLong);
        }
        match endpoint {
            "tokens" => Ok(DdmEndpoint::Tokens),
            "declaration-items" => Ok(DdmEndpoint::DeclarationItems),
            "status" => Ok(DdmEndpoint::Status),
            path if path.starts_with("declaration/") => {
                DeclarationPath::parse(path).map(DdmEndpoint::Declaration)
            }
            _ => Err(EndpointError::Unknown),
        }
    }
}

impl DeclarationPath {
    /// Parses `declaration/<class>/<identifier>`; refuses `..`, empty or extra segments, unknown
    /// classes and identifiers over 64 octets.
    pub fn parse(path: &str) -> Result<DeclarationPath, EndpointError> {
        if path.len() > ENDPOINT_MAX_OCTETS {
            return Err(EndpointError::TooLong);
        }
        let segments: Vec<&str> = path.split('/').collect();
        let [root, class, identifier] = segments.as_slice() else {
            return Err(EndpointError::Segments);
        };
        if *root != "declaration" || class.is_empty() || identifier.is_empty() {
            return Err(EndpointError::Segments);
        }
        let class = class
            .parse::<DeclarationClass>()
            .map_err(|()| EndpointError::UnknownClass)?;
        let identifier = DeclarationIdentifier::parse(identifier).map_err(EndpointError::Identifier)?;
        Ok(DeclarationPath { class, identifier })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_endpoints() {
        assert_eq!(DdmEndpoint::parse("tokens"), Ok(DdmEndpoint::Tokens));
        assert_eq!(
            DdmEndpoint::parse("declaration-items"),
            Ok(DdmEndpoint::DeclarationItems)
        );
        assert_eq!(DdmEndpoint::parse("status"), Ok(DdmEndpoint::Status));
        let Ok(DdmEndpoint::Declaration(path)) =
            DdmEndpoint::parse("declaration/configuration/com.example.su")
        else {
            panic!("declaration path not parsed");
        };
        assert_eq!(path.class, DeclarationClass::Configuration);
        assert_eq!(path.identifier.as_str(), "com.example.su");
    }

    #[test]
    fn refuses_hostile_paths() {
        let long = format!("declaration/configuration/{}", "a".repeat(65));
        let cases = [
            (
                "declaration/configuration/..",
                EndpointError::Identifier(IdentifierProblem::DotDot),
            ),
            ("declaration/../x", EndpointError::UnknownClass),
            (
                "declaration/configuration/a..b",
                EndpointError::Identifier(IdentifierProblem::DotDot),
            ),
            ("declaration//x", EndpointError::Segments),
            ("declaration/configuration/", EndpointError::Segments),
            ("declaration/configuration/x/y", EndpointError::Segments),
            ("declaration/profile/x", EndpointError::UnknownClass),
            ("declaration/Configuration/x", EndpointError::UnknownClass),
            (
                "declaration/configuration/a%2F..",
                EndpointError::Identifier(IdentifierProblem::Characters),
            ),
            (
                long.as_str(),
                EndpointError::Identifier(IdentifierProblem::TooLong),
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(DdmEndpoint::parse(path), Err(expected), "{path}");
        }
        assert_eq!(DdmEndpoint::parse(&"x".repeat(200)), Err(EndpointError::TooLong));
        assert_eq!(DdmEndpoint::parse("/tokens"), Err(EndpointError::Unknown));
    }
}
