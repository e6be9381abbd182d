//! The group form: a static group (its devices) or a rule group (platforms, model families, OS
//! majors, serial numbers), optionally a deployment ring with its order. Text in, text back on
//! refusal; what cannot be read is reported on its own field.

use crate::policy::Severity;
use crate::policy::groups::{Group, GroupKind, GroupRules};
use crate::policy::validate::Problem;
use crate::protocol::ddm::Platform;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupForm {
    pub name: String,
    pub description: String,
    /// `static` or `rules`.
    pub kind: String,
    /// Empty: not a ring; else its order (1 rolls out first).
    pub ring_order: String,
    pub platforms: Vec<String>,
    pub model_families: String,
    pub os_majors: String,
    pub serials: String,
}

impl Default for GroupForm {
    fn default() -> Self {
        GroupForm {
            name: String::new(),
            description: String::new(),
            kind: "static".into(),
            ring_order: String::new(),
            platforms: Vec::new(),
            model_families: String::new(),
            os_majors: String::new(),
            serials: String::new(),
        }
    }
}

/// Splits a list typed one per line or comma-separated; blanks and repeats dropped.
pub fn list_of(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in text
        .split(['\n', '\r', ',', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(item)) {
            out.push(item.to_string());
        }
    }
    out
}

impl GroupForm {
    pub fn has_platform(&self, platform: &str) -> bool {
        self.platforms.iter().any(|p| p == platform)
    }

    pub fn from_pairs(pairs: &[(String, String)]) -> GroupForm {
        let mut f = GroupForm::default();
        for (key, value) in pairs {
            let v = value.clone();
            match key.as_str() {
                "name" => f.name = v,
                "description" => f.description = v,
                "kind" => f.kind = v,
                "ring_order" => f.ring_order = v,
                "rules.platforms" => f.platforms.push(v),
                "rules.model_families" => f.model_families = v,
                "rules.os_majors" => f.os_majors = v,
                "rules.serials" => f.serials = v,
                _ => {}
            }
        }
        f
    }

    /// The group the form describes, or what could not be read (range and rule checks are
    /// `validate_group`'s, in the service).
    pub fn parse(&self) -> Result<Group, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut error = |field: &str, message: String| {
            problems.push(Problem {
                field: field.into(),
                severity: Severity::Error,
                message,
            })
        };
        let ring_order = match self.ring_order.trim() {
            "" => None,
            t => t
                .parse::<u32>()
                .map_err(|_| {
                    error(
                        "ring_order",
                        format!("the ring order must be a whole number from 1 (or empty), not {t:?}"),
                    )
                })
                .ok(),
        };
        let kind = GroupKind::parse(&self.kind).unwrap_or_else(|| {
            error(
                "kind",
                format!("{:?} is not a kind of group (static or rules)", self.kind),
            );
            GroupKind::Static
        });
        let mut rules = GroupRules::default();
        if kind == GroupKind::Rules {
            for p in &self.platforms {
                match Platform::ALL.iter().find(|x| x.display_name() == p) {
                    Some(x) => rules.platforms.push(*x),
                    None => error(
                        "rules.platforms",
                        format!("{p:?} is not a platform Orchard manages"),
                    ),
                }
            }
            rules.model_families = list_of(&self.model_families);
            for t in list_of(&self.os_majors) {
                match t.parse::<u32>() {
                    Ok(n) => rules.os_majors.push(n),
                    Err(_) => error(
                        "rules.os_majors",
                        format!("{t:?} is not an OS major version (e.g. 18 or 26)"),
                    ),
                }
            }
            rules.serials = list_of(&self.serials);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Group {
            name: self.name.trim().to_string(),
            description: self.description.trim().to_string(),
            kind,
            rules,
            ring_order,
        })
    }

    /// The form showing `group`.
    pub fn from_group(group: &Group) -> GroupForm {
        let join = |items: Vec<String>, sep: &str| items.join(sep);
        GroupForm {
            name: group.name.clone(),
            description: group.description.clone(),
            kind: group.kind.as_str().into(),
            ring_order: group.ring_order.map(|o| o.to_string()).unwrap_or_default(),
            platforms: group
                .rules
                .platforms
                .iter()
                .map(|p| p.display_name().to_string())
                .collect(),
            model_families: join(group.rules.model_families.clone(), ", "),
            os_majors: join(
                group.rules.os_majors.iter().map(|m| m.to_string()).collect(),
                ", ",
            ),
            serials: join(group.rules.serials.clone(), "\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_rule_group_reads_its_lists_and_round_trips() {
        let form = GroupForm::from_pairs(&pairs(&[
            ("name", " Macs on 15 "),
            ("description", "Staff Macs"),
            ("kind", "rules"),
            ("ring_order", "2"),
            ("rules.platforms", "macOS"),
            ("rules.model_families", "MacBookPro, iMac,MacBookPro"),
            ("rules.os_majors", "15\n26"),
            ("rules.serials", "C02A\n\nC02B\r\n"),
        ]));
        let group = form.parse().unwrap();
        assert_eq!(group.name, "Macs on 15");
        assert_eq!(group.ring_order, Some(2));
        assert_eq!(group.kind, GroupKind::Rules);
        assert_eq!(group.rules.platforms, [Platform::MacOs]);
        assert_eq!(group.rules.model_families, ["MacBookPro", "iMac"]);
        assert_eq!(group.rules.os_majors, [15, 26]);
        assert_eq!(group.rules.serials, ["C02A", "C02B"]);
        assert_eq!(GroupForm::from_group(&group).parse().unwrap(), group);
    }

    #[test]
    fn a_static_group_has_no_rules_and_unreadable_values_are_reported() {
        let form = GroupForm::from_pairs(&pairs(&[
            ("name", "Pilot"),
            ("kind", "static"),
            ("rules.os_majors", "18"),
        ]));
        let group = form.parse().unwrap();
        assert!(group.rules.is_empty());
        assert_eq!(group.ring_order, None);
        let bad = GroupForm::from_pairs(&pairs(&[
            ("name", "x"),
            ("kind", "rules"),
            ("ring_order", "first"),
            ("rules.platforms", "Windows"),
            ("rules.os_majors", "eighteen"),
        ]));
        let fields: Vec<String> = bad.parse().unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["ring_order", "rules.platforms", "rules.os_majors"]);
    }
}
