//! Status reports as a device sends them (statusreport.yaml): only subscribed items, nested by
//! their dotted names; incremental (only what changed since the last report, and for the
//! `management.declarations` arrays only the changed elements), and a full report (`FullReport`)
//! the first time and then once a day.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

/// The subscription name that covers the four `management.declarations.*` arrays.
pub const DECLARATIONS_ITEM: &str = "management.declarations";

/// What the device would report now: plain item values by dotted name, and declaration states by
/// array (`activations`, ...) then identifier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusSnapshot {
    pub items: BTreeMap<String, Value>,
    pub states: BTreeMap<&'static str, BTreeMap<String, Value>>,
}

/// A report ready to send; [`StatusReporter::sent`] records it once the server took it.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedReport {
    /// The `StatusReport` JSON.
    pub body: Vec<u8>,
    pub full: bool,
    /// Dotted names of the plain items in it, and `management.declarations.<array>` for each array.
    pub item_names: Vec<String>,
    reported: StatusSnapshot,
    at: DateTime<Utc>,
}

/// Remembers what was reported, to send only changes.
#[derive(Debug, Clone)]
pub struct StatusReporter {
    last: StatusSnapshot,
    last_full: Option<DateTime<Utc>>,
    full_every: Duration,
}

impl Default for StatusReporter {
    fn default() -> Self {
        StatusReporter {
            last: StatusSnapshot::default(),
            last_full: None,
            full_every: Duration::hours(24),
        }
    }
}

impl StatusReporter {
    /// When the last full report was sent.
    pub fn last_full(&self) -> Option<DateTime<Utc>> {
        self.last_full
    }

    /// The report due at `now` for `current`, restricted to `subscriptions`; `None` when nothing
    /// subscribed changed and no full report is due.
    pub fn prepare(
        &self,
        now: DateTime<Utc>,
        subscriptions: &BTreeSet<String>,
        current: &StatusSnapshot,
    ) -> Option<PreparedReport> {
        let subscribed = StatusSnapshot {
            items: current
                .items
                .iter()
                .filter(|(name, _)| subscriptions.contains(name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            states: if subscriptions.contains(DECLARATIONS_ITEM) {
                ["activations", "configurations", "assets", "management"]
                    .into_iter()
                    .map(|class| (class, current.states.get(class).cloned().unwrap_or_default()))
                    .collect()
            } else {
                BTreeMap::new()
            },
        };
        if subscribed.items.is_empty() && subscribed.states.is_empty() {
            return None;
        }
        let full = self.last_full.is_none_or(|last| now - last >= self.full_every);
        let mut flat: BTreeMap<String, Value> = BTreeMap::new();
        for (name, value) in &subscribed.items {
            if full || self.last.items.get(name) != Some(value) {
                flat.insert(name.clone(), value.clone());
            }
        }
        for (class, elements) in &subscribed.states {
            let before = self.last.states.get(class);
            let changed: Vec<Value> = elements
                .iter()
                .filter(|(id, element)| full || before.and_then(|b| b.get(*id)) != Some(*element))
                .map(|(_, element)| element.clone())
                .collect();
            if full || !changed.is_empty() {
                flat.insert(format!("{DECLARATIONS_ITEM}.{class}"), Value::Array(changed));
            }
        }
        if flat.is_empty() {
            return None;
        }
        let item_names = flat.keys().cloned().collect();
        let report = json!({
            "StatusItems": nest(flat),
            "Errors": [],
            "FullReport": full,
        });
        Some(PreparedReport {
            body: serde_json::to_vec(&report).unwrap_or_default(),
            full,
            item_names,
            reported: subscribed,
            at: now,
        })
    }

    /// Records a report the server accepted.
    pub fn sent(&mut self, report: PreparedReport) {
        if report.full {
            self.last = report.reported;
            self.last_full = Some(report.at);
        } else {
            self.last.items.extend(report.reported.items);
            for (class, elements) in report.reported.states {
                self.last.states.entry(class).or_default().extend(elements);
            }
        }
    }
}

/// `{"a.b": 1, "a.c": 2}` → `{"a": {"b": 1, "c": 2}}`.
pub fn nest(flat: BTreeMap<String, Value>) -> Value {
    let mut root = Map::new();
    for (name, value) in flat {
        let segments: Vec<&str> = name.split('.').collect();
        insert(&mut root, &segments, value);
    }
    Value::Object(root)
}

fn insert(map: &mut Map<String, Value>, segments: &[&str], value: Value) {
    match segments {
        [] => {}
        [leaf] => {
            map.insert(leaf.to_string(), value);
        }
        [first, rest @ ..] => {
            let child = map
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(child) = child {
                insert(child, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn subscriptions(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn snapshot(state: &str, version: &str) -> StatusSnapshot {
        let mut snapshot = StatusSnapshot::default();
        snapshot
            .items
            .insert("softwareupdate.install-state".into(), json!(state));
        snapshot
            .items
            .insert("device.operating-system.version".into(), json!(version));
        snapshot
            .items
            .insert("device.model.family".into(), json!("iPhone"));
        snapshot
    }

    #[test]
    fn full_first_then_only_changes_then_full_after_a_day() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let subscribed = subscriptions(&["softwareupdate.install-state", "device.operating-system.version"]);
        let mut reporter = StatusReporter::default();
        let first = reporter
            .prepare(start, &subscribed, &snapshot("none", "18.3"))
            .unwrap();
        assert!(first.full);
        let body: Value = serde_json::from_slice(&first.body).unwrap();
        assert_eq!(body["StatusItems"]["softwareupdate"]["install-state"], "none");
        assert_eq!(
            body["StatusItems"]["device"]["operating-system"]["version"],
            "18.3"
        );
        assert!(
            body["StatusItems"]["device"].get("model").is_none(),
            "not subscribed"
        );
        reporter.sent(first);

        let same = reporter.prepare(start + Duration::hours(1), &subscribed, &snapshot("none", "18.3"));
        assert!(same.is_none());
        let changed = reporter
            .prepare(
                start + Duration::hours(2),
                &subscribed,
                &snapshot("downloading", "18.3"),
            )
            .unwrap();
        assert!(!changed.full);
        assert_eq!(
            changed.item_names,
            vec!["softwareupdate.install-state".to_string()]
        );
        reporter.sent(changed);

        let daily = reporter
            .prepare(
                start + Duration::hours(24),
                &subscribed,
                &snapshot("downloading", "18.3"),
            )
            .unwrap();
        assert!(daily.full);
        assert_eq!(daily.item_names.len(), 2);
    }

    #[test]
    fn declaration_arrays_carry_only_changed_elements() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let subscribed = subscriptions(&[DECLARATIONS_ITEM]);
        let mut snapshot = StatusSnapshot::default();
        let element = |id: &str, token: &str| json!({"identifier": id, "server-token": token, "active": true, "valid": "valid"});
        let configurations = snapshot.states.entry("configurations").or_default();
        configurations.insert("a".into(), element("a", "1"));
        configurations.insert("b".into(), element("b", "1"));
        let mut reporter = StatusReporter::default();
        let first = reporter.prepare(start, &subscribed, &snapshot).unwrap();
        let body: Value = serde_json::from_slice(&first.body).unwrap();
        assert_eq!(
            body["StatusItems"]["management"]["declarations"]["activations"],
            json!([])
        );
        reporter.sent(first);

        snapshot
            .states
            .entry("configurations")
            .or_default()
            .insert("b".into(), element("b", "2"));
        let second = reporter.prepare(start, &subscribed, &snapshot).unwrap();
        let body: Value = serde_json::from_slice(&second.body).unwrap();
        assert_eq!(
            body["StatusItems"]["management"]["declarations"],
            json!({"configurations": [element("b", "2")]})
        );
    }
}
