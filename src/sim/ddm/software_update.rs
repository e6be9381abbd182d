//! The simulated device's software-update engine, driven by a clock (no sleeps, no timers): given
//! the applied `softwareupdate.settings` and `softwareupdate.enforcement.specific` configurations
//! and what Apple offers, it downloads, reaches `prepared`, installs at the deadline (device-local
//! time), restarts on the new version, and reports it through the `softwareupdate.*` status items.
//!
//! Model choices (facts §2–§4): deferrals hide an update entirely until its posting date plus the
//! deferral days, so an enforcement whose update is still hidden waits (it stays active and does
//! nothing, as for "no matching update"); several enforcements are served earliest deadline first,
//! and targets at or below the installed version are then ignored; a deadline already past when
//! the update is prepared installs at once.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::device::{DeviceProfile, ModelTiming, OfferedUpdate};
use super::update_choice::{Job, Offers};
use crate::clock::SharedClock;
use crate::protocol::ddm::{EnforcementSpecific, OsVersion, SoftwareUpdateSettings};

const NO_SPACE: &str = "Not enough free space to download and prepare the update";
const DOWNLOAD_FAILED: &str = "The update could not be downloaded";
const USER_POSTPONED: &str = "The user postponed the installation";
/// A bound on the events one `advance` processes (every step moves time forward unless a
/// duration is zero; this keeps a zero-duration configuration from looping forever).
const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Idle,
    Downloading {
        job: Job,
        done_at: DateTime<Utc>,
    },
    /// The last attempt failed; the next one starts at `retry_at`.
    Failed {
        job: Job,
        retry_at: DateTime<Utc>,
    },
    /// Downloaded; installs at the deadline, or from `since` if that is later.
    Prepared {
        job: Job,
        since: DateTime<Utc>,
    },
    /// At the deadline, waiting for the user to enter the passcode.
    AwaitingPasscode {
        job: Job,
        entered_at: DateTime<Utc>,
    },
    Installing {
        job: Job,
        done_at: DateTime<Utc>,
    },
}

impl Phase {
    fn job(&self) -> Option<&Job> {
        match self {
            Phase::Idle => None,
            Phase::Downloading { job, .. }
            | Phase::Failed { job, .. }
            | Phase::Prepared { job, .. }
            | Phase::AwaitingPasscode { job, .. }
            | Phase::Installing { job, .. } => Some(job),
        }
    }
}

/// `softwareupdate.failure-reason`, as the device keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Failures {
    count: i64,
    reason: Option<&'static str>,
    at: Option<DateTime<Utc>>,
}

/// The device's update engine. See the module documentation.
pub struct SoftwareUpdateModel {
    clock: SharedClock,
    device: DeviceProfile,
    catalog: Vec<OfferedUpdate>,
    timing: ModelTiming,
    settings: Option<SoftwareUpdateSettings>,
    enforcements: Vec<(String, EnforcementSpecific)>,
    phase: Phase,
    /// Time up to which events have been processed.
    cursor: DateTime<Utc>,
    failures: Failures,
    download_failures_left: u32,
    postponements_left: u32,
}

impl SoftwareUpdateModel {
    pub fn new(clock: SharedClock, device: DeviceProfile, catalog: Vec<OfferedUpdate>) -> Self {
        let cursor = clock.now();
        SoftwareUpdateModel {
            clock,
            device,
            catalog,
            timing: ModelTiming::default(),
            settings: None,
            enforcements: Vec::new(),
            phase: Phase::Idle,
            cursor,
            failures: Failures::default(),
            download_failures_left: 0,
            postponements_left: 0,
        }
    }

    pub fn with_timing(mut self, timing: ModelTiming) -> Self {
        self.timing = timing;
        self
    }

    pub fn device(&self) -> &DeviceProfile {
        &self.device
    }

    /// Changes the device (e.g. free space, passcode, time zone) from now on.
    pub fn device_mut(&mut self) -> &mut DeviceProfile {
        self.advance();
        &mut self.device
    }

    /// Apple posts a new update.
    pub fn offer(&mut self, update: OfferedUpdate) {
        self.advance();
        self.catalog.push(update);
    }

    /// The next `times` downloads fail.
    pub fn fail_downloads(&mut self, times: u32) {
        self.download_failures_left = times;
    }

    /// The user postpones the next `times` installs at the deadline.
    pub fn postpone_installs(&mut self, times: u32) {
        self.postponements_left = times;
    }

    /// Why an enforcement cannot be applied (a device reports it on the declaration), or `Ok`.
    pub fn check_enforcement(&self, enforcement: &EnforcementSpecific) -> Result<(), String> {
        let target: OsVersion = enforcement.target_os_version.parse().map_err(|_| {
            format!(
                "TargetOSVersion {:?} is not a version",
                enforcement.target_os_version
            )
        })?;
        match self.device.installed_version() {
            Some(installed) if target <= installed => Err(format!(
                "The target OS version {} is not newer than the installed version {}",
                enforcement.target_os_version, self.device.os_version
            )),
            _ => Ok(()),
        }
    }

    /// Applies the active configurations (the valid ones). A job whose enforcement went away or
    /// changed its target is dropped; a changed deadline is taken as is.
    pub fn configure(
        &mut self,
        settings: Option<SoftwareUpdateSettings>,
        enforcements: Vec<(String, EnforcementSpecific)>,
    ) {
        self.advance();
        self.settings = settings;
        self.enforcements = enforcements;
        self.reconcile_job();
        self.advance();
    }

    fn reconcile_job(&mut self) {
        let Some(job) = self.phase.job().cloned() else {
            return;
        };
        let same = self.enforcements.iter().find(|(id, e)| {
            *id == job.declaration_id
                && e.target_os_version == job.enforcement.target_os_version
                && e.target_build_version == job.enforcement.target_build_version
        });
        match same {
            Some((_, enforcement)) => {
                let deadline = self.device.local_to_utc(enforcement.target_local_date_time.0);
                set_deadline(&mut self.phase, deadline);
            }
            None => self.phase = Phase::Idle,
        }
    }

    /// Processes every event up to the clock's now. Returns whether anything changed.
    pub fn advance(&mut self) -> bool {
        let now = self.clock.now();
        let mut changed = false;
        for _ in 0..MAX_EVENTS {
            let Some(at) = self.next_event_time() else { break };
            if at > now {
                break;
            }
            self.cursor = self.cursor.max(at);
            self.step(at);
            changed = true;
        }
        self.cursor = self.cursor.max(now);
        changed
    }

    fn next_event_time(&self) -> Option<DateTime<Utc>> {
        match &self.phase {
            Phase::Idle => self.next_job(self.cursor).map(|(_, start)| start),
            Phase::Downloading { done_at, .. } | Phase::Installing { done_at, .. } => Some(*done_at),
            Phase::Failed { retry_at, .. } => Some(*retry_at),
            Phase::Prepared { job, since } => Some(job.deadline.max(*since)),
            Phase::AwaitingPasscode { entered_at, .. } => Some(*entered_at),
        }
    }

    fn step(&mut self, at: DateTime<Utc>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        self.phase = match phase {
            Phase::Idle => match self.next_job(at) {
                Some((job, _)) => self.begin_download(job, at),
                None => Phase::Idle,
            },
            Phase::Downloading { job, .. } => {
                if self.download_failures_left > 0 {
                    self.download_failures_left -= 1;
                    self.fail(job, at, DOWNLOAD_FAILED)
                } else {
                    Phase::Prepared { job, since: at }
                }
            }
            Phase::Failed { .. } => Phase::Idle,
            Phase::Prepared { job, .. } if self.device.install_needs_passcode() => Phase::AwaitingPasscode {
                job,
                entered_at: at + self.timing.passcode_entry,
            },
            Phase::Prepared { job, .. } | Phase::AwaitingPasscode { job, .. } => self.try_install(job, at),
            Phase::Installing { job, .. } => {
                self.device.os_version = job.update.version;
                self.device.build_version = job.update.build;
                self.failures = Failures::default();
                Phase::Idle
            }
        };
    }

    fn begin_download(&mut self, job: Job, at: DateTime<Utc>) -> Phase {
        if self.device.free_space_bytes < job.update.required_space_bytes {
            return self.fail(job, at, NO_SPACE);
        }
        Phase::Downloading {
            job,
            done_at: at + self.timing.download,
        }
    }

    fn try_install(&mut self, job: Job, at: DateTime<Utc>) -> Phase {
        if self.postponements_left > 0 {
            self.postponements_left -= 1;
            self.record_failure(at, USER_POSTPONED);
            return Phase::Prepared {
                job,
                since: at + self.timing.postpone,
            };
        }
        Phase::Installing {
            job,
            done_at: at + self.timing.install,
        }
    }

    fn fail(&mut self, job: Job, at: DateTime<Utc>, reason: &'static str) -> Phase {
        self.record_failure(at, reason);
        Phase::Failed {
            job,
            retry_at: at + self.timing.retry_after,
        }
    }

    fn record_failure(&mut self, at: DateTime<Utc>, reason: &'static str) {
        self.failures.count += 1;
        self.failures.reason = Some(reason);
        self.failures.at = Some(at);
    }

    /// When `update` stops being hidden by a deferral.
    pub fn visible_from(&self, update: &OfferedUpdate) -> DateTime<Utc> {
        self.offers().visible_from(update)
    }

    fn offers(&self) -> Offers<'_> {
        Offers {
            device: &self.device,
            settings: self.settings.as_ref(),
            catalog: &self.catalog,
        }
    }

    /// The updates newer than the installed version that the device sees now.
    pub fn visible_updates(&self) -> Vec<&OfferedUpdate> {
        let now = self.clock.now();
        let installed = self.device.installed_version();
        self.catalog
            .iter()
            .filter(|u| {
                u.parsed_version()
                    .is_some_and(|v| installed.is_none_or(|i| v > i))
            })
            .filter(|u| self.visible_from(u) <= now)
            .collect()
    }

    fn next_job(&self, from: DateTime<Utc>) -> Option<(Job, DateTime<Utc>)> {
        self.offers().next_job(&self.enforcements, from)
    }

    /// `softwareupdate.install-state`.
    pub fn install_state(&self) -> &'static str {
        match &self.phase {
            Phase::Idle => "none",
            Phase::Downloading { .. } => "downloading",
            Phase::Failed { .. } => "failed",
            Phase::Prepared { .. } | Phase::AwaitingPasscode { .. } => "prepared",
            Phase::Installing { .. } => "installing",
        }
    }

    /// Whether the install waits for the user's passcode right now.
    pub fn awaiting_passcode(&self) -> bool {
        matches!(self.phase, Phase::AwaitingPasscode { .. })
    }

    /// The `softwareupdate.*` and `device.operating-system.*` items, with the values and shapes
    /// of Apple's status schemas.
    pub fn status_items(&self) -> Vec<(&'static str, Value)> {
        let job = self.phase.job();
        let pending = match job {
            Some(job) => json!({"os-version": job.update.version, "build-version": job.update.build}),
            None => json!({"os-version": "", "build-version": ""}),
        };
        let reason = match job {
            Some(job) => json!({"reason": ["declaration"], "declaration-id": job.declaration_id}),
            None => json!({"reason": []}),
        };
        let mut failure = json!({"count": self.failures.count});
        if let (Some(reason), Some(at)) = (self.failures.reason, self.failures.at) {
            failure["reason"] = json!(reason);
            failure["timestamp"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        vec![
            ("softwareupdate.install-state", json!(self.install_state())),
            ("softwareupdate.pending-version", pending),
            ("softwareupdate.install-reason", reason),
            ("softwareupdate.failure-reason", failure),
            ("device.operating-system.version", json!(self.device.os_version)),
            (
                "device.operating-system.build-version",
                json!(self.device.build_version),
            ),
        ]
    }
}

fn set_deadline(phase: &mut Phase, deadline: DateTime<Utc>) {
    match phase {
        Phase::Idle => {}
        Phase::Downloading { job, .. }
        | Phase::Failed { job, .. }
        | Phase::Prepared { job, .. }
        | Phase::AwaitingPasscode { job, .. }
        | Phase::Installing { job, .. } => job.deadline = deadline,
    }
}
