//! Groups: list, read, save, delete, static members, rule-match previews. Every change queues the
//! devices that were or are in the group.

use std::collections::BTreeSet;

use serde_json::json;

use super::change::Change;
use super::loading::{device_record, read_book_rows_for};
use super::membership::{resolve, with_new_id};
use super::views::{GroupDetail, GroupSummary, MemberView};
use super::{PolicyError, PolicyService};
use crate::admin::{Actor, audit};
use crate::policy::book::{DeviceRecord, PolicyBook};
use crate::policy::groups::{Group, GroupKind, GroupRules, validate_group};
use crate::policy::validate::acceptable;
use crate::store::groups::{self as group_store, GroupFields};
use crate::store::membership as membership_store;
use crate::store::policies::{self as policy_store, plans};

/// Most UDIDs accepted in one membership change.
pub const MAX_MEMBERS_PER_CHANGE: usize = 10_000;

fn members_of(book: &PolicyBook, group: usize, devices: &[DeviceRecord]) -> Vec<String> {
    devices
        .iter()
        .filter(|d| book.is_member(group, d))
        .map(|d| d.udid.clone())
        .collect()
}

fn policy_names(book: &PolicyBook, group: usize) -> Vec<String> {
    let mut names: Vec<String> = book
        .policies_of_group(group)
        .iter()
        .map(|&p| book.policies[p].policy.name.clone())
        .collect();
    names.sort();
    names
}

impl PolicyService {
    /// Every group (rings first, in order) with its current device count and policies.
    pub async fn list_groups(&self) -> Result<Vec<GroupSummary>, PolicyError> {
        let (book, devices) = self.book_and_devices().await?;
        Ok((0..book.groups.len())
            .map(|g| {
                let group = &book.groups[g].group;
                GroupSummary {
                    id: book.groups[g].id,
                    name: group.name.clone(),
                    description: group.description.clone(),
                    kind: group.kind,
                    ring_order: group.ring_order,
                    devices: devices.iter().filter(|d| book.is_member(g, d)).count(),
                    policies: policy_names(&book, g),
                }
            })
            .collect())
    }

    /// One group with its static members; `None` when no group has that name.
    pub async fn get_group(&self, name: &str) -> Result<Option<GroupDetail>, PolicyError> {
        let (book, devices) = self.book_and_devices().await?;
        let Some(g) = book.group_index(name) else {
            return Ok(None);
        };
        let wanted = name.to_string();
        let (row, members) = self
            .store
            .read(move |c| {
                let row = group_store::get(c, &wanted)?;
                let members = match &row {
                    Some(r) => group_store::members(c, r.id)?,
                    None => Vec::new(),
                };
                Ok((row, members))
            })
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let by_udid: std::collections::HashMap<&str, &DeviceRecord> =
            devices.iter().map(|d| (d.udid.as_str(), d)).collect();
        let static_members = members
            .into_iter()
            .map(|udid| {
                let device = by_udid.get(udid.as_str()).copied();
                MemberView {
                    name: device.and_then(|d| d.name.clone()),
                    serial: device.and_then(|d| d.serial.clone()),
                    enrolled: device.is_some(),
                    udid,
                }
            })
            .collect();
        Ok(Some(GroupDetail {
            group: book.groups[g].group.clone(),
            static_members,
            devices: members_of(&book, g, &devices).len(),
            policies: policy_names(&book, g),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    /// How many enrolled devices `rules` match now (the form's live count).
    pub async fn rule_match_count(&self, rules: &GroupRules) -> Result<usize, PolicyError> {
        let (_, devices) = self.book_and_devices().await?;
        Ok(devices.iter().filter(|d| rules.matches(&d.facts())).count())
    }

    /// Creates (`original_name` `None`) or replaces a group. Static members stay with the group
    /// across renames; changing a static group to rules keeps them stored but unused.
    pub async fn save_group(
        &self,
        original_name: Option<&str>,
        group: Group,
        actor: &Actor,
    ) -> Result<(), PolicyError> {
        let mut group = group;
        group.name = group.name.trim().to_string();
        let mut problems = validate_group(&group);
        let (book, devices) = self.book_and_devices().await?;
        let original = match original_name {
            Some(name) => Some(book.group_index(name).ok_or_else(|| PolicyError::NotFound {
                what: "group",
                name: name.to_string(),
            })?),
            None => None,
        };
        let clash = book.group_index(&group.name);
        if clash.is_some() && clash != original {
            problems.push(crate::policy::Problem {
                field: "name".into(),
                severity: crate::policy::Severity::Error,
                message: format!("a group named `{}` already exists", group.name),
            });
        }
        if !acceptable(&problems) {
            return Err(PolicyError::Invalid(problems));
        }
        let mut affected: BTreeSet<String> = BTreeSet::new();
        if let Some(g) = original {
            affected.extend(members_of(&book, g, &devices));
        }
        let mut after_book = book.clone();
        let index = match original {
            Some(g) => {
                after_book.groups[g].group = group.clone();
                g
            }
            None => {
                after_book.groups.push(crate::policy::book::BookGroup {
                    id: -1,
                    group: group.clone(),
                    members: Default::default(),
                });
                after_book.groups.len() - 1
            }
        };
        affected.extend(members_of(&after_book, index, &devices));
        // The affected devices' groups and ring after the change, stored with it.
        let mut resolved = resolve(&after_book, devices.iter().filter(|d| affected.contains(&d.udid)));
        let rules = serde_json::to_string(&group.rules).map_err(|e| PolicyError::Corrupt {
            what: "group",
            name: group.name.clone(),
            message: e.to_string(),
        })?;
        let before = original.map(|g| json!(book.groups[g].group));
        let original_id = original.map(|g| book.groups[g].id);
        let after = json!(group);
        let change = Change {
            target: format!("group:{}", group.name),
            before,
            after: Some(after),
            affected: affected.into_iter().collect(),
            reason: format!("group {} changed", group.name),
        };
        self.commit_change(actor, change, move |tx, now| {
            let fields = GroupFields {
                name: &group.name,
                description: &group.description,
                kind: group.kind.as_str(),
                rules: &rules,
                ring_order: group.ring_order.map(i64::from),
            };
            let action = match original_id {
                Some(id) => {
                    group_store::update(tx, id, &fields, now)?;
                    "group.update"
                }
                None => {
                    let id = group_store::insert(tx, &fields, now)?;
                    with_new_id(&mut resolved, id);
                    "group.create"
                }
            };
            membership_store::replace_devices(tx, &resolved)?;
            Ok(action)
        })
        .await
    }

    /// Deletes a group (its policy assignments go with it); its devices are queued.
    pub async fn delete_group(&self, name: &str, actor: &Actor) -> Result<(), PolicyError> {
        let (book, devices) = self.book_and_devices().await?;
        let g = book.group_index(name).ok_or_else(|| PolicyError::NotFound {
            what: "group",
            name: name.to_string(),
        })?;
        let affected = members_of(&book, g, &devices);
        let id = book.groups[g].id;
        // The book as if the group had no members: the devices' remaining groups and ring.
        let mut after_book = book.clone();
        after_book.groups[g].members.clear();
        after_book.groups[g].group.kind = GroupKind::Static;
        let resolved = resolve(&after_book, devices.iter().filter(|d| book.is_member(g, d)));
        let change = Change {
            target: format!("group:{name}"),
            before: Some(json!({"group": book.groups[g].group, "policies": policy_names(&book, g)})),
            after: None,
            affected,
            reason: format!("group {name} deleted"),
        };
        self.commit_change(actor, change, move |tx, _| {
            group_store::delete(tx, id)?;
            membership_store::replace_devices(tx, &resolved)?;
            Ok("group.delete")
        })
        .await
    }

    /// Adds (`add` true) or removes static members of a static group; returns how many changed.
    /// Unknown UDIDs are refused, and nothing changes.
    pub async fn change_members(
        &self,
        name: &str,
        udids: &[String],
        add: bool,
        actor: &Actor,
    ) -> Result<usize, PolicyError> {
        if udids.len() > MAX_MEMBERS_PER_CHANGE {
            return Err(PolicyError::invalid(
                "members",
                format!("at most {MAX_MEMBERS_PER_CHANGE} devices at once"),
            ));
        }
        let mut wanted: Vec<String> = udids.iter().map(|u| u.trim().to_string()).collect();
        wanted.sort();
        wanted.dedup();
        // Only the changed devices are resolved again: their static memberships are enough.
        let among = wanted.clone();
        let book =
            super::loading::build_book(self.store.read(move |c| read_book_rows_for(c, &among)).await?)?;
        let g = book.group_index(name).ok_or_else(|| PolicyError::NotFound {
            what: "group",
            name: name.to_string(),
        })?;
        if book.groups[g].group.kind != GroupKind::Static {
            return Err(PolicyError::invalid(
                "members",
                format!("`{name}` is rule-based: its members follow its rules"),
            ));
        }
        let id = book.groups[g].id;
        let now = self.clock.now();
        let actor = actor.clone();
        let name = name.to_string();
        let changed = self
            .store
            .write(move |conn| {
                let tx = conn.transaction()?;
                let known = policy_store::known_devices(&tx, &wanted)?;
                if add && known.len() != wanted.len() {
                    let unknown: Vec<&String> = wanted.iter().filter(|u| !known.contains(u)).collect();
                    return Ok(Err(format!(
                        "no device {}",
                        unknown.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                let (count, action) = if add {
                    (
                        group_store::add_members(&tx, id, &wanted, now)?,
                        "group.members.add",
                    )
                } else {
                    (
                        group_store::remove_members(&tx, id, &wanted)?,
                        "group.members.remove",
                    )
                };
                // The enrolled ones among them: their groups and ring with the change.
                let mut after_book = book;
                let members = &mut after_book.groups[g].members;
                for udid in &wanted {
                    if add {
                        members.insert(udid.clone());
                    } else {
                        members.remove(udid);
                    }
                }
                let enrolled: Vec<DeviceRecord> = policy_store::managed_devices_among(&tx, &wanted)?
                    .into_iter()
                    .map(device_record)
                    .collect();
                membership_store::replace_devices(&tx, &resolve(&after_book, &enrolled))?;
                if count > 0 {
                    audit::record(
                        &tx,
                        &actor,
                        now,
                        action,
                        &format!("group:{name}"),
                        None,
                        Some(json!({"devices": wanted})),
                    )?;
                    plans::enqueue(&tx, &wanted, &format!("group {name} members changed"), now)?;
                }
                tx.commit()?;
                Ok(Ok(count))
            })
            .await?;
        self.notify_queued();
        changed.map_err(|m| PolicyError::invalid("members", m))
    }

    pub async fn add_members(
        &self,
        group: &str,
        udids: &[String],
        actor: &Actor,
    ) -> Result<usize, PolicyError> {
        self.change_members(group, udids, true, actor).await
    }

    pub async fn remove_members(
        &self,
        group: &str,
        udids: &[String],
        actor: &Actor,
    ) -> Result<usize, PolicyError> {
        self.change_members(group, udids, false, actor).await
    }
}
