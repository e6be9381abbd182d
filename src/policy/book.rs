//! The policy book: every policy, group and assignment in memory, and what follows from them for
//! one device: the groups it is in, the policies that reach it, the effective policy and ring
//! for its platform, and its plan. Pure: the service loads the book and the devices, then asks.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};

use super::groups::{Group, MemberFacts};
use super::model::Policy;
use super::plan::{DeviceView, Plan, plan};
use super::precedence::{Conflict, resolve};
use super::rings::{RingAssignment, RingSchedule};
use crate::catalog::{Build, CatalogIndex, OsVersion};
use crate::protocol::ddm::{Enrollment, Platform};

/// A device as the policy engine knows it.
#[derive(Debug, Clone, Default)]
pub struct DeviceRecord {
    pub udid: String,
    pub name: Option<String>,
    pub serial: Option<String>,
    /// `iPhone14,2`.
    pub model_identifier: Option<String>,
    /// `iPhone`, `MacBook Pro`.
    pub model_name: Option<String>,
    pub software_update_device_id: Option<String>,
    pub os_version: Option<OsVersion>,
    pub build: Option<Build>,
    pub supplemental_extra: Option<char>,
    pub supervised: bool,
    /// Declarative management is on for the device.
    pub ddm_enrolled: bool,
}

impl DeviceRecord {
    pub fn platform(&self) -> Option<Platform> {
        self.model_identifier
            .as_deref()
            .and_then(Platform::of_model_identifier)
    }

    /// What group rules read of the device.
    pub fn facts(&self) -> MemberFacts<'_> {
        MemberFacts {
            platform: self.platform(),
            model_identifier: self.model_identifier.as_deref(),
            model_name: self.model_name.as_deref(),
            os_major: self.os_version.map(|v| v.major),
            serial: self.serial.as_deref(),
        }
    }

    /// The planner's view, or `None` while the OS version is not known.
    pub fn view(&self, utc_offset: FixedOffset) -> Option<DeviceView> {
        Some(DeviceView {
            platform: self.platform(),
            model: self.model_identifier.clone(),
            software_update_device_id: self.software_update_device_id.clone(),
            os_version: self.os_version?,
            build: self.build.clone(),
            supplemental_extra: self.supplemental_extra,
            enrollment: if self.supervised {
                Enrollment::Supervised
            } else {
                Enrollment::Device
            },
            ddm_active: self.ddm_enrolled,
            utc_offset,
        })
    }
}

#[derive(Debug, Clone)]
pub struct BookPolicy {
    pub id: i64,
    pub policy: Policy,
}

#[derive(Debug, Clone)]
pub struct BookGroup {
    pub id: i64,
    pub group: Group,
    /// Static members (UDIDs); empty for rule-based groups.
    pub members: HashSet<String>,
}

/// Everything administrators decided, in memory.
#[derive(Debug, Clone, Default)]
pub struct PolicyBook {
    pub policies: Vec<BookPolicy>,
    pub groups: Vec<BookGroup>,
    /// Group index → indices of the policies assigned to it.
    group_policies: HashMap<usize, Vec<usize>>,
    /// UDID → indices of the policies assigned to the device itself.
    device_policies: HashMap<String, Vec<usize>>,
    pub schedule: RingSchedule,
}

/// A policy reaching a device, and through which group (`None`: assigned to the device itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reach {
    pub policy: usize,
    pub via_group: Option<usize>,
}

/// What one device gets.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub platform: Option<Platform>,
    /// Index of the effective policy.
    pub policy: Option<usize>,
    pub ring: Option<String>,
    pub conflicts: Vec<Conflict>,
    pub plan: Option<Plan>,
    /// Why there is no plan, when there is none.
    pub why_not: Option<String>,
}

impl PolicyBook {
    /// Builds the book from the stored rows: assignments name policies and groups by id; rows
    /// that name a missing id are ignored.
    pub fn new(
        policies: Vec<BookPolicy>,
        mut groups: Vec<BookGroup>,
        members: Vec<(i64, String)>,
        group_assignments: Vec<(i64, i64)>,
        device_assignments: Vec<(i64, String)>,
        schedule: RingSchedule,
    ) -> PolicyBook {
        let group_at: HashMap<i64, usize> = groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        let policy_at: HashMap<i64, usize> = policies.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        for (group_id, udid) in members {
            if let Some(&g) = group_at.get(&group_id) {
                groups[g].members.insert(udid);
            }
        }
        let mut group_policies: HashMap<usize, Vec<usize>> = HashMap::new();
        for (policy_id, group_id) in group_assignments {
            if let (Some(&p), Some(&g)) = (policy_at.get(&policy_id), group_at.get(&group_id)) {
                group_policies.entry(g).or_default().push(p);
            }
        }
        let mut device_policies: HashMap<String, Vec<usize>> = HashMap::new();
        for (policy_id, udid) in device_assignments {
            if let Some(&p) = policy_at.get(&policy_id) {
                device_policies.entry(udid).or_default().push(p);
            }
        }
        PolicyBook {
            policies,
            groups,
            group_policies,
            device_policies,
            schedule,
        }
    }

    pub fn policy_index(&self, name: &str) -> Option<usize> {
        self.policies.iter().position(|p| p.policy.name == name)
    }

    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.group.name == name)
    }

    /// The groups (indices) assigned to a policy.
    pub fn groups_of_policy(&self, policy: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .group_policies
            .iter()
            .filter(|(_, ps)| ps.contains(&policy))
            .map(|(g, _)| *g)
            .collect();
        out.sort_unstable();
        out
    }

    /// The devices (UDIDs) a policy is assigned to directly.
    pub fn devices_of_policy(&self, policy: usize) -> Vec<String> {
        let mut out: Vec<String> = self
            .device_policies
            .iter()
            .filter(|(_, ps)| ps.contains(&policy))
            .map(|(u, _)| u.clone())
            .collect();
        out.sort();
        out
    }

    /// The policies assigned to a group.
    pub fn policies_of_group(&self, group: usize) -> &[usize] {
        self.group_policies.get(&group).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn is_member(&self, group: usize, device: &DeviceRecord) -> bool {
        let g = &self.groups[group];
        match g.group.kind {
            super::groups::GroupKind::Static => g.members.contains(&device.udid),
            super::groups::GroupKind::Rules => g.group.rules.matches(&device.facts()),
        }
    }

    /// The groups (indices) the device is in.
    pub fn groups_of(&self, device: &DeviceRecord) -> Vec<usize> {
        (0..self.groups.len())
            .filter(|&g| self.is_member(g, device))
            .collect()
    }

    /// The policies reaching the device through `groups` (its groups) and directly.
    pub fn reaching(&self, device: &DeviceRecord, groups: &[usize]) -> Vec<Reach> {
        let mut out: Vec<Reach> = groups
            .iter()
            .flat_map(|&g| {
                self.policies_of_group(g).iter().map(move |&p| Reach {
                    policy: p,
                    via_group: Some(g),
                })
            })
            .collect();
        if let Some(direct) = self.device_policies.get(&device.udid) {
            out.extend(direct.iter().map(|&p| Reach {
                policy: p,
                via_group: None,
            }));
        }
        out
    }

    /// The ring the device is evaluated in under `policy`: the first ring (by order) through
    /// which the policy reaches it, else the device's first ring group.
    fn ring_for(&self, policy: usize, reaches: &[Reach], groups: &[usize]) -> Option<usize> {
        let order = |g: &usize| self.groups[*g].group.ring_order;
        let via = reaches
            .iter()
            .filter(|r| r.policy == policy)
            .filter_map(|r| r.via_group)
            .filter(|g| order(g).is_some())
            .min_by_key(|g| (order(g), *g));
        via.or_else(|| {
            groups
                .iter()
                .copied()
                .filter(|g| order(g).is_some())
                .min_by_key(|g| (order(g), *g))
        })
    }

    /// The effective policy, ring and plan of one device at `now`.
    pub fn evaluate(
        &self,
        device: &DeviceRecord,
        catalog: &CatalogIndex,
        utc_offset: FixedOffset,
        now: DateTime<Utc>,
    ) -> Evaluation {
        let groups = self.groups_of(device);
        let reaches = self.reaching(device, &groups);
        self.evaluate_reached(device, &groups, &reaches, catalog, utc_offset, now)
    }

    /// [`Self::evaluate`] with the device's groups and reaching policies already known.
    pub fn evaluate_reached(
        &self,
        device: &DeviceRecord,
        groups: &[usize],
        reaches: &[Reach],
        catalog: &CatalogIndex,
        utc_offset: FixedOffset,
        now: DateTime<Utc>,
    ) -> Evaluation {
        let platform = device.platform();
        let mut out = Evaluation {
            platform,
            policy: None,
            ring: None,
            conflicts: Vec::new(),
            plan: None,
            why_not: None,
        };
        let Some(platform) = platform else {
            out.why_not = Some("the device's platform is not known yet".into());
            return out;
        };
        let assigned: Vec<&Policy> = reaches.iter().map(|r| &self.policies[r.policy].policy).collect();
        let winner = match resolve(&assigned, platform) {
            Ok(Some(p)) => p,
            Ok(None) => {
                out.why_not = Some(format!("no policy for {platform} is assigned to this device"));
                return out;
            }
            Err(conflict) => {
                out.why_not = Some(format!("not managed until the conflict is resolved: {conflict}"));
                out.conflicts.push(conflict);
                return out;
            }
        };
        let Some(index) = self.policy_index(&winner.name) else {
            return out;
        };
        out.policy = Some(index);
        let ring = self.ring_for(index, reaches, groups);
        out.ring = ring.map(|g| self.groups[g].group.name.clone());
        let Some(view) = device.view(utc_offset) else {
            out.why_not = Some("the device has not reported its OS version yet".into());
            return out;
        };
        let assignment = out.ring.as_deref().map(|name| RingAssignment {
            name,
            schedule: &self.schedule,
        });
        out.plan = Some(plan(
            &view,
            catalog,
            &self.policies[index].policy,
            assignment.as_ref(),
            now,
        ));
        out
    }

    /// Replaces (or adds) one policy and its assignments: what the book would be if it were saved.
    pub fn with_candidate(
        &self,
        original_name: Option<&str>,
        policy: Policy,
        groups: &[usize],
        devices: &[String],
    ) -> (PolicyBook, usize) {
        let mut book = self.clone();
        let index = match original_name.and_then(|n| book.policy_index(n)) {
            Some(i) => {
                book.policies[i].policy = policy;
                i
            }
            None => {
                book.policies.push(BookPolicy { id: -1, policy });
                book.policies.len() - 1
            }
        };
        for ps in book.group_policies.values_mut() {
            ps.retain(|&p| p != index);
        }
        for ps in book.device_policies.values_mut() {
            ps.retain(|&p| p != index);
        }
        for &g in groups {
            book.group_policies.entry(g).or_default().push(index);
        }
        for udid in devices {
            book.device_policies.entry(udid.clone()).or_default().push(index);
        }
        (book, index)
    }
}
