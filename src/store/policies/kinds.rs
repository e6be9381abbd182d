//! Plans by kind of device (migration 0022): devices that decide alike share a kind, stored on
//! each plan row, so that a change reaching every device alike is decided once per kind and
//! written with one statement per kind.

use rusqlite::{Connection, params};

use super::plans::PlanRow;
use crate::store::StoreError;

/// A stored kind: how many devices it has, and one of them (the smallest UDID) not queued for
/// its own evaluation, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKind {
    pub kind: String,
    pub representative: Option<String>,
    pub devices: usize,
}

/// Every stored kind (devices without one, `''`, are not in any).
pub fn kinds(conn: &Connection) -> Result<Vec<StoredKind>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, min(udid) FILTER (WHERE udid NOT IN (SELECT udid FROM policy_evaluation_queue)),
                count(*)
         FROM device_plans WHERE kind > '' GROUP BY kind",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredKind {
            kind: r.get(0)?,
            representative: r.get(1)?,
            devices: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The devices of `kind`.
pub fn devices_of_kind(conn: &Connection, kind: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT udid FROM device_plans WHERE kind = ?1 ORDER BY udid")?;
    let rows = stmt.query_map([kind], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The devices of a kind whose stored decision is not `decided` (everything but its UDID and
/// delivery), leaving out devices queued for their own evaluation (their facts changed: they
/// are decided on their own), each with the fingerprint it was last delivered: the devices
/// [`decide_kind`] writes.
pub fn differing(conn: &Connection, decided: &PlanRow) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT udid, delivered_fingerprint FROM device_plans WHERE {DIFFERING} ORDER BY udid"
    ))?;
    let rows = stmt.query_map(decision_params(decided), |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rows of kind ?1 not holding the decision ?2..?7 and not queued.
const DIFFERING: &str = "kind = ?1
    AND (summary_digest IS NOT ?2 OR fingerprint IS NOT ?3 OR path IS NOT ?4
         OR target_version IS NOT ?5 OR deadline_utc IS NOT ?6 OR next_change_at IS NOT ?7)
    AND udid NOT IN (SELECT udid FROM policy_evaluation_queue)";

fn decision_params(decided: &PlanRow) -> [&dyn rusqlite::ToSql; 7] {
    [
        &decided.kind,
        &decided.summary_digest,
        &decided.fingerprint,
        &decided.path,
        &decided.target_version,
        &decided.deadline_utc,
        &decided.next_change_at,
    ]
}

/// Writes `decided` to the [`differing`] devices of its kind (read them first: asking the
/// UPDATE for them costs more than the write). With `delivered_at`, the decision has reached
/// every one of them declaratively (their sets were assigned before), and that is recorded in
/// the same statement. Returns how many rows were written.
pub fn decide_kind(
    conn: &Connection,
    decided: &PlanRow,
    delivered_at: Option<&str>,
) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE device_plans
         SET summary_digest = ?2, fingerprint = ?3, path = ?4, target_version = ?5,
             deadline_utc = ?6, next_change_at = ?7, evaluated_at = ?8,
             delivered_path = CASE WHEN ?9 IS NOT NULL AND delivered_fingerprint IS NOT ?3
                                   THEN 'declarative' ELSE delivered_path END,
             delivered_at = CASE WHEN ?9 IS NOT NULL AND delivered_fingerprint IS NOT ?3
                                 THEN ?9 ELSE delivered_at END,
             delivered_fingerprint = CASE WHEN ?9 IS NOT NULL THEN ?3 ELSE delivered_fingerprint END
         WHERE {DIFFERING}"
    ))?;
    let [p1, p2, p3, p4, p5, p6, p7] = decision_params(decided);
    Ok(stmt.execute(params![
        p1,
        p2,
        p3,
        p4,
        p5,
        p6,
        p7,
        decided.evaluated_at,
        delivered_at
    ])?)
}

/// Forgets the kind of the devices in `udids` (no longer enrolled: a decision by kind skips them).
pub fn forget(conn: &Connection, udids: &[String]) -> Result<(), StoreError> {
    if udids.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE device_plans SET kind = ''
         WHERE udid IN (SELECT value FROM json_each(?1)) AND kind <> ''",
    )?
    .execute([crate::store::json_list(udids)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::Store;
    use crate::store::policies::plans;

    fn row(udid: &str, kind: &str, fingerprint: &str) -> PlanRow {
        let mut row = PlanRow::undelivered(udid, "s", fingerprint);
        row.kind = Some(kind.into());
        row
    }

    /// Only the kind's devices whose decision differs are written and returned (with what they
    /// were last given); a queued device and another kind are left alone.
    #[test]
    fn a_decision_by_kind_writes_only_the_kinds_differing_devices_not_queued_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db"), "now").unwrap();
        let now = Utc::now();
        store
            .write_blocking(move |c| {
                for (udid, kind, fp) in [
                    ("A", "k1", "old"),
                    ("B", "k1", "new"),
                    ("C", "k1", "old"),
                    ("D", "k2", "old"),
                ] {
                    plans::save_evaluation(c, &row(udid, kind, fp))?;
                }
                plans::mark_delivered(c, "A", "old", "declarative", now)?;
                plans::enqueue(c, &["C".to_string()], "device changed", now)?;
                let decided = row("", "k1", "new");
                let differs = vec![("A".to_string(), Some("old".to_string()))];
                assert_eq!(differing(c, &decided)?, differs);
                assert_eq!(decide_kind(c, &decided, None)?, 1);
                assert!(differing(c, &decided)?.is_empty());
                let fingerprint = |u: &str| plans::plan(c, u).map(|p| p.unwrap().fingerprint);
                assert_eq!(fingerprint("A")?, "new");
                assert_eq!(fingerprint("C")?, "old", "queued: decided on its own");
                assert_eq!(fingerprint("D")?, "old", "another kind");
                assert_eq!(devices_of_kind(c, "k1")?, vec!["A", "B", "C"]);
                let found = kinds(c)?;
                assert_eq!(found.len(), 2);
                assert_eq!(
                    (found[0].representative.as_deref(), found[0].devices),
                    (Some("A"), 3)
                );
                plans::enqueue(c, &["A".to_string()], "device changed", now)?;
                assert_eq!(
                    kinds(c)?[0].representative.as_deref(),
                    Some("B"),
                    "the smallest UDID not queued (C is queued too)"
                );
                plans::enqueue(c, &["B".to_string()], "device changed", now)?;
                assert_eq!(kinds(c)?[0].representative, None, "every device queued");
                c.execute("DELETE FROM policy_evaluation_queue WHERE udid IN ('A', 'B')", [])?;
                // Delivered declaratively with the decision: recorded in the same statement,
                // and only where the fingerprint changes.
                plans::save_evaluation(c, &row("E", "k1", "old"))?;
                let newer = row("", "k1", "newer");
                assert_eq!(
                    decide_kind(c, &newer, Some("then"))?,
                    3,
                    "A, B and E: C is still queued"
                );
                for u in ["A", "B", "E"] {
                    let plan = plans::plan(c, u)?.unwrap();
                    assert_eq!(plan.delivered_fingerprint.as_deref(), Some("newer"), "{u}");
                    assert_eq!(plan.delivered_at.as_deref(), Some("then"), "{u}");
                }
                assert_eq!(plans::plan(c, "C")?.unwrap().delivered_fingerprint, None);
                forget(c, &["B".to_string()])?;
                assert_eq!(devices_of_kind(c, "k1")?, vec!["A", "C", "E"]);
                Ok(())
            })
            .unwrap();
    }
}
