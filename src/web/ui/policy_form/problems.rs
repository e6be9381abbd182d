//! Problems placed next to their input. Validation speaks in model paths
//! (`enforcement.deadline`, `settings.Beta.OfferPrograms.Token`); the form has one set of inputs
//! per enforcement mode and one block per beta programme, so paths are mapped to form keys here.

use crate::policy::Severity;
use crate::policy::validate::Problem;

/// The problems of a form, keyed by form key.
#[derive(Debug, Clone, Default)]
pub struct FieldProblems {
    items: Vec<(String, Severity, String)>,
}

/// The form prefix of an enforcement mode's inputs.
fn mode_prefix(mode: &str) -> &str {
    match mode {
        "automatic-latest" => "auto",
        "security-sla" => "sla",
        other => other,
    }
}

/// The form key a problem about `field` is shown next to, for a form in enforcement `mode`.
pub fn form_key(field: &str, mode: &str) -> String {
    if let Some(rest) = field.strip_prefix("enforcement.") {
        if rest == "mode" {
            return field.to_string();
        }
        let rest = rest.strip_prefix("deferral.").unwrap_or(rest);
        return format!("{}.{rest}", mode_prefix(mode));
    }
    if let Some(rest) = field.strip_prefix("assignments.") {
        return rest.to_string();
    }
    for block in ["settings.Beta.OfferPrograms", "settings.Beta.RequireProgram"] {
        if field.starts_with(block) {
            return block.to_string();
        }
    }
    field.to_string()
}

impl FieldProblems {
    /// Problems from parsing (already form keys) or from validation (model paths), for a form in
    /// enforcement `mode`.
    pub fn new(problems: &[Problem], mode: &str) -> FieldProblems {
        FieldProblems {
            items: problems
                .iter()
                .map(|p| (form_key(&p.field, mode), p.severity, p.message.clone()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|(_, s, _)| *s == Severity::Error)
    }

    /// The errors about `key`.
    pub fn errors_at(&self, key: &str) -> Vec<&str> {
        self.at(key, Severity::Error)
    }

    /// The "does not apply to ..." notes about `key`.
    pub fn notes_at(&self, key: &str) -> Vec<&str> {
        self.at(key, Severity::NotApplicable)
    }

    fn at(&self, key: &str, severity: Severity) -> Vec<&str> {
        self.items
            .iter()
            .filter(|(k, s, _)| k == key && *s == severity)
            .map(|(_, _, m)| m.as_str())
            .collect()
    }

    /// Every error with its form key, for the summary at the top of the form.
    pub fn errors(&self) -> Vec<(&str, &str)> {
        self.items
            .iter()
            .filter(|(_, s, _)| *s == Severity::Error)
            .map(|(k, _, m)| (k.as_str(), m.as_str()))
            .collect()
    }
}
