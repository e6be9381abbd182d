//! Reading one form value at a time: each reader records what could not be read on its form key
//! and returns a placeholder, so that every problem of a form is found in one pass.

use chrono::{NaiveDate, NaiveTime};

use crate::catalog::OsVersion;
use crate::policy::Severity;
use crate::policy::validate::Problem;

/// Collects what could not be read; each reader returns a placeholder so that reading goes on.
pub(super) struct Reader(pub(super) Vec<Problem>);

impl Reader {
    pub(super) fn error(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(Problem {
            field: key.to_string(),
            severity: Severity::Error,
            message: message.into(),
        });
    }

    pub(super) fn choice(&mut self, key: &str, value: &str) {
        self.error(key, format!("{value:?} is not one of the choices offered"));
    }

    /// A number of days; negative numbers are kept as an out-of-range value for validation.
    pub(super) fn optional_days(&mut self, key: &str, text: &str) -> Option<u32> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        match t.parse::<i64>() {
            Ok(n) if n < 0 => {
                self.error(key, format!("a number of days cannot be negative ({n})"));
                None
            }
            Ok(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(_) => {
                self.error(key, format!("enter a whole number of days, not {t:?}"));
                None
            }
        }
    }

    pub(super) fn days(&mut self, key: &str, text: &str) -> Option<u32> {
        if text.trim().is_empty() {
            self.error(key, "enter a number of days");
            return None;
        }
        self.optional_days(key, text)
    }

    pub(super) fn time(&mut self, key: &str, text: &str) -> NaiveTime {
        let t = text.trim();
        let parsed =
            NaiveTime::parse_from_str(t, "%H:%M").or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"));
        match parsed {
            Ok(time) => time,
            Err(_) if t.is_empty() => {
                self.error(key, "enter a local time (HH:MM)");
                NaiveTime::MIN
            }
            Err(_) => {
                self.error(key, format!("{t:?} is not a time of day (HH:MM, e.g. 18:00)"));
                NaiveTime::MIN
            }
        }
    }

    pub(super) fn date(&mut self, key: &str, text: &str) -> NaiveDate {
        let t = text.trim();
        match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) if t.is_empty() => {
                self.error(key, "enter a deadline date");
                NaiveDate::MIN
            }
            Err(_) => {
                self.error(key, format!("{t:?} is not a date (YYYY-MM-DD)"));
                NaiveDate::MIN
            }
        }
    }

    pub(super) fn version(&mut self, key: &str, text: &str) -> OsVersion {
        let t = text.trim();
        if t.is_empty() {
            self.error(key, "enter a version, e.g. 26.3.1");
            return OsVersion::new(0, 0, 0);
        }
        t.parse().unwrap_or_else(|_| {
            self.error(key, format!("{t:?} is not a version number (e.g. 26.3.1)"));
            OsVersion::new(0, 0, 0)
        })
    }
}
