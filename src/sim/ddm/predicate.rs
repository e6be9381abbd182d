//! The activation predicates the simulated device evaluates: the NSPredicate subset Orchard emits
//! (`@status(item) == 'value'`, see `protocol::ddm::ActivationPredicate`) and a little more:
//! `!=`, `@property(key)`, `TRUEPREDICATE` / `FALSEPREDICATE`, and comparisons joined by
//! `AND` / `OR` (`&&` / `||`), `AND` binding tighter. Anything else cannot be evaluated, which
//! a device reports as `Error.UnableToEvaluatePredicate`.

/// What a predicate reads: status item values and management properties, as text.
pub trait PredicateContext {
    fn status(&self, item: &str) -> Option<String>;
    fn property(&self, key: &str) -> Option<String>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot evaluate predicate {predicate:?}: {why}")]
pub struct PredicateError {
    pub predicate: String,
    pub why: &'static str,
}

/// Evaluates `predicate` against `context`.
pub fn evaluate(predicate: &str, context: &dyn PredicateContext) -> Result<bool, PredicateError> {
    let fail = |why| PredicateError {
        predicate: predicate.to_string(),
        why,
    };
    // OR of ANDs: split on the connectives outside quotes.
    let mut any = false;
    for alternative in split_outside_quotes(predicate, &[" OR ", " or ", "||"]) {
        let mut all = true;
        for term in split_outside_quotes(alternative, &[" AND ", " and ", "&&"]) {
            all &= term_value(term.trim(), context).map_err(fail)?;
        }
        any |= all;
    }
    Ok(any)
}

fn term_value(term: &str, context: &dyn PredicateContext) -> Result<bool, &'static str> {
    match term {
        "TRUEPREDICATE" => return Ok(true),
        "FALSEPREDICATE" => return Ok(false),
        "" => return Err("an empty comparison"),
        _ => {}
    }
    let (left, equal, right) = if let Some((left, right)) = term.split_once("!=") {
        (left, false, right)
    } else if let Some((left, right)) = term.split_once("==") {
        (left, true, right)
    } else {
        return Err("only == and != comparisons are understood");
    };
    let actual = operand(left.trim(), context)?;
    let expected = quoted(right.trim()).ok_or("the right side must be a quoted value")?;
    Ok((actual.as_deref() == Some(expected)) == equal)
}

/// `@status(name)` or `@property(key)`: its current value (`None` when the device has none).
fn operand(text: &str, context: &dyn PredicateContext) -> Result<Option<String>, &'static str> {
    let inner = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(str::trim)
            .filter(|name| !name.is_empty())
    };
    if let Some(item) = inner("@status(") {
        Ok(context.status(item))
    } else if let Some(key) = inner("@property(") {
        Ok(context.property(key))
    } else {
        Err("the left side must be @status(item) or @property(key)")
    }
}

fn quoted(text: &str) -> Option<&str> {
    let single = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\''));
    let double = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
    single.or(double).filter(|value| !value.contains(['\'', '"']))
}

/// Splits at any of `separators` that is not inside a quoted value.
fn split_outside_quotes<'a>(text: &'a str, separators: &[&str]) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut index = 0;
    while index < text.len() {
        let rest = &text[index..];
        let Some(c) = rest.chars().next() else { break };
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None => {
                if let Some(separator) = separators.iter().find(|s| rest.starts_with(**s)) {
                    parts.push(&text[start..index]);
                    index += separator.len();
                    start = index;
                    continue;
                }
            }
        }
        index += c.len_utf8();
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Values(HashMap<&'static str, &'static str>);

    impl PredicateContext for Values {
        fn status(&self, item: &str) -> Option<String> {
            self.0.get(item).map(|v| v.to_string())
        }
        fn property(&self, key: &str) -> Option<String> {
            self.0.get(key).map(|v| v.to_string())
        }
    }

    fn apple_tv() -> Values {
        Values(HashMap::from([
            ("device.model.family", "AppleTV"),
            ("ring", "pilot"),
        ]))
    }

    #[test]
    fn evaluates_what_orchard_emits() {
        let predicate = orchard_predicate("device.model.family", "AppleTV");
        assert!(evaluate(&predicate, &apple_tv()).unwrap());
        let iphone = orchard_predicate("device.model.family", "iPhone");
        assert!(!evaluate(&iphone, &apple_tv()).unwrap());
    }

    fn orchard_predicate(item: &str, value: &str) -> String {
        crate::protocol::ddm::ActivationPredicate::status_equals(item, value)
            .unwrap()
            .as_str()
            .to_string()
    }

    #[test]
    fn connectives_properties_and_negation() {
        let tv = apple_tv();
        assert!(evaluate("@status(device.model.family) != 'iPad'", &tv).unwrap());
        assert!(
            evaluate(
                "@property(ring) == 'pilot' AND @status(device.model.family) == \"AppleTV\"",
                &tv
            )
            .unwrap()
        );
        assert!(!evaluate("@property(ring) == 'late' && TRUEPREDICATE", &tv).unwrap());
        assert!(evaluate("@property(ring) == 'late' OR @property(ring) == 'pilot'", &tv).unwrap());
        assert!(evaluate("@property(ring) == 'a OR b' || TRUEPREDICATE", &tv).unwrap());
        assert!(!evaluate("@property(missing) == 'x'", &tv).unwrap());
        assert!(evaluate("@property(missing) != 'x'", &tv).unwrap());
    }

    #[test]
    fn what_it_cannot_read_is_an_error() {
        for bad in [
            "",
            "@status(device.model.family) BEGINSWITH 'Apple'",
            "@status(device.model.family) == AppleTV",
            "device.model.family == 'AppleTV'",
            "@status() == 'x'",
        ] {
            assert!(evaluate(bad, &apple_tv()).is_err(), "{bad:?}");
        }
    }
}
