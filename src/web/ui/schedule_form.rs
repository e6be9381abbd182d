//! The ring schedule form: one base date, per-ring offsets, blocked weekdays and dates, and the
//! maintenance window, as text, and its mapping to and from [`RingSchedule`]. Problems use the
//! field names `validate_schedule` uses (`base_date`, `offset_days.<ring>`, `blocked_weekdays`,
//! `blocked_dates`, `window`).

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime, Weekday};

use crate::policy::rings::weekday_name;
use crate::policy::validate::Problem;
use crate::policy::{MaintenanceWindow, RingSchedule, Severity};

pub const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Form value of a weekday (`Mon`, ...).
fn weekday_key(d: Weekday) -> String {
    format!("{d:?}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleForm {
    pub base_date: String,
    /// (ring, offset text), in ring order.
    pub offsets: Vec<(String, String)>,
    pub blocked_weekdays: Vec<String>,
    /// Dates, one per line.
    pub blocked_dates: String,
    pub window_start: String,
    pub window_end: String,
}

/// A weekday checkbox as the template shows it.
pub struct WeekdayChoice {
    pub value: String,
    pub label: &'static str,
    pub checked: bool,
}

impl ScheduleForm {
    /// `schedule` for the rings named in `rings` (in order; offsets of other names are dropped).
    pub fn from_schedule(schedule: &RingSchedule, rings: &[String]) -> ScheduleForm {
        ScheduleForm {
            base_date: schedule.base_date.map(|d| d.to_string()).unwrap_or_default(),
            offsets: rings
                .iter()
                .map(|r| {
                    let days = schedule.offset_days.get(r).copied().unwrap_or(0);
                    (r.clone(), days.to_string())
                })
                .collect(),
            blocked_weekdays: schedule
                .blocked_weekdays
                .iter()
                .map(|d| weekday_key(*d))
                .collect(),
            blocked_dates: schedule
                .blocked_dates
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            window_start: schedule
                .window
                .map(|w| w.start.format("%H:%M").to_string())
                .unwrap_or_default(),
            window_end: schedule
                .window
                .map(|w| w.end.format("%H:%M").to_string())
                .unwrap_or_default(),
        }
    }

    /// The form from its pairs; offsets come as `offset_days.<ring>` for the rings in `rings`.
    pub fn from_pairs(pairs: &[(String, String)], rings: &[String]) -> ScheduleForm {
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        ScheduleForm {
            base_date: value("base_date"),
            offsets: rings
                .iter()
                .map(|r| (r.clone(), value(&format!("offset_days.{r}"))))
                .collect(),
            blocked_weekdays: pairs
                .iter()
                .filter(|(k, _)| k == "blocked_weekdays")
                .map(|(_, v)| v.clone())
                .collect(),
            blocked_dates: value("blocked_dates"),
            window_start: value("window.start"),
            window_end: value("window.end"),
        }
    }

    pub fn weekdays(&self) -> Vec<WeekdayChoice> {
        WEEKDAYS
            .iter()
            .map(|d| WeekdayChoice {
                value: weekday_key(*d),
                label: weekday_name(*d),
                checked: self.blocked_weekdays.contains(&weekday_key(*d)),
            })
            .collect()
    }

    /// The schedule, or what could not be read.
    pub fn parse(&self) -> Result<RingSchedule, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut error = |field: String, message: String| {
            problems.push(Problem {
                field,
                severity: Severity::Error,
                message,
            })
        };
        let date = |t: &str| NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d");
        let base_date = match self.base_date.trim() {
            "" => None,
            t => date(t)
                .map_err(|_| error("base_date".into(), format!("{t:?} is not a date (YYYY-MM-DD)")))
                .ok(),
        };
        let mut offset_days = BTreeMap::new();
        for (ring, text) in &self.offsets {
            match text.trim() {
                "" => {}
                t => match t.parse::<u32>() {
                    Ok(days) => {
                        offset_days.insert(ring.clone(), days);
                    }
                    Err(_) => error(
                        format!("offset_days.{ring}"),
                        format!("the offset of ring {ring} must be a whole number of days, not {t:?}"),
                    ),
                },
            }
        }
        let mut blocked_weekdays = Vec::new();
        for text in &self.blocked_weekdays {
            match WEEKDAYS.iter().find(|d| weekday_key(**d) == *text) {
                Some(d) => blocked_weekdays.push(*d),
                None => error(
                    "blocked_weekdays".into(),
                    format!("{text:?} is not a day of the week"),
                ),
            }
        }
        let mut blocked_dates = Vec::new();
        for t in self
            .blocked_dates
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
        {
            match date(t) {
                Ok(d) if !blocked_dates.contains(&d) => blocked_dates.push(d),
                Ok(_) => {}
                Err(_) => error(
                    "blocked_dates".into(),
                    format!("{t:?} is not a date (YYYY-MM-DD, one per line)"),
                ),
            }
        }
        blocked_dates.sort();
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M");
        let window = match (self.window_start.trim(), self.window_end.trim()) {
            ("", "") => None,
            (start, end) => match (time(start), time(end)) {
                (Ok(start), Ok(end)) => Some(MaintenanceWindow { start, end }),
                _ => {
                    error(
                        "window".into(),
                        "give the maintenance window's start and end as HH:MM (or leave both empty)".into(),
                    );
                    None
                }
            },
        };
        if problems.is_empty() {
            Ok(RingSchedule {
                base_date,
                offset_days,
                blocked_weekdays,
                blocked_dates,
                window,
            })
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_schedule_round_trips_through_the_form() {
        let rings = vec!["Vanguard".to_string(), "Late Adoption".to_string()];
        let form = ScheduleForm::from_pairs(
            &pairs(&[
                ("base_date", "2026-06-01"),
                ("offset_days.Vanguard", "0"),
                ("offset_days.Late Adoption", "7"),
                ("offset_days.Unknown", "9"),
                ("blocked_weekdays", "Sat"),
                ("blocked_weekdays", "Sun"),
                ("blocked_dates", "2026-12-25\n2026-12-24, 2026-12-25"),
                ("window.start", "19:00"),
                ("window.end", "23:00"),
            ]),
            &rings,
        );
        let schedule = form.parse().unwrap();
        assert_eq!(schedule.offset_days.get("Late Adoption"), Some(&7));
        assert_eq!(schedule.offset_days.len(), 2);
        assert_eq!(schedule.blocked_weekdays, [Weekday::Sat, Weekday::Sun]);
        assert_eq!(schedule.blocked_dates.len(), 2);
        let back = ScheduleForm::from_schedule(&schedule, &rings);
        assert_eq!(back.parse().unwrap(), schedule);
        assert!(back.weekdays().iter().filter(|d| d.checked).count() == 2);
    }

    #[test]
    fn unreadable_values_are_reported_by_field() {
        let form = ScheduleForm::from_pairs(
            &pairs(&[
                ("base_date", "June 1st"),
                ("offset_days.Vanguard", "-3"),
                ("blocked_weekdays", "Someday"),
                ("blocked_dates", "2026-13-01"),
                ("window.start", "19:00"),
            ]),
            &["Vanguard".to_string()],
        );
        let fields: Vec<String> = form.parse().unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "base_date",
                "offset_days.Vanguard",
                "blocked_weekdays",
                "blocked_dates",
                "window"
            ]
        );
    }
}
