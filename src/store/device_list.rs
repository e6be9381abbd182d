//! The devices list: filters, search, sorting and paging that stay fast at 100,000 devices
//! (indexes in migration 0010), joined with each device's stored compliance state.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::StoreError;
use super::devices::EnrollmentState;

/// What the list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    LastSeen,
    Name,
    Serial,
    Model,
    OsVersion,
    Compliance,
}

impl SortKey {
    pub const ALL: [(&'static str, SortKey); 6] = [
        ("last_seen", SortKey::LastSeen),
        ("name", SortKey::Name),
        ("serial", SortKey::Serial),
        ("model", SortKey::Model),
        ("os_version", SortKey::OsVersion),
        ("compliance", SortKey::Compliance),
    ];

    pub fn parse(text: &str) -> Option<SortKey> {
        SortKey::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, k)| *k)
    }

    pub fn as_str(self) -> &'static str {
        SortKey::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(name, _)| *name)
            .unwrap_or("last_seen")
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::LastSeen => "d.last_seen_at",
            SortKey::Name => "d.device_name COLLATE NOCASE",
            SortKey::Serial => "d.serial_number",
            SortKey::Model => "d.product_name",
            SortKey::OsVersion => "d.os_version",
            SortKey::Compliance => "c.state",
        }
    }
}

/// A filtered view of the fleet. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Name, serial number or UDID contains this (case-insensitive).
    pub search: String,
    pub enrollment: Option<EnrollmentState>,
    /// Stored compliance state (`up_to_date`, `overdue`, ...).
    pub compliance: Option<String>,
    /// Model identifier prefixes of the platform asked for (`iPhone`, `iPod`).
    pub model_prefixes: Vec<String>,
    /// Exact model identifier (`iPhone15,2`).
    pub model: Option<String>,
    /// `17` matches 17 and 17.x; `17.5` matches 17.5 and 17.5.x.
    pub os_version: Option<String>,
    /// Overdue since at or before this instant (stored time text): "overdue for N days".
    pub overdue_since_before: Option<String>,
    /// Only devices flagged stale.
    pub stale: Option<bool>,
    /// Only members of this group (by id; resolved membership, enrolled devices).
    pub group: Option<i64>,
    /// Only devices whose ring (the lowest-order ring they are in) is this group.
    pub ring: Option<i64>,
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceRow {
    pub udid: String,
    pub name: Option<String>,
    pub serial_number: Option<String>,
    pub model: Option<String>,
    pub model_name: Option<String>,
    pub os_version: Option<String>,
    pub build_version: Option<String>,
    pub supervised: Option<bool>,
    pub enrollment: &'static str,
    pub last_seen_at: String,
    pub compliance: Option<String>,
    pub compliance_reason: Option<String>,
    pub deadline: Option<String>,
    pub stale: bool,
    /// The device's ring (the lowest order of the rings it is in).
    pub ring: Option<String>,
    /// How many rings the device is in (more than one: `ring` is the lowest of them).
    pub rings: usize,
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The WHERE clause and its parameters.
fn where_clause(filter: &DeviceFilter) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let bind = |values: &mut Vec<Value>, v: String| {
        values.push(Value::Text(v));
        format!("?{}", values.len())
    };
    if !filter.search.is_empty() {
        let p = bind(&mut values, format!("%{}%", like_escape(&filter.search)));
        clauses.push(format!(
            "(d.device_name LIKE {p} ESCAPE '\\' OR d.serial_number LIKE {p} ESCAPE '\\' OR d.udid LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(state) = filter.enrollment {
        let p = bind(&mut values, state.as_str().to_string());
        clauses.push(format!("d.enrollment_state = {p}"));
    }
    if let Some(state) = &filter.compliance {
        let p = bind(&mut values, state.clone());
        clauses.push(format!("c.state = {p}"));
    }
    if !filter.model_prefixes.is_empty() {
        let ors: Vec<String> = filter
            .model_prefixes
            .iter()
            .map(|prefix| {
                let p = bind(&mut values, format!("{}%", like_escape(prefix)));
                format!("d.product_name LIKE {p} ESCAPE '\\'")
            })
            .collect();
        clauses.push(format!("({})", ors.join(" OR ")));
    }
    if let Some(model) = &filter.model {
        let p = bind(&mut values, model.clone());
        clauses.push(format!("d.product_name = {p}"));
    }
    if let Some(version) = &filter.os_version {
        let exact = bind(&mut values, version.clone());
        let under = bind(&mut values, format!("{}.%", like_escape(version)));
        clauses.push(format!(
            "(d.os_version = {exact} OR d.os_version LIKE {under} ESCAPE '\\')"
        ));
    }
    if let Some(before) = &filter.overdue_since_before {
        let p = bind(&mut values, before.clone());
        clauses.push(format!("c.overdue_since <= {p}"));
    }
    if let Some(stale) = filter.stale {
        clauses.push(format!("coalesce(c.stale, 0) = {}", i32::from(stale)));
    }
    if let Some(group) = filter.group {
        values.push(Value::Integer(group));
        clauses.push(format!(
            "d.udid IN (SELECT udid FROM group_members_resolved WHERE group_id = ?{})",
            values.len()
        ));
    }
    if let Some(ring) = filter.ring {
        values.push(Value::Integer(ring));
        clauses.push(format!(
            "d.udid IN (SELECT udid FROM device_rings WHERE ring_id = ?{})",
            values.len()
        ));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, values)
}

const FROM: &str = "FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid";

fn row(r: &Row<'_>) -> rusqlite::Result<DeviceRow> {
    let state: String = r.get(8)?;
    Ok(DeviceRow {
        udid: r.get(0)?,
        name: r.get(1)?,
        serial_number: r.get(2)?,
        model: r.get(3)?,
        model_name: r.get(4)?,
        os_version: r.get(5)?,
        build_version: r.get(6)?,
        supervised: r.get(7)?,
        enrollment: match state.as_str() {
            "enrolled" => "enrolled",
            "unenrolled" => "unenrolled",
            _ => "authenticated",
        },
        last_seen_at: r.get(9)?,
        compliance: r.get(10)?,
        compliance_reason: r.get(11)?,
        deadline: r.get(12)?,
        stale: r.get::<_, Option<bool>>(13)?.unwrap_or(false),
        ring: r.get(14)?,
        rings: usize::try_from(r.get::<_, Option<i64>>(15)?.unwrap_or(0)).unwrap_or(0),
    })
}

/// How many devices match. The compliance table is joined only when a filter reads it.
pub fn count(conn: &Connection, filter: &DeviceFilter) -> Result<usize, StoreError> {
    let (clause, values) = where_clause(filter);
    let reads_compliance =
        filter.compliance.is_some() || filter.overdue_since_before.is_some() || filter.stale.is_some();
    let from = if reads_compliance { FROM } else { "FROM devices d" };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {from} {clause}"))?
        .query_row(params_from_iter(values), |r| r.get(0))?;
    Ok(usize::try_from(total).unwrap_or(0))
}

/// Up to `limit` matching devices after `offset`, sorted by `sort` (then UDID, so pages are stable).
pub fn page(
    conn: &Connection,
    filter: &DeviceFilter,
    sort: SortKey,
    descending: bool,
    limit: usize,
    offset: usize,
) -> Result<Vec<DeviceRow>, StoreError> {
    let (clause, mut values) = where_clause(filter);
    let direction = if descending { "DESC" } else { "ASC" };
    values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let limit_at = values.len();
    values.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT d.udid, d.device_name, d.serial_number, d.product_name, d.model_name, d.os_version,
                d.build_version, d.is_supervised, d.enrollment_state, d.last_seen_at,
                c.state, c.reason, c.deadline, c.stale,
                (SELECT g.name FROM device_rings r JOIN policy_groups g ON g.id = r.ring_id
                 WHERE r.udid = d.udid),
                (SELECT r.rings FROM device_rings r WHERE r.udid = d.udid)
         {FROM} {clause}
         ORDER BY {} {direction}, d.udid {direction} LIMIT ?{limit_at} OFFSET ?{}",
        sort.column(),
        limit_at + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
