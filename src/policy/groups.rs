//! Groups of devices that policies are assigned to: static (listed members) or rule-based
//! (platform, model family, OS major, serial numbers). A group with a ring order is a deployment
//! ring. Pure: membership is decided from the facts passed in.

use serde::{Deserialize, Serialize};

use super::validate::{MAX_NAME_CHARS, Problem, Severity};
use crate::protocol::ddm::Platform;

/// Most serial numbers one rule may list.
pub const MAX_RULE_SERIALS: usize = 10_000;
/// Most values any other rule may list.
pub const MAX_RULE_VALUES: usize = 100;
/// Highest ring order accepted.
pub const MAX_RING_ORDER: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// Members are listed one by one.
    Static,
    /// Members are the devices matching the rules.
    Rules,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Static => "static",
            GroupKind::Rules => "rules",
        }
    }

    pub fn parse(text: &str) -> Option<GroupKind> {
        match text {
            "static" => Some(GroupKind::Static),
            "rules" => Some(GroupKind::Rules),
            _ => None,
        }
    }
}

/// Rule-based membership: a device is a member when it matches every rule that lists values
/// (any one value of a rule is enough). A group without any rule matches no device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    /// Model families: the model identifier without its numbers (`iPhone`, `iPad`, `Mac`,
    /// `MacBookPro`) or the marketing name (`MacBook Pro`), case-insensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_families: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os_majors: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serials: Vec<String>,
}

/// A group as administrators define it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: GroupKind,
    #[serde(default)]
    pub rules: GroupRules,
    /// Set for deployment rings: their order (1 = first to receive releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_order: Option<u32>,
}

impl Group {
    /// A group without description: static when `rules` is empty, else rule-based.
    pub fn new(name: &str, ring_order: Option<u32>, rules: GroupRules) -> Group {
        Group {
            name: name.into(),
            description: String::new(),
            kind: if rules.is_empty() {
                GroupKind::Static
            } else {
                GroupKind::Rules
            },
            rules,
            ring_order,
        }
    }

    pub fn is_ring(&self) -> bool {
        self.ring_order.is_some()
    }
}

/// What rule matching reads of a device.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberFacts<'a> {
    pub platform: Option<Platform>,
    /// `iPhone14,2`, `Mac14,9`.
    pub model_identifier: Option<&'a str>,
    /// `iPhone`, `MacBook Pro`.
    pub model_name: Option<&'a str>,
    pub os_major: Option<u32>,
    pub serial: Option<&'a str>,
}

/// The family part of a model identifier: `iPhone14,2` → `iPhone`, `MacBookPro18,3` → `MacBookPro`.
pub fn model_family(identifier: &str) -> &str {
    let end = identifier
        .find(|c: char| c.is_ascii_digit() || c == ',')
        .unwrap_or(identifier.len());
    &identifier[..end]
}

impl GroupRules {
    pub fn is_empty(&self) -> bool {
        self.platforms.is_empty()
            && self.model_families.is_empty()
            && self.os_majors.is_empty()
            && self.serials.is_empty()
    }

    pub fn matches(&self, device: &MemberFacts<'_>) -> bool {
        if self.is_empty() {
            return false;
        }
        let platform_ok =
            self.platforms.is_empty() || device.platform.is_some_and(|p| self.platforms.contains(&p));
        let family_ok = self.model_families.is_empty()
            || self.model_families.iter().any(|f| {
                let f = f.trim();
                device
                    .model_identifier
                    .is_some_and(|m| model_family(m).eq_ignore_ascii_case(f))
                    || device
                        .model_name
                        .is_some_and(|n| n.trim().eq_ignore_ascii_case(f))
            });
        let major_ok =
            self.os_majors.is_empty() || device.os_major.is_some_and(|m| self.os_majors.contains(&m));
        let serial_ok = self.serials.is_empty()
            || device.serial.is_some_and(|s| {
                self.serials
                    .iter()
                    .any(|x| x.trim().eq_ignore_ascii_case(s.trim()))
            });
        platform_ok && family_ok && major_ok && serial_ok
    }
}

fn error(field: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        severity: Severity::Error,
        message,
    }
}

/// Every problem of a group at once (the same shape as policy problems).
pub fn validate_group(group: &Group) -> Vec<Problem> {
    let mut out = Vec::new();
    let name = group.name.trim();
    if name.is_empty() {
        out.push(error("name", "a name is required".into()));
    } else if name.chars().count() > MAX_NAME_CHARS {
        out.push(error(
            "name",
            format!("the name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if group.description.chars().count() > 1000 {
        out.push(error(
            "description",
            "the description must be at most 1000 characters".into(),
        ));
    }
    if let Some(order) = group.ring_order
        && !(1..=MAX_RING_ORDER).contains(&order)
    {
        out.push(error(
            "ring_order",
            format!("the ring order must be between 1 and {MAX_RING_ORDER}, not {order}"),
        ));
    }
    let rules = &group.rules;
    match group.kind {
        GroupKind::Static if !rules.is_empty() => out.push(error(
            "rules",
            "a static group lists its members; choose rule-based membership to use rules".into(),
        )),
        GroupKind::Rules if rules.is_empty() => out.push(error(
            "rules",
            "a rule-based group needs at least one rule (platform, model family, OS major or serial number)"
                .into(),
        )),
        _ => {}
    }
    if rules.platforms.len() > MAX_RULE_VALUES || rules.os_majors.len() > MAX_RULE_VALUES {
        out.push(error(
            "rules",
            format!("a rule may list at most {MAX_RULE_VALUES} values"),
        ));
    }
    if rules.model_families.len() > MAX_RULE_VALUES {
        out.push(error(
            "rules.model_families",
            format!("at most {MAX_RULE_VALUES} model families"),
        ));
    }
    if let Some(bad) = rules
        .model_families
        .iter()
        .find(|f| f.trim().is_empty() || f.chars().count() > 64)
    {
        out.push(error(
            "rules.model_families",
            format!("`{bad}` is not a model family (such as iPhone, iPad, Mac or MacBook Pro)"),
        ));
    }
    if let Some(bad) = rules.os_majors.iter().find(|m| !(1..=99).contains(*m)) {
        out.push(error(
            "rules.os_majors",
            format!("{bad} is not an OS major version (1–99)"),
        ));
    }
    if rules.serials.len() > MAX_RULE_SERIALS {
        out.push(error(
            "rules.serials",
            format!("at most {MAX_RULE_SERIALS} serial numbers"),
        ));
    }
    if let Some(bad) = rules.serials.iter().find(|s| {
        let s = s.trim();
        s.is_empty() || s.len() > 32 || !s.chars().all(|c| c.is_ascii_alphanumeric())
    }) {
        out.push(error(
            "rules.serials",
            format!("`{bad}` is not a serial number (letters and digits only)"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(model: &'a str, name: &'a str, major: u32, serial: &'a str) -> MemberFacts<'a> {
        MemberFacts {
            platform: Platform::of_model_identifier(model),
            model_identifier: Some(model),
            model_name: Some(name),
            os_major: Some(major),
            serial: Some(serial),
        }
    }

    #[test]
    fn rules_match_every_listed_rule_and_an_empty_rule_set_matches_nobody() {
        let iphone = facts("iPhone14,2", "iPhone", 26, "F2LX1");
        let mac = facts("MacBookPro18,3", "MacBook Pro", 15, "C02Z9");
        let ios_26 = GroupRules {
            platforms: vec![Platform::Ios],
            os_majors: vec![26],
            ..GroupRules::default()
        };
        assert!(ios_26.matches(&iphone));
        assert!(!ios_26.matches(&mac));
        let laptops = GroupRules {
            model_families: vec!["macbook pro".into()],
            ..GroupRules::default()
        };
        assert!(laptops.matches(&mac));
        let by_identifier = GroupRules {
            model_families: vec!["MacBookPro".into()],
            serials: vec!["c02z9".into()],
            ..GroupRules::default()
        };
        assert!(by_identifier.matches(&mac));
        assert!(!GroupRules::default().matches(&iphone));
        assert!(
            !ios_26.matches(&MemberFacts::default()),
            "unknown facts match no rule"
        );
    }

    #[test]
    fn a_rule_group_without_rules_and_bad_values_are_refused() {
        let mut g = Group {
            name: " ".into(),
            description: String::new(),
            kind: GroupKind::Rules,
            rules: GroupRules::default(),
            ring_order: Some(0),
        };
        let fields: Vec<String> = validate_group(&g).into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "ring_order", "rules"]);
        g.name = "Lab".into();
        g.ring_order = None;
        g.rules.serials = vec!["ABC 123".into()];
        g.rules.os_majors = vec![260];
        let messages: Vec<String> = validate_group(&g).into_iter().map(|p| p.message).collect();
        assert_eq!(
            messages,
            [
                "260 is not an OS major version (1–99)",
                "`ABC 123` is not a serial number (letters and digits only)"
            ]
        );
    }
}
