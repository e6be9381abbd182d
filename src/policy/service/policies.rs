//! Policies: list, read, save (validated against the live catalog and clock), delete, preview.

use std::collections::{BTreeSet, HashSet};

use serde_json::json;

use super::change::Change;
use super::loading::{build_book, parse_policy, read_book_rows_without_members};
use super::views::{
    AssignedGroup, Assignments, PlanSummary, PolicyDetail, PolicySummary, Preview, PreviewRow, SavedPolicy,
};
use super::{PolicyError, PolicyService};
use crate::admin::Actor;
use crate::policy::book::{DeviceRecord, PolicyBook};
use crate::policy::validate::{Problem, Severity, ValidationContext, acceptable, validate};
use crate::policy::{Policy, resolve};
use crate::store::policies as policy_store;

/// The devices (indices into `devices`) a policy reaches through its groups or directly.
fn reached(
    book: &PolicyBook,
    policy: usize,
    devices: &[DeviceRecord],
    memberships: &[Vec<usize>],
) -> Vec<usize> {
    let groups: HashSet<usize> = book.groups_of_policy(policy).into_iter().collect();
    let direct: HashSet<String> = book.devices_of_policy(policy).into_iter().collect();
    (0..devices.len())
        .filter(|&d| direct.contains(&devices[d].udid) || memberships[d].iter().any(|g| groups.contains(g)))
        .collect()
}

fn memberships(book: &PolicyBook, devices: &[DeviceRecord]) -> Vec<Vec<usize>> {
    devices.iter().map(|d| book.groups_of(d)).collect()
}

impl PolicyService {
    /// Every policy with its assignments, device counts and conflicts.
    pub async fn list_policies(&self) -> Result<Vec<PolicySummary>, PolicyError> {
        let (book, devices) = self.book_and_devices().await?;
        let updated: std::collections::HashMap<String, String> = self
            .store
            .read(|c| {
                Ok(policy_store::list(c)?
                    .into_iter()
                    .map(|r| (r.name, r.updated_at))
                    .collect())
            })
            .await?;
        let member_of = memberships(&book, &devices);
        let mut effective = vec![0usize; book.policies.len()];
        let mut conflicts: Vec<BTreeSet<String>> = vec![BTreeSet::new(); book.policies.len()];
        for (d, device) in devices.iter().enumerate() {
            let Some(platform) = device.platform() else {
                continue;
            };
            let reaches = book.reaching(device, &member_of[d]);
            let assigned: Vec<_> = reaches.iter().map(|r| &book.policies[r.policy].policy).collect();
            match resolve(&assigned, platform) {
                Ok(Some(p)) => {
                    if let Some(i) = book.policy_index(&p.name) {
                        effective[i] += 1;
                    }
                }
                Ok(None) => {}
                Err(conflict) => {
                    for r in &reaches {
                        let p = &book.policies[r.policy].policy;
                        if conflict.policies.contains(&p.display_name()) {
                            conflicts[r.policy].insert(conflict.to_string());
                        }
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(book.policies.len());
        for (i, entry) in book.policies.iter().enumerate() {
            let p = &entry.policy;
            let covers = |d: &DeviceRecord| d.platform().is_some_and(|pl| p.covers(pl));
            let groups = book
                .groups_of_policy(i)
                .into_iter()
                .map(|g| {
                    let members: Vec<&DeviceRecord> = (0..devices.len())
                        .filter(|&d| member_of[d].contains(&g))
                        .map(|d| &devices[d])
                        .collect();
                    AssignedGroup {
                        name: book.groups[g].group.name.clone(),
                        ring_order: book.groups[g].group.ring_order,
                        devices: members.len(),
                        covered_devices: members.iter().filter(|d| covers(d)).count(),
                    }
                })
                .collect();
            let covered = reached(&book, i, &devices, &member_of)
                .into_iter()
                .filter(|&d| covers(&devices[d]))
                .count();
            out.push(PolicySummary {
                name: p.name.clone(),
                label: p.label.clone(),
                mode: p.enforcement.mode_name(),
                platforms: p.platforms.clone(),
                priority: p.priority,
                groups,
                devices: book.devices_of_policy(i),
                covered_devices: covered,
                effective_devices: effective[i],
                conflicts: conflicts[i].iter().cloned().collect(),
                takes_effect_on_no_device: covered == 0,
                updated_at: updated.get(&p.name).cloned().unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// One policy with its assignments; `None` when no policy has that name.
    pub async fn get_policy(&self, name: &str) -> Result<Option<PolicyDetail>, PolicyError> {
        let wanted = name.to_string();
        // Its groups and devices come from the assignments: no static member is needed.
        let rows = self.store.read(read_book_rows_without_members).await?;
        let Some(row) = rows.policies.iter().find(|r| r.name == wanted).cloned() else {
            return Ok(None);
        };
        let policy = parse_policy(&row)?;
        let book = build_book(rows)?;
        let index = book.policy_index(name).unwrap_or(0);
        let assignments = Assignments {
            groups: book
                .groups_of_policy(index)
                .into_iter()
                .map(|g| book.groups[g].group.name.clone())
                .collect(),
            devices: book.devices_of_policy(index),
        };
        let notes = self
            .validate(&policy)
            .into_iter()
            .filter(|p| p.severity == Severity::NotApplicable)
            .collect();
        Ok(Some(PolicyDetail {
            policy,
            assignments,
            notes,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    /// Every problem of `policy` against the catalog and the site's clock now.
    pub fn validate(&self, policy: &Policy) -> Vec<Problem> {
        let snapshot = self.catalog.snapshot();
        validate(
            policy,
            &ValidationContext {
                catalog: &snapshot.index,
                now_local: self.now_local(),
            },
        )
    }

    /// Group indices and device UDIDs named by `assignments`; unknown names are problems.
    async fn resolve_assignments(
        &self,
        book: &PolicyBook,
        assignments: &Assignments,
        problems: &mut Vec<Problem>,
    ) -> Result<(Vec<usize>, Vec<String>), PolicyError> {
        let mut groups = Vec::new();
        for name in &assignments.groups {
            match book.group_index(name) {
                Some(g) if !groups.contains(&g) => groups.push(g),
                Some(_) => {}
                None => problems.push(error(
                    "assignments.groups",
                    format!("there is no group named `{name}`"),
                )),
            }
        }
        let mut wanted: Vec<String> = assignments.devices.iter().map(|u| u.trim().to_string()).collect();
        wanted.sort();
        wanted.dedup();
        let asked = wanted.clone();
        let known: HashSet<String> = self
            .store
            .read(move |c| policy_store::known_devices(c, &asked))
            .await?
            .into_iter()
            .collect();
        for udid in wanted.iter().filter(|u| !known.contains(*u)) {
            problems.push(error("assignments.devices", format!("there is no device {udid}")));
        }
        wanted.retain(|u| known.contains(u));
        Ok((groups, wanted))
    }

    /// Creates (`original_name` `None`) or replaces a policy and its assignments, audited as
    /// `actor`, and queues every device it reached before or reaches now. Invalid input is
    /// refused with every problem and nothing is saved.
    pub async fn save_policy(
        &self,
        original_name: Option<&str>,
        policy: Policy,
        assignments: Assignments,
        actor: &Actor,
    ) -> Result<SavedPolicy, PolicyError> {
        let mut problems = self.validate(&policy);
        let (book, devices) = self.book_and_devices().await?;
        let (groups, udids) = self
            .resolve_assignments(&book, &assignments, &mut problems)
            .await?;
        let original = match original_name {
            Some(name) => Some(book.policy_index(name).ok_or_else(|| PolicyError::NotFound {
                what: "policy",
                name: name.to_string(),
            })?),
            None => None,
        };
        let clash = book.policy_index(policy.name.trim());
        if clash.is_some() && clash != original {
            problems.push(error(
                "name",
                format!("a policy named `{}` already exists", policy.name.trim()),
            ));
        }
        if !acceptable(&problems) {
            return Err(PolicyError::Invalid(problems));
        }
        let mut policy = policy;
        policy.name = policy.name.trim().to_string();
        let member_of = memberships(&book, &devices);
        let mut affected: BTreeSet<String> = BTreeSet::new();
        if let Some(i) = original {
            affected.extend(
                reached(&book, i, &devices, &member_of)
                    .into_iter()
                    .map(|d| devices[d].udid.clone()),
            );
        }
        let (candidate, index) = book.with_candidate(original_name, policy.clone(), &groups, &udids);
        affected.extend(
            reached(&candidate, index, &devices, &member_of)
                .into_iter()
                .map(|d| devices[d].udid.clone()),
        );
        let before = original.map(|i| serde_json::to_value(&book.policies[i].policy).unwrap_or_default());
        let document = serde_json::to_string(&policy).map_err(|e| PolicyError::Corrupt {
            what: "policy",
            name: policy.name.clone(),
            message: e.to_string(),
        })?;
        let group_ids: Vec<i64> = groups.iter().map(|&g| book.groups[g].id).collect();
        let original_id = original.map(|i| book.policies[i].id);
        let name = policy.name.clone();
        let queued = affected.len();
        let change = Change {
            target: format!("policy:{name}"),
            before,
            after: Some(
                json!({"policy": &policy, "assignments": {"groups": &assignments.groups, "devices": &udids}}),
            ),
            affected: affected.into_iter().collect(),
            reason: format!("policy {name} saved"),
        };
        self.commit_change(actor, change, move |tx, now| {
            let (id, action) = match original_id {
                Some(id) => {
                    policy_store::update(tx, id, &name, &document, now)?;
                    (id, "policy.update")
                }
                None => (policy_store::insert(tx, &name, &document, now)?, "policy.create"),
            };
            policy_store::set_assignments(tx, id, &group_ids, &udids)?;
            Ok(action)
        })
        .await?;
        Ok(SavedPolicy {
            name: policy.name.clone(),
            notes: problems
                .into_iter()
                .filter(|p| p.severity == Severity::NotApplicable)
                .collect(),
            queued_devices: queued,
        })
    }

    /// Deletes a policy; the devices it reached are queued for re-evaluation.
    pub async fn delete_policy(&self, name: &str, actor: &Actor) -> Result<(), PolicyError> {
        let (book, devices) = self.book_and_devices().await?;
        let index = book.policy_index(name).ok_or_else(|| PolicyError::NotFound {
            what: "policy",
            name: name.to_string(),
        })?;
        let member_of = memberships(&book, &devices);
        let affected: Vec<String> = reached(&book, index, &devices, &member_of)
            .into_iter()
            .map(|d| devices[d].udid.clone())
            .collect();
        let id = book.policies[index].id;
        let change = Change {
            target: format!("policy:{name}"),
            before: serde_json::to_value(&book.policies[index].policy).ok(),
            after: None,
            affected,
            reason: format!("policy {name} deleted"),
        };
        self.commit_change(actor, change, move |tx, _| {
            policy_store::delete(tx, id)?;
            Ok("policy.delete")
        })
        .await
    }

    /// What each device the policy would reach would get if it were saved with these
    /// assignments, and when. Nothing is saved.
    pub async fn preview(&self, policy: &Policy, assignments: &Assignments) -> Result<Preview, PolicyError> {
        let mut problems = self.validate(policy);
        let (book, devices) = self.book_and_devices().await?;
        let (groups, udids) = self
            .resolve_assignments(&book, assignments, &mut problems)
            .await?;
        let original = book.policy_index(&policy.name).map(|_| policy.name.as_str());
        let (candidate, index) = book.with_candidate(original, policy.clone(), &groups, &udids);
        let snapshot = self.catalog.snapshot();
        let now = self.clock.now();
        let member_of = memberships(&candidate, &devices);
        let mut rows = Vec::new();
        for d in reached(&candidate, index, &devices, &member_of) {
            let device = &devices[d];
            if !device.platform().is_some_and(|p| policy.covers(p)) {
                continue;
            }
            let reaches = candidate.reaching(device, &member_of[d]);
            let evaluation = candidate.evaluate_reached(
                device,
                &member_of[d],
                &reaches,
                &snapshot.index,
                self.utc_offset,
                now,
            );
            let note = match evaluation.policy {
                Some(i) if i == index => None,
                Some(i) => Some(format!(
                    "policy {} has a higher priority on this device",
                    candidate.policies[i].policy.display_name()
                )),
                None => evaluation.why_not.clone(),
            };
            rows.push(PreviewRow {
                udid: device.udid.clone(),
                name: device.name.clone(),
                platform: device.platform(),
                plan: PlanSummary::of(&evaluation),
                note,
            });
        }
        Ok(Preview { rows, problems })
    }
}

fn error(field: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        severity: Severity::Error,
        message,
    }
}
