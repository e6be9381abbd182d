//! The ring calendar and the default rings.

use serde_json::json;

use super::loading::{parse_schedule, read_book_rows_without_members};
use super::views::DefaultsOutcome;
use super::{PolicyError, PolicyService};
use crate::admin::{Actor, audit};
use crate::policy::groups::GroupKind;
use crate::policy::validate::{Problem, Severity, acceptable};
use crate::policy::{RingSchedule, default_rings, validate_schedule};
use crate::store::StoreError;
use crate::store::groups::{self as group_store, GroupFields};
use crate::store::policies::{self as policy_store, plans};

impl PolicyService {
    /// The appliance-wide ring calendar (the default when none was saved).
    pub async fn ring_schedule(&self) -> Result<RingSchedule, PolicyError> {
        let text = self.store.read(policy_store::ring_schedule).await?;
        parse_schedule(text.as_deref())
    }

    /// Saves the ring calendar after validation (every weekday blocked, an inverted window, an
    /// offset out of range or for a group that is not a ring are refused); every managed
    /// device is queued, since deadlines may move.
    pub async fn save_ring_schedule(&self, schedule: RingSchedule, actor: &Actor) -> Result<(), PolicyError> {
        let mut problems = validate_schedule(&schedule);
        let rows = self.store.read(read_book_rows_without_members).await?;
        for ring in schedule.offset_days.keys() {
            let is_ring = rows
                .groups
                .iter()
                .any(|g| &g.name == ring && g.ring_order.is_some());
            if !is_ring {
                problems.push(Problem {
                    field: format!("offset_days.{ring}"),
                    severity: Severity::Error,
                    message: format!("there is no ring named `{ring}`"),
                });
            }
        }
        if !acceptable(&problems) {
            return Err(PolicyError::Invalid(problems));
        }
        let before = parse_schedule(rows.schedule.as_deref()).ok();
        let document = serde_json::to_string(&schedule).map_err(|e| PolicyError::Corrupt {
            what: "ring schedule",
            name: "rings".into(),
            message: e.to_string(),
        })?;
        let now = self.clock.now();
        let actor = actor.clone();
        self.store
            .write(move |conn| {
                let tx = conn.transaction()?;
                policy_store::set_ring_schedule(&tx, &document, now)?;
                audit::record(
                    &tx,
                    &actor,
                    now,
                    "rings.schedule.update",
                    "rings",
                    before.map(|b| json!(b)),
                    Some(json!(schedule)),
                )?;
                plans::request(&tx, plans::FleetScope::Kinds, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.notify_queued();
        Ok(())
    }

    /// Creates the four default ring groups (Vanguard, Early Adopter, General Adoption, Late
    /// Adoption) and their iOS/iPadOS and macOS policies, assigned to them. Idempotent: what
    /// exists already (by name) is left as it is and reported as already present.
    pub async fn load_default_rings(&self, actor: &Actor) -> Result<DefaultsOutcome, PolicyError> {
        let rings = default_rings();
        let mut documents = Vec::new();
        for ring in &rings {
            for p in &ring.policies {
                let text = serde_json::to_string(p).map_err(|e| PolicyError::Corrupt {
                    what: "policy",
                    name: p.name.clone(),
                    message: e.to_string(),
                })?;
                documents.push((ring.name, p.name.clone(), text));
            }
        }
        let now = self.clock.now();
        let actor = actor.clone();
        let outcome = self
            .store
            .write(move |conn| {
                let tx = conn.transaction()?;
                let mut outcome = DefaultsOutcome::default();
                for (order, ring) in rings.iter().enumerate() {
                    let label = format!("group {}", ring.name);
                    if group_store::get(&tx, ring.name)?.is_some() {
                        outcome.already_present.push(label);
                        continue;
                    }
                    let description = format!(
                        "Deployment ring: updates deferred {} days, then enforced {} days later",
                        ring.deferral_days, ring.deadline_days
                    );
                    let fields = GroupFields {
                        name: ring.name,
                        description: &description,
                        kind: GroupKind::Static.as_str(),
                        rules: "{}",
                        ring_order: i64::try_from(order + 1).ok(),
                    };
                    group_store::insert(&tx, &fields, now)?;
                    outcome.created.push(label);
                }
                for (ring, name, document) in &documents {
                    let label = format!("policy {name}");
                    if policy_store::get(&tx, name)?.is_some() {
                        outcome.already_present.push(label);
                        continue;
                    }
                    let id = policy_store::insert(&tx, name, document, now)?;
                    let group = group_store::get(&tx, ring)?.ok_or(StoreError::NotFound)?;
                    policy_store::assign_group(&tx, id, group.id)?;
                    outcome.created.push(label);
                }
                if !outcome.created.is_empty() {
                    audit::record(
                        &tx,
                        &actor,
                        now,
                        "policy.defaults.load",
                        "rings",
                        None,
                        Some(json!({"created": outcome.created})),
                    )?;
                }
                tx.commit()?;
                Ok(outcome)
            })
            .await?;
        Ok(outcome)
    }
}
