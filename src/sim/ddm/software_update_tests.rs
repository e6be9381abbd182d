//! Unit tests of the software-update model on a virtual clock.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use super::device::{DeviceProfile, OfferedUpdate};
use super::software_update::SoftwareUpdateModel;
use crate::clock::VirtualClock;
use crate::protocol::ddm::{
    DeferralDays, Deferrals, EnforcementSpecific, Platform, SoftwareUpdateSettings, TargetLocalDateTime,
};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn enforce(version: &str, local: &str) -> (String, EnforcementSpecific) {
    (
        "orchard.enforce".to_string(),
        EnforcementSpecific {
            target_os_version: version.into(),
            target_build_version: None,
            target_local_date_time: TargetLocalDateTime::parse(local).unwrap(),
            details_url: None,
        },
    )
}

fn model(platform: Platform, clock: &VirtualClock) -> SoftwareUpdateModel {
    let device = DeviceProfile::new(platform, "SIM-UDID-1", "18.3", "22D63");
    let catalog = vec![
        OfferedUpdate::new("18.3.1", "22D72", start() - Duration::days(10)),
        OfferedUpdate::new("18.4", "22E240", start() - Duration::days(2)),
        OfferedUpdate::new("18.4.1", "22E252", start() - Duration::days(1)),
    ];
    SoftwareUpdateModel::new(Arc::new(clock.clone()), device, catalog)
}

fn item(model: &SoftwareUpdateModel, name: &str) -> Value {
    model
        .status_items()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .unwrap()
}

#[test]
fn a_minor_target_installs_its_latest_patch_at_the_local_deadline() {
    let clock = VirtualClock::new(start());
    let mut model = model(Platform::TvOs, &clock);
    model.device_mut().utc_offset_minutes = 120;
    model.configure(None, vec![enforce("18.4", "2026-03-05T20:00:00")]);
    clock.advance(Duration::minutes(1));
    model.advance();
    assert_eq!(model.install_state(), "downloading");
    assert_eq!(
        item(&model, "softwareupdate.pending-version"),
        json!({"os-version": "18.4.1", "build-version": "22E252"})
    );
    assert_eq!(
        item(&model, "softwareupdate.install-reason"),
        json!({"reason": ["declaration"], "declaration-id": "orchard.enforce"})
    );
    clock.advance(Duration::hours(1));
    model.advance();
    assert_eq!(model.install_state(), "prepared");
    // 20:00 at UTC+2 is 18:00 UTC: one minute before, still prepared.
    clock.set(Utc.with_ymd_and_hms(2026, 3, 5, 17, 59, 0).unwrap());
    model.advance();
    assert_eq!(model.install_state(), "prepared");
    clock.set(Utc.with_ymd_and_hms(2026, 3, 5, 18, 1, 0).unwrap());
    model.advance();
    assert_eq!(model.install_state(), "installing", "an Apple TV needs no one");
    clock.advance(Duration::hours(1));
    model.advance();
    assert_eq!(model.install_state(), "none");
    assert_eq!(item(&model, "device.operating-system.version"), json!("18.4.1"));
    assert_eq!(
        item(&model, "device.operating-system.build-version"),
        json!("22E252")
    );
    assert_eq!(
        item(&model, "softwareupdate.pending-version"),
        json!({"os-version": "", "build-version": ""})
    );
    assert_eq!(
        item(&model, "softwareupdate.install-reason"),
        json!({"reason": []})
    );
}

#[test]
fn an_exact_target_and_a_passcode_wait() {
    let clock = VirtualClock::new(start());
    let mut model = model(Platform::Ios, &clock);
    model.configure(None, vec![enforce("18.3.1", "2026-03-02T09:00:00")]);
    clock.set(Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap());
    model.advance();
    assert_eq!(model.install_state(), "prepared");
    assert!(model.awaiting_passcode());
    clock.advance(Duration::hours(2));
    model.advance();
    assert_eq!(model.device().os_version, "18.3.1");
}

#[test]
fn deferral_hides_the_update_until_posting_plus_days() {
    let clock = VirtualClock::new(start());
    let mut model = model(Platform::Ios, &clock);
    let settings = SoftwareUpdateSettings {
        deferrals: Some(Deferrals {
            combined_period_in_days: Some(DeferralDays::new(7, "x").unwrap()),
            ..Deferrals::default()
        }),
        ..SoftwareUpdateSettings::default()
    };
    model.configure(Some(settings), vec![enforce("18.4", "2026-03-02T09:00:00")]);
    // 18.3.1 (posted 10 days ago) is visible; the 18.4 updates are not.
    let visible: Vec<String> = model
        .visible_updates()
        .iter()
        .map(|u| u.version.clone())
        .collect();
    assert_eq!(visible, vec!["18.3.1"]);
    clock.set(Utc.with_ymd_and_hms(2026, 3, 4, 9, 0, 0).unwrap());
    model.advance();
    assert_eq!(
        model.install_state(),
        "none",
        "past the deadline but still hidden"
    );
    // 18.4 becomes visible on 6 March 09:00 (posted 27 Feb + 7 days); 18.4.1 a day later.
    clock.set(Utc.with_ymd_and_hms(2026, 3, 6, 9, 10, 0).unwrap());
    model.advance();
    assert_eq!(
        item(&model, "softwareupdate.pending-version")["os-version"],
        json!("18.4")
    );
}

#[test]
fn failures_count_and_retry() {
    let clock = VirtualClock::new(start());
    let mut model = model(Platform::Ios, &clock);
    model.device_mut().free_space_bytes = 1024;
    model.configure(None, vec![enforce("18.4", "2026-03-02T09:00:00")]);
    model.advance();
    assert_eq!(model.install_state(), "failed");
    let failure = item(&model, "softwareupdate.failure-reason");
    assert_eq!(failure["count"], 1);
    assert_eq!(failure["timestamp"], "2026-03-01T09:00:00Z");
    assert!(failure["reason"].as_str().unwrap().contains("space"));

    model.device_mut().free_space_bytes = 100 * 1024 * 1024 * 1024;
    model.fail_downloads(1);
    clock.advance(Duration::hours(1));
    model.advance();
    assert_eq!(model.install_state(), "downloading");
    clock.advance(Duration::minutes(30));
    model.advance();
    assert_eq!(model.install_state(), "failed");
    assert_eq!(item(&model, "softwareupdate.failure-reason")["count"], 2);

    model.postpone_installs(1);
    model.device_mut().has_passcode = false;
    clock.set(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    model.advance();
    assert_eq!(model.install_state(), "prepared", "postponed by the user");
    let failure = item(&model, "softwareupdate.failure-reason");
    assert_eq!(failure["count"], 3);
    assert!(failure["reason"].as_str().unwrap().contains("postponed"));
    clock.advance(Duration::hours(2));
    model.advance();
    assert_eq!(model.device().os_version, "18.4.1");
    assert_eq!(item(&model, "softwareupdate.failure-reason"), json!({"count": 0}));
}

#[test]
fn targets_not_newer_are_refused_and_later_ones_ignored() {
    let clock = VirtualClock::new(start());
    let model = model(Platform::Ios, &clock);
    assert!(
        model
            .check_enforcement(&enforce("18.3", "2026-03-02T09:00:00").1)
            .is_err()
    );
    assert!(
        model
            .check_enforcement(&enforce("18.2", "2026-03-02T09:00:00").1)
            .is_err()
    );
    assert!(
        model
            .check_enforcement(&enforce("18.4", "2026-03-02T09:00:00").1)
            .is_ok()
    );
}
