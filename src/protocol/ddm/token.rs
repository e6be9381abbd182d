//! Deterministic tokens: a declaration's `ServerToken` is a hash of its canonical content, and a
//! device's `DeclarationsToken` a hash over its sorted (identifier, server token) pairs. Nothing
//! changes on the device unless something changed in fact.

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Limit Apple sets for a declaration's `ServerToken` (declarationbase.yaml).
pub const SERVER_TOKEN_MAX_OCTETS: usize = 64;
/// Limit Apple sets for a `DeclarationsToken` (integrating-declarative-management).
pub const DECLARATIONS_TOKEN_MAX_OCTETS: usize = 256;

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace, strings and
/// numbers as serde_json writes them. Independent of the order in which a map was filled.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut String) {
    // A scalar `Value` always serializes; the fallback keeps this total without a panic.
    out.push_str(&serde_json::to_string(value).unwrap_or_default());
}

/// The `ServerToken` of a declaration: SHA-256 (hex, 64 octets) over the canonical JSON of
/// `{"Identifier", "Payload", "Type"}`, never over the token itself.
pub fn server_token(
    declaration_type: &str,
    identifier: &str,
    payload: &serde_json::Map<String, Value>,
) -> String {
    let mut content = serde_json::Map::new();
    content.insert("Type".into(), Value::String(declaration_type.into()));
    content.insert("Identifier".into(), Value::String(identifier.into()));
    content.insert("Payload".into(), Value::Object(payload.clone()));
    let digest = Sha256::digest(canonical_json(&Value::Object(content)).as_bytes());
    let token = hex::encode(digest);
    debug_assert!(token.len() <= SERVER_TOKEN_MAX_OCTETS);
    token
}

/// A device's `DeclarationsToken`: SHA-256 (hex, 64 octets) over its (identifier, server token)
/// pairs sorted by identifier, each part length-prefixed so that no two sets share an encoding.
pub fn declarations_token<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
    pairs.sort_unstable();
    let mut encoded = String::new();
    for (identifier, token) in pairs {
        // Writing to a String cannot fail.
        let _ = writeln!(
            encoded,
            "{}:{}{}:{}",
            identifier.len(),
            identifier,
            token.len(),
            token
        );
    }
    let token = hex::encode(Sha256::digest(encoded.as_bytes()));
    debug_assert!(token.len() <= DECLARATIONS_TOKEN_MAX_OCTETS);
    token
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_and_has_no_whitespace() {
        let value = json!({"b": 1, "a": {"d": [true, null, "x y"], "c": 2.5}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":2.5,"d":[true,null,"x y"]},"b":1}"#
        );
    }

    #[test]
    fn declarations_token_does_not_confuse_pair_boundaries() {
        let a = declarations_token([("ab", "c")]);
        let b = declarations_token([("a", "bc")]);
        assert_ne!(a, b);
        assert_eq!(
            declarations_token([("x", "1"), ("y", "2")]),
            declarations_token([("y", "2"), ("x", "1")])
        );
    }
}
