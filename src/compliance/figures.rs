//! The dashboard's fleet figures: counts and shares by compliance state, and the same broken
//! down by platform, model and OS major version, folded from the store's aggregate
//! ([`crate::store::dashboard::fleet_cells`]). Pure: no I/O.

use std::collections::BTreeMap;

use super::ComplianceState;
use crate::protocol::ddm::Platform;
use crate::store::dashboard::FleetCell;

/// Columns of every breakdown: the eight states, then devices not assessed yet.
pub const COLUMNS: usize = ComplianceState::ALL.len() + 1;

/// Counts per column ([`COLUMNS`]: the states in [`ComplianceState::ALL`] order, then not
/// assessed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub columns: [usize; COLUMNS],
}

impl StateCounts {
    pub(crate) fn add(&mut self, state: Option<&str>, devices: usize) {
        let column = state
            .and_then(ComplianceState::parse)
            .and_then(|s| ComplianceState::ALL.iter().position(|x| *x == s))
            .unwrap_or(COLUMNS - 1);
        self.columns[column] += devices;
    }

    pub fn total(&self) -> usize {
        self.columns.iter().sum()
    }

    pub fn of(&self, state: ComplianceState) -> usize {
        ComplianceState::ALL
            .iter()
            .position(|x| *x == state)
            .map(|i| self.columns[i])
            .unwrap_or(0)
    }

    pub fn not_assessed(&self) -> usize {
        self.columns[COLUMNS - 1]
    }
}

/// One row of a breakdown: `key` is the devices-list filter value (`None`: the devices for
/// which the model or OS version is not known; the list cannot filter on that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownRow {
    pub key: Option<String>,
    pub counts: StateCounts,
}

/// What a breakdown groups by; `param` is the devices-list query parameter it links with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Platform,
    Model,
    OsMajor,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [Dimension::Platform, Dimension::Model, Dimension::OsMajor];

    pub fn title(self) -> &'static str {
        match self {
            Dimension::Platform => "By platform",
            Dimension::Model => "By model",
            Dimension::OsMajor => "By OS version",
        }
    }

    pub fn param(self) -> &'static str {
        match self {
            Dimension::Platform => "platform",
            Dimension::Model => "model",
            Dimension::OsMajor => "os_version",
        }
    }

    fn key(self, cell: &FleetCell) -> Option<String> {
        match self {
            Dimension::Platform => cell
                .model
                .as_deref()
                .and_then(Platform::of_model_identifier)
                .map(|p| p.display_name().to_string()),
            Dimension::Model => cell.model.clone().filter(|m| !m.is_empty()),
            Dimension::OsMajor => cell
                .os_version
                .as_deref()
                .and_then(|v| v.split('.').next())
                .filter(|major| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_string),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    pub dimension: Dimension,
    /// Known keys first (models alphabetically, OS versions numerically), then unknown.
    pub rows: Vec<BreakdownRow>,
}

/// The whole fleet by state, and every breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetFigures {
    pub fleet: StateCounts,
    pub breakdowns: Vec<Breakdown>,
    /// By ring and by group (empty until [`FleetFigures::with_membership`]).
    pub membership: super::group_figures::GroupFigures,
}

fn sort_key(dimension: Dimension, key: &Option<String>) -> (bool, u64, String) {
    let numeric = match (dimension, key) {
        (Dimension::OsMajor, Some(k)) => k.parse().unwrap_or(u64::MAX),
        _ => 0,
    };
    (key.is_none(), numeric, key.clone().unwrap_or_default())
}

impl FleetFigures {
    pub fn from_cells(cells: &[FleetCell]) -> FleetFigures {
        let mut fleet = StateCounts::default();
        for cell in cells {
            fleet.add(cell.state.as_deref(), cell.devices);
        }
        let breakdowns = Dimension::ALL
            .into_iter()
            .map(|dimension| {
                let mut rows: BTreeMap<Option<String>, StateCounts> = BTreeMap::new();
                for cell in cells {
                    rows.entry(dimension.key(cell))
                        .or_default()
                        .add(cell.state.as_deref(), cell.devices);
                }
                let mut rows: Vec<BreakdownRow> = rows
                    .into_iter()
                    .map(|(key, counts)| BreakdownRow { key, counts })
                    .collect();
                rows.sort_by_key(|row| sort_key(dimension, &row.key));
                Breakdown { dimension, rows }
            })
            .collect();
        FleetFigures {
            fleet,
            breakdowns,
            membership: Default::default(),
        }
    }
}

/// `part` of `whole` in percent, one decimal (`0.0` for an empty fleet).
pub fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

/// One day of the compliance history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySnapshot {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub counts: StateCounts,
}

impl DaySnapshot {
    /// From (day, state, devices) rows in day order.
    pub fn from_rows(rows: Vec<(String, String, usize)>) -> Vec<DaySnapshot> {
        let mut days: Vec<DaySnapshot> = Vec::new();
        for (day, state, devices) in rows {
            if days.last().map(|d| d.day != day).unwrap_or(true) {
                days.push(DaySnapshot {
                    day: day.clone(),
                    counts: StateCounts::default(),
                });
            }
            if let Some(last) = days.last_mut() {
                last.counts.add(Some(state.as_str()), devices);
            }
        }
        days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(model: Option<&str>, os: Option<&str>, state: Option<&str>, devices: usize) -> FleetCell {
        FleetCell {
            model: model.map(str::to_string),
            os_version: os.map(str::to_string),
            state: state.map(str::to_string),
            devices,
        }
    }

    #[test]
    fn cells_fold_into_the_fleet_and_each_breakdown() {
        let figures = FleetFigures::from_cells(&[
            cell(Some("iPhone15,2"), Some("17.5"), Some("overdue"), 3),
            cell(Some("iPhone15,2"), Some("18.1"), Some("up_to_date"), 5),
            cell(Some("iPad13,4"), Some("9.3"), None, 2),
            cell(None, None, Some("unknown"), 1),
        ]);
        assert_eq!(figures.fleet.total(), 11);
        assert_eq!(figures.fleet.of(ComplianceState::Overdue), 3);
        assert_eq!(figures.fleet.not_assessed(), 2);
        let platform = &figures.breakdowns[0];
        assert_eq!(platform.rows[0].key.as_deref(), Some("iOS"));
        assert_eq!(platform.rows[0].counts.total(), 8);
        assert_eq!(platform.rows.last().map(|r| r.key.clone()), Some(None));
        let os: Vec<_> = figures.breakdowns[2].rows.iter().map(|r| r.key.clone()).collect();
        assert_eq!(os, [Some("9".into()), Some("17".into()), Some("18".into()), None]);
        assert_eq!(share(1, 3), 33.3);
        assert_eq!(share(0, 0), 0.0);
    }
}
