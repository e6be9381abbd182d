//! The dashboard's fleet figures as the template shows them: every number with the link to the
//! devices list filtered to exactly those devices (the list's own query parameters), and the
//! next 14 days of deadlines as a calendar strip.

use chrono::NaiveDate;

use crate::compliance::ComplianceState;
use crate::compliance::figures::{Dimension, FleetFigures, StateCounts, share};
use crate::web::device_filter::DeviceListParams;

/// A number, linked to its devices when the list can show exactly them.
pub struct Figure {
    pub count: usize,
    pub href: Option<String>,
}

/// One line of the fleet summary.
pub struct StateLine {
    pub state: &'static str,
    pub label: &'static str,
    pub figure: Figure,
    /// Percent of the fleet, one decimal.
    pub share: String,
}

pub struct FigureRow {
    pub label: String,
    pub total: Figure,
    /// One per column of [`FigureTable::headers`].
    pub cells: Vec<Figure>,
    /// Percent of the row's devices up to date, one decimal.
    pub up_to_date: String,
}

pub struct FigureTable {
    pub title: &'static str,
    /// How devices are counted, when it needs saying.
    pub note: Option<&'static str>,
    pub rows: Vec<FigureRow>,
}

fn figure_row(label: String, counts: &StateCounts, base: Option<DeviceListParams>) -> FigureRow {
    FigureRow {
        label,
        total: link(counts.total(), base.clone()),
        cells: cells(counts, base.as_ref()),
        up_to_date: format!(
            "{:.1}",
            share(counts.of(ComplianceState::UpToDate), counts.total())
        ),
    }
}

/// By ring (each device in its ring of lowest order, then the devices in no ring, which the
/// list cannot select) and by group (a device in each of its groups); rows link by id.
fn membership_tables(figures: &FleetFigures) -> Vec<FigureTable> {
    let by = &figures.membership;
    let ring = |id: i64| DeviceListParams {
        ring: id.to_string(),
        ..DeviceListParams::default()
    };
    let group = |id: i64| DeviceListParams {
        group: id.to_string(),
        ..DeviceListParams::default()
    };
    let mut rings: Vec<FigureRow> = by
        .rings
        .iter()
        .map(|r| figure_row(r.name.clone(), &r.counts, Some(ring(r.id))))
        .collect();
    if !by.rings.is_empty() {
        rings.push(figure_row("in no ring".into(), &by.outside_rings, None));
    }
    vec![
        FigureTable {
            title: "By ring",
            note: Some("A device in several rings counts in the one of lowest order (the devices list shows it as such)."),
            rows: rings,
        },
        FigureTable {
            title: "By group",
            note: Some("A device counts in every group it is in; only enrolled devices are members."),
            rows: by
                .groups
                .iter()
                .map(|g| figure_row(g.name.clone(), &g.counts, Some(group(g.id))))
                .collect(),
        },
    ]
    .into_iter()
    .filter(|t| !t.rows.is_empty())
    .collect()
}

/// The column headers of every breakdown table.
pub fn headers() -> Vec<&'static str> {
    ComplianceState::ALL
        .iter()
        .map(|s| s.label())
        .chain(["not assessed"])
        .collect()
}

fn link(count: usize, params: Option<DeviceListParams>) -> Figure {
    Figure {
        count,
        href: params
            .filter(|_| count > 0)
            .map(|p| format!("/devices?{}", p.query_string())),
    }
}

fn with_state(base: &DeviceListParams, state: ComplianceState) -> DeviceListParams {
    DeviceListParams {
        state: state.as_str().to_string(),
        ..base.clone()
    }
}

/// Links for every state column, then the not-assessed column (the list cannot filter on it).
fn cells(counts: &StateCounts, base: Option<&DeviceListParams>) -> Vec<Figure> {
    ComplianceState::ALL
        .iter()
        .map(|s| link(counts.of(*s), base.map(|b| with_state(b, *s))))
        .chain([link(counts.not_assessed(), None)])
        .collect()
}

pub fn state_lines(figures: &FleetFigures) -> Vec<StateLine> {
    let total = figures.fleet.total();
    let all = DeviceListParams::default();
    ComplianceState::ALL
        .iter()
        .map(|s| {
            (
                s.as_str(),
                s.label(),
                figures.fleet.of(*s),
                Some(with_state(&all, *s)),
            )
        })
        .chain([(
            "not_assessed",
            "not assessed yet",
            figures.fleet.not_assessed(),
            None,
        )])
        .map(|(state, label, count, params)| StateLine {
            state,
            label,
            figure: link(count, params),
            share: format!("{:.1}", share(count, total)),
        })
        .collect()
}

fn params_for(dimension: Dimension, key: &str) -> DeviceListParams {
    let mut params = DeviceListParams::default();
    match dimension {
        Dimension::Platform => params.platform = key.to_string(),
        Dimension::Model => params.model = key.to_string(),
        Dimension::OsMajor => params.os_version = key.to_string(),
    }
    params
}

/// By ring and by group, then by platform, model and OS version.
pub fn tables(figures: &FleetFigures) -> Vec<FigureTable> {
    let mut out = membership_tables(figures);
    out.extend(figures.breakdowns.iter().map(|breakdown| {
        FigureTable {
            title: breakdown.dimension.title(),
            note: None,
            rows: breakdown
                .rows
                .iter()
                .map(|row| {
                    let base = row.key.as_deref().map(|k| params_for(breakdown.dimension, k));
                    let label = match (&row.key, breakdown.dimension) {
                        (Some(k), Dimension::OsMajor) => format!("{k}.x"),
                        (Some(k), _) => k.clone(),
                        (None, _) => "not known".into(),
                    };
                    figure_row(label, &row.counts, base)
                })
                .collect(),
        }
    }));
    out
}

/// One day of the deadline strip.
pub struct DeadlineDay {
    /// `Mon 23 Nov`.
    pub label: String,
    /// `2026-11-23`.
    pub date: String,
    pub due: usize,
    /// Bar height in the SVG strip (0..=40).
    pub bar: usize,
    /// x of the day's column in the SVG strip.
    pub x: usize,
}

pub const STRIP_COLUMN: usize = 48;
pub const STRIP_BAR: usize = 40;

pub fn deadline_strip(days: &[(NaiveDate, usize)]) -> Vec<DeadlineDay> {
    let most = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    days.iter()
        .enumerate()
        .map(|(i, (day, due))| DeadlineDay {
            label: day.format("%a %-d %b").to_string(),
            date: day.format("%Y-%m-%d").to_string(),
            due: *due,
            bar: (due * STRIP_BAR).div_ceil(most),
            x: i * STRIP_COLUMN,
        })
        .collect()
}

/// One day of the compliance-over-time chart: a stacked bar (up to date at the bottom, then
/// overdue or failed, then everything else), heights in SVG units out of [`HISTORY_HEIGHT`].
pub struct HistoryDay {
    pub day: String,
    pub total: usize,
    pub up_to_date: usize,
    pub late: usize,
    pub x: usize,
    pub ok_height: usize,
    pub late_height: usize,
    pub other_height: usize,
}

pub const HISTORY_DAYS: u32 = 30;
pub const HISTORY_HEIGHT: usize = 100;
pub const HISTORY_COLUMN: usize = 16;

pub fn history(days: &[crate::compliance::figures::DaySnapshot]) -> Vec<HistoryDay> {
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            let total = d.counts.total();
            let up_to_date = d.counts.of(ComplianceState::UpToDate);
            let late = d.counts.of(ComplianceState::Overdue) + d.counts.of(ComplianceState::Failed);
            let height = |n: usize| (n * HISTORY_HEIGHT).checked_div(total).unwrap_or(0);
            let ok_height = height(up_to_date);
            let late_height = height(late);
            HistoryDay {
                day: d.day.clone(),
                total,
                up_to_date,
                late,
                x: i * HISTORY_COLUMN,
                ok_height,
                late_height,
                other_height: if total == 0 {
                    0
                } else {
                    HISTORY_HEIGHT - ok_height - late_height
                },
            }
        })
        .collect()
}
