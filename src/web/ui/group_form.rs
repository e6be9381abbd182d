//! The group form: a static group (its devices) or a rule group (platforms, model families, OS
//! majors, serial numbers), optionally a deployment ring with its order. Text in, text back on
//! refusal; what cannot be read is reported on its own field.

use crate::policy::Severity;
use crate::policy::validate::Problem;
use crate::protocol::ddm::Platform;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupForm {
    pub name: String,
    /// `static` or `rules`.
    pub kind: String,
    pub ring: bool,
    pub ring_order: String,
    pub platforms: Vec<String>,
    pub model_families: String,
    pub os_majors: String,
    pub serials: String,
    /// Static groups, when created: UDIDs or serial numbers, one per line.
    pub devices: String,
}

impl Default for GroupForm {
    fn default() -> Self {
        GroupForm {
            name: String::new(),
            kind: "static".into(),
            ring: false,
            ring_order: String::new(),
            platforms: Vec::new(),
            model_families: String::new(),
            os_majors: String::new(),
            serials: String::new(),
            devices: String::new(),
        }
    }
}

/// The rules as read from the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleParts {
    pub platforms: Vec<Platform>,
    pub model_families: Vec<String>,
    pub os_majors: Vec<u32>,
    pub serials: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedGroup {
    pub name: String,
    /// The ring order, when the group is a ring.
    pub ring: Option<u32>,
    /// `None` for a static group.
    pub rules: Option<RuleParts>,
    pub devices: Vec<String>,
}

/// Splits a list typed one per line or comma-separated; blanks and repeats dropped.
pub fn list_of(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in text
        .split(|c: char| c == '\n' || c == '\r' || c == ',' || c == ';')
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
                "kind" => f.kind = v,
                "ring" => f.ring = v == "yes",
                "ring_order" => f.ring_order = v,
                "rules.platforms" => f.platforms.push(v),
                "rules.model_families" => f.model_families = v,
                "rules.os_majors" => f.os_majors = v,
                "rules.serials" => f.serials = v,
                "devices" => f.devices = v,
                _ => {}
            }
        }
        f
    }

    pub fn parse(&self) -> Result<ParsedGroup, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut error = |field: &str, message: String| {
            problems.push(Problem {
                field: field.into(),
                severity: Severity::Error,
                message,
            })
        };
        let ring = if self.ring {
            match self.ring_order.trim() {
                "" => Some(1),
                t => match t.parse::<u32>() {
                    Ok(n) if n >= 1 => Some(n),
                    _ => {
                        error(
                            "ring_order",
                            format!("the ring order must be a whole number from 1, not {t:?}"),
                        );
                        None
                    }
                },
            }
        } else {
            None
        };
        let rules = match self.kind.as_str() {
            "static" => None,
            "rules" => {
                let mut parts = RuleParts::default();
                for p in &self.platforms {
                    match Platform::ALL.iter().find(|x| x.display_name() == p) {
                        Some(x) => parts.platforms.push(*x),
                        None => error(
                            "rules.platforms",
                            format!("{p:?} is not a platform Orchard manages"),
                        ),
                    }
                }
                parts.model_families = list_of(&self.model_families);
                for t in list_of(&self.os_majors) {
                    match t.parse::<u32>() {
                        Ok(n) if (1..=1000).contains(&n) => parts.os_majors.push(n),
                        _ => error(
                            "rules.os_majors",
                            format!("{t:?} is not an OS major version (e.g. 18 or 26)"),
                        ),
                    }
                }
                parts.serials = list_of(&self.serials);
                Some(parts)
            }
            other => {
                error(
                    "kind",
                    format!("{other:?} is not a kind of group (static or rules)"),
                );
                None
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ParsedGroup {
            name: self.name.trim().to_string(),
            ring,
            rules,
            devices: list_of(&self.devices.replace(char::is_whitespace, "\n")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_rule_group_reads_its_lists() {
        let form = GroupForm::from_pairs(&pairs(&[
            ("name", " Macs on 15 "),
            ("kind", "rules"),
            ("ring", "yes"),
            ("ring_order", "2"),
            ("rules.platforms", "macOS"),
            ("rules.model_families", "MacBookPro, iMac,MacBookPro"),
            ("rules.os_majors", "15\n26"),
            ("rules.serials", "C02A\n\nC02B\r\n"),
        ]));
        let group = form.parse().unwrap();
        assert_eq!(group.name, "Macs on 15");
        assert_eq!(group.ring, Some(2));
        let rules = group.rules.unwrap();
        assert_eq!(rules.platforms, [Platform::MacOs]);
        assert_eq!(rules.model_families, ["MacBookPro", "iMac"]);
        assert_eq!(rules.os_majors, [15, 26]);
        assert_eq!(rules.serials, ["C02A", "C02B"]);
    }

    #[test]
    fn static_devices_and_unreadable_rules() {
        let form = GroupForm::from_pairs(&pairs(&[
            ("name", "Pilot"),
            ("kind", "static"),
            ("devices", "UDID-1 UDID-2\nudid-1"),
        ]));
        assert_eq!(form.parse().unwrap().devices, ["UDID-1", "UDID-2"]);
        let bad = GroupForm::from_pairs(&pairs(&[
            ("name", "x"),
            ("kind", "rules"),
            ("ring", "yes"),
            ("ring_order", "first"),
            ("rules.platforms", "Windows"),
            ("rules.os_majors", "eighteen"),
        ]));
        let fields: Vec<String> = bad.parse().unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["ring_order", "rules.platforms", "rules.os_majors"]);
    }
}
