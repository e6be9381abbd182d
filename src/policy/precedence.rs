//! One effective policy per device and platform: the highest priority among the policies that
//! reach the device and cover its platform; equal top priorities are a conflict to show.

use std::fmt;

use super::model::Policy;
use crate::protocol::ddm::Platform;

/// Several policies with the same, highest priority reach one device for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub platform: Platform,
    pub priority: i32,
    /// Display names of the tied policies, in the order they were given.
    pub policies: Vec<String>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "policies {} all have priority {} for {}: give one of them a higher priority",
            self.policies.join(", "),
            self.priority,
            self.platform
        )
    }
}

impl std::error::Error for Conflict {}

/// The effective policy for a device of `platform` among `assigned` (the policies assigned to its
/// groups and to itself). `Ok(None)`: no assigned policy covers the platform.
pub fn resolve<'a>(assigned: &[&'a Policy], platform: Platform) -> Result<Option<&'a Policy>, Conflict> {
    let covering = || assigned.iter().copied().filter(|p| p.covers(platform));
    let Some(top) = covering().map(|p| p.priority).max() else {
        return Ok(None);
    };
    let mut winners = covering().filter(|p| p.priority == top);
    let first = winners.next();
    let rest: Vec<&Policy> = winners
        .filter(|p| Some(p.name.as_str()) != first.map(|f| f.name.as_str()))
        .collect();
    match (first, rest.is_empty()) {
        (Some(p), true) => Ok(Some(p)),
        (first, _) => Err(Conflict {
            platform,
            priority: top,
            policies: first.into_iter().chain(rest).map(Policy::display_name).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{BsiPolicy, Enforcement, MajorPolicy};
    use crate::protocol::ddm::SoftwareUpdateSettings;

    fn policy(name: &str, priority: i32, platforms: &[Platform]) -> Policy {
        Policy {
            name: name.into(),
            label: name.into(),
            platforms: platforms.to_vec(),
            priority,
            enforcement: Enforcement::DoNotManage,
            bsi: BsiPolicy::None,
            settings: SoftwareUpdateSettings::default(),
            majors: MajorPolicy::default(),
        }
    }

    #[test]
    fn highest_priority_wins_ties_conflict_and_other_platforms_do_not_count() {
        let ios_low = policy("ios-low", 1, &[Platform::Ios]);
        let ios_high = policy("ios-high", 5, &[Platform::Ios, Platform::IpadOs]);
        let mac_top = policy("mac-top", 9, &[Platform::MacOs]);
        let ipad_tie = policy("ipad-tie", 5, &[Platform::IpadOs]);
        let all = [&ios_low, &ios_high, &mac_top, &ipad_tie];

        assert_eq!(resolve(&all, Platform::Ios).unwrap().unwrap().name, "ios-high");
        assert_eq!(resolve(&all, Platform::MacOs).unwrap().unwrap().name, "mac-top");
        assert_eq!(resolve(&all, Platform::TvOs).unwrap(), None);
        let conflict = resolve(&all, Platform::IpadOs).unwrap_err();
        assert_eq!(conflict.priority, 5);
        assert_eq!(conflict.policies, ["ios-high", "ipad-tie"]);
        assert!(conflict.to_string().contains("higher priority"), "{conflict}");
        // The same policy reached twice (through two groups) is not a conflict with itself.
        assert_eq!(
            resolve(&[&ios_high, &ios_high], Platform::Ios)
                .unwrap()
                .unwrap()
                .name,
            "ios-high"
        );
    }
}
