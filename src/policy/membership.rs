//! A device's resolved membership, as stored for the devices list and the dashboard: the ids of
//! the groups [`PolicyBook::groups_of`] finds it in, and its ring. Pure.

use super::book::{DeviceRecord, PolicyBook};
use crate::store::membership::DeviceMembership;

impl PolicyBook {
    /// The stored form of `groups` (indices, as [`PolicyBook::groups_of`] returns them): their ids
    /// ascending, and the ring — of the ring groups among them, the lowest order, ties going to
    /// the first by name (the order groups are loaded in, so the planner's fallback choice).
    pub fn membership(&self, udid: &str, groups: &[usize]) -> DeviceMembership {
        let order = |g: &usize| self.groups[*g].group.ring_order;
        let rings: Vec<usize> = groups.iter().copied().filter(|g| order(g).is_some()).collect();
        let ring = rings
            .iter()
            .copied()
            .min_by_key(|g| (order(g), self.groups[*g].group.name.as_str()));
        let mut ids: Vec<i64> = groups.iter().map(|&g| self.groups[g].id).collect();
        ids.sort_unstable();
        ids.dedup();
        DeviceMembership {
            udid: udid.to_string(),
            groups: ids,
            ring: ring.map(|g| self.groups[g].id),
            rings: rings.len(),
        }
    }

    /// Every group of `device` and its ring, from the one rule evaluation the planner uses.
    pub fn membership_of(&self, device: &DeviceRecord) -> DeviceMembership {
        self.membership(&device.udid, &self.groups_of(device))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::policy::book::BookGroup;
    use crate::policy::groups::{Group, GroupRules};
    use crate::protocol::ddm::Platform;

    fn group(id: i64, name: &str, ring_order: Option<u32>, rules: GroupRules, members: &[&str]) -> BookGroup {
        BookGroup {
            id,
            group: Group::new(name, ring_order, rules),
            members: members.iter().map(|m| m.to_string()).collect::<HashSet<_>>(),
        }
    }

    #[test]
    fn the_ring_is_the_lowest_order_of_the_device_s_rings() {
        let ios = GroupRules {
            platforms: vec![Platform::Ios],
            ..GroupRules::default()
        };
        let book = PolicyBook::new(
            Vec::new(),
            vec![
                group(7, "Early", Some(2), GroupRules::default(), &["A"]),
                group(3, "Late", Some(4), ios.clone(), &[]),
                group(9, "iPhones", None, ios, &[]),
            ],
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Default::default(),
        );
        let iphone = |udid: &str| DeviceRecord {
            udid: udid.into(),
            model_identifier: Some("iPhone15,2".into()),
            ..DeviceRecord::default()
        };
        let a = book.membership_of(&iphone("A"));
        assert_eq!((a.groups, a.ring, a.rings), (vec![3, 7, 9], Some(7), 2));
        let b = book.membership_of(&iphone("B"));
        assert_eq!((b.groups, b.ring, b.rings), (vec![3, 9], Some(3), 1));
        let mac = DeviceRecord {
            udid: "C".into(),
            model_identifier: Some("Mac14,9".into()),
            ..DeviceRecord::default()
        };
        let c = book.membership_of(&mac);
        assert_eq!((c.groups.len(), c.ring, c.rings), (0, None, 0));
    }
}
