//! The preview of a policy, as the page shows it: a table of the assigned devices and a timeline
//! drawn on the server as SVG (one row per device: hidden until its update is visible, visible
//! until the deadline, the deadline as a mark, today as a line). Geometry only; no rules.

use chrono::{Duration, NaiveDateTime};

/// One device of the preview.
#[derive(Debug, Clone)]
pub struct PreviewRow {
    pub device: String,
    pub udid: String,
    pub platform: String,
    pub target: String,
    pub deadline: Option<NaiveDateTime>,
    pub visible_from: Option<NaiveDateTime>,
    pub explanation: String,
}

impl PreviewRow {
    pub fn deadline_text(&self) -> String {
        when(self.deadline)
    }

    /// Visibility starts on a day (the planner decides dates, not times).
    pub fn visible_text(&self) -> String {
        self.visible_from
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "—".into())
    }
}

fn when(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "—".into())
}

pub const LABEL_WIDTH: i64 = 200;
pub const CHART_WIDTH: i64 = 600;
pub const ROW_HEIGHT: i64 = 22;
const AXIS_HEIGHT: i64 = 24;
/// More rows than this are summarised in the table only.
pub const MAX_ROWS: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub y: i64,
    pub text_y: i64,
    /// The hidden part: from the left edge (or today) to `visible_x`.
    pub hidden: Option<(i64, i64)>,
    /// The visible part, up to the deadline.
    pub visible: Option<(i64, i64)>,
    pub deadline_x: Option<i64>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub x: i64,
    pub label: String,
}

/// The timeline's drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub width: i64,
    pub height: i64,
    pub chart_left: i64,
    pub axis_y: i64,
    pub now_x: i64,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    /// Rows left out of the drawing (the table has them all).
    pub omitted: usize,
}

impl Timeline {
    /// Draws `rows` from `now` to the last deadline; `None` when no row has a date.
    pub fn draw(rows: &[PreviewRow], now: NaiveDateTime) -> Option<Timeline> {
        let dates = rows.iter().flat_map(|r| [r.visible_from, r.deadline]).flatten();
        let start = dates.clone().chain([now]).min()?;
        let last = dates.max()?;
        let end = last.max(start + Duration::days(1));
        let span = (end - start).num_minutes().max(1);
        let x = |t: NaiveDateTime| LABEL_WIDTH + (t - start).num_minutes() * CHART_WIDTH / span;
        let shown: Vec<&PreviewRow> = rows.iter().take(MAX_ROWS).collect();
        let bars = shown
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let y = AXIS_HEIGHT + i as i64 * ROW_HEIGHT;
                let left = x(start.max(now.min(r.visible_from.unwrap_or(now))));
                let visible_x = r.visible_from.map(x);
                let deadline_x = r.deadline.map(x);
                let hidden = visible_x.filter(|v| *v > left).map(|v| (left, v - left));
                let visible = match (visible_x.unwrap_or(left), deadline_x) {
                    (from, Some(to)) if to > from => Some((from, to - from)),
                    _ => None,
                };
                Bar {
                    label: r.device.clone(),
                    y: y + 4,
                    text_y: y + 15,
                    hidden,
                    visible,
                    deadline_x,
                    title: format!(
                        "{}: {} visible from {}, deadline {}",
                        r.device,
                        r.target,
                        r.visible_text(),
                        r.deadline_text()
                    ),
                }
            })
            .collect::<Vec<_>>();
        let ticks = (0..=4)
            .map(|k| {
                let t = start + Duration::minutes(span * k / 4);
                Tick {
                    x: x(t),
                    label: t.format("%Y-%m-%d").to_string(),
                }
            })
            .collect();
        Some(Timeline {
            width: LABEL_WIDTH + CHART_WIDTH + 80,
            height: AXIS_HEIGHT + bars.len() as i64 * ROW_HEIGHT + 8,
            chart_left: LABEL_WIDTH,
            axis_y: AXIS_HEIGHT - 4,
            now_x: x(now.max(start)),
            bars,
            ticks,
            omitted: rows.len().saturating_sub(MAX_ROWS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 5, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn row(name: &str, visible: Option<NaiveDateTime>, deadline: Option<NaiveDateTime>) -> PreviewRow {
        PreviewRow {
            device: name.into(),
            udid: name.into(),
            platform: "iOS".into(),
            target: "26.4".into(),
            deadline,
            visible_from: visible,
            explanation: String::new(),
        }
    }

    #[test]
    fn bars_run_from_today_through_visibility_to_the_deadline() {
        let now = at(1, 0);
        let rows = [
            row("early", Some(at(1, 0)), Some(at(3, 0))),
            row("late", Some(at(5, 0)), Some(at(11, 0))),
            row("no deadline", None, None),
        ];
        let t = Timeline::draw(&rows, now).unwrap();
        // 10 days over 600 px: 60 px a day.
        assert_eq!(t.now_x, LABEL_WIDTH);
        assert_eq!(t.bars[0].hidden, None);
        assert_eq!(t.bars[0].visible, Some((LABEL_WIDTH, 120)));
        assert_eq!(t.bars[1].hidden, Some((LABEL_WIDTH, 240)));
        assert_eq!(t.bars[1].visible, Some((LABEL_WIDTH + 240, 360)));
        assert_eq!(t.bars[1].deadline_x, Some(LABEL_WIDTH + CHART_WIDTH));
        assert_eq!(t.bars[2].visible, None);
        assert_eq!(t.ticks.first().unwrap().label, "2026-05-01");
        assert_eq!(t.ticks.last().unwrap().label, "2026-05-11");
        assert!(t.bars[1].title.contains("2026-05-11 00:00"));
    }

    #[test]
    fn nothing_to_draw_without_dates_and_long_lists_are_cut() {
        assert_eq!(Timeline::draw(&[row("x", None, None)], at(1, 0)), None);
        let many: Vec<PreviewRow> = (0..MAX_ROWS + 5)
            .map(|i| row(&format!("d{i}"), None, Some(at(2, 0))))
            .collect();
        let t = Timeline::draw(&many, at(1, 0)).unwrap();
        assert_eq!(t.bars.len(), MAX_ROWS);
        assert_eq!(t.omitted, 5);
    }
}
