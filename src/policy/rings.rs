//! Deployment rings: one base date, per-ring offsets, days on which no deadline may fall, a
//! maintenance window for the deadline time; and the four default ring groups.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use super::model::{AutomaticLatest, BsiPolicy, DeferralPeriods, Enforcement, MajorPolicy, Policy};
use crate::protocol::ddm::{Platform, SoftwareUpdateSettings};

/// How far a deadline is moved forward at most looking for an allowed day (a schedule that blocks
/// every day is refused by validation; this only bounds the loop).
const MAX_SHIFT_DAYS: u32 = 366;

/// The rollout calendar shared by a set of rings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingSchedule {
    /// One release date for every ring: when set, rollouts count from it (never before the
    /// release is posted) instead of from each release's posting date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_date: Option<NaiveDate>,
    /// Ring name → days added to its deadlines (e.g. +0, +3, +7).
    #[serde(default)]
    pub offset_days: BTreeMap<String, u32>,
    /// No deadline falls on these weekdays: it moves to the next allowed day.
    #[serde(default)]
    pub blocked_weekdays: Vec<Weekday>,
    /// No deadline falls on these dates (holidays, exams): it moves to the next allowed day.
    #[serde(default)]
    pub blocked_dates: Vec<NaiveDate>,
    /// Deadlines fall inside this local time window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MaintenanceWindow>,
}

/// A local time window, `start` inclusive to `end` inclusive, within one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// The ring a device is evaluated in.
#[derive(Debug, Clone, Copy)]
pub struct RingAssignment<'a> {
    pub name: &'a str,
    pub schedule: &'a RingSchedule,
}

impl RingAssignment<'_> {
    pub fn offset_days(&self) -> u32 {
        self.schedule.offset_days.get(self.name).copied().unwrap_or(0)
    }
}

/// Where a deadline landed after the calendar was applied, and why it moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjusted {
    pub at: NaiveDateTime,
    /// Human-readable reasons ("Thursday is blocked"), empty when it did not move.
    pub moves: Vec<String>,
}

impl RingSchedule {
    fn is_blocked(&self, date: NaiveDate) -> bool {
        self.blocked_weekdays.contains(&date.weekday()) || self.blocked_dates.contains(&date)
    }

    /// Moves `wanted` to the first allowed day at or after it, and its time into the window.
    pub fn adjust(&self, wanted: NaiveDateTime) -> Adjusted {
        let mut moves = Vec::new();
        let mut date = wanted.date();
        let mut time = wanted.time();
        if let Some(w) = self.window {
            if time < w.start {
                moves.push(format!(
                    "moved into the maintenance window at {}",
                    w.start.format("%H:%M")
                ));
                time = w.start;
            } else if time > w.end {
                moves.push(format!(
                    "after the maintenance window ({}–{}): moved to the next day's window",
                    w.start.format("%H:%M"),
                    w.end.format("%H:%M")
                ));
                time = w.start;
                date = date.checked_add_days(Days::new(1)).unwrap_or(date);
            }
        }
        let mut shifted = 0;
        while self.is_blocked(date) && shifted < MAX_SHIFT_DAYS {
            let why = if self.blocked_dates.contains(&date) {
                format!("{date} is blocked")
            } else {
                format!("{} {date} is a blocked weekday", weekday_name(date.weekday()))
            };
            moves.push(why);
            date = date.checked_add_days(Days::new(1)).unwrap_or(date);
            shifted += 1;
        }
        Adjusted {
            at: date.and_time(time),
            moves,
        }
    }

    /// True when some day of the week can still carry a deadline.
    pub fn has_allowed_weekday(&self) -> bool {
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .iter()
        .any(|d| !self.blocked_weekdays.contains(d))
    }
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// One of the default ring groups, with its iOS/iPadOS and macOS policies.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultRing {
    /// The group name, also the ring name.
    pub name: &'static str,
    pub deferral_days: u32,
    /// Days of grace after the deferral ends.
    pub deadline_days: u32,
    pub policies: Vec<Policy>,
}

/// The local time default-ring deadlines fall at.
pub const DEFAULT_RING_TIME: (u32, u32) = (18, 0);

/// Vanguard (deferral 1 day, deadline 3 days), Early Adopter (7, 7), General Adoption (15, 10),
/// Late Adoption (30, 10): automatic latest, no major upgrades until an administrator allows them.
pub fn default_rings() -> Vec<DefaultRing> {
    let rings = [
        ("Vanguard", "vanguard", 1, 3),
        ("Early Adopter", "early-adopter", 7, 7),
        ("General Adoption", "general-adoption", 15, 10),
        ("Late Adoption", "late-adoption", 30, 10),
    ];
    let at = NaiveTime::from_hms_opt(DEFAULT_RING_TIME.0, DEFAULT_RING_TIME.1, 0).unwrap_or(NaiveTime::MIN);
    rings
        .iter()
        .map(|&(name, slug, deferral, grace)| {
            let policy = |suffix: &str,
                          label: &str,
                          platforms: Vec<Platform>,
                          deferral_days: DeferralPeriods| Policy {
                name: format!("ring-{slug}-{suffix}"),
                label: format!("{name} ({label})"),
                platforms,
                priority: 0,
                enforcement: Enforcement::AutomaticLatest(AutomaticLatest {
                    deferral: deferral_days,
                    grace_days: grace,
                    at,
                    details_url: None,
                }),
                bsi: BsiPolicy::None,
                settings: SoftwareUpdateSettings::default(),
                majors: MajorPolicy::default(),
            };
            DefaultRing {
                name,
                deferral_days: deferral,
                deadline_days: grace,
                policies: vec![
                    policy(
                        "ios",
                        "iOS, iPadOS",
                        vec![Platform::Ios, Platform::IpadOs],
                        DeferralPeriods {
                            combined: Some(deferral),
                            ..DeferralPeriods::default()
                        },
                    ),
                    policy(
                        "macos",
                        "macOS",
                        vec![Platform::MacOs],
                        DeferralPeriods {
                            major: Some(deferral),
                            minor: Some(deferral),
                            system: Some(deferral),
                            combined: None,
                        },
                    ),
                ],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn blocked_weekdays_dates_and_the_window_move_a_deadline_forward() {
        let schedule = RingSchedule {
            blocked_weekdays: vec![Weekday::Sat, Weekday::Sun],
            blocked_dates: vec![NaiveDate::from_ymd_opt(2026, 4, 13).unwrap()],
            window: Some(MaintenanceWindow {
                start: NaiveTime::from_hms_opt(19, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
            }),
            ..RingSchedule::default()
        };
        let table = [
            // Wednesday inside the window: unchanged.
            (at(2026, 4, 8, 20, 0), at(2026, 4, 8, 20, 0)),
            // Wednesday before the window: same day, window start.
            (at(2026, 4, 8, 9, 0), at(2026, 4, 8, 19, 0)),
            // Friday after the window: Saturday, Sunday blocked, Monday 13th blocked → Tuesday.
            (at(2026, 4, 10, 23, 30), at(2026, 4, 14, 19, 0)),
            // Saturday: → Tuesday.
            (at(2026, 4, 11, 20, 0), at(2026, 4, 14, 20, 0)),
        ];
        for (wanted, expected) in table {
            let got = schedule.adjust(wanted);
            assert_eq!(got.at, expected, "{wanted}: {:?}", got.moves);
            assert_eq!(got.moves.is_empty(), wanted == expected);
        }
        assert!(schedule.has_allowed_weekday());
    }

    #[test]
    fn default_rings_are_the_four_documented_rings_for_ios_and_macos() {
        let rings = default_rings();
        let figures: Vec<(&str, u32, u32)> = rings
            .iter()
            .map(|r| (r.name, r.deferral_days, r.deadline_days))
            .collect();
        assert_eq!(
            figures,
            [
                ("Vanguard", 1, 3),
                ("Early Adopter", 7, 7),
                ("General Adoption", 15, 10),
                ("Late Adoption", 30, 10)
            ]
        );
        for ring in &rings {
            let platforms: Vec<Vec<Platform>> = ring.policies.iter().map(|p| p.platforms.clone()).collect();
            assert_eq!(
                platforms,
                [vec![Platform::Ios, Platform::IpadOs], vec![Platform::MacOs]]
            );
            for p in &ring.policies {
                let Enforcement::AutomaticLatest(a) = &p.enforcement else {
                    panic!("{} is not automatic latest", p.name)
                };
                assert_eq!(a.grace_days, ring.deadline_days);
                let platform = p.platforms[0];
                assert_eq!(a.deferral.for_release(platform, false), ring.deferral_days);
            }
        }
        let names: std::collections::HashSet<String> = rings
            .iter()
            .flat_map(|r| r.policies.iter().map(|p| p.name.clone()))
            .collect();
        assert_eq!(names.len(), 8, "policy names are unique");
    }
}
