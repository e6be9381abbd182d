//! The dashboard's figures by ring and by group, folded from
//! [`crate::store::dashboard::ring_cells`] and [`crate::store::dashboard::group_cells`]. A device
//! counts in its ring only (the lowest order of the rings it is in) and in every group it is
//! in. Pure: no I/O.

use std::collections::HashMap;

use super::figures::StateCounts;
use crate::store::dashboard::MemberCell;
use crate::store::membership::GroupChoice;

/// One group or ring and its devices by state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub id: i64,
    pub name: String,
    pub counts: StateCounts,
}

/// Every ring (in ring order) and every group (rings first, then by name), zero rows included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFigures {
    pub rings: Vec<MemberRow>,
    /// Devices in no ring.
    pub outside_rings: StateCounts,
    pub groups: Vec<MemberRow>,
}

fn fold(cells: &[MemberCell]) -> HashMap<i64, StateCounts> {
    let mut out: HashMap<i64, StateCounts> = HashMap::new();
    for cell in cells {
        out.entry(cell.group_id)
            .or_default()
            .add(cell.state.as_deref(), cell.devices);
    }
    out
}

impl GroupFigures {
    /// `choices` in display order (as [`crate::store::membership::choices`] lists them); `fleet`:
    /// every device by state (for the devices in no ring).
    pub fn new(
        choices: &[GroupChoice],
        ring_cells: &[MemberCell],
        group_cells: &[MemberCell],
        fleet: &StateCounts,
    ) -> GroupFigures {
        let mut by_ring = fold(ring_cells);
        let mut by_group = fold(group_cells);
        let row = |g: &GroupChoice, counts: Option<StateCounts>| MemberRow {
            id: g.id,
            name: g.name.clone(),
            counts: counts.unwrap_or_default(),
        };
        let rings: Vec<MemberRow> = choices
            .iter()
            .filter(|g| g.ring_order.is_some())
            .map(|g| row(g, by_ring.remove(&g.id)))
            .collect();
        let mut outside_rings = fleet.clone();
        for ring in &rings {
            for (left, taken) in outside_rings.columns.iter_mut().zip(ring.counts.columns) {
                *left = left.saturating_sub(taken);
            }
        }
        GroupFigures {
            rings,
            outside_rings,
            groups: choices.iter().map(|g| row(g, by_group.remove(&g.id))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::ComplianceState;

    fn cell(group_id: i64, state: Option<&str>, devices: usize) -> MemberCell {
        MemberCell {
            group_id,
            state: state.map(str::to_string),
            devices,
        }
    }

    #[test]
    fn rings_and_groups_fold_and_the_rest_is_outside_any_ring() {
        let choices = [
            GroupChoice {
                id: 4,
                name: "Pilot".into(),
                ring_order: Some(1),
            },
            GroupChoice {
                id: 2,
                name: "Lab".into(),
                ring_order: None,
            },
        ];
        let mut fleet = StateCounts::default();
        fleet.add(Some("overdue"), 10);
        fleet.add(None, 5);
        let figures = GroupFigures::new(
            &choices,
            &[cell(4, Some("overdue"), 3), cell(4, None, 1)],
            &[cell(4, Some("overdue"), 3), cell(4, None, 1), cell(2, None, 2)],
            &fleet,
        );
        assert_eq!(figures.rings.len(), 1);
        assert_eq!(figures.rings[0].counts.of(ComplianceState::Overdue), 3);
        assert_eq!(figures.outside_rings.of(ComplianceState::Overdue), 7);
        assert_eq!(figures.outside_rings.not_assessed(), 4);
        let names: Vec<(&str, usize)> = figures
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.counts.total()))
            .collect();
        assert_eq!(names, [("Pilot", 4), ("Lab", 2)]);
    }
}
