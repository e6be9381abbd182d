//! Which update the simulated device works on next: deferrals hide an update until its posting
//! date plus the deferral days; enforcements are served earliest deadline first, each matched
//! against the updates visible by then (facts §2, §3).

use chrono::{DateTime, Duration, Utc};

use super::device::{DeviceProfile, OfferedUpdate};
use crate::protocol::ddm::{EnforcementSpecific, OsVersion, Platform, SoftwareUpdateSettings};

/// The update being worked on, and the enforcement that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Job {
    pub declaration_id: String,
    pub enforcement: EnforcementSpecific,
    pub update: OfferedUpdate,
    pub deadline: DateTime<Utc>,
}

/// What Apple offers this device, seen through its settings.
pub(super) struct Offers<'a> {
    pub device: &'a DeviceProfile,
    pub settings: Option<&'a SoftwareUpdateSettings>,
    pub catalog: &'a [OfferedUpdate],
}

impl Offers<'_> {
    /// The deferral that hides `update` (settings `Deferrals`: combined on iOS, iPadOS, tvOS and
    /// visionOS; major or minor on macOS).
    fn deferral(&self, update: &OfferedUpdate) -> Duration {
        let Some(deferrals) = self.settings.and_then(|s| s.deferrals.as_ref()) else {
            return Duration::zero();
        };
        let days = match self.device.platform {
            Platform::MacOs => {
                let major_update = match (update.parsed_version(), self.device.installed_version()) {
                    (Some(offered), Some(installed)) => offered.major > installed.major,
                    _ => false,
                };
                if major_update {
                    deferrals.major_period_in_days
                } else {
                    deferrals.minor_period_in_days
                }
            }
            _ => deferrals.combined_period_in_days,
        };
        Duration::days(days.map_or(0, |d| i64::from(d.days())))
    }

    /// When `update` stops being hidden by a deferral.
    pub fn visible_from(&self, update: &OfferedUpdate) -> DateTime<Utc> {
        update.posted + self.deferral(update)
    }

    /// The job to start next and when (not before `from`). A target without a patch number
    /// (`18.4`) takes the newest visible `18.4.x`; with one, exactly that version. A matching
    /// `TargetBuildVersion` picks that build; otherwise the version wins.
    pub fn next_job(
        &self,
        enforcements: &[(String, EnforcementSpecific)],
        from: DateTime<Utc>,
    ) -> Option<(Job, DateTime<Utc>)> {
        let installed = self.device.installed_version()?;
        let mut ordered: Vec<&(String, EnforcementSpecific)> = enforcements.iter().collect();
        ordered.sort_by_key(|(id, e)| (e.target_local_date_time, id.clone()));
        for (id, enforcement) in ordered {
            let Ok(target) = enforcement.target_os_version.parse::<OsVersion>() else {
                continue;
            };
            if target <= installed {
                continue;
            }
            let exact = enforcement.target_os_version.matches('.').count() >= 2;
            let matches = |v: OsVersion| {
                v > installed
                    && if exact {
                        v == target
                    } else {
                        v.major == target.major && v.minor == target.minor
                    }
            };
            let matching: Vec<&OfferedUpdate> = self
                .catalog
                .iter()
                .filter(|u| u.parsed_version().is_some_and(matches))
                .collect();
            let Some(start) = matching.iter().map(|u| self.visible_from(u).max(from)).min() else {
                continue;
            };
            let visible: Vec<&OfferedUpdate> = matching
                .into_iter()
                .filter(|u| self.visible_from(u) <= start)
                .collect();
            let by_build = enforcement
                .target_build_version
                .as_ref()
                .and_then(|build| visible.iter().find(|u| &u.build == build));
            let newest = visible.iter().max_by_key(|u| u.parsed_version());
            let Some(update) = by_build.or(newest) else {
                continue;
            };
            let job = Job {
                declaration_id: id.clone(),
                enforcement: enforcement.clone(),
                update: (*update).clone(),
                deadline: self.device.local_to_utc(enforcement.target_local_date_time.0),
            };
            return Some((job, start));
        }
        None
    }
}
