//! The OpenAPI operations of `/groups` and `/policies` (see [`super::openapi`]).

use serde_json::{Value, json};

use super::openapi::{Op, object, path};

pub(super) fn operations() -> Vec<(&'static str, &'static str, Value)> {
    let group = json!({ "type": "object", "required": ["name", "kind"], "properties": {
        "name": { "type": "string" }, "description": { "type": "string" },
        "kind": { "type": "string", "enum": ["static", "rules"] },
        "rules": object(json!({ "platforms": { "type": "array", "items": { "type": "string" } },
            "model_families": { "type": "array", "items": { "type": "string" } },
            "os_majors": { "type": "array", "items": { "type": "integer" } },
            "serials": { "type": "array", "items": { "type": "string" } } })),
        "ring_order": { "type": ["integer", "null"], "description": "set for deployment rings (1 = first)" } } });
    let policy_body = json!({ "type": "object", "required": ["policy"], "properties": {
        "policy": { "type": "object", "description": "the policy document (name, label, platforms, priority, enforcement, bsi, settings, majors), as the policy form saves it" },
        "assignments": object(json!({ "groups": { "type": "array", "items": { "type": "string" } },
            "devices": { "type": "array", "items": { "type": "string" } } })) } });
    let group_summary = object(json!({
        "id": { "type": "integer", "description": "what the devices list filters on (`group`, `ring`)" },
        "name": { "type": "string" }, "description": { "type": "string" },
        "kind": { "type": "string", "enum": ["static", "rules"] },
        "ring_order": { "type": ["integer", "null"] },
        "devices": { "type": "integer", "description": "enrolled devices in the group now" },
        "policies": { "type": "array", "items": { "type": "string" } } }));
    let name = || vec![path("name", "the name")];
    let list = |what: &str| object(json!({ what: { "type": "array" } }));
    vec![
        ("get", "/groups", Op { summary: "Groups and rings, with device counts and policies", permission: Some("View"),
            parameters: vec![], body: None, ok: ("200", "the groups", object(json!({ "groups": { "type": "array", "items": group_summary } }))) }.build()),
        ("post", "/groups", Op { summary: "Create a group (same validation as the form)", permission: Some("ManageGroups"),
            parameters: vec![], body: Some(group.clone()), ok: ("201", "created", object(json!({ "name": { "type": "string" } }))) }.build()),
        ("get", "/groups/{name}", Op { summary: "One group with its static members", permission: Some("View"),
            parameters: name(), body: None, ok: ("200", "the group", json!({ "type": "object" })) }.build()),
        ("put", "/groups/{name}", Op { summary: "Replace (or rename) a group", permission: Some("ManageGroups"),
            parameters: name(), body: Some(group), ok: ("200", "saved", object(json!({ "name": { "type": "string" } }))) }.build()),
        ("delete", "/groups/{name}", Op { summary: "Delete a group", permission: Some("ManageGroups"),
            parameters: name(), body: None, ok: ("204", "deleted", json!({ "type": "null" })) }.build()),
        ("post", "/groups/{name}/members", Op { summary: "Add and remove static members (UDIDs)", permission: Some("ManageGroups"),
            parameters: name(),
            body: Some(object(json!({ "add": { "type": "array", "items": { "type": "string" } }, "remove": { "type": "array", "items": { "type": "string" } } }))),
            ok: ("200", "how many changed", object(json!({ "added": { "type": "integer" }, "removed": { "type": "integer" } }))) }.build()),
        ("get", "/policies", Op { summary: "Policies with their assignments, reach and conflicts", permission: Some("View"),
            parameters: vec![], body: None, ok: ("200", "the policies", list("policies")) }.build()),
        ("post", "/policies", Op { summary: "Create a policy with its assignments (same validation as the form)", permission: Some("ManagePolicies"),
            parameters: vec![], body: Some(policy_body.clone()),
            ok: ("201", "saved; affected devices are queued for evaluation", object(json!({ "name": { "type": "string" }, "notes": { "type": "array" }, "queued_devices": { "type": "integer" } }))) }.build()),
        ("post", "/policies/preview", Op { summary: "What each assigned device would get (nothing is saved)", permission: Some("View"),
            parameters: vec![], body: Some(policy_body.clone()),
            ok: ("200", "one row per device, and the policy's problems", object(json!({ "rows": { "type": "array" }, "problems": { "type": "array" } }))) }.build()),
        ("get", "/policies/{name}", Op { summary: "One policy with its assignments", permission: Some("View"),
            parameters: name(), body: None, ok: ("200", "the policy", json!({ "type": "object" })) }.build()),
        ("put", "/policies/{name}", Op { summary: "Replace (or rename) a policy and its assignments", permission: Some("ManagePolicies"),
            parameters: name(), body: Some(policy_body),
            ok: ("200", "saved", object(json!({ "name": { "type": "string" }, "queued_devices": { "type": "integer" } }))) }.build()),
        ("delete", "/policies/{name}", Op { summary: "Delete a policy", permission: Some("ManagePolicies"),
            parameters: name(), body: None, ok: ("204", "deleted", json!({ "type": "null" })) }.build()),
    ]
}
