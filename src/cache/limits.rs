//! When downloads may run and how fast: the allowed windows and the shared bandwidth limit.
//! The `[cache]` configuration gives the defaults; a manager may set them on the Cache page,
//! which stores them in SQLite (`cache_download_limits`, migration 0013) where they take
//! precedence. The download worker re-reads them before every scan and applies a change made
//! here at once, so no restart is needed (and another Orchard process on the same database
//! picks the change up at its next scan).

use chrono::{DateTime, Utc};

use super::window::{WindowError, Windows};
use super::{CacheError, CacheService};
use crate::admin::Actor;
use crate::config::CacheConfig;
use crate::store::cache_limits::{self as sql, LimitsRow};
use crate::store::sql_time;

/// Most windows one may set (a day has 24 hours; more is a typing accident).
pub const MAX_WINDOWS: usize = 24;
/// The largest bandwidth limit accepted, in megabits per second (100 Gbit/s: more than any
/// appliance link). 0 means unlimited.
pub const MAX_MEGABITS: f64 = 100_000.0;
/// The smallest non-zero limit, in megabits per second (12.5 kB/s).
pub const MIN_MEGABITS: f64 = 0.1;
/// Bytes per second in one megabit per second.
const BYTES_PER_MEGABIT: f64 = 125_000.0;

/// Where the limits in force come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitsOrigin {
    /// The `[cache]` section of the configuration.
    Config,
    /// Set on the Cache page.
    Saved { at: String, by: String },
}

/// The download windows and bandwidth in force.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadLimits {
    /// `HH:MM-HH:MM` ranges, normalized; empty: any time.
    pub windows: Vec<String>,
    /// `local`, `UTC` or an offset such as `+02:00`.
    pub time_zone: String,
    /// Bytes per second shared by every download; 0: unlimited.
    pub bandwidth_bytes_per_second: u64,
    pub origin: LimitsOrigin,
}

/// Why a manager's limits were refused: a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error(
        "“{0}” is not a window. Write each as HH:MM-HH:MM with hours 00–23 and minutes 00–59, \
         for example 18:00-06:00 (a window may cross midnight)."
    )]
    Window(String),
    #[error("At most {MAX_WINDOWS} windows may be set; {0} were given.")]
    TooManyWindows(usize),
    #[error("“{0}” is not a time zone. Use local (this appliance's), UTC, or an offset such as +02:00.")]
    Zone(String),
    #[error(
        "“{0}” is not a bandwidth. Give megabits per second as a number, for example 50 or 2.5, \
         or 0 for no limit."
    )]
    NotANumber(String),
    #[error("The bandwidth cannot be negative. Give 0 for no limit.")]
    Negative,
    #[error(
        "{0} Mbit/s is more than any link this appliance could have. Give at most {MAX_MEGABITS} \
         (100 Gbit/s), or 0 for no limit."
    )]
    TooFast(String),
    #[error(
        "{0} Mbit/s is too slow to download anything useful. Give at least {MIN_MEGABITS}, or 0 for \
         no limit."
    )]
    TooSlow(String),
}

/// The limits as a manager typed them, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLimits {
    pub windows: Vec<String>,
    pub time_zone: String,
    pub bandwidth_bytes_per_second: u64,
}

impl NewLimits {
    /// Parses the Cache page's form: windows separated by commas, spaces or new lines (empty:
    /// any time), the zone, and the bandwidth in megabits per second (0 or empty: unlimited).
    pub fn parse(windows: &str, time_zone: &str, megabits: &str) -> Result<NewLimits, LimitsError> {
        let ranges: Vec<String> = windows
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        if ranges.len() > MAX_WINDOWS {
            return Err(LimitsError::TooManyWindows(ranges.len()));
        }
        let zone = match time_zone.trim() {
            "" => "local".to_string(),
            z => z.to_string(),
        };
        let parsed = Windows::parse(&ranges, &zone).map_err(|e| match e {
            WindowError::Range(r) => LimitsError::Window(clip(&r)),
            WindowError::Zone(z) => LimitsError::Zone(clip(&z)),
        })?;
        Ok(NewLimits {
            windows: parsed.describe(),
            time_zone: zone,
            bandwidth_bytes_per_second: bandwidth(megabits)?,
        })
    }
}

/// Megabits per second (text) to bytes per second, within the accepted range.
fn bandwidth(megabits: &str) -> Result<u64, LimitsError> {
    let text = megabits.trim();
    if text.is_empty() {
        return Ok(0);
    }
    let value: f64 = text
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| LimitsError::NotANumber(clip(text)))?;
    if value < 0.0 {
        return Err(LimitsError::Negative);
    }
    if value > MAX_MEGABITS {
        return Err(LimitsError::TooFast(clip(text)));
    }
    if value == 0.0 {
        return Ok(0);
    }
    if value < MIN_MEGABITS {
        return Err(LimitsError::TooSlow(clip(text)));
    }
    Ok((value * BYTES_PER_MEGABIT).round() as u64)
}

/// Echoes at most 40 characters of what was typed.
fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// The limits in force now, with their parsed windows.
#[derive(Debug, Clone)]
pub(super) struct ActiveLimits {
    pub limits: DownloadLimits,
    pub windows: Windows,
}

impl ActiveLimits {
    /// The configuration's limits (checked at start-up).
    pub(super) fn from_config(config: &CacheConfig) -> Result<ActiveLimits, WindowError> {
        let windows = Windows::parse(&config.allowed_windows, &config.window_time_zone)?;
        Ok(ActiveLimits {
            limits: DownloadLimits {
                windows: windows.describe(),
                time_zone: config.window_time_zone.clone(),
                bandwidth_bytes_per_second: config.bandwidth_bytes_per_second,
                origin: LimitsOrigin::Config,
            },
            windows,
        })
    }

    /// The saved limits; `None` when the row no longer parses (the configuration applies).
    pub(super) fn from_row(row: LimitsRow) -> Option<ActiveLimits> {
        let windows = Windows::parse(&row.allowed_windows, &row.window_time_zone).ok()?;
        Some(ActiveLimits {
            limits: DownloadLimits {
                windows: windows.describe(),
                time_zone: row.window_time_zone,
                bandwidth_bytes_per_second: row.bandwidth_bytes_per_second,
                origin: LimitsOrigin::Saved {
                    at: row.updated_at,
                    by: row.updated_by,
                },
            },
            windows,
        })
    }
}

impl CacheService {
    /// The download windows and bandwidth in force.
    pub fn download_limits(&self) -> DownloadLimits {
        self.active().limits
    }

    /// Whether downloads may run at `now`.
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.active().windows.is_open(now)
    }

    pub(super) fn active(&self) -> ActiveLimits {
        self.inner
            .limits
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn apply(&self, active: ActiveLimits) {
        self.inner
            .throttle
            .set_rate(active.limits.bandwidth_bytes_per_second);
        *self.inner.limits.write().unwrap_or_else(|p| p.into_inner()) = active;
    }

    /// Re-reads the saved limits (else the configuration's) and applies them. The worker calls
    /// this before every scan.
    pub async fn reload_limits(&self) -> Result<(), CacheError> {
        let row = self.inner.store.read(sql::get).await?;
        self.apply_row(row);
        Ok(())
    }

    pub(super) fn apply_row(&self, row: Option<LimitsRow>) {
        let saved = row.and_then(|r| {
            let parsed = ActiveLimits::from_row(r);
            if parsed.is_none() {
                tracing::warn!("the saved download limits do not parse; the configuration applies");
            }
            parsed
        });
        let active = match saved {
            Some(a) => a,
            None => match ActiveLimits::from_config(&self.inner.config) {
                Ok(a) => a,
                // Checked when the service opened; keep what is in force.
                Err(_) => return,
            },
        };
        self.apply(active);
    }

    /// Saves a manager's limits (audited in the same transaction), applies them at once and
    /// wakes the worker, so a job waiting for a window starts if the new one is open.
    pub async fn set_download_limits(
        &self,
        new: NewLimits,
        actor: &Actor,
    ) -> Result<DownloadLimits, CacheError> {
        let now = self.inner.clock.now();
        let row = LimitsRow {
            allowed_windows: new.windows.clone(),
            window_time_zone: new.time_zone.clone(),
            bandwidth_bytes_per_second: new.bandwidth_bytes_per_second,
            updated_at: sql_time(now),
            updated_by: actor.name.clone(),
        };
        let before = self.download_limits();
        let (r, actor) = (row.clone(), actor.clone());
        self.inner
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                sql::set(&tx, &r)?;
                crate::admin::audit::record(
                    &tx,
                    &actor,
                    now,
                    "cache.limits",
                    "cache",
                    Some(limits_json(&before)),
                    Some(serde_json::json!({
                        "allowed_windows": r.allowed_windows,
                        "window_time_zone": r.window_time_zone,
                        "bandwidth_bytes_per_second": r.bandwidth_bytes_per_second,
                    })),
                )?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.apply_row(Some(row));
        self.inner.wake.notify_one();
        Ok(self.download_limits())
    }

    /// Forgets the saved limits: the configuration's apply again (audited).
    pub async fn reset_download_limits(&self, actor: &Actor) -> Result<DownloadLimits, CacheError> {
        let now = self.inner.clock.now();
        let before = self.download_limits();
        let actor = actor.clone();
        self.inner
            .store
            .write(move |c| {
                let tx = c.transaction()?;
                if sql::clear(&tx)? {
                    crate::admin::audit::record(
                        &tx,
                        &actor,
                        now,
                        "cache.limits_reset",
                        "cache",
                        Some(limits_json(&before)),
                        None,
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.apply_row(None);
        self.inner.wake.notify_one();
        Ok(self.download_limits())
    }
}

fn limits_json(l: &DownloadLimits) -> serde_json::Value {
    serde_json::json!({
        "allowed_windows": l.windows,
        "window_time_zone": l.time_zone,
        "bandwidth_bytes_per_second": l.bandwidth_bytes_per_second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_may_cross_midnight_and_are_normalized() {
        let l = NewLimits::parse(" 18:00-06:00,\n12:00-13:30 ", "UTC", "50").unwrap();
        assert_eq!(l.windows, vec!["18:00-06:00", "12:00-13:30"]);
        assert_eq!(l.time_zone, "UTC");
        assert_eq!(l.bandwidth_bytes_per_second, 6_250_000);
        let any = NewLimits::parse("", "", "").unwrap();
        assert!(any.windows.is_empty());
        assert_eq!(
            (any.time_zone.as_str(), any.bandwidth_bytes_per_second),
            ("local", 0)
        );
    }

    #[test]
    fn bad_times_zones_and_rates_are_refused_with_the_reason() {
        let cases = [
            (("25:00-06:00", "UTC", "1"), "is not a window"),
            (("18:00", "UTC", "1"), "is not a window"),
            (("18:00-06:61", "UTC", "1"), "is not a window"),
            (("18:00-06:00", "Mars/Olympus", "1"), "is not a time zone"),
            (("", "UTC", "-5"), "cannot be negative"),
            (("", "UTC", "fast"), "is not a bandwidth"),
            (("", "UTC", "NaN"), "is not a bandwidth"),
            (("", "UTC", "inf"), "is not a bandwidth"),
            (("", "UTC", "1e12"), "more than any link"),
            (("", "UTC", "0.001"), "too slow"),
        ];
        for ((w, z, b), want) in cases {
            let err = NewLimits::parse(w, z, b).unwrap_err().to_string();
            assert!(err.contains(want), "{w} {z} {b}: {err}");
        }
        let many = vec!["01:00-02:00"; MAX_WINDOWS + 1].join(",");
        assert_eq!(
            NewLimits::parse(&many, "UTC", "0"),
            Err(LimitsError::TooManyWindows(MAX_WINDOWS + 1))
        );
    }
}
