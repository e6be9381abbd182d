//! Allowed download windows (`cache.allowed_windows`, e.g. `18:00-06:00`), in a configured
//! time zone. Pure: the time is passed in.

use chrono::{DateTime, FixedOffset, Local, NaiveTime, Offset, Timelike, Utc};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WindowError {
    #[error("`{0}` is not a window of the form HH:MM-HH:MM")]
    Range(String),
    #[error("`{0}` is not a time zone (`local`, `UTC` or an offset such as `+02:00`)")]
    Zone(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    Local,
    Fixed(FixedOffset),
}

/// One daily range; `start > end` crosses midnight; `start == end` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u32,
    end: u32,
}

impl Range {
    fn contains(&self, minute: u32) -> bool {
        if self.start == self.end {
            true
        } else if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// When downloads may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    ranges: Vec<Range>,
    zone: Zone,
}

fn minute_of(text: &str, whole: &str) -> Result<u32, WindowError> {
    let t = NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| WindowError::Range(whole.into()))?;
    Ok(t.hour() * 60 + t.minute())
}

impl Windows {
    /// Parses `cache.allowed_windows` and `cache.window_time_zone`. No ranges: always open.
    pub fn parse(ranges: &[String], zone: &str) -> Result<Windows, WindowError> {
        let zone = match zone.trim() {
            z if z.eq_ignore_ascii_case("local") => Zone::Local,
            z if z.eq_ignore_ascii_case("utc") || z == "Z" => Zone::Fixed(Utc.fix()),
            z => Zone::Fixed(
                z.parse::<FixedOffset>()
                    .map_err(|_| WindowError::Zone(z.to_string()))?,
            ),
        };
        let ranges = ranges
            .iter()
            .map(|r| {
                let (a, b) = r.split_once('-').ok_or_else(|| WindowError::Range(r.clone()))?;
                Ok(Range {
                    start: minute_of(a, r)?,
                    end: minute_of(b, r)?,
                })
            })
            .collect::<Result<Vec<_>, WindowError>>()?;
        Ok(Windows { ranges, zone })
    }

    /// Always open.
    pub fn always() -> Windows {
        Windows {
            ranges: Vec::new(),
            zone: Zone::Fixed(Utc.fix()),
        }
    }

    fn minute_at(&self, now: DateTime<Utc>) -> u32 {
        let local = match self.zone {
            Zone::Local => now.with_timezone(&Local).time(),
            Zone::Fixed(offset) => now.with_timezone(&offset).time(),
        };
        local.hour() * 60 + local.minute()
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        if self.ranges.is_empty() {
            return true;
        }
        let minute = self.minute_at(now);
        self.ranges.iter().any(|r| r.contains(minute))
    }

    /// The configured ranges as written (for the UI), empty when always open.
    pub fn describe(&self) -> Vec<String> {
        self.ranges
            .iter()
            .map(|r| {
                format!(
                    "{:02}:{:02}-{:02}:{:02}",
                    r.start / 60,
                    r.start % 60,
                    r.end / 60,
                    r.end % 60
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hhmm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-10T{hhmm}:00Z"))
            .unwrap()
            .to_utc()
    }

    #[test]
    fn a_window_across_midnight_is_open_at_night_only() {
        let w = Windows::parse(&["18:00-06:00".into()], "UTC").unwrap();
        assert!(w.is_open(at("18:00")));
        assert!(w.is_open(at("23:59")));
        assert!(w.is_open(at("05:59")));
        assert!(!w.is_open(at("06:00")));
        assert!(!w.is_open(at("12:00")));
    }

    #[test]
    fn offsets_shift_the_window_and_empty_means_always() {
        let w = Windows::parse(&["09:00-10:00".into()], "+02:00").unwrap();
        assert!(w.is_open(at("07:30")));
        assert!(!w.is_open(at("09:30")));
        assert!(Windows::parse(&[], "local").unwrap().is_open(at("12:00")));
    }

    #[test]
    fn malformed_windows_and_zones_are_refused() {
        assert!(Windows::parse(&["18-06".into()], "UTC").is_err());
        assert!(Windows::parse(&["25:00-06:00".into()], "UTC").is_err());
        assert!(Windows::parse(&["18:00-06:00".into()], "Mars/Olympus").is_err());
    }
}
