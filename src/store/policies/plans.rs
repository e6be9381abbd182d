//! What the policy engine decided and delivered per device, the durable re-evaluation queue, and
//! the legacy-path records (restrictions profile, ScheduleOSUpdate sent) that make delivery
//! idempotent across restarts.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{StoreError, json_list, settings, sql_time};

/// A queue stamp: the time (so the queue reads oldest first) and a random tag, so that a device
/// queued again while it is being evaluated keeps a different stamp and is not dequeued by the
/// evaluation that read the older one.
fn stamp(now: DateTime<Utc>) -> String {
    format!("{}#{:016x}", sql_time(now), rand::random::<u64>())
}

const REQUEUE: &str = "ON CONFLICT (udid) DO UPDATE SET enqueued_at = excluded.enqueued_at";

/// Adds devices to the re-evaluation queue (a device already queued keeps its first reason and
/// gets a new stamp).
pub fn enqueue(
    conn: &Connection,
    udids: &[String],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let at = stamp(now);
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO policy_evaluation_queue (udid, reason, enqueued_at) VALUES (?1, ?2, ?3) {REQUEUE}"
    ))?;
    let mut added = 0;
    for udid in udids {
        added += stmt.execute(params![udid, reason, at])?;
    }
    Ok(added)
}

/// The request for a fleet-wide re-evaluation (the catalog or the ring calendar changed, the
/// safety sweep): one row instead of one queue entry per device. Its value is a [`stamp`], so a
/// run clears only the request it read ([`clear_request`]); asking again meanwhile keeps a
/// request for the next round.
const FLEET_DUE: &str = "policy.fleet_due";

/// The request for a decision per kind of device ([`kinds`]): a change that reaches every device
/// alike (the catalog, the ring calendar) and nothing about any one device. Same stamps as
/// [`FLEET_DUE`].
const KINDS_DUE: &str = "policy.kinds_due";

/// What a fleet-wide request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetScope {
    /// Every enrolled device evaluated one by one (the safety sweep: it also catches a change
    /// to one device that queued nothing).
    Devices,
    /// One decision per stored kind, written to all its devices.
    Kinds,
}

impl FleetScope {
    fn key(self) -> &'static str {
        match self {
            FleetScope::Devices => FLEET_DUE,
            FleetScope::Kinds => KINDS_DUE,
        }
    }
}

/// Asks for a fleet-wide re-evaluation of `scope`.
pub fn request(conn: &Connection, scope: FleetScope, now: DateTime<Utc>) -> Result<(), StoreError> {
    settings::set(conn, scope.key(), &stamp(now), &sql_time(now))
}

/// The pending request's stamp for `scope`, if any.
pub fn pending_request(conn: &Connection, scope: FleetScope) -> Result<Option<String>, StoreError> {
    settings::get(conn, scope.key())
}

/// Clears the fleet-wide request of `scope` a run read, unless it was asked for again since
/// (new stamp).
pub fn clear_request(conn: &Connection, scope: FleetScope, read: &str) -> Result<bool, StoreError> {
    settings::delete_if(conn, scope.key(), read)
}

/// Queues the devices whose plan changes with time alone by `now` (a deferral ended, a deadline
/// passed).
pub fn enqueue_due(conn: &Connection, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(conn.execute(
        &format!(
            "INSERT INTO policy_evaluation_queue (udid, reason, enqueued_at)
             SELECT udid, 'time', ?2 FROM device_plans WHERE next_change_at <= ?1 {REQUEUE}"
        ),
        [sql_time(now), stamp(now)],
    )?)
}

/// The oldest `limit` queued devices with their stamps (they stay queued until [`dequeue`]).
pub fn queued(conn: &Connection, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT udid, enqueued_at FROM policy_evaluation_queue ORDER BY enqueued_at, udid LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn queue_len(conn: &Connection) -> Result<usize, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM policy_evaluation_queue", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Removes devices from the queue once their plan is written (same transaction), unless they were
/// queued again since they were read (their stamp changed). One statement per distinct stamp (a
/// fleet-wide change queues every device with one stamp), not one per device.
pub fn dequeue(conn: &Connection, entries: &[(String, String)]) -> Result<(), StoreError> {
    let mut by_stamp: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (udid, stamp) in entries {
        by_stamp.entry(stamp.as_str()).or_default().push(udid.as_str());
    }
    let mut stmt = conn.prepare_cached(
        "DELETE FROM policy_evaluation_queue
         WHERE udid IN (SELECT value FROM json_each(?1)) AND enqueued_at = ?2",
    )?;
    for (stamp, udids) in by_stamp {
        stmt.execute(params![json_list(&udids), stamp])?;
    }
    Ok(())
}

/// Those of `udids` that are in the queue (after [`dequeue`]: queued again meanwhile).
pub fn still_queued(
    conn: &Connection,
    udids: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM policy_evaluation_queue WHERE udid = ?1")?;
    let mut out = std::collections::HashSet::new();
    for udid in udids {
        if stmt.exists([udid])? {
            out.insert(udid.clone());
        }
    }
    Ok(out)
}

/// One device's evaluated plan and its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    pub udid: String,
    /// The digest of its summary in `plan_summaries` (see [`save_summaries`]).
    pub summary_digest: String,
    pub fingerprint: String,
    /// `declarative`, `legacy` or `none`.
    pub path: String,
    pub target_version: Option<String>,
    pub deadline_utc: Option<String>,
    pub next_change_at: Option<String>,
    /// The kind of device it was decided as (see migration 0022); `None` until evaluated since.
    pub kind: Option<String>,
    pub evaluated_at: String,
    pub delivered_fingerprint: Option<String>,
    pub delivered_path: Option<String>,
    pub delivered_at: Option<String>,
}

#[cfg(test)]
impl PlanRow {
    /// A plan evaluated on 2026-04-07 and not delivered yet (tests).
    pub(crate) fn undelivered(udid: &str, summary_digest: &str, fingerprint: &str) -> PlanRow {
        PlanRow {
            udid: udid.into(),
            summary_digest: summary_digest.into(),
            fingerprint: fingerprint.into(),
            path: "declarative".into(),
            target_version: None,
            deadline_utc: None,
            next_change_at: None,
            kind: None,
            evaluated_at: "2026-04-07T00:00:00.000000Z".into(),
            delivered_fingerprint: None,
            delivered_path: None,
            delivered_at: None,
        }
    }
}

const PLAN_COLUMNS: &str =
    "udid, summary_digest, fingerprint, path, target_version, deadline_utc, next_change_at,
    evaluated_at, delivered_fingerprint, delivered_path, delivered_at, kind";

fn plan_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PlanRow> {
    Ok(PlanRow {
        udid: r.get(0)?,
        summary_digest: r.get(1)?,
        fingerprint: r.get(2)?,
        path: r.get(3)?,
        target_version: r.get(4)?,
        deadline_utc: r.get(5)?,
        next_change_at: r.get(6)?,
        evaluated_at: r.get(7)?,
        delivered_fingerprint: r.get(8)?,
        delivered_path: r.get(9)?,
        delivered_at: r.get(10)?,
        kind: r.get::<_, String>(11).map(|k| (!k.is_empty()).then_some(k))?,
    })
}

pub fn plan(conn: &Connection, udid: &str) -> Result<Option<PlanRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PLAN_COLUMNS} FROM device_plans WHERE udid = ?1"
    ))?;
    Ok(stmt.query_row([udid], plan_row).optional()?)
}

/// Writes an evaluation, keeping what was delivered before.
pub fn save_evaluation(conn: &Connection, plan: &PlanRow) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO device_plans (udid, summary_digest, fingerprint, path, target_version, deadline_utc,
                                   next_change_at, evaluated_at, kind)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (udid) DO UPDATE SET summary_digest = excluded.summary_digest,
             fingerprint = excluded.fingerprint,
             path = excluded.path, target_version = excluded.target_version,
             deadline_utc = excluded.deadline_utc, next_change_at = excluded.next_change_at,
             evaluated_at = excluded.evaluated_at, kind = excluded.kind",
    )?;
    stmt.execute(params![
        plan.udid,
        plan.summary_digest,
        plan.fingerprint,
        plan.path,
        plan.target_version,
        plan.deadline_utc,
        plan.next_change_at,
        plan.evaluated_at,
        plan.kind.as_deref().unwrap_or_default()
    ])?;
    Ok(())
}

/// Stamps a re-evaluation whose decision did not change: only `evaluated_at` moves (what the
/// "device changed" queueing compares with), the rest of the row stays as written. One
/// statement for the whole list.
pub fn touch_evaluations(conn: &Connection, udids: &[String], now: DateTime<Utc>) -> Result<(), StoreError> {
    if udids.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE device_plans SET evaluated_at = ?2 WHERE udid IN (SELECT value FROM json_each(?1))",
    )?
    .execute(params![json_list(udids), sql_time(now)])?;
    Ok(())
}

/// Stores plan summaries (digest, JSON) that are not stored yet.
pub fn save_summaries<'a>(
    conn: &Connection,
    summaries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO plan_summaries (digest, summary) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for (digest, summary) in summaries {
        stmt.execute([digest, summary])?;
    }
    Ok(())
}

/// Every stored summary by digest (a few hundred: one per kind of device and decision).
pub fn summaries(conn: &Connection) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT digest, summary FROM plan_summaries")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the summaries no plan refers to any more; returns how many. One scan of the plans
/// (they have no index by summary: keeping one cost more on every write of a decision than this
/// scan costs the hourly sweep).
pub fn prune_summaries(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM plan_summaries WHERE digest NOT IN (SELECT summary_digest FROM device_plans)",
        [],
    )?)
}

/// Every stored plan, by UDID (for compliance: what each device was told and by when).
pub fn all_plans(conn: &Connection) -> Result<Vec<PlanRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {PLAN_COLUMNS} FROM device_plans ORDER BY udid"))?;
    let rows = stmt.query_map([], plan_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Records that the plan with `fingerprint` reached the device by `path`.
pub fn mark_delivered(
    conn: &Connection,
    udid: &str,
    fingerprint: &str,
    path: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE device_plans SET delivered_fingerprint = ?2, delivered_path = ?3, delivered_at = ?4
         WHERE udid = ?1",
        params![udid, fingerprint, path, sql_time(now)],
    )?;
    Ok(())
}

/// The legacy restrictions profile a device holds: (identifier, fingerprint).
pub fn legacy_profile(conn: &Connection, udid: &str) -> Result<Option<(String, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT identifier, fingerprint FROM legacy_update_profiles WHERE udid = ?1",
            [udid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

pub fn set_legacy_profile(
    conn: &Connection,
    udid: &str,
    identifier: &str,
    fingerprint: &str,
    command_uuid: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO legacy_update_profiles (udid, identifier, fingerprint, command_uuid, installed_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (udid) DO UPDATE SET identifier = excluded.identifier,
             fingerprint = excluded.fingerprint, command_uuid = excluded.command_uuid,
             installed_at = excluded.installed_at",
    )?
    .execute(params![
        udid,
        identifier,
        fingerprint,
        command_uuid,
        sql_time(now)
    ])?;
    Ok(())
}

pub fn clear_legacy_profile(conn: &Connection, udid: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM legacy_update_profiles WHERE udid = ?1")?
        .execute([udid])?
        > 0)
}

/// True when a ScheduleOSUpdate for `target_version` was already sent to the device.
pub fn scheduled_update_sent(
    conn: &Connection,
    udid: &str,
    target_version: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM legacy_scheduled_updates WHERE udid = ?1 AND target_version = ?2",
            params![udid, target_version],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// A ScheduleOSUpdate (and its OSUpdateStatus) queued for a device.
#[derive(Debug, Clone)]
pub struct ScheduledUpdate<'a> {
    pub udid: &'a str,
    pub target_version: &'a str,
    pub target_build: Option<&'a str>,
    pub deadline_utc: DateTime<Utc>,
    pub command_uuid: &'a str,
    pub status_uuid: Option<&'a str>,
}

pub fn record_scheduled_update(
    conn: &Connection,
    update: &ScheduledUpdate<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO legacy_scheduled_updates
             (udid, target_version, target_build, deadline_utc, command_uuid, status_uuid, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        update.udid,
        update.target_version,
        update.target_build,
        sql_time(update.deadline_utc),
        update.command_uuid,
        update.status_uuid,
        sql_time(now)
    ])?;
    Ok(())
}

/// The stored plans of these devices.
pub fn plans_among(conn: &Connection, udids: &[String]) -> Result<Vec<PlanRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PLAN_COLUMNS} FROM device_plans WHERE udid = ?1"
    ))?;
    let mut out = Vec::with_capacity(udids.len());
    for udid in udids {
        if let Some(row) = stmt.query_row([udid], plan_row).optional()? {
            out.push(row);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_summary_is_stored_once_and_deleted_when_no_plan_refers_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let row = |udid: &str, digest: &str| PlanRow::undelivered(udid, digest, "fp");
        store
            .write_blocking(move |c| {
                save_summaries(c, [("d1", "{\"one\":1}"), ("d2", "{\"two\":2}")])?;
                save_summaries(c, [("d1", "{\"one\":1}")])?;
                save_evaluation(c, &row("A", "d1"))?;
                save_evaluation(c, &row("B", "d1"))?;
                save_evaluation(c, &row("C", "d2"))?;
                assert_eq!(summaries(c)?.len(), 2);
                assert_eq!(prune_summaries(c)?, 0, "both are referred to");
                // C's decision changes: d2 is no longer referred to.
                save_summaries(c, [("d3", "{\"three\":3}")])?;
                save_evaluation(c, &row("C", "d3"))?;
                assert_eq!(prune_summaries(c)?, 1);
                let left = summaries(c)?;
                assert_eq!(left.get("d1").map(String::as_str), Some("{\"one\":1}"));
                assert!(left.contains_key("d3") && !left.contains_key("d2"));
                assert_eq!(plan(c, "A")?.map(|p| p.summary_digest).as_deref(), Some("d1"));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_fleet_asked_for_again_while_being_evaluated_stays_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let now = Utc::now();
        store
            .write_blocking(move |c| {
                // The migration's own request (see the inventory test), answered.
                let migrated = pending_request(c, FleetScope::Devices)?.expect("asked for by the migration");
                assert!(clear_request(c, FleetScope::Devices, &migrated)?);
                assert_eq!(pending_request(c, FleetScope::Devices)?, None);
                request(c, FleetScope::Devices, now)?;
                let read = pending_request(c, FleetScope::Devices)?.expect("asked for");
                // The catalog changes again while the run that read the request evaluates.
                request(c, FleetScope::Devices, now)?;
                assert!(
                    !clear_request(c, FleetScope::Devices, &read)?,
                    "a newer request is not cleared"
                );
                let again = pending_request(c, FleetScope::Devices)?.expect("still asked for");
                assert_ne!(again, read);
                assert!(clear_request(c, FleetScope::Devices, &again)?);
                assert_eq!(pending_request(c, FleetScope::Devices)?, None);
                Ok(())
            })
            .unwrap();
    }

    use crate::store::devices::{self, Inventory, fixtures};

    #[test]
    fn a_new_inventory_or_enrollment_queues_the_device_as_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let t0 = Utc::now();
        store
            .write_blocking(move |c| {
                // The migration asks for the whole fleet once (facts changed before it).
                assert!(pending_request(c, FleetScope::Devices)?.is_some());
                let reasons = |c: &Connection| -> Result<Vec<(String, String)>, StoreError> {
                    let mut stmt =
                        c.prepare("SELECT udid, reason FROM policy_evaluation_queue ORDER BY udid")?;
                    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    Ok(rows.collect::<Result<_, _>>()?)
                };
                let pair = |u: &str, r: &str| (u.to_string(), r.to_string());
                fixtures::enrolled(c, "A", t0)?;
                assert_eq!(reasons(c)?, vec![pair("A", "device enrolled")]);
                dequeue(c, &queued(c, 10)?)?;
                // B has authenticated but not enrolled: its inventory queues nothing.
                fixtures::authenticated(c, "B", t0)?;
                let report = Inventory {
                    os_version: Some("26.4".into()),
                    ..Inventory::default()
                };
                let later = t0 + chrono::Duration::minutes(1);
                devices::update_inventory(c, "B", &report, later)?;
                assert!(reasons(c)?.is_empty());
                devices::update_inventory(c, "A", &report, later)?;
                assert_eq!(reasons(c)?, vec![pair("A", "device changed")]);
                // Queued again while being evaluated: the evaluation that read the first entry
                // does not remove the second.
                let read = queued(c, 10)?;
                devices::update_inventory(c, "A", &report, later + chrono::Duration::seconds(1))?;
                dequeue(c, &read)?;
                assert_eq!(queue_len(c)?, 1);
                dequeue(c, &queued(c, 10)?)?;
                use crate::store::ddm;
                const AT: &str = "2026-04-07T00:00:00.000Z";
                ddm::intern_group(c, "shared", &[], AT)?;
                ddm::intern_group(c, "own", &[], AT)?;
                ddm::intern_set(c, "set", "shared", "own", AT)?;
                ddm::put_device(c, "A", "own", "set", AT)?;
                assert!(reasons(c)?.is_empty(), "a set given is not an enrollment");
                ddm::enroll(c, "A", AT)?;
                assert_eq!(
                    reasons(c)?,
                    vec![pair("A", "device enrolled in declarative management")]
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn enrolling_again_forgets_what_was_delivered_before_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let t0 = Utc::now();
        let enroll = fixtures::enrolled;
        let delivered = |c: &Connection, udid: &str| -> Result<Option<String>, StoreError> {
            Ok(plan(c, udid)?.and_then(|p| p.delivered_fingerprint))
        };
        store
            .write_blocking(move |c| {
                for udid in ["A", "B", "D"] {
                    enroll(c, udid, t0)?;
                    save_evaluation(c, &PlanRow::undelivered(udid, "s", "fp"))?;
                    mark_delivered(c, udid, "fp", "legacy", t0)?;
                    set_legacy_profile(c, udid, "orchard.updates", "fp", "cmd", t0)?;
                }
                // A enrolls again; B sends another TokenUpdate within its enrollment.
                let later = t0 + chrono::Duration::minutes(5);
                enroll(c, "A", later)?;
                fixtures::token_update(c, "B", b"new token", later)?;
                assert_eq!(delivered(c, "A")?, None, "A lost its profile when it unenrolled");
                assert_eq!(legacy_profile(c, "A")?, None);
                assert_eq!(delivered(c, "B")?.as_deref(), Some("fp"), "B kept its enrollment");
                assert!(legacy_profile(c, "B")?.is_some());
                // A delivery after the new enrollment is kept.
                mark_delivered(c, "A", "fp", "legacy", later)?;
                assert_eq!(delivered(c, "A")?.as_deref(), Some("fp"));
                // D enrolls in declarative management: what it was given over MDM is delivered
                // again (the engine decides by which path); its MDM profile record stays.
                use crate::store::ddm;
                const AT: &str = "2026-04-07T00:00:00.000Z";
                ddm::intern_group(c, "shared", &[], AT)?;
                ddm::intern_group(c, "own", &[], AT)?;
                ddm::intern_set(c, "set", "shared", "own", AT)?;
                ddm::put_device(c, "D", "own", "set", AT)?;
                ddm::enroll(c, "D", AT)?;
                assert_eq!(delivered(c, "D")?, None);
                assert!(legacy_profile(c, "D")?.is_some());
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_device_queued_again_while_being_evaluated_stays_queued() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let now = Utc::now();
        store
            .write_blocking(|c| {
                let a = vec!["A".to_string()];
                enqueue(c, &a, "policy saved", now)?;
                let read = queued(c, 10)?;
                assert_eq!(read.len(), 1);
                // A group change queues it again while the first evaluation runs.
                enqueue(c, &a, "group changed", now)?;
                dequeue(c, &read)?;
                assert_eq!(queue_len(c)?, 1, "the second event is not lost");
                let again = queued(c, 10)?;
                dequeue(c, &again)?;
                assert_eq!(queue_len(c)?, 0);
                Ok(())
            })
            .unwrap();
    }
}
