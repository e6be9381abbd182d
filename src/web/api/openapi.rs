//! The OpenAPI 3.1 document of `/api/v1`, written as data beside the routes
//! (`super::ROUTES`); a test checks that every route is described and nothing else is.

use actix_web::HttpResponse;
use serde_json::{Value, json};

pub(super) fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": {
        "schema": { "$ref": "#/components/schemas/Error" } } } })
}

pub(super) fn query(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description,
            "schema": { "type": "string" } })
}

pub(super) fn path(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description,
            "schema": { "type": "string" } })
}

/// One operation: what it does, who may call it, its parameters, body and success answer.
pub(super) struct Op<'a> {
    pub summary: &'a str,
    /// The role-permission needed ("View", "ManageDevices", ...), or `None` for the document
    /// itself, or `Some("client")` for the trust endpoint.
    pub permission: Option<&'a str>,
    pub parameters: Vec<Value>,
    pub body: Option<Value>,
    pub ok: (&'a str, &'a str, Value),
}

impl Op<'_> {
    pub fn build(self) -> Value {
        let mut responses = serde_json::Map::new();
        let (status, description, schema) = self.ok;
        let content_type = if schema.get("format") == Some(&json!("csv")) {
            "text/csv"
        } else {
            "application/json"
        };
        responses.insert(
            status.into(),
            json!({ "description": description, "content": { content_type: { "schema": schema } } }),
        );
        let mut op = json!({ "summary": self.summary, "parameters": self.parameters });
        match self.permission {
            None => op["security"] = json!([]),
            Some("client") => {
                op["security"] = json!([{ "clientBasic": [] }]);
                responses.insert("401".into(), error_response("no valid client id and secret"));
            }
            Some(permission) => {
                op["security"] = json!([{ "bearer": [] }]);
                op["x-orchard-permission"] = json!(permission);
                responses.insert("401".into(), error_response("no valid bearer token"));
                responses.insert(
                    "403".into(),
                    error_response("the token's role does not allow this"),
                );
            }
        }
        if let Some(schema) = self.body {
            op["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": schema } } });
            responses.insert(
                "400".into(),
                error_response("the body is not valid JSON (the reason is given)"),
            );
            responses.insert("413".into(), error_response("the body is too large"));
            responses.insert(
                "422".into(),
                error_response("invalid fields (each problem by field)"),
            );
        }
        op["responses"] = Value::Object(responses);
        op
    }
}

pub(super) fn object(properties: Value) -> Value {
    json!({ "type": "object", "properties": properties })
}

fn device_list_parameters() -> Vec<Value> {
    vec![
        query("q", "name, serial number or UDID contains (case-insensitive)"),
        query(
            "state",
            "compliance state: up_to_date, deferred, in_grace, installing, overdue, failed, unknown, not_managed",
        ),
        query("enrollment", "authenticated, enrolled or unenrolled"),
        query("platform", "iOS, iPadOS, macOS, tvOS or visionOS"),
        query("model", "model identifier, e.g. iPhone15,2"),
        query(
            "os_version",
            "17, 17.5 or 17.5.1 (a prefix matches its point releases)",
        ),
        query("overdue_days", "overdue for at least this many days"),
        query(
            "stale",
            "true: only devices without recent contact; false: only devices in contact",
        ),
        query(
            "group",
            "group id: only its members (enrolled devices; an unknown id is refused with 422)",
        ),
        query(
            "ring",
            "ring (group) id: only devices whose ring it is; a device in several rings has the lowest order as its ring (an unknown id or a group that is not a ring is refused with 422)",
        ),
        query(
            "sort",
            "last_seen (default), name, serial, model, os_version, compliance",
        ),
        query("order", "asc or desc"),
        query("page", "page number from 1"),
        query("per_page", "1 to 500 (default 50)"),
    ]
}

/// `GET /devices/{udid}`: every field the answer has.
fn device_detail() -> Value {
    let text = json!({ "type": "string" });
    let optional = json!({ "type": ["string", "null"] });
    let id =
        json!({ "type": "integer", "description": "the id the devices list filters on (`group`, `ring`)" });
    object(
        json!({ "udid": text, "name": optional, "serial_number": optional, "model": optional,
        "model_name": optional, "os_version": optional, "build_version": optional,
        "supervised": { "type": ["boolean", "null"] },
        "enrollment": { "type": "string", "enum": ["authenticated", "enrolled", "unenrolled"] },
        "enrolled_at": optional, "first_seen_at": text, "last_seen_at": text,
        "last_push_at": optional, "last_push_result": optional,
        "compliance": { "oneOf": [{ "$ref": "#/components/schemas/Compliance" }, { "type": "null" }] },
        "ring": { "type": ["object", "null"], "properties": { "id": id, "name": text },
            "description": "the device's ring: of the ring groups it is in, the one of lowest order; null when it is in none" },
        "groups": { "type": "array",
            "description": "every group the device is in (resolved membership of enrolled devices), rings first in ring order, then by name",
            "items": object(json!({ "id": id, "name": text, "is_ring": { "type": "boolean" } })) } }),
    )
}

fn operations() -> Vec<(&'static str, &'static str, Value)> {
    let device_row = json!({ "$ref": "#/components/schemas/DeviceRow" });
    let compliance = json!({ "$ref": "#/components/schemas/Compliance" });
    let with_secret = |what: &str| {
        object(
            json!({ what: { "type": "object" }, "secret": { "type": "string", "description": "shown once" } }),
        )
    };
    vec![
        ("get", "/openapi.json", Op { summary: "This document", permission: None, parameters: vec![], body: None,
            ok: ("200", "the OpenAPI document", json!({ "type": "object" })) }.build()),
        ("get", "/devices", Op { summary: "List devices with filters, search, sorting and paging", permission: Some("View"),
            parameters: device_list_parameters(), body: None,
            ok: ("200", "one page", object(json!({ "devices": { "type": "array", "items": device_row },
                "total": { "type": "integer" }, "page": { "type": "integer" }, "per_page": { "type": "integer" },
                "pages": { "type": "integer" } }))) }.build()),
        ("get", "/devices.csv", Op { summary: "CSV export of the filtered list (paging ignored)", permission: Some("View"),
            parameters: device_list_parameters(), body: None,
            ok: ("200", "the CSV", json!({ "type": "string", "format": "csv" })) }.build()),
        ("get", "/devices/{udid}", Op { summary: "One device, with its compliance", permission: Some("View"),
            parameters: vec![path("udid", "the device's UDID")], body: None,
            ok: ("200", "the device", json!({ "$ref": "#/components/schemas/DeviceDetail" })) }.build()),
        ("post", "/devices/{udid}/commands", Op { summary: "Queue a query command (the ones the UI offers), audited; 404 for an unknown UDID, 409 for a device that is not enrolled", permission: Some("ManageDevices"),
            parameters: vec![path("udid", "the device's UDID")],
            body: Some(json!({ "type": "object", "required": ["command"], "properties": { "command": { "type": "string",
                "enum": crate::protocol::commands::CommandRequest::QUERY_REQUEST_TYPES } } })),
            ok: ("202", "queued; the device is asked to check in", object(json!({ "uuid": { "type": "string" } }))) }.build()),
        ("post", "/cache/payloads/{digest}/install", Op {
            summary: "Install a cached macOS installer on Macs: queues InstallEnterpriseApplication with a manifest on the appliance (pinned to its CA). All or none: 422 lists every device that cannot get it (unknown serial, not enrolled, not a Mac); 409 when the payload is quarantined, unverified or not a macOS installer",
            permission: Some("ManageDevices"),
            parameters: vec![path("digest", "the payload's SHA-256")],
            body: Some(json!({ "type": "object", "required": ["serials"], "properties": {
                "serials": { "type": "array", "items": { "type": "string" }, "description": "serial numbers of the Macs (1 to 1000)" } } })),
            ok: ("202", "queued; the Macs are asked to check in", object(json!({ "payload": { "type": "string" },
                "manifest_url": { "type": "string" },
                "queued": { "type": "array", "items": object(json!({ "serial": { "type": "string" },
                    "udid": { "type": "string" }, "uuid": { "type": "string" } })) } }))) }.build()),
        ("get", "/compliance/summary", Op { summary: "Device counts by compliance state", permission: Some("View"),
            parameters: vec![], body: None,
            ok: ("200", "the counts", object(json!({ "total": { "type": "integer" }, "by_state": { "type": "object" },
                "not_assessed": { "type": "integer" }, "stale": { "type": "integer" } }))) }.build()),
        ("get", "/compliance/devices/{udid}", Op { summary: "One device's compliance state and reason", permission: Some("View"),
            parameters: vec![path("udid", "the device's UDID")], body: None,
            ok: ("200", "the state", object(json!({ "udid": { "type": "string" }, "compliance": compliance }))) }.build()),
        ("get", "/catalog/releases", Op { summary: "OS releases Apple offers, with fleet counts", permission: Some("View"),
            parameters: vec![], body: None,
            ok: ("200", "the releases", object(json!({ "has_catalog": { "type": "boolean" }, "releases": { "type": "array" } }))) }.build()),
        ("post", "/catalog/refresh", Op { summary: "Refresh the catalog from Apple and SOFA now", permission: Some("ManageCatalog"),
            parameters: vec![], body: None,
            ok: ("200", "what each source did", object(json!({ "updated": { "type": "integer" }, "failed": { "type": "integer" }, "sources": { "type": "array" } }))) }.build()),
        ("post", "/catalog/import", Op { summary: "Import catalog documents (offline sites); one bad file refuses all", permission: Some("ManageCatalog"),
            parameters: vec![],
            body: Some(object(json!({ "files": { "type": "array", "items": object(json!({ "name": { "type": "string" }, "content": { "type": "string" } })) } }))),
            ok: ("200", "what each file was", object(json!({ "files": { "type": "array" } }))) }.build()),
        ("get", "/audit", Op { summary: "The audit log, newest first", permission: Some("View"),
            parameters: vec![query("before", "entries older than this id (the previous page's `older`)"), query("limit", "1 to 500 (default 100)")],
            body: None, ok: ("200", "one page", object(json!({ "entries": { "type": "array" }, "older": { "type": ["integer", "null"] }, "total": { "type": "integer" } }))) }.build()),
        ("get", "/enrollment/tokens", Op { summary: "Enrollment tokens", permission: Some("View"), parameters: vec![], body: None,
            ok: ("200", "the tokens", object(json!({ "tokens": { "type": "array" } }))) }.build()),
        ("post", "/enrollment/tokens", Op { summary: "Create an enrollment token (same rules as the form)", permission: Some("ManageEnrollment"),
            parameters: vec![],
            body: Some(json!({ "type": "object", "required": ["label"], "properties": { "label": { "type": "string" },
                "days": { "type": ["integer", "null"], "description": "1 to 3650; null: no expiry" },
                "max_uses": { "type": ["integer", "null"], "description": "at least 1; null: no limit" } } })),
            ok: ("201", "created; the secret and link are shown once", object(json!({ "token": { "type": "object" }, "secret": { "type": "string" }, "link": { "type": "string" } }))) }.build()),
        ("post", "/enrollment/tokens/{id}/revoke", Op { summary: "Revoke an enrollment token", permission: Some("ManageEnrollment"),
            parameters: vec![path("id", "the token's id")], body: None,
            ok: ("200", "revoked", object(json!({ "token": { "type": "object" } }))) }.build()),
        ("get", "/api-tokens", Op { summary: "API tokens (never their secrets)", permission: Some("ManageApiTokens"), parameters: vec![], body: None,
            ok: ("200", "the tokens", object(json!({ "tokens": { "type": "array" } }))) }.build()),
        ("post", "/api-tokens", Op { summary: "Create an API token", permission: Some("ManageApiTokens"), parameters: vec![],
            body: Some(json!({ "type": "object", "required": ["name", "role"], "properties": { "name": { "type": "string" },
                "role": { "type": "string", "enum": ["admin", "manager", "viewer"] } } })),
            ok: ("201", "created; the secret is shown once", with_secret("token")) }.build()),
        ("post", "/api-tokens/{id}/revoke", Op { summary: "Revoke an API token (stops at once)", permission: Some("ManageApiTokens"),
            parameters: vec![path("id", "the token's id")], body: None,
            ok: ("200", "revoked", object(json!({ "token": { "type": "object" } }))) }.build()),
        ("get", "/clients", Op { summary: "API clients for device trust", permission: Some("ManageApiTokens"), parameters: vec![], body: None,
            ok: ("200", "the clients; a rotated-out secret shows as expiring soon", object(json!({ "clients": { "type": "array" } }))) }.build()),
        ("post", "/clients", Op { summary: "Create an API client", permission: Some("ManageApiTokens"), parameters: vec![],
            body: Some(json!({ "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } })),
            ok: ("201", "created; the secret is shown once", with_secret("client")) }.build()),
        ("post", "/clients/{client_id}/rotate", Op { summary: "New secret; the previous one works 24 more hours", permission: Some("ManageApiTokens"),
            parameters: vec![path("client_id", "the client id")], body: None,
            ok: ("200", "the new secret, shown once", with_secret("client")) }.build()),
        ("post", "/clients/{client_id}/invalidate", Op { summary: "Every secret stops at once; a new one is issued", permission: Some("ManageApiTokens"),
            parameters: vec![path("client_id", "the client id")], body: None,
            ok: ("200", "the new secret, shown once", with_secret("client")) }.build()),
        ("delete", "/clients/{client_id}", Op { summary: "Delete an API client", permission: Some("ManageApiTokens"),
            parameters: vec![path("client_id", "the client id")], body: None,
            ok: ("204", "deleted", json!({ "type": "null" })) }.build()),
        ("get", "/trust/device", Op { summary: "Device trust for identity providers (client id and secret, HTTP Basic)", permission: Some("client"),
            parameters: vec![query("serial_number", "the device's serial number"), query("udid", "or its UDID")], body: None,
            ok: ("200", "what is known of the device", object(json!({ "known": { "type": "boolean" }, "enrolled": { "type": "boolean" },
                "enrolled_since": { "type": ["string", "null"] }, "managed": { "type": "boolean" }, "supervised": { "type": ["boolean", "null"] },
                "compliant": { "type": "boolean" }, "compliance_state": { "type": ["string", "null"] }, "compliance_since": { "type": ["string", "null"] },
                "os_version": { "type": ["string", "null"] } }))) }.build()),
    ]
}

/// The whole document.
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, route, op) in operations()
        .into_iter()
        .chain(super::openapi_policies::operations())
    {
        let entry = paths.entry(route.to_string()).or_insert_with(|| json!({}));
        entry[method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Orchard API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Devices, compliance, catalog, enrollment tokens, audit log and device trust. Errors are {\"error\": {\"code\", \"message\", \"fields\"}}." },
        "servers": [{ "url": super::PREFIX }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "orchard api-token create --role ROLE" },
                "clientBasic": { "type": "http", "scheme": "basic", "description": "API client id and secret" }
            },
            "schemas": {
                "Error": object(json!({ "error": object(json!({ "code": { "type": "string" }, "message": { "type": "string" },
                    "fields": { "type": "array", "items": object(json!({ "field": { "type": "string" }, "message": { "type": "string" } })) } })) })),
                "Compliance": object(json!({ "state": { "type": "string", "enum": crate::compliance::ComplianceState::ALL.map(|s| s.as_str()) },
                    "reason": { "type": "string" }, "deadline": { "type": ["string", "null"] }, "overdue_since": { "type": ["string", "null"] },
                    "stale": { "type": "boolean" } })),
                "DeviceDetail": device_detail(),
                "DeviceRow": object(json!({ "udid": { "type": "string" }, "name": { "type": ["string", "null"] },
                    "serial_number": { "type": ["string", "null"] }, "model": { "type": ["string", "null"] },
                    "os_version": { "type": ["string", "null"] }, "enrollment": { "type": "string" },
                    "last_seen_at": { "type": "string" }, "compliance": { "type": ["string", "null"] },
                    "compliance_reason": { "type": ["string", "null"] }, "deadline": { "type": ["string", "null"] },
                    "stale": { "type": "boolean" },
                    "ring": { "type": ["string", "null"], "description": "the device's ring: the lowest order of the rings it is in" },
                    "rings": { "type": "integer", "description": "how many rings the device is in" } }))
            }
        }
    })
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(openapi())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn every_route_is_described_and_nothing_else() {
        let doc = super::openapi();
        let described: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(|method| (method.clone(), path.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let routed: BTreeSet<(String, String)> = super::super::ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(described, routed);
    }

    #[test]
    fn every_device_list_parameter_is_described() {
        let doc = super::openapi();
        let fields: BTreeSet<String> =
            serde_json::to_value(crate::web::device_filter::DeviceListParams::default())
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
        for path in ["/devices", "/devices.csv"] {
            let described: BTreeSet<String> = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(described, fields, "{path}");
        }
    }
}
