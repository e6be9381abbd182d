//! The devices list: filters, search, sorting and paging that stay fast at 100,000 devices
//! (indexes in migration 0010), joined with each device's stored compliance state.
//!
//! A page is read in two steps: the UDIDs of the page (filtered, sorted, limited), then the
//! columns of those rows only, so the compliance row and the ring of the devices before the page
//! are never read. A group or ring filter is applied one of two ways ([`Membership`]): driving
//! from the members (then sorting them), or walking the sort order's index and keeping the
//! members, whichever reads fewer rows for this page (group sizes from migration 0017's cells).

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

/// How a group or ring filter is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    /// `udid IN (members)`: the members are read, then sorted. Cheap for a small group, or for a
    /// page deep into a large one.
    Members,
    /// `EXISTS (member)` per device in sort order: the sort index is walked until the page is
    /// full. Cheap for the first pages of a large group (no sort of every member).
    Probe,
}

/// The WHERE clause and its parameters.
fn where_clause(filter: &DeviceFilter, membership: Membership) -> (String, Vec<Value>) {
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
        let p = values.len();
        clauses.push(match membership {
            Membership::Members => {
                format!("d.udid IN (SELECT udid FROM group_members_resolved WHERE group_id = ?{p})")
            }
            Membership::Probe => format!(
                "EXISTS (SELECT 1 FROM group_members_resolved m WHERE m.group_id = ?{p} AND m.udid = d.udid)"
            ),
        });
    }
    if let Some(ring) = filter.ring {
        values.push(Value::Integer(ring));
        let p = values.len();
        clauses.push(match membership {
            Membership::Members => format!("d.udid IN (SELECT udid FROM device_rings WHERE ring_id = ?{p})"),
            Membership::Probe => {
                format!("EXISTS (SELECT 1 FROM device_rings r WHERE r.udid = d.udid AND r.ring_id = ?{p})")
            }
        });
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

fn reads_compliance(filter: &DeviceFilter) -> bool {
    filter.compliance.is_some() || filter.overdue_since_before.is_some() || filter.stale.is_some()
}

/// The filter asks only for the members of one group or ring (and maybe a compliance state):
/// its count is a maintained cell (migration 0017), and so is its size.
fn membership_only(filter: &DeviceFilter) -> bool {
    let only_state = DeviceFilter {
        compliance: filter.compliance.clone(),
        group: filter.group,
        ring: filter.ring,
        ..DeviceFilter::default()
    };
    *filter == only_state && filter.group.is_some() != filter.ring.is_some()
}

/// Members of the filter's group or ring (the smaller if both) that are known devices, in
/// `state` if given, from the maintained cells.
fn members(
    conn: &Connection,
    filter: &DeviceFilter,
    state: Option<&str>,
) -> Result<Option<usize>, StoreError> {
    let mut smallest: Option<usize> = None;
    for (table, column, id) in [
        ("dashboard_group_cells", "group_id", filter.group),
        ("dashboard_ring_cells", "ring_id", filter.ring),
    ] {
        let Some(id) = id else { continue };
        let n: i64 = conn
            .prepare_cached(&format!(
                "SELECT coalesce(sum(devices), 0) FROM {table} WHERE {column} = ?1 AND (?2 IS NULL OR state = ?2)"
            ))?
            .query_row(rusqlite::params![id, state], |r| r.get(0))?;
        let n = usize::try_from(n).unwrap_or(0);
        smallest = Some(smallest.map_or(n, |s| s.min(n)));
    }
    Ok(smallest)
}

/// How many devices match. The compliance table is joined only when a filter reads it; the
/// members of a group or ring (in a state) are read from the maintained cells.
pub fn count(conn: &Connection, filter: &DeviceFilter) -> Result<usize, StoreError> {
    if membership_only(filter)
        && let Some(n) = members(conn, filter, filter.compliance.as_deref())?
    {
        return Ok(n);
    }
    let (clause, values) = where_clause(filter, Membership::Members);
    let from = if reads_compliance(filter) {
        FROM
    } else {
        "FROM devices d"
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {from} {clause}"))?
        .query_row(params_from_iter(values), |r| r.get(0))?;
    Ok(usize::try_from(total).unwrap_or(0))
}

/// Rows the probe walks along a sort index, per member the members way reads and sorts (both
/// measured at 100,000 devices: about 0.6 µs against 2 µs).
const PROBE_ROWS_PER_MEMBER: usize = 3;

/// Which way to apply the filter's group or ring for this page: the probe walks about
/// `(offset + limit) × devices / members` index entries, the members way reads every member.
fn membership_for(
    conn: &Connection,
    filter: &DeviceFilter,
    sort: SortKey,
    limit: usize,
    offset: usize,
) -> Result<Membership, StoreError> {
    if matches!(sort, SortKey::Compliance | SortKey::Serial) {
        // No index gives this order with the UDID as tie-break: every member is sorted anyway.
        return Ok(Membership::Members);
    }
    let Some(members) = members(conn, filter, None)? else {
        return Ok(Membership::Members);
    };
    let devices: i64 = conn
        .prepare_cached("SELECT coalesce(sum(devices), 0) FROM dashboard_fleet_cells")?
        .query_row([], |r| r.get(0))?;
    let devices = usize::try_from(devices).unwrap_or(0);
    let walked = offset.saturating_add(limit).saturating_mul(devices) / members.max(1);
    Ok(
        if members > 0 && walked <= members.saturating_mul(PROBE_ROWS_PER_MEMBER) {
            Membership::Probe
        } else {
            Membership::Members
        },
    )
}

/// Pages up to this many rows are read in two steps (the page's UDIDs, then their columns);
/// longer reads (the CSV export, where most matches are in the result) in one, which is
/// about 25% faster for them.
const TWO_STEP_MAX_ROWS: usize = 1000;

/// Up to `limit` matching devices after `offset`, sorted by `sort` (then UDID, so pages are stable).
pub fn page(
    conn: &Connection,
    filter: &DeviceFilter,
    sort: SortKey,
    descending: bool,
    limit: usize,
    offset: usize,
) -> Result<Vec<DeviceRow>, StoreError> {
    let membership = membership_for(conn, filter, sort, limit, offset)?;
    page_as(conn, filter, (sort, descending), limit, offset, membership)
}

fn page_as(
    conn: &Connection,
    filter: &DeviceFilter,
    (sort, descending): (SortKey, bool),
    limit: usize,
    offset: usize,
    membership: Membership,
) -> Result<Vec<DeviceRow>, StoreError> {
    let (clause, mut values) = where_clause(filter, membership);
    let direction = if descending { "DESC" } else { "ASC" };
    values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let limit_at = values.len();
    values.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let inner_from = if reads_compliance(filter) || sort == SortKey::Compliance {
        FROM
    } else {
        "FROM devices d"
    };
    let order = format!("ORDER BY {} {direction}, d.udid {direction}", sort.column());
    let columns = "SELECT d.udid, d.device_name, d.serial_number, d.product_name, d.model_name, d.os_version,
                d.build_version, d.is_supervised, d.enrollment_state, d.last_seen_at,
                c.state, c.reason, c.deadline, c.stale,
                (SELECT g.name FROM device_rings r JOIN policy_groups g ON g.id = r.ring_id
                 WHERE r.udid = d.udid),
                (SELECT r.rings FROM device_rings r WHERE r.udid = d.udid)";
    let offset_at = limit_at + 1;
    let sql = if limit <= TWO_STEP_MAX_ROWS {
        format!(
            "{columns}
             FROM (SELECT d.udid AS udid {inner_from} {clause} {order} LIMIT ?{limit_at} OFFSET ?{offset_at}) p
                  JOIN devices d ON d.udid = p.udid
                  LEFT JOIN device_compliance c ON c.udid = d.udid
             {order}"
        )
    } else {
        format!("{columns} {FROM} {clause} {order} LIMIT ?{limit_at} OFFSET ?{offset_at}")
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
#[path = "device_list_tests.rs"]
mod tests;
