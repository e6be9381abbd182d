//! One decision per kind of device, not per device. An evaluation reads of a device only its
//! groups, the policies reaching it, and its model, OS, build, supervision and declarative
//! enrolment ([`DecisionKey`]); devices alike in all of these get the same plan, the same
//! declaration set and the same stored summary. A fleet of 100,000 devices has a few hundred such
//! kinds, so the planner, the declaration sets and the summary JSON are built once per kind.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, Utc};
use sha2::{Digest, Sha256};

use super::StoredPlan;
use super::phases::PhaseTimes;
use super::wants::{self, Want};
use crate::catalog::{Build, CatalogIndex, OsVersion};
use crate::policy::book::{DeviceRecord, PolicyBook, Reach};
use crate::policy::service::PlanSummary;
use crate::store::policies::plans::PlanRow;
use crate::store::sql_time;

/// Everything [`PolicyBook::evaluate_reached`], [`wants::want`] and [`wants::legacy_withheld`]
/// read of a device (its UDID, name and serial only decide its groups, which are in the key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DecisionKey {
    groups: Vec<usize>,
    reaches: Vec<Reach>,
    model_identifier: Option<String>,
    software_update_device_id: Option<String>,
    os_version: Option<OsVersion>,
    build: Option<Build>,
    supplemental_extra: Option<char>,
    supervised: bool,
    ddm_enrolled: bool,
}

impl DecisionKey {
    fn of(device: &DeviceRecord, groups: &[usize], reaches: &[Reach]) -> DecisionKey {
        DecisionKey {
            groups: groups.to_vec(),
            reaches: reaches.to_vec(),
            model_identifier: device.model_identifier.clone(),
            software_update_device_id: device.software_update_device_id.clone(),
            os_version: device.os_version,
            build: device.build.clone(),
            supplemental_extra: device.supplemental_extra,
            supervised: device.supervised,
            ddm_enrolled: device.ddm_enrolled,
        }
    }
}

/// The kind of device, as stored with its plan: a digest of everything in [`DecisionKey`], with
/// groups and policies named by their database ids (which outlive this book), so that a later run
/// can tell whether a stored kind still holds (see `kinds.rs`). Two devices deciding alike in one
/// book have the same kind, and devices of one kind decide alike in any book.
pub fn kind_of(book: &PolicyBook, device: &DeviceRecord, groups: &[usize], reaches: &[Reach]) -> String {
    let groups: Vec<i64> = groups.iter().map(|&g| book.groups[g].id).collect();
    let reaches: Vec<(i64, Option<i64>)> = reaches
        .iter()
        .map(|r| (book.policies[r.policy].id, r.via_group.map(|g| book.groups[g].id)))
        .collect();
    let text = format!(
        "{groups:?}|{reaches:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}",
        device.model_identifier,
        device.software_update_device_id,
        device.os_version,
        device.build,
        device.supplemental_extra,
        device.supervised,
        device.ddm_enrolled
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// What devices of one kind are to be told, and the plan row fields they store.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// [`kind_of`] the devices it was decided for.
    pub kind: String,
    pub want: Want,
    /// [`Want::fingerprint`].
    pub fingerprint: String,
    /// [`StoredPlan`] as JSON.
    pub summary: String,
    /// SHA-256 (hex) of `summary`: how plan rows refer to it.
    pub summary_digest: String,
    pub target_version: Option<String>,
    pub deadline_utc: Option<String>,
    pub next_change_at: Option<String>,
}

impl Decision {
    /// The plan row of a device decided so (not delivered yet: [`plans::save_evaluation`] and
    /// the kind update keep what was delivered).
    ///
    /// [`plans::save_evaluation`]: crate::store::policies::plans::save_evaluation
    pub fn row(&self, udid: &str, evaluated_at: &str) -> PlanRow {
        PlanRow {
            udid: udid.to_string(),
            summary_digest: self.summary_digest.clone(),
            fingerprint: self.fingerprint.clone(),
            path: self.want.path().into(),
            target_version: self.target_version.clone(),
            deadline_utc: self.deadline_utc.clone(),
            next_change_at: self.next_change_at.clone(),
            kind: Some(self.kind.clone()),
            evaluated_at: evaluated_at.to_string(),
            delivered_fingerprint: None,
            delivered_path: None,
            delivered_at: None,
        }
    }
}

/// What a batch decides with: the book, the catalog and the moment, the same for every device.
pub struct Context<'a> {
    pub book: &'a PolicyBook,
    pub catalog: &'a CatalogIndex,
    pub utc_offset: FixedOffset,
    pub now: DateTime<Utc>,
}

/// Decisions made so far in a run, by kind of device. A decision holds for one moment: the memo
/// forgets them when asked for another `now`.
#[derive(Default)]
pub struct DecisionMemo {
    now: Option<DateTime<Utc>>,
    decided: HashMap<DecisionKey, Arc<Decision>>,
}

impl DecisionMemo {
    /// The decision for `device`, in `groups` and reached by `reaches` (from the same book).
    pub fn decide(
        &mut self,
        ctx: &Context<'_>,
        device: &DeviceRecord,
        groups: &[usize],
        reaches: &[Reach],
        phases: &mut PhaseTimes,
    ) -> Arc<Decision> {
        if self.now != Some(ctx.now) {
            self.decided.clear();
            self.now = Some(ctx.now);
        }
        let key = DecisionKey::of(device, groups, reaches);
        if let Some(found) = self.decided.get(&key) {
            return found.clone();
        }
        let decision = Arc::new(decide(ctx, device, groups, reaches, phases));
        self.decided.insert(key, decision.clone());
        decision
    }
}

/// Decides for one device, from scratch (the memo's miss path, and the reference its tests
/// compare with).
fn decide(
    ctx: &Context<'_>,
    device: &DeviceRecord,
    groups: &[usize],
    reaches: &[Reach],
    phases: &mut PhaseTimes,
) -> Decision {
    let (book, now) = (ctx.book, ctx.now);
    let step = Instant::now();
    let evaluation = book.evaluate_reached(device, groups, reaches, ctx.catalog, ctx.utc_offset, now);
    let policy = evaluation.policy.map(|i| &book.policies[i].policy);
    let step = phases.lap(step, |p| &mut p.evaluate_plan);
    let want = wants::want(device, &evaluation, policy, now).unwrap_or_else(|e| {
        tracing::warn!(udid = %device.udid, error = %e, "plan cannot be declared; nothing delivered");
        Want::Nothing
    });
    let fingerprint = want.fingerprint();
    phases.lap(step, |p| &mut p.evaluate_want);
    let mut plan = PlanSummary::of(&evaluation);
    if let Some(note) = wants::legacy_withheld(device, evaluation.plan.as_ref()) {
        plan.add_note(note);
    }
    let stored = StoredPlan {
        policy: policy.map(|p| p.display_name()),
        ring: evaluation.ring.clone(),
        conflicts: evaluation.conflicts.iter().map(|c| c.to_string()).collect(),
        plan,
    };
    let summary = serde_json::to_string(&stored).unwrap_or_default();
    Decision {
        kind: kind_of(book, device, groups, reaches),
        want,
        fingerprint,
        summary_digest: hex::encode(Sha256::digest(summary.as_bytes())),
        summary,
        target_version: stored.plan.target_version.clone(),
        deadline_utc: stored.plan.deadline_utc.map(sql_time),
        next_change_at: wants::next_change(evaluation.plan.as_ref(), ctx.utc_offset, now).map(sql_time),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use chrono::{NaiveTime, TimeZone};

    use super::*;
    use crate::catalog::sample_tests::sample_index;
    use crate::policy::book::{BookGroup, BookPolicy};
    use crate::policy::groups::{Group, GroupRules};
    use crate::policy::model::{BsiPolicy, Enforcement, MajorPolicy, Policy, RollingWindow};
    use crate::policy::rings::RingSchedule;
    use crate::protocol::ddm::{Platform, SoftwareUpdateSettings};

    fn book() -> PolicyBook {
        let rolling = Policy {
            name: "rolling".into(),
            label: "Rolling".into(),
            platforms: vec![Platform::Ios, Platform::MacOs],
            priority: 1,
            enforcement: Enforcement::Rolling {
                within: RollingWindow::OneWeek,
                at: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            },
            bsi: BsiPolicy::None,
            settings: SoftwareUpdateSettings::default(),
            majors: MajorPolicy::default(),
        };
        let group = |id, name: &str, order, members: &[&str]| BookGroup {
            id,
            group: Group::new(name, order, GroupRules::default()),
            members: members.iter().map(|m| m.to_string()).collect::<HashSet<_>>(),
        };
        let everyone = BookGroup {
            id: 3,
            group: Group::new(
                "Late",
                Some(4),
                GroupRules {
                    platforms: vec![Platform::Ios, Platform::MacOs],
                    ..GroupRules::default()
                },
            ),
            members: HashSet::new(),
        };
        PolicyBook::new(
            vec![BookPolicy {
                id: 1,
                policy: rolling,
            }],
            vec![group(2, "Vanguard", Some(1), &["V-IPHONE", "V-MAC"]), everyone],
            Vec::new(),
            vec![(1, 2), (1, 3)],
            Vec::new(),
            RingSchedule {
                offset_days: BTreeMap::from([("Vanguard".into(), 0), ("Late".into(), 7)]),
                ..RingSchedule::default()
            },
        )
    }

    fn device(
        udid: &str,
        model: &str,
        os: Option<&str>,
        build: &str,
        supervised: bool,
        ddm: bool,
    ) -> DeviceRecord {
        DeviceRecord {
            udid: udid.into(),
            serial: Some(format!("S-{udid}")),
            model_identifier: Some(model.into()),
            os_version: os.map(|v| v.parse().unwrap()),
            build: build.parse().ok(),
            supervised,
            ddm_enrolled: ddm,
            ..DeviceRecord::default()
        }
    }

    /// Every device gets from the memo exactly what deciding it alone gives, devices alike share
    /// one decision, and each fact in the key changes the decision where it matters.
    #[test]
    fn the_memo_gives_each_device_what_deciding_it_alone_gives() {
        let book = book();
        let catalog = sample_index();
        let ctx = Context {
            book: &book,
            catalog: &catalog,
            utc_offset: FixedOffset::east_opt(0).unwrap(),
            now: Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap(),
        };
        let fleet = [
            device("V-IPHONE", "iPhone14,2", Some("26.3.1"), "23D8133", true, true),
            device("IPHONE-1", "iPhone14,2", Some("26.3.1"), "23D8133", true, true),
            device("IPHONE-2", "iPhone14,2", Some("26.3.1"), "23D8133", true, true),
            device(
                "IPHONE-CURRENT",
                "iPhone14,2",
                Some("26.4.1"),
                "23E254",
                true,
                true,
            ),
            device(
                "IPHONE-LEGACY",
                "iPhone14,2",
                Some("26.3.1"),
                "23D8133",
                true,
                false,
            ),
            device(
                "IPHONE-UNSUP",
                "iPhone14,2",
                Some("26.3.1"),
                "23D8133",
                false,
                false,
            ),
            device("V-MAC", "Mac14,9", Some("26.3"), "25D125", true, false),
            device("MAC-1", "Mac14,9", Some("26.3"), "25D125", true, false),
            device("MAC-2", "Mac14,9", Some("26.3"), "25D125", true, false),
            device("MAC-UNSUP", "Mac14,9", Some("26.3"), "25D125", false, false),
            device("NO-OS", "iPhone14,2", None, "", true, true),
            device("UNKNOWN-MODEL", "Watch7,1", Some("26.3"), "23D8133", true, true),
        ];
        let mut memo = DecisionMemo::default();
        let mut phases = PhaseTimes::default();
        let mut got = HashMap::new();
        for d in &fleet {
            let groups = book.groups_of(d);
            let reaches = book.reaching(d, &groups);
            let shared = memo.decide(&ctx, d, &groups, &reaches, &mut phases);
            let alone = decide(&ctx, d, &groups, &reaches, &mut phases);
            assert_eq!(*shared, alone, "{}", d.udid);
            got.insert(d.udid.as_str(), shared);
        }
        assert_eq!(
            memo.decided.len(),
            fleet.len() - 2,
            "IPHONE-2 and MAC-2 reuse a decision"
        );
        assert!(Arc::ptr_eq(&got["IPHONE-1"], &got["IPHONE-2"]));
        let differ = |a: &str, b: &str| assert_ne!(got[a], got[b], "{a} and {b}");
        differ("V-IPHONE", "IPHONE-1"); // the ring (groups)
        differ("IPHONE-1", "IPHONE-CURRENT"); // OS version and build
        differ("IPHONE-1", "IPHONE-LEGACY"); // declarative enrolment
        differ("IPHONE-LEGACY", "IPHONE-UNSUP"); // supervision
        differ("V-MAC", "MAC-1");
        differ("MAC-1", "MAC-UNSUP");
        differ("IPHONE-1", "MAC-1"); // the model
        differ("IPHONE-1", "NO-OS");

        // Another moment: decided afresh.
        let later = Context {
            now: ctx.now + chrono::Duration::days(20),
            ..ctx
        };
        let d = &fleet[1];
        let groups = book.groups_of(d);
        let reaches = book.reaching(d, &groups);
        let shared = memo.decide(&later, d, &groups, &reaches, &mut phases);
        let alone = decide(&later, d, &groups, &reaches, &mut phases);
        assert_eq!(*shared, alone);
        assert_eq!(memo.decided.len(), 1);
    }
}
