//! Checks the status reports the simulator sent against Apple's status schemas
//! (declarative/status/*.yaml): types, required and unknown subkeys, `rangelist` values.

use serde_json::Value;
use serde_yaml::Value as Yaml;

use super::harness::{SUBSCRIBED, Sim};
use crate::schema::schema_root;

/// Every report sent holds values of the types, keys and allowed values of Apple's status schemas.
pub(super) fn check_reports(sim: &Sim) {
    let reports = sim.transport.reports.lock().unwrap().clone();
    assert!(!reports.is_empty());
    for report in reports {
        for name in SUBSCRIBED.iter().filter(|name| !name.starts_with("management.")) {
            let mut value = &report["StatusItems"];
            for segment in name.split('.') {
                value = &value[segment];
            }
            if value.is_null() {
                continue;
            }
            let path = schema_root().join(format!("declarative/status/{name}.yaml"));
            let schema: Yaml = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let key = &schema["payloadkeys"][0];
            let problems = check_value(name, value, key);
            assert!(problems.is_empty(), "{name} = {value}: {problems:?}");
        }
        let declarations = &report["StatusItems"]["management"]["declarations"];
        if report["FullReport"] == true {
            for class in ["activations", "configurations", "assets", "management"] {
                assert!(declarations[class].is_array(), "full report lacks {class}");
            }
        }
    }
}

fn check_value(path: &str, value: &Value, key: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let kind = key["type"].as_str().unwrap_or_default();
    let type_ok = match kind {
        "<string>" => value.is_string(),
        "<integer>" => value.is_i64(),
        "<boolean>" => value.is_boolean(),
        "<dictionary>" => value.is_object(),
        "<array>" => value.is_array(),
        _ => true,
    };
    if !type_ok {
        return vec![format!("{path}: not a {kind}")];
    }
    if let (Some(range), Some(text)) = (key["rangelist"].as_sequence(), value.as_str())
        && !range.iter().any(|allowed| allowed.as_str() == Some(text))
    {
        problems.push(format!("{path}: {text:?} is not in the rangelist"));
    }
    let subkeys = key["subkeys"].as_sequence().cloned().unwrap_or_default();
    if let Some(map) = value.as_object() {
        for sub in &subkeys {
            let name = sub["key"].as_str().unwrap_or_default();
            match map.get(name) {
                Some(child) => problems.extend(check_value(&format!("{path}.{name}"), child, sub)),
                None if sub["presence"].as_str() == Some("required") => {
                    problems.push(format!("{path}.{name}: required"))
                }
                None => {}
            }
        }
        for name in map.keys() {
            if !subkeys.iter().any(|sub| sub["key"].as_str() == Some(name)) {
                problems.push(format!("{path}.{name}: not in the schema"));
            }
        }
    }
    if let (Some(items), Some(element)) = (value.as_array(), subkeys.first()) {
        for (index, item) in items.iter().enumerate() {
            problems.extend(check_value(&format!("{path}[{index}]"), item, element));
        }
    }
    problems
}
